// The gains view: per layer and step, how much of the gradient the recurrent path passes back
// (the gain through h, and c for an LSTM) and the mean forget (update) gate, one row each on
// the heat strip's columns. Colours and numbers come from Python.
const G = ex.D.gains;
const ROW_H = 12;
const root = document.createElement("div");
root.dataset.view = "gains";
root.innerHTML = '<div class="gains-head"><b>gain of the recurrent path</b> = ‖what step t sends back to ' +
  "step t−1‖ ⁄ ‖∂L/∂state<sub>t</sub>‖: below 1 (blue) the gradient shrinks on its way back; over a " +
  "span the gains multiply" + (G.note ? ` · ${ex.esc(G.note)}` : "") + "</div>" +
  `<div class="gains-body"><div class="gains-summary">${G.summaries.map((s) =>
    `<div>${ex.esc(s)}</div>`).join("")}</div></div>`;
ex.$("lab").appendChild(root);
const rows = ex.el("svg", { class: "gains-strip" });
root.querySelector(".gains-body").prepend(rows);
let focusT = null;  // the t of the selected step

function at(col) {
  const [, t0, t1] = col;
  return t0 === t1 ? `t=${t0}` : `t=${t0}…${t1}`;
}

function bar(id, colours, labels, x, y, name) {
  // A legend line: its name, the first label, the ramp, the last label (a middle one as a tick).
  const defs = ex.el("defs", {}, rows);
  defs.innerHTML = `<linearGradient id="${id}">${colours.map((c, i) =>
    `<stop offset="${i / (colours.length - 1)}" stop-color="${c}"/>`).join("")}</linearGradient>`;
  ex.el("text", { x, y: y + ROW_H - 3, class: "gains-legend" }, rows).textContent = name;
  ex.el("text", { x: x + 48, y: y + ROW_H - 3, "text-anchor": "end", class: "gains-legend" }, rows)
    .textContent = labels[0];
  ex.el("rect", { x: x + 51, y: y + 2, width: 60, height: ROW_H - 4, fill: `url(#${id})`, class: "gains-bar" },
    rows);
  if (labels.length === 3) {  // the middle of a log scale: gain 1
    ex.el("line", { x1: x + 81, x2: x + 81, y1: y + 1, y2: y + ROW_H - 1, class: "gains-one" }, rows);
  }
  ex.el("text", { x: x + 114, y: y + ROW_H - 3, class: "gains-legend" }, rows).textContent =
    labels[labels.length - 1];
}

function draw() {
  const cols = ex.columns(), cw = cols.width;
  const width = cols.left + cols.count * cw + cols.right;
  const gates = G.rows.some((r) => r.kind === "gate");
  const height = Math.max(G.rows.length, gates ? 2 : 1) * ROW_H;
  rows.setAttribute("width", width);
  rows.setAttribute("height", height);
  rows.setAttribute("viewBox", `0 0 ${width} ${height}`);
  rows.innerHTML = "";
  G.rows.forEach((r, ri) => {
    const y = ri * ROW_H;
    const label = ex.el("text", { x: cols.left - 6, y: y + ROW_H - 3, "text-anchor": "end", class: "gains-label",
      "data-layer": r.layer }, rows);
    label.textContent = r.label;
    ex.el("title", {}, label).textContent = `${r.layer}: ${r.what}`;
    ex.D.columns[r.lane].forEach((col, c) => {
      const rect = ex.el("rect", { x: cols.left + c * cw, y: y + 1, width: Math.max(cw - (cw > 6 ? 1 : 0), 1),
        height: ROW_H - 2, class: `gains-cell ${r.kind}`, fill: r.fills[c] || "#ffffff", "data-step": col[0],
        "data-t": col[1], "data-layer": r.layer, "data-kind": r.kind }, rows);
      rect.classList.toggle("selected", focusT !== null && col[1] <= focusT && focusT <= col[2]);
      const what = col[1] !== col[2] && r.kind === "gain" ? `${r.what} (geometric mean)` : r.what;
      ex.el("title", {}, rect).textContent = `${r.layer} · ${at(col)}: ${what} ` +
        (r.values[c] === null ? "–" : ex.fmt(r.values[c])) + (r.vanished && r.vanished.includes(c) ?
        ` · ${G.vanished}` : "") + (r.weighted && r.weighted[c] !== null ?
        ` · ${r.weightedWhat}: ${ex.fmt(r.weighted[c])}` : "");
    });
  });
  const x = cols.left + cols.count * cw + 14;
  bar("gains-gain-bar", G.gainBar.colours, G.gainBar.labels, x, 0, "gain");
  if (gates) bar("gains-gate-bar", G.gateBar.colours, G.gateBar.labels, x, ROW_H, "gate");
}

rows.addEventListener("click", (e) => {
  const step = e.target.dataset ? e.target.dataset.step : undefined;
  if (step !== undefined) ex.selectStep(Number(step), e.target.dataset.layer);
});
ex.on("step", ({ step }) => {
  focusT = ex.D.positions[step] === undefined ? null : ex.D.positions[step];
  draw();
});
ex.on("strip", draw);
