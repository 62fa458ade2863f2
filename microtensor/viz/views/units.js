// The units view: one state's or gate's hidden units over time. Clicking its box in the graph
// (or a step drawn as one box: its hidden state) opens, in the drawer under the strip, two
// heatmaps of unit (rows) x step (columns, under the heat strip's columns): the value and
// the gradient dL/d(tensor). Clicking a unit marks it in every step's box of that tensor,
// coloured by its gradient there. Python computed every number (views/units.py).
const U = ex.D.units;
const ROW_MIN = 3, ROW_MAX = 10, MAP_ROOM = 64, TOP = 3, GAP = 6, AXIS_H = 17, LEGEND_W = 150, LEGEND_H = 36;
const drawer = ex.$("drawer");
const root = document.createElement("div");
root.dataset.view = "units";
root.className = "units closed";
root.innerHTML = `<div class="units-bar">
  <span class="units-hint">Units over time: click an h, c or gate box in the graph (or a step's box) for
    each hidden unit's value and gradient at every step, or <button type="button" class="units-open">show
    them</button></span>
  <b class="units-title"></b>
  <label class="units-pick units-layer-pick">layer <select class="units-layer"></select></label>
  <label class="units-pick">tensor <select class="units-tensor"></select></label>
  <label class="units-pick units-mode-pick">batch <select class="units-mode"></select></label>
  <label class="units-pick" title="rows in order of Σ |gradient| over the steps (and batch rows), largest first">
    <input type="checkbox" class="units-sort"> sort by total |gradient|</label>
  <span class="units-note"></span>
  <span class="units-picked"></span>
  <button type="button" class="units-close" title="close the units heatmap">✕ close</button>
</div>
<div class="units-scroll"><svg class="units-svg" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div class="units-tip" hidden></div>`;
drawer.appendChild(root);
const q = (cls) => root.querySelector(cls);
const mapSvg = q(".units-svg"), tip = q(".units-tip"), tensorPick = q(".units-tensor");
const modePick = q(".units-mode"), sortBox = q(".units-sort"), layerPick = q(".units-layer");
U.modes.forEach((label, i) => modePick.add(new Option(label, String(i))));
U.layers.forEach((L, i) => layerPick.add(new Option(L.label, String(i))));
q(".units-mode-pick").style.display = U.modes.length > 1 ? "" : "none";
q(".units-layer-pick").style.display = U.layers.length > 1 ? "" : "none";

// What is shown: layer (index into U.layers), tensor name, mode (0 = batch mean, 1 + k = row k),
// the selected unit and the outlined step.
const state = { layer: null, name: null, mode: 0, unit: null, step: null };
let cells = null;  // the drawn map's geometry, for the tooltip and the step outline

// A number as Python wrote it (seven significant digits), in the shorter of the two notations.
function num(x) {
  if (x === null || x === undefined) return "–";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(6) : x.toPrecision(7);
}
function colour(pos) {
  // pos in -1..1 along the diverging palette, interpolated between its stops.
  const P = U.palette, at = (Math.max(-1, Math.min(1, pos)) + 1) / 2 * (P.length - 1);
  const i = Math.min(P.length - 2, Math.floor(at)), f = at - i;
  const rgb = (h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16));
  const a = rgb(P[i]), b = rgb(P[i + 1]);
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
}
// The two colour scales (see _scales in units.py): the value linear up to the map's largest
// |value|, the gradient logarithmic over the decades below its largest |gradient|.
function valuePos(v, scale) { return scale.value ? v / scale.value : 0; }
function gradPos(g, scale) {
  if (g === 0) return 0;
  const [lo, hi] = scale.grad;
  const f = hi > lo ? Math.max(0, Math.min(1, (Math.log10(Math.abs(g)) - lo) / (hi - lo))) : 1;
  return Math.sign(g) * (0.1 + 0.9 * f);
}
const fillOf = (x, pos) => (x === null ? "url(#units-null)" : colour(pos));

