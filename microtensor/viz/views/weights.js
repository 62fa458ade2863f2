// The weights view: a shared weight's gradient as the sum of what each step sends it. One strip
// row on the heat strip's columns (each column's share of the gradient, from Python), a selector
// of the weight, and where its gradient comes from. Selecting a weight (the selector, its box in
// the graph, or a step's stand-in for it) shades every step's stand-in by that step's share.
const W = ex.D.weights;
const ROW_H = 14;
const root = document.createElement("div");
root.dataset.view = "weights";
root.innerHTML = '<div class="weights-head"><label>weight <select class="weights-select"></select></label>' +
  '<span class="weights-sentence" data-field="sentence"></span><span class="weights-about">colour: step ' +
  "t's share ⟨term<sub>t</sub>, G⟩ ⁄ ‖G‖² of G = ∂L/∂W = Σ<sub>t</sub> term<sub>t</sub>; the shares add up to " +
  "exactly 1 (blue, below 0: against G)" +
  (W.note ? ` · ${ex.esc(W.note)}` : "") + "</span></div>";
ex.$("lab").appendChild(root);
const chooser = root.querySelector("select");
W.weights.forEach((w, i) => {
  const option = document.createElement("option");
  option.value = i;
  option.textContent = w.name && w.name !== w.title ? `${w.label} (${w.name})` : w.label;
  chooser.appendChild(option);
});
const row = ex.el("svg", { class: "weights-strip" }, root);
let chosen = Math.max(0, W.weights.findIndex((w) => w.norm));  // the first weight with a gradient
let focusT = null;  // the t of the step selected elsewhere
let shaded = [];  // what shading changed in the graph, to put back

function at(col) {
  // A column's steps (the weight's layer names the lane).
  const [, t0, t1] = col;
  return t0 === t1 ? `t=${t0}` : `t=${t0}…${t1}`;
}

function draw() {
  const cols = ex.columns(), w = W.weights[chosen], columns = ex.D.columns[w.lane];
  const cw = cols.width, width = cols.left + cols.count * cw + cols.right;
  row.setAttribute("width", width);
  row.setAttribute("height", ROW_H);
  row.setAttribute("viewBox", `0 0 ${width} ${ROW_H}`);
  row.innerHTML = "";
  const defs = ex.el("defs", {}, row);
  defs.innerHTML = `<linearGradient id="weights-bar">${ex.D.palette.map((c, i) =>
    `<stop offset="${i / (ex.D.palette.length - 1)}" stop-color="${c}"/>`).join("")}</linearGradient>`;
  const label = ex.el("text", { x: cols.left - 6, y: ROW_H - 3, "text-anchor": "end", class: "weights-label" }, row);
  label.textContent = `share of ∂L/∂${w.title}`;
  ex.el("title", {}, label).textContent = `${w.label}: ‖∂L/∂${w.title}‖ ${ex.fmt(w.norm)}`;
  columns.forEach((col, c) => {
    const rect = ex.el("rect", { x: cols.left + c * cw, y: 1, width: Math.max(cw - (cw > 6 ? 1 : 0), 1),
      height: ROW_H - 2, class: "weights-cell", fill: w.fills[c] || "#ffffff", "data-step": col[0],
      "data-t": col[1] }, row);
    rect.classList.toggle("selected", focusT !== null && col[1] <= focusT && focusT <= col[2]);
    ex.el("title", {}, rect).textContent = w.norms[c] === null ? `${w.label} · ${at(col)}: no term` :
      `${w.label} · ${at(col)}: ‖term‖ ${ex.fmt(w.norms[c])} · share ${ex.fmt(w.shares[c])}`;
  });
  // The legend: the palette from share 0 to the size of this weight's largest column share.
  const x = cols.left + cols.count * cw + 14;
  const zero = ex.el("text", { x, y: ROW_H - 3, class: "weights-legend" }, row);
  zero.textContent = "0";
  ex.el("rect", { x: x + 9, y: 3, width: 60, height: ROW_H - 6, fill: "url(#weights-bar)" }, row);
  const top = ex.el("text", { x: x + 73, y: ROW_H - 3, class: "weights-legend" }, row);
  top.textContent = ex.fmt(w.top);
  ex.el("rect", { x: x + 112, y: 3, width: 8, height: ROW_H - 6, fill: W.against[3] }, row);
  ex.el("text", { x: x + 123, y: ROW_H - 3, class: "weights-legend" }, row).textContent = "<0";
}

function unshade() {
  for (const [element, attribute, value] of shaded) {
    if (value === null) element.removeAttribute(attribute); else element.setAttribute(attribute, value);
  }
  for (const g of ex.svg.querySelectorAll(".weight-share, .weight-chosen")) {
    g.classList.remove("weight-share", "weight-chosen");
  }
  shaded = [];
}
function paint(element, attribute, value) {
  shaded.push([element, attribute, element.getAttribute(attribute)]);
  element.setAttribute(attribute, value);
}
function shade() {
  // The chosen weight's own box outlined, each stand-in filled by its step's share.
  unshade();
  const w = W.weights[chosen];
  if (ex.nodeEls[w.key]) ex.nodeEls[w.key].classList.add("weight-chosen");
  for (const [key, [share, fill, ink]] of Object.entries(w.standIns)) {
    const g = ex.nodeEls[key];
    if (!g) continue;
    g.classList.add("weight-share");
    paint(g, "data-share", share);
    if (fill === null) continue;  // the weight's gradient is zero: no shares
    const shape = g.querySelector("path, polygon");
    if (shape) paint(shape, "fill", fill);
    for (const text of g.querySelectorAll("text")) paint(text, "fill", ink);
  }
}

function choose(i, withShading) {
  chosen = i;
  chooser.value = i;
  root.querySelector(".weights-sentence").textContent = W.weights[i].sentence;
  draw();
  if (withShading) shade();
}

row.addEventListener("click", (e) => {
  const step = e.target.dataset ? e.target.dataset.step : undefined;
  if (step !== undefined) ex.selectStep(Number(step), W.weights[chosen].layer);
});
chooser.addEventListener("change", () => choose(Number(chooser.value), true));
ex.on("box", ({ key }) => {
  const owners = W.byBox[key];
  if (!owners) return;
  choose(owners.includes(chosen) ? chosen : owners[0], true);
  const own = W.weights[chosen].standIns[key];
  if (own) {  // the stand-in's details say its share too
    ex.$("details").insertAdjacentHTML("beforeend", `<p class="weights-share">share of ∂L/∂` +
      `${ex.esc(W.weights[chosen].title)} (${ex.esc(W.weights[chosen].layer)}): ` +
      `<span data-stat="share">${ex.fmt(own[0])}</span></p>`);
  }
});
ex.on("step", ({ step }) => {
  focusT = ex.D.positions[step] === undefined ? null : ex.D.positions[step];
  draw();
});
ex.on("strip", draw);
choose(chosen, false);
