// The rolled view: one cell per layer and direction with its recurrent loop, laid out in Python
// (ex.D.rolled); a toggle in the controls swaps it with the unrolled graph. The heat strip is its
// time axis: a chosen step (the strip, the view's slider, or the other page of a comparison)
// fills every cell of its part with that step's numbers. The unrolled graph stays laid out
// (hidden, not removed), so it follows the chosen step and shows it when toggled back.
const R = ex.D.rolled;
const slot = ex.$("rolled");
const graph = ex.$("graph");
const view = document.createElement("div");
view.dataset.view = "rolled";
slot.appendChild(view);

// ---------------------------------------------------------------- the toggle
const toggle = document.createElement("span");
toggle.id = "view-toggle";
toggle.title = "the whole unroll, step by step, or the network as it is written: one cell per layer " +
  "with its loop";
toggle.innerHTML = '<button type="button" data-show="graph">unrolled graph</button>' +
  '<button type="button" data-show="rolled">rolled network</button>';
ex.$("controls").insertBefore(toggle, ex.$("home"));
function place() {
  // Over the graph's own place: the graph keeps its size, so it can still zoom to a chosen step.
  slot.style.left = `${graph.offsetLeft}px`;
  slot.style.top = `${graph.offsetTop}px`;
  slot.style.width = `${graph.offsetWidth}px`;
  slot.style.height = `${graph.offsetHeight}px`;
}
function showRolled(on) {
  document.body.classList.toggle("rolled-shown", on);
  for (const b of toggle.querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String((b.dataset.show === "rolled") === on));
  }
  if (on) place();
}
toggle.addEventListener("click", (e) => {
  if (e.target.dataset.show) showRolled(e.target.dataset.show === "rolled");
});
for (const id of ["home", "whole"]) {  // the graph's own navigation shows the graph
  ex.$(id).addEventListener("click", () => showRolled(false));
}
window.addEventListener("resize", () => {
  if (document.body.classList.contains("rolled-shown")) place();
});

// ---------------------------------------------------------------- the step bar
const lanes = {};  // lane name -> {part, steps}
for (const c of R.cells) if (!lanes[c.lane]) lanes[c.lane] = { part: c.part, steps: c.steps };
const laneOf = {};
for (const [name, lane] of Object.entries(lanes)) for (const s of lane.steps) laneOf[s] = name;
const bar = document.createElement("div");
bar.className = "rolled-bar";
bar.innerHTML = '<button type="button" data-move="-1" title="the step before">◀</button>' +
  '<input type="range" min="0" step="1" aria-label="step">' +
  '<button type="button" data-move="1" title="the step after">▶</button>' +
  '<span class="rolled-at" data-field="at"></span>' +
  '<span class="rolled-legend">each box at the chosen step: ‖∂‖ its gradient\'s norm (its fill, on the ' +
  "strip's colour scale), the mean and the norm of its value</span>";
view.appendChild(bar);
const slider = bar.querySelector("input");
slider.addEventListener("keydown", (e) => e.stopPropagation());  // arrows move the slider, not the replay
slider.addEventListener("input", () => {
  ex.selectStep(lanes[current.lane].steps[Number(slider.value)], null);
});
bar.addEventListener("click", (e) => {
  const move = Number(e.target.dataset.move || 0);
  if (!move) return;
  const steps = lanes[current.lane].steps;
  const i = Math.max(0, Math.min(steps.length - 1, steps.indexOf(current.step) + move));
  ex.selectStep(steps[i], null);
});

// ---------------------------------------------------------------- the picture
const pic = ex.el("svg", { class: "rolled-svg", width: R.width, height: R.height,
  viewBox: `0 0 ${R.width} ${R.height}` }, view);
