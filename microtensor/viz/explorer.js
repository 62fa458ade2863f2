// The microtensor explorer's core. Python computed everything in the page's data (explore.py:
// page_data); this script only draws it and answers clicks. One section per part:
// events (what views listen to), view (pan, zoom, the first view, legibility), strip (heat
// strip, axes, colour bar, log plot, the overview of what is in view), details (a node's or
// a step's panel), gates (the naming switch), replay (the backward pass, frame by frame).
// The other views (views/*.js) come after this script: each is one function of ``ex``, the
// API this core hands them (window.explorerCore), and draws into its own element.
// Plain JavaScript, no libraries: the page must work offline from a single file.
"use strict";
(function () {
  const started = performance.now();
  const D = JSON.parse(document.getElementById("explorer-data").textContent);

  // ---------------------------------------------------------------- events
  // Selections are events, so every view (and, in a comparison, the other page) follows them:
  // "step" {step, layer}, "box" {key}, "unit" {layer, name, unit}, "strip" (the columns were
  // laid out again), "frame" {upTo} (the replay's last visit shown).
  const handlers = {};
  const LINKED = ["step", "unit"];  // what a comparison page passes to its other explorer
  function on(name, fn) { (handlers[name] = handlers[name] || []).push(fn); }
  function emit(name, payload, remote) {
    for (const fn of handlers[name] || []) fn(payload || {}, Boolean(remote));
    if (!remote && window.parent !== window && LINKED.includes(name)) {
      window.parent.postMessage({ explorer: { name, payload } }, "*");
    }
  }
  window.addEventListener("message", (e) => {
    const m = e.data && e.data.explorer;
    if (!m || !LINKED.includes(m.name)) return;
    if (m.name === "step") selectStep(m.payload.step, m.payload.layer, true);
    else emit(m.name, m.payload, true);
  });
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const svg = $("graph-svg");
  const graphBox = $("graph");
  const details = $("details");
  const nodeEls = {};
  for (const g of svg.querySelectorAll("g.node")) nodeEls[g.id] = g;
  const edgeEls = [...svg.querySelectorAll("g.edge")];
  const fmt = (x) => (x === null || x === undefined ? "–" : Number(x).toPrecision(4));
  function esc(text) {
    const div = document.createElement("div");
    div.textContent = text === null || text === undefined ? "" : String(text);
    return div.innerHTML;
  }
  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  // ---------------------------------------------------------------- colours
  // A strip cell's fill comes from Python (the picture's palette and scale); exact zeros are
  // hatched instead.
  const fill = (cell) => (cell.status === "zero" ? "url(#no-path)" : cell.fill);

  // ---------------------------------------------------------------- view
  const base = svg.viewBox.baseVal;
  const whole = { x: base.x, y: base.y, w: base.width, h: base.height };
  let view = { ...whole };
  const smallTexts = [], titleTexts = [];
  for (const g of Object.values(nodeEls)) {
    for (const t of g.querySelectorAll("text")) {
      (parseFloat(t.getAttribute("font-size")) < 12 ? smallTexts : titleTexts).push(t);
    }
  }
  function scale() {  // screen pixels per SVG unit
    const r = svg.getBoundingClientRect();
    return Math.min(r.width / view.w, r.height / view.h);
  }
  function setView(v) {
    view = v;
    svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    // Lines too small to read are hidden, not drawn as grey noise.
    const k = scale();
    svg.classList.toggle("far", 10 * k < 6);
    svg.classList.toggle("very-far", 14 * k < 4);
    overview();
  }
  function rootBox(element) {
    // An element's box in the root's user units.
    const m = svg.getScreenCTM().inverse().multiply(element.getScreenCTM());
    const b = element.getBBox();
    const p1 = svg.createSVGPoint(), p2 = svg.createSVGPoint();
    p1.x = b.x; p1.y = b.y; p2.x = b.x + b.width; p2.y = b.y + b.height;
    const a = p1.matrixTransform(m), c = p2.matrixTransform(m);
    return { x: Math.min(a.x, c.x), y: Math.min(a.y, c.y), w: Math.abs(c.x - a.x), h: Math.abs(c.y - a.y) };
  }
  function union(boxes) {
    const x = Math.min(...boxes.map((b) => b.x)), y = Math.min(...boxes.map((b) => b.y));
    const r = Math.max(...boxes.map((b) => b.x + b.w)), bt = Math.max(...boxes.map((b) => b.y + b.h));
    return { x, y, w: r - x, h: bt - y };
  }
  function fit(region, minTitlePx, anchor) {
    // Show ``region`` as large as fits, but never so small that a title is under minTitlePx:
    // then its right end (where the loss is), at the height of ``anchor`` (the loss), is shown.
    const r = svg.getBoundingClientRect();
    let k = Math.min(r.width / (region.w * 1.06), r.height / (region.h * 1.06), 20 / 14);  // titles at most 20 px
    k = Math.max(k, minTitlePx / 14);
    const w = r.width / k, h = r.height / k;
    let x = region.x + region.w / 2 - w / 2, y = region.y + region.h / 2 - h / 2;
    if (anchor && w < region.w) x = region.x + region.w + 12 / k - w;
    if (anchor && h < region.h) {
      y = Math.max(region.y, Math.min(anchor.y + anchor.h / 2 - h / 2, region.y + region.h - h));
    }
    setView({ x, y, w, h });
  }
  function idsBox(ids) {
    const found = ids.map((id) => document.getElementById(id)).filter(Boolean);
    return found.length ? union(found.map(rootBox)) : null;
  }
  function home() {
    const region = idsBox(D.home);
    if (region) fit(region, 12.5, idsBox(D.loss)); else setView({ ...whole });
  }
  function keepInView(element) {
    const b = rootBox(element);
    if (b.x >= view.x && b.y >= view.y && b.x + b.w <= view.x + view.w && b.y + b.h <= view.y + view.h) return;
    setView({ ...view, x: b.x + b.w / 2 - view.w / 2, y: b.y + b.h / 2 - view.h / 2 });
  }
  function toUser(cx, cy) {
    const p = svg.createSVGPoint();
    p.x = cx;
    p.y = cy;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const at = toUser(e.clientX, e.clientY);
    const k = Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.002)));
    setView({ x: at.x - (at.x - view.x) * k, y: at.y - (at.y - view.y) * k, w: view.w * k, h: view.h * k });
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, view: { ...view }, moved: false };
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const k = scale();
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) setView({ ...drag.view, x: drag.view.x - dx / k, y: drag.view.y - dy / k });
  });
  window.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
  svg.addEventListener("dblclick", () => setView({ ...whole }));
  $("home").addEventListener("click", home);
  $("whole").addEventListener("click", () => setView({ ...whole }));

  // ---------------------------------------------------------------- strip
  const S = D.strip;
  const strip = $("strip");
  const LABEL_W = 120, ROW_H = 14, TICK_H = 16, BAR_W = 170;
  const stripSvg = el("svg", { id: "strip-svg" }, strip);
  const heatCells = [];  // {rect, cell, row}
  const stepBoxes = {};  // step -> its box in the graph's user units (for the overview)
  function drawStrip() {
    const width = strip.clientWidth || 1000;
    const cellsW = Math.max(50, width - LABEL_W - BAR_W - 16);
    const cw = S.columns ? cellsW / S.columns : 0;
    const height = Math.max(S.rows.length * ROW_H + TICK_H + 4, 44);
    stripSvg.setAttribute("width", width);
    stripSvg.setAttribute("height", height);
    stripSvg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    stripSvg.innerHTML = "";
    const defs = el("defs", {}, stripSvg);
    defs.innerHTML = `<pattern id="padding-hatch" patternUnits="userSpaceOnUse" width="6" height="6"
      patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" fill-opacity="0.5"/>
      <rect width="3" height="6" fill="#8c8c8c"/></pattern>
      <pattern id="no-path" patternUnits="userSpaceOnUse" width="5" height="5">
      <path d="M0,5 L5,0" stroke="#b0b0b0" stroke-width="0.8"/></pattern>
      <linearGradient id="bar-gradient">${D.palette.map((c, i) =>
        `<stop offset="${i / (D.palette.length - 1)}" stop-color="${c}"/>`).join("")}</linearGradient>`;
    heatCells.length = 0;
    S.rows.forEach((row, ri) => {
      const y = ri * ROW_H;
      const label = el("text", { x: LABEL_W - 6, y: y + ROW_H - 3, "text-anchor": "end", class: "strip-label",
        "data-layer": row.layer }, stripSvg);
      label.textContent = row.label;
      for (const cell of row.cells) {
        const rect = el("rect", { x: LABEL_W + cell.col * cw, y: y + 1, width: Math.max(cw - (cw > 6 ? 1 : 0), 1),
          height: ROW_H - 2, class: `heat-cell ${cell.status}`, "data-step": cell.steps[0],
          "data-t": cell.t[0], "data-layer": row.layer, "data-status": cell.status }, stripSvg);
        rect.setAttribute("fill", fill(cell));
        const tip = el("title", {}, rect);
        const what = cell.status === "zero" ? "no gradient (exactly 0)" :
          cell.status === "vanished" ? `vanished (below ${D.vanishBelow})` : `‖∂L/∂h‖ ${fmt(cell.norm)}`;
        const at = cell.t.length > 1 ? `t=${cell.t[0]}…${cell.t[cell.t.length - 1]}` : D.stepNames[cell.steps[0]];
        tip.textContent = `${row.label} ${at}: ${what}${padText(cell) ? " · " + padText(cell) : ""}`;
        if (cell.padding > 0 && cell.norm !== null) {  // striped over the share of the batch that is padding
          rect.classList.add("padding");
          el("rect", { x: LABEL_W + cell.col * cw, y: y + 1 + (ROW_H - 2) * (1 - cell.padding),
            width: Math.max(cw - (cw > 6 ? 1 : 0), 1), height: (ROW_H - 2) * cell.padding,
            fill: "url(#padding-hatch)", class: "heat-padding", "data-t": cell.t[0] }, stripSvg);
        }
        heatCells.push({ rect, cell, row });
      }
    });
    const axisY = S.rows.length * ROW_H;
    el("line", { x1: LABEL_W, x2: LABEL_W + cellsW, y1: axisY + 1, y2: axisY + 1, class: "axis" }, stripSvg);
    for (const tick of S.ticks) {
      const x = LABEL_W + (tick.col + 0.5) * cw;
      el("line", { x1: x, x2: x, y1: axisY + 1, y2: axisY + 4, class: "axis" }, stripSvg);
      const text = el("text", { x, y: axisY + 14, "text-anchor": "middle", class: "tick" }, stripSvg);
      text.textContent = tick.label;
    }
    // The colour bar, on the same log scale as the graph.
    const bx = LABEL_W + cellsW + 14, bw = BAR_W - 30;
    if (S.bar.length) {
      el("rect", { x: bx, y: 2, width: bw, height: 10, fill: "url(#bar-gradient)", id: "colour-bar" }, stripSvg);
      for (const mark of S.bar) {
        const text = el("text", { x: bx + mark.at * bw, y: 24, "text-anchor": "middle", class: "bar-label" }, stripSvg);
        text.textContent = mark.label;
      }
      const keys = el("text", { x: bx, y: 38, class: "bar-label" }, stripSvg);
      keys.innerHTML = `<tspan fill="${D.vanished}">■</tspan> vanished  <tspan fill="#999">▨</tspan> exactly 0`;
    }
    viewport = el("rect", { class: "viewport", y: 0, height: axisY, x: LABEL_W, width: 0 }, stripSvg);
    stripGeometry = { cw, cellsW };
    overview();
    emit("strip");
  }
  function padText(cell) {
    const pad = D.padding[cell.steps[0]];
    return pad ? pad.text : "";
  }
  let viewport = null, stripGeometry = null;
  stripSvg.addEventListener("click", (e) => {
    const step = e.target.dataset ? e.target.dataset.step : undefined;
    if (step !== undefined) selectStep(Number(step), e.target.dataset.layer);
  });
  function overview() {
    // The strip shows which steps the graph's view holds: it is the overview of the unroll.
    if (!viewport || !stripGeometry || !Object.keys(stepBoxes).length) return;
    const cols = [];
    for (const [step, b] of Object.entries(stepBoxes)) {
      if (b.x + b.w > view.x && b.x < view.x + view.w && b.y + b.h > view.y && b.y < view.y + view.h) {
        const t = D.positions[step];
        if (t !== undefined) cols.push(Math.floor(t / S.perCell));
      }
    }
    if (!cols.length) { viewport.setAttribute("width", 0); return; }
    const lo = Math.min(...cols), hi = Math.max(...cols);
    viewport.setAttribute("x", LABEL_W + lo * stripGeometry.cw);
    viewport.setAttribute("width", (hi - lo + 1) * stripGeometry.cw);
  }
  function drawPlot() {
    // ||dL/dh_t|| per layer on a log scale, with the vanishing threshold.
    const plot = $("plot");
    const W = 300, H = Math.max(70, S.rows.length * ROW_H + TICK_H + 4);
    const pts = S.rows.flatMap((r) => r.plot.map((p) => p[1]));
    if (!pts.length) { plot.style.display = "none"; return; }
    const ys = S.threshold === null ? pts : pts.concat([S.threshold]);
    const lo = Math.floor(Math.min(...ys)), hi = Math.ceil(Math.max(...ys, lo + 1));
    const T = Math.max(1, S.length - 1);
    const X = (t) => 36 + (W - 44) * t / T, Y = (v) => 6 + (H - 22) * (hi - v) / (hi - lo);
    let body = `<line class="axis" x1="36" x2="${W - 8}" y1="${H - 16}" y2="${H - 16}"/>` +
      `<text class="tick" x="36" y="${H - 4}">t=0</text><text class="tick" x="${W - 8}" y="${H - 4}" ` +
      `text-anchor="end">t=${T}</text><text class="tick" x="32" y="${Y(hi) + 8}" text-anchor="end">1e${hi}</text>` +
      `<text class="tick" x="32" y="${Y(lo)}" text-anchor="end">1e${lo}</text>`;
    if (S.threshold !== null) {
      body += `<line class="threshold" x1="36" x2="${W - 8}" y1="${Y(S.threshold)}" y2="${Y(S.threshold)}"/>`;
    }
    const shades = ["#440f76", "#dc4869", "#fd9869", "#6a1c81"];
    S.rows.forEach((r, i) => {
      if (!r.plot.length) return;
      body += `<polyline class="norm-line" data-layer="${esc(r.layer)}" fill="none" stroke="${shades[i % 4]}" ` +
        `points="${r.plot.map(([t, v]) => `${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join(" ")}"><title>` +
        `${esc(r.label)}</title></polyline>`;
    });
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    plot.setAttribute("width", W);
    plot.setAttribute("height", H);
    plot.innerHTML = body;
    $("falls").textContent = [...S.falls, S.note].filter(Boolean).join(" · ");
  }

  function selectStep(step, layer, remote) {
    // Highlight the step and show it: the layer that was clicked, where the step has several.
    if (D.stepNames[step] === undefined) return;  // a comparison's other run may be longer
    for (const c of heatCells) c.rect.classList.toggle("selected", c.cell.steps.includes(step));
    for (const e of svg.querySelectorAll(".focus")) e.classList.remove("focus");
    for (const e of svg.querySelectorAll(`[data-step="${step}"]`)) e.classList.add("focus");
    const own = layer && [...svg.querySelectorAll(`g.cluster[data-step="${step}"][data-layer]`)]
      .find((e) => e.dataset.layer === layer);
    const region = own ? rootBox(own) : idsBox(D.targets[step] || []);
    if (region) fit(region, 12.5, null);
    const keys = Object.keys(D.boxes).filter((k) => D.boxes[k].step === step && D.boxes[k].members);
    const byLayer = {};
    for (const k of keys) (byLayer[D.boxes[k].layer || ""] = byLayer[D.boxes[k].layer || ""] || []).push(k);
    const drawnAsOps = D.detailed.includes(step);
    let body = `<h2>${esc(D.stepNames[step])}</h2>${paddingNote(step)}<p>${drawnAsOps ? "drawn op by op" :
      "drawn as one box per layer; its ops:"}</p>`;
    for (const layer of D.layers) {
      if (!byLayer[layer]) continue;
      body += `<h3 class="op-layer">${esc(layer || "step")}</h3><ul class="op-list">`;
      for (const k of byLayer[layer]) {
        for (const m of D.boxes[k].members) {
          const n = D.nodes[m];
          const title = D.boxes[k].kind === "cell" ? (n.name || n.op) : D.boxes[k].title;
          body += `<li data-box="${k}" data-node="${m}">${esc(title)} <small>${esc(n.op)} ` +
            `(${n.shape.join(", ")}) ‖∂‖ ${fmt(n.grad && n.grad.norm)}</small></li>`;
        }
      }
      body += "</ul>";
    }
    details.innerHTML = body;
    for (const li of details.querySelectorAll("li")) {
      li.addEventListener("click", () => showNode(li.dataset.box, li.dataset.node));
    }
    emit("step", { step, layer: layer === undefined ? null : layer }, remote);
  }

  // ---------------------------------------------------------------- details
  function paddingNote(t, layer) {
    // A step's padding, or (given a layer the step's tags name) that layer's.
    const step = t === null ? undefined : D.padding[t];
    let text = step ? step.text : "";
    if (step && layer !== undefined && (layer || "") in step.layers) {
      const own = step.layers[layer || ""];
      text = own.count ? own.text : "";
    }
    return text ? `<p class="padding-note" data-field="padding">${esc(text)}</p>` : "";
  }
  function statsTable(which, s) {
    if (!s) return `<p class="hint">no ${which} recorded</p>`;
    const rows = [["norm", s.norm], ["mean", s.mean], ["std", s.std], ["min", s.min], ["max", s.max],
      ["fraction zero", s.zeros]];
    const key = (name) => `${which}-${name.split(" ")[0]}`;
    return "<table>" + rows.map(([name, v]) =>
      `<tr><td>${name}</td><td data-stat="${key(name)}">${fmt(v)}</td></tr>`).join("") + "</table>" +
      histogram(which, s);
  }
  function histogram(which, s) {
    const hist = s.hist || [];
    const top = Math.max(1, ...hist);
    const bars = hist.map((c, i) =>
      `<rect x="${i * 12}" y="${40 - 38 * c / top}" width="11" height="${38 * c / top}" fill="#6a1c81">` +
      `<title>${c}</title></rect>`).join("");
    return `<svg class="histogram" data-of="${which}" width="${hist.length * 12}" height="54">${bars}` +
      `<text x="0" y="52" font-size="9">${fmt(s.min)}</text>` +
      `<text x="${hist.length * 12}" y="52" font-size="9" text-anchor="end">${fmt(s.max)}</text></svg>`;
  }
  function showNode(boxKey, nodeKey) {
    for (const e of svg.querySelectorAll("g.node.selected")) e.classList.remove("selected");
    if (nodeEls[boxKey]) nodeEls[boxKey].classList.add("selected");
    const box = D.boxes[boxKey];
    const where = box.step === null ? "" : ` at ${esc(D.stepNames[box.step])}`;
    if (box.kind === "padding") {
      details.innerHTML = `<h2>padding${where}</h2>${paddingNote(box.step, box.layer)}` +
        `<p class="hint">${esc(box.note)}</p>`;
      return;
    }
    if (box.kind === "stand_in") {
      details.innerHTML = `<h2>${esc(box.title)}</h2><p>${esc(box.note)}</p>` +
        `<table><tr><td>norm</td><td data-stat="grad-norm">${fmt(box.norm)}</td></tr></table>`;
      return;
    }
    if (box.kind === "cell" && !nodeKey) {
      selectStep(box.step);
      details.insertAdjacentHTML("afterbegin", `<h2 id="detail-title">${esc(box.layer || "step")}${where}</h2>` +
        `<p>${box.members.length} ops in one box; ‖∂L/∂h‖ ${fmt(box.norm)}</p>`);
      nodeEls[boxKey].classList.add("selected");
      return;
    }
    const n = D.nodes[nodeKey || box.members[0]];
    const title = nodeKey && nodeKey !== box.members[0] ? (n.name || n.op) : box.title;
    if (n.tags === undefined) {  // an op of a step drawn as one box: the page keeps what its op list shows
      details.innerHTML = `<h2 id="detail-title">${esc(title)}</h2>${paddingNote(box.step, box.layer)}<table>` +
        `<tr><td>op</td><td data-field="op">${esc(n.op)}</td></tr>` +
        `<tr><td>shape</td><td data-field="shape">(${n.shape.join(", ")})</td></tr>` +
        `<tr><td>‖∂L/∂(this)‖</td><td data-stat="grad-norm">${fmt(n.grad && n.grad.norm)}</td></tr>` +
        `<tr><td>key</td><td data-field="key">${esc(nodeKey || box.members[0])}</td></tr></table>` +
        `<p class="hint" data-field="brief">${esc(D.briefNote)}</p>`;
      return;
    }
    const tags = Object.entries(n.tags).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(", ") || "none";
    const classic = D.classic[boxKey] ? `<tr><td>classic name</td><td>${esc(D.classic[boxKey].label)}</td></tr>` : "";
    details.innerHTML = `<h2 id="detail-title">${esc(title)}</h2>${paddingNote(box.step, box.layer)}<table>` +
      `<tr><td>role</td><td data-field="role">${esc(box.role)}</td></tr>` +
      `<tr><td>op</td><td data-field="op">${esc(n.op)}</td></tr>` +
      `<tr><td>shape</td><td data-field="shape">(${n.shape.join(", ")})</td></tr>` +
      `<tr><td>dtype</td><td data-field="dtype">${esc(n.dtype)}</td></tr>` +
      `<tr><td>tags</td><td data-field="tags">${tags}</td></tr>${classic}</table>` +
      (D.captions[boxKey] ? `<p class="equation">${esc(D.captions[boxKey])}</p>` : "") +
      `<h3>gradient ∂L/∂(this)</h3>${statsTable("grad", n.grad)}<h3>value</h3>${statsTable("value", n.value)}`;
  }
  for (const [key, e] of Object.entries(nodeEls)) {
    if (!D.boxes[key]) continue;
    e.addEventListener("click", () => {
      if (drag && drag.moved) return;
      showNode(key);
      emit("box", { key });
    });
  }

  // ---------------------------------------------------------------- gates
  const gateLabels = [];
  for (const [key, classic] of Object.entries(D.classic)) {
    const title = nodeEls[key] && nodeEls[key].querySelector('text[font-weight="bold"]');
    if (!title) continue;
    nodeEls[key].dataset.gate = D.boxes[key].role;
    title.classList.add("gate-label");
    const shape = nodeEls[key].querySelector("path, polygon").getBBox();
    gateLabels.push({ title, classic, original: title.textContent, size: title.getAttribute("font-size"),
      x: title.getAttribute("x"), anchor: title.getAttribute("text-anchor"), centre: shape.x + shape.width / 2 });
  }
  function nameGates(mode) {
    for (const g of gateLabels) {
      const classic = mode === "classic";
      g.title.textContent = classic ? g.classic.label : g.original;
      g.title.setAttribute("font-size", classic ? g.classic.size : g.size);
      g.title.setAttribute("x", classic ? g.centre : g.x);  // centred in its box, as Graphviz centres titles
      g.title.setAttribute("text-anchor", classic ? "middle" : g.anchor);
    }
  }
  $("gate-names").addEventListener("change", (e) => nameGates(e.target.value));
  $("gate-switch").style.display = gateLabels.length ? "" : "none";

  // ---------------------------------------------------------------- replay
  const litOrder = Object.entries(D.boxes).filter(([k, b]) => b.visit !== null && nodeEls[k])
    .sort((a, b) => a[1].visit - b[1].visit);
  const edgeOrder = edgeEls.filter((e) => D.links[e.id] && D.links[e.id].visit !== null)
    .sort((a, b) => D.links[a.id].visit - D.links[b.id].visit);
  const frames = D.frames;
  let frame = -1, replaying = false, litUpTo = 0, edgeUpTo = 0, current = null, timer = null;
  $("frames").textContent = frames.length;
  $("node-count").textContent = litOrder.length;

  function unlightAll() {
    for (const [k] of litOrder) nodeEls[k].classList.remove("lit", "current");
    for (const e of edgeOrder) e.classList.remove("lit");
    for (const c of heatCells) c.rect.setAttribute("fill", "#ffffff");
    litUpTo = edgeUpTo = 0;
    current = null;
  }
  function show(f) {
    // Frame f: every box whose gradient is complete by then is lit, every edge the gradient has
    // been sent along; -1 is the start, with nothing lit.
    f = Math.max(-1, Math.min(frames.length - 1, f));
    if (!replaying) {
      replaying = true;
      graphBox.classList.add("replaying");
      unlightAll();
      frame = -1;
    }
    if (f < frame) {
      unlightAll();
    }
    frame = f;
    const upTo = f < 0 ? -1 : frames[f];
    if (current) nodeEls[current].classList.remove("current");
    if (litUpTo === 0) current = null;
    let newest = null;
    while (litUpTo < litOrder.length && litOrder[litUpTo][1].visit <= upTo) {
      const [k, box] = litOrder[litUpTo++];
      nodeEls[k].classList.add("lit");
      if (box.kind !== "stand_in") newest = k;  // a stand-in lights with the box it copies
    }
    if (newest === null) newest = current;
    while (edgeUpTo < edgeOrder.length && D.links[edgeOrder[edgeUpTo].id].visit <= upTo) {
      edgeOrder[edgeUpTo++].classList.add("lit");
    }
    for (const c of heatCells) {
      const visit = c.cell.visit;
      c.rect.setAttribute("fill", visit !== null && visit !== undefined && visit <= upTo ?
        fill(c.cell) : "#ffffff");
    }
    current = newest;
    emit("frame", { upTo });
    if (current) {
      nodeEls[current].classList.add("current");
      keepInView(nodeEls[current]);
    }
    status();
  }
  function status() {
    $("frame").textContent = frame + 1;
    $("lit-count").textContent = litUpTo;
    const box = current ? D.boxes[current] : null;
    $("current-t").textContent = box && box.step !== null ? D.stepNames[box.step] : "–";
    let caption = "";
    if (box) {
      caption = D.captions[current] || lastCaption(box) ||
        `${box.title}${box.step !== null ? " at " + D.stepNames[box.step] : ""}: its gradient is complete ` +
        `(‖∂L/∂·‖ ${fmt(box.norm)})`;
    } else if (replaying) {
      caption = "Nothing has a gradient yet: the backward pass starts at the loss (▶|).";
    }
    $("caption").textContent = caption;
  }
  function lastCaption(box) {
    // The equation of the latest state whose gradient is complete, for the ops in between.
    for (let i = litUpTo - 1; i >= 0 && i >= litUpTo - 40; i--) {
      const k = litOrder[i][0];
      if (D.captions[k] && D.boxes[k].step === box.step) return D.captions[k];
    }
    return "";
  }
  function stop() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "▶ play backward pass";
  }
  function play() {
    if (timer) { stop(); return; }
    if (!replaying || frame >= frames.length - 1) { replaying = false; show(-1); }
    const stride = Math.max(1, Math.ceil(frames.length / 300));  // about 10 seconds at any length
    $("play").textContent = "❚❚ pause";
    timer = setInterval(() => {
      show(frame + stride);
      if (frame >= frames.length - 1) stop();
    }, 30);
  }
  function reset() {
    stop();
    replaying = false;
    show(-1);
  }
  $("play").addEventListener("click", play);
  $("forward").addEventListener("click", () => { stop(); show(frame + 1); });
  $("back").addEventListener("click", () => { stop(); show(frame - 1); });
  $("reset").addEventListener("click", reset);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); play(); }
    if (e.key === "ArrowRight") { stop(); show(frame + 1); }
    if (e.key === "ArrowLeft") { stop(); show(frame - 1); }
  });

  // ---------------------------------------------------------------- the views' API
  // What views/*.js use; columns(): the strip's time axis in page pixels (LABEL_W from the
  // strip's left edge, width cw per column), so a view's strip lines up with the heat strip.
  window.explorerCore = {
    D, $, el, esc, fmt, svg, nodeEls, on, emit, selectStep, showNode, keepInView,
    columns: () => ({ left: LABEL_W, width: stripGeometry ? stripGeometry.cw : 0, count: S.columns,
      perCell: S.perCell, right: BAR_W }),
    start,
  };

  // ---------------------------------------------------------------- start
  function start() {
    // After the views: they listen to the first "strip" event to draw themselves.
    drawStrip();
    drawPlot();
    for (const step of D.steps) {
      const region = idsBox(D.targets[step] || []);
      if (region) stepBoxes[step] = region;
    }
    home();
    window.addEventListener("resize", () => { drawStrip(); overview(); });
    window.explorer = {
      loadMs: performance.now() - started,
      litCount: () => litUpTo,
      nodeCount: litOrder.length,
      frame: () => frame,
      frames: frames.length,
      current: () => current,
      currentT: () => (current && D.boxes[current].step !== null ? D.positions[D.boxes[current].step] : null),
      playing: () => timer !== null,
      scale,
      view: () => ({ ...view }),
    };
  }
})();