function layerOf() { return U.layers[state.layer]; }
function current() { return layerOf().tensors[state.name].maps[state.mode]; }
// Per layer, the column of each of its steps.
const columnIndex = U.layers.map((L) => {
  const index = {};
  L.columns.forEach((steps, c) => { for (const step of steps) index[step] = c; });
  return index;
});
function columnOf(step) {
  const c = columnIndex[state.layer][step];
  return c === undefined ? -1 : c;
}
function where(c) {
  // A column's steps, as the tooltip says them.
  const [a, b] = layerOf().t[c];
  return a === b ? `t=${a}` : `t=${a}…${b} (mean of ${layerOf().columns[c].length} steps)`;
}
const symbol = () => `∂L/∂${state.name}`;

function open(layer, name) {
  const changed = layer !== state.layer || name !== state.name;
  state.layer = layer;
  state.name = name;
  if (changed) {
    state.unit = null;
    clearMarks();
    tensorPick.innerHTML = "";
    for (const n of Object.keys(layerOf().tensors)) tensorPick.add(new Option(n, n));
  }
  tensorPick.value = name;
  layerPick.value = String(layer);
  if (!changed && !root.classList.contains("closed")) return;  // already shown
  root.classList.remove("closed");
  draw();
  if (state.unit !== null) mark();
}
function close() {
  root.classList.add("closed");
  tip.hidden = true;
  clearMarks();
  state.layer = state.name = state.unit = null;
}