const defs = ex.el("defs", {}, pic);
for (const id of ["rolled-head", "rolled-loop-head"]) {  // the loop's arrowhead in the loop's colour
  const head = ex.el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse" }, defs);
  ex.el("path", { d: "M0,0 L10,5 L0,10 z", class: id }, head);
}
for (const a of R.arrows) {
  ex.el("path", { d: a.path, class: `rolled-arrow ${a.kind}`, "marker-end": "url(#rolled-head)" }, pic);
}
for (const p of R.pills) {
  const g = ex.el("g", { class: "rolled-pill" }, pic);
  ex.el("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: p.h / 2 }, g);
  ex.el("text", { x: p.x + p.w / 2, y: p.y + p.h / 2 + 4, "text-anchor": "middle" }, g).textContent = p.text;
}
const cells = R.cells.map((cell) => {
  const g = ex.el("g", { class: "rolled-cell", "data-layer": cell.layer, "data-lane": cell.lane,
    "data-direction": cell.reverse ? "reverse" : "forward" }, pic);
  ex.el("rect", { class: "rolled-frame", x: cell.x, y: cell.y, width: cell.w, height: cell.h, rx: 6 }, g);
  const name = ex.el("text", { class: "rolled-name", x: cell.name.x, y: cell.name.y }, g);
  name.textContent = cell.label;
  const t = ex.el("text", { class: "rolled-t", "data-field": "t", x: cell.name.tx, y: cell.name.y }, g);
  const loop = ex.el("g", { class: `rolled-loop${cell.reverse ? " reverse" : ""}` }, g);
  ex.el("path", { d: cell.loop.stub, class: "rolled-arrow" }, loop);
  ex.el("path", { d: cell.loop.path, class: "rolled-arrow", "marker-end": "url(#rolled-loop-head)" }, loop);
  cell.loop.lines.forEach((line, i) => {
    const text = ex.el("text", { x: cell.loop.x, y: cell.loop.y - 3 + 15 * i,
      class: i ? "loop-when" : "loop-count" }, loop);
    text.textContent = line;
  });
  const byT = {};
  cell.steps.forEach((s, i) => { byT[ex.D.positions[s]] = i; });
  const boxes = cell.boxes.map((box) => {
    const b = ex.el("g", { class: `rolled-box${box.state ? " state" : ""}`, "data-role": box.role,
      "data-layer": cell.layer }, g);
    const rect = ex.el("rect", { x: box.x, y: box.y, width: box.w, height: box.h, rx: 4 }, b);
    const tip = ex.el("title", {}, b);
    const title = ex.el("text", { class: "rolled-title", x: box.x + box.w / 2, y: box.y + 17,
      "text-anchor": "middle" }, b);
    title.textContent = box.title;
    const lines = {};
    [["grad", "‖∂‖"], ["mean", "mean"], ["norm", "norm"]].forEach(([field, label], i) => {
      const line = ex.el("text", { class: "rolled-line", x: box.x + 6, y: box.y + 32 + 13 * i }, b);
      ex.el("tspan", {}, line).textContent = `${label} `;
      lines[field] = ex.el("tspan", { "data-field": field }, line);
    });
    return { box, rect, tip, title, lines, texts: b.querySelectorAll("text") };
  });
  return { cell, t, byT, boxes };
});

// ---------------------------------------------------------------- a step's numbers
let current = null;  // {lane, step}
function show(step, chosen) {
  const lane = laneOf[step];
  if (lane === undefined) return;  // not a step of this page (a comparison's other run is longer)
  current = { lane, step };
  const t = ex.D.positions[step];
  const part = lanes[lane].part;
  for (const c of cells) {
    const i = c.cell.part === part ? c.byT[t] : undefined;
    const at = i === undefined ? null : c.cell.steps[i];
    c.t.textContent = at === null ? "–" : `t=${t}${ex.D.tokens[at] ? ` ‘${ex.D.tokens[at]}’` : ""}`;
    for (const b of c.boxes) {
      const shade = i === undefined ? null : R.shades[b.box.shade[i]];
      b.rect.setAttribute("fill", shade ? shade.fill : "#ffffff");
      b.rect.dataset.status = shade ? shade.status : "none";
      for (const text of b.texts) text.setAttribute("fill", shade ? shade.ink : "#222222");
      for (const field of ["grad", "mean", "norm"]) {
        b.lines[field].textContent = i === undefined ? "–" : ex.fmt(b.box[field][i]);
      }
      b.tip.textContent = i === undefined ? b.box.title : `${b.box.title} at ${ex.D.stepNames[at]} ` +
        `(${c.cell.label}): ‖∂L/∂${b.box.title}‖ ${ex.fmt(b.box.grad[i])} (${shade.status}); ` +
        `value mean ${ex.fmt(b.box.mean[i])}, norm ${ex.fmt(b.box.norm[i])}`;
    }
  }
  const steps = lanes[lane].steps;
  slider.max = steps.length - 1;
  slider.value = steps.indexOf(step);
  bar.querySelector('[data-field="at"]').textContent = `${ex.D.stepNames[step]} of ${steps.length}` +
    (chosen ? "" : " (the last step: choose another in the strip or here)");
}
ex.on("step", (p) => show(p.step, true));

// ---------------------------------------------------------------- gate names
const gateNames = ex.$("gate-names");
gateNames.addEventListener("change", () => {
  const classic = gateNames.value === "classic";
  for (const c of cells) {
    for (const b of c.boxes) {
      const label = classic && b.box.classic;
      b.title.textContent = label || b.box.title;
      b.title.style.fontSize = label ? `${b.box.classicSize}px` : "";
    }
  }
});

const first = R.cells[0].steps;
show(first[first.length - 1], false);
showRolled(R.opensRolled);