function draw() {
  if (state.layer === null) return;
  const L = layerOf(), M = current(), cols = ex.columns();
  const strip = ex.$("strip-svg");
  q(".units-title").textContent = `${state.name} of ${L.label}: ${L.units} units (rows) × steps (columns)`;
  q(".units-note").textContent = [U.note, U.about].filter(Boolean).join(" · ");
  mapSvg.innerHTML = "";
  // Line the columns up with the heat strip's, wherever the two sit on the page.
  const left = (strip ? strip.getBoundingClientRect().left : 0) - mapSvg.getBoundingClientRect().left +
    cols.left;
  const cw = cols.width, count = L.columns.length;
  const rowH = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor(MAP_ROOM / L.units)));
  const mapH = Math.max(rowH * L.units, LEGEND_H);
  const order = sortBox.checked ? M.order : [...Array(L.units).keys()];
  const width = Math.max(left + count * cw + 24 + LEGEND_W, mapSvg.parentNode.clientWidth - 4);
  const axisY = TOP + 2 * mapH + GAP + 3;
  mapSvg.setAttribute("width", width);
  mapSvg.setAttribute("height", axisY + AXIS_H);
  const defs = ex.el("defs", {}, mapSvg);
  defs.innerHTML = `<pattern id="units-null" patternUnits="userSpaceOnUse" width="4" height="4">
    <rect width="4" height="4" fill="#eeeeee"/><path d="M0,4 L4,0" stroke="#b0b0b0" stroke-width="0.8"/></pattern>
    <linearGradient id="units-bar">${U.palette.map((c, i) =>
      `<stop offset="${i / (U.palette.length - 1)}" stop-color="${c}"/>`).join("")}</linearGradient>`;
  const maps = [
    { key: "value", title: "value", data: M.value, pos: (x) => valuePos(x, M.scale) },
    { key: "grad", title: "gradient", data: M.grad, pos: (x) => gradPos(x, M.scale) },
  ];
  const labelEvery = Math.max(1, Math.ceil(12 / rowH));  // unit labels 11 px tall, apart
  maps.forEach((map, k) => {
    // Each map's title and axis name in the margin left of it: vertical room is scarce.
    const top = TOP + k * (mapH + GAP);
    const lines = [map.title, ...(k ? [symbol()] : []), sortBox.checked ? "unit, sorted" : "unit"];
    lines.forEach((line, i) => {
      if (i && top + 9 + 13 * i > top + mapH) return;
      ex.el("text", { x: left - 24, y: top + 9 + 13 * i, "text-anchor": "end",
        class: i ? "units-axis-label" : "units-map-title", "data-map": map.key }, mapSvg).textContent = line;
    });
    // One string for the cells: a map at T=1,000 and 64 units has 10,688 of them.
    const w = Math.max(cw - (cw > 6 ? 1 : 0), 1), h = rowH - (rowH > 5 ? 1 : 0);
    const parts = [];
    order.forEach((u, r) => {
      const y = top + r * rowH;
      if (r % labelEvery === 0) {
        parts.push(`<text x="${left - 4}" y="${y + rowH / 2 + 3.5}" text-anchor="end" class="units-tick">${u}</text>`);
      }
      const row = map.data[u];
      for (let c = 0; c < count; c++) {
        parts.push(`<rect x="${left + c * cw}" y="${y}" width="${w}" height="${h}" class="unit-cell" ` +
          `data-map="${map.key}" data-unit="${u}" data-step="${L.columns[c][0]}" data-t="${L.t[c][0]}" ` +
          `data-col="${c}" fill="${fillOf(row[c], map.pos(row[c]))}"/>`);
      }
    });
    ex.el("g", { "data-map": map.key }, mapSvg).innerHTML = parts.join("");
    legend(map.key, M.scale.legend[map.key], left + count * cw + 16, top);
  });
  // The time axis, with the heat strip's ticks.
  ex.el("line", { x1: left, x2: left + count * cw, y1: axisY, y2: axisY, class: "axis" }, mapSvg);
  for (const tick of ex.D.strip.ticks) {
    if (tick.col >= count) continue;
    const x = left + (tick.col + 0.5) * cw;
    ex.el("line", { x1: x, x2: x, y1: axisY, y2: axisY + 3, class: "axis" }, mapSvg);
    ex.el("text", { x, y: axisY + 13, "text-anchor": "middle", class: "units-tick" }, mapSvg).textContent = tick.label;
  }
  ex.el("text", { x: left - 24, y: axisY + 13, "text-anchor": "end", class: "units-axis-label" }, mapSvg)
    .textContent = "step";
  cells = { left, cw, rowH, mapH, order, count };
  highlight();
}
function legend(which, marks, x, top) {
  const w = LEGEND_W - 20;
  ex.el("rect", { x, y: top, width: w, height: 9, fill: "url(#units-bar)", class: "units-legend",
    "data-map": which }, mapSvg);
  for (const m of marks) {
    const at = x + (m.at + 1) / 2 * w;
    ex.el("line", { x1: at, x2: at, y1: top + 9, y2: top + 12, class: "axis" }, mapSvg);
    if (Math.abs(m.at) < 1 && m.at !== 0) continue;  // too close to 0 for a label: said below
    const anchor = m.at <= -1 ? "start" : m.at >= 1 ? "end" : "middle";
    ex.el("text", { x: at, y: top + 22, "text-anchor": anchor, class: "units-tick" }, mapSvg).textContent = m.label;
  }
  const small = marks.find((m) => m.at > 0 && m.at < 1);
  if (small) {
    ex.el("text", { x, y: top + 34, class: "units-tick" }, mapSvg)
      .textContent = `log scale, down to ${small.label}`;
  }
}
function highlight() {
  // The selected unit's rows and the selected step's column.
  for (const e of mapSvg.querySelectorAll(".units-unit, .units-step")) e.remove();
  if (!cells) return;
  const { left, cw, rowH, mapH, order, count } = cells;
  if (state.unit !== null) {
    const r = order.indexOf(state.unit);
    for (let k = 0; k < 2; k++) {
      ex.el("rect", { x: left - 1, y: TOP + k * (mapH + GAP) + r * rowH - 1, width: count * cw + 2, height: rowH + 1,
        class: "units-unit", "data-unit": state.unit }, mapSvg);
    }
  }
  const c = state.step === null ? -1 : columnOf(state.step);
  if (c >= 0) {
    ex.el("rect", { x: left + c * cw - 1, y: TOP - 2, width: cw + 1, height: 2 * mapH + GAP + 4,
      class: "units-step", "data-step": layerOf().columns[c][0] }, mapSvg);
  }
}

// ---------------------------------------------------------------- marks in the graph
function clearMarks() {
  for (const e of ex.svg.querySelectorAll(".unit-mark")) e.remove();
  q(".units-picked").textContent = "";
}
const shapes = {};  // box key -> its outline's box in the graph (measured once: layout is slow)
function mark() {
  // The selected unit in every step's box of its tensor (a step drawn as one box: on that box),
  // coloured by the unit's gradient there.
  clearMarks();
  const M = current(), u = state.unit, found = [];
  for (const [key, box] of Object.entries(U.boxes)) {
    if (box.layer !== state.layer || (box.name !== state.name && !box.cell)) continue;
    const g = ex.nodeEls[key], shape = g && g.querySelector("path, polygon"), c = columnOf(box.step);
    if (!shape || c < 0) continue;
    if (!shapes[key]) shapes[key] = shape.getBBox();  // all measured before anything is added
    found.push([g, box, c, shapes[key]]);
  }
  for (const [g, box, c, b] of found) {
    const s = Math.min(16, b.height * 0.4);
    const m = ex.el("g", { class: "unit-mark", "data-step": box.step, "data-unit": u }, g);
    ex.el("rect", { x: b.x + b.width - s - 3, y: b.y + 3, width: s, height: s, rx: 2,
      fill: fillOf(M.grad[u][c], gradPos(M.grad[u][c], M.scale)) }, m);
    ex.el("title", {}, m).textContent = `${state.name} unit ${u} at ${where(c)} (${U.modes[state.mode]}): ` +
      `value ${num(M.value[u][c])}, ${symbol()} ${num(M.grad[u][c])}`;
  }
  q(".units-picked").innerHTML = `unit ${u}: marked <span class="units-swatch"></span> at every step of ` +
    "the graph, coloured by its gradient";
}

// ---------------------------------------------------------------- input
mapSvg.addEventListener("mousemove", (e) => {
  const d = e.target.dataset;
  if (!e.target.classList.contains("unit-cell")) { tip.hidden = true; return; }
  const M = current(), u = Number(d.unit), c = Number(d.col);
  tip.innerHTML = `<b>${ex.esc(state.name)}</b> · unit <b data-tip="unit">${u}</b> · ` +
    `<span data-tip="t">${ex.esc(where(c))}</span> · ${ex.esc(U.modes[state.mode])}<br>` +
    `value <b data-tip="value">${num(M.value[u][c])}</b> · ${ex.esc(symbol())} ` +
    `<b data-tip="grad">${num(M.grad[u][c])}</b>`;
  tip.hidden = false;
  const r = root.getBoundingClientRect();
  tip.style.left = `${Math.min(e.clientX - r.left + 14, r.width - 330)}px`;
  tip.style.top = `${e.clientY - r.top + 14}px`;
});
mapSvg.addEventListener("mouseleave", () => { tip.hidden = true; });
mapSvg.addEventListener("click", (e) => {
  if (!e.target.classList.contains("unit-cell")) return;
  const L = layerOf();
  ex.emit("unit", { layer: L.layer, name: state.name, unit: Number(e.target.dataset.unit) });
});
tensorPick.addEventListener("change", () => open(state.layer, tensorPick.value));
layerPick.addEventListener("change", () => {
  // The same tensor in the other layer, where it has one (a stack of one kind of cell does).
  const li = Number(layerPick.value);
  open(li, U.layers[li].tensors[state.name] ? state.name : Object.keys(U.layers[li].tensors)[0]);
});
q(".units-open").addEventListener("click", () => open(0, Object.keys(U.layers[0].tensors)[0]));
modePick.addEventListener("change", () => {
  state.mode = Number(modePick.value);
  draw();
  if (state.unit !== null) mark();
});
sortBox.addEventListener("change", draw);
q(".units-close").addEventListener("click", close);

// ---------------------------------------------------------------- events
ex.on("box", ({ key }) => {
  const box = U.boxes[key];
  if (box) open(box.layer, box.name);
});
ex.on("unit", ({ layer, name, unit }) => {
  // From this page or a comparison's other one, whose layers may be called otherwise
  // ("rnn.l0" there, "lstm.l0" here): then the layer at the same depth ("l0").
  const depth = (label) => String(label).split(".").pop();
  let li = U.layers.findIndex((L) => L.layer === layer);
  if (li < 0) li = U.layers.findIndex((L) => depth(L.layer) === depth(layer));
  if (li < 0 || !U.layers[li].tensors[name] || !(unit >= 0 && unit < U.layers[li].units)) return;
  open(li, name);
  state.unit = unit;
  highlight();
  mark();
});
ex.on("step", ({ step }) => {
  state.step = step;
  highlight();
});
ex.on("strip", draw);
