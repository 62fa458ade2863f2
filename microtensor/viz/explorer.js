// The microtensor explorer: pan and zoom the unrolled graph, a heat strip of ||dL/dh_t||
// (striped where sequences are padding), a replay of the backward pass in the engine's visit
// order, node details, gate names.
// Plain JavaScript, no libraries: the page must work offline from a single file.
"use strict";
(function () {
  const started = performance.now();
  const D = JSON.parse(document.getElementById("explorer-data").textContent);
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const svg = $("graph-svg");
  const graphBox = $("graph");
  const details = $("details");
  const nodeEls = {};
  for (const g of svg.querySelectorAll("g.node")) nodeEls[g.id] = g;

  // ---------------------------------------------------------------- colours
  function colour(norm) {
    if (norm === null || norm === undefined || !D.scale) return "#ffffff";
    if (norm < D.vanishBelow) return D.vanished;
    const [lo, hi] = D.scale;
    let frac = hi <= lo ? 1 : (Math.log10(Math.max(norm, 1e-300)) - lo) / (hi - lo);
    frac = Math.min(Math.max(frac, 0), 1);
    return D.palette[Math.round(frac * (D.palette.length - 1))];
  }
  const fmt = (x) => (x === null || x === undefined ? "–" : Number(x).toPrecision(4));

  // ---------------------------------------------------------------- pan and zoom
  const base = svg.viewBox.baseVal;
  const home = { x: base.x, y: base.y, w: base.width, h: base.height };
  let view = { ...home };
  function setView(v) {
    view = v;
    svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
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
    const r = svg.getBoundingClientRect();
    const scale = Math.max(drag.view.w / r.width, drag.view.h / r.height);
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) setView({ ...drag.view, x: drag.view.x - dx * scale, y: drag.view.y - dy * scale });
  });
  window.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
  svg.addEventListener("dblclick", () => setView({ ...home }));

  function focusOn(el) {
    // The element's box in the root's user units, padded, at the container's aspect.
    const m = svg.getScreenCTM().inverse().multiply(el.getScreenCTM());
    const b = el.getBBox();
    const p1 = svg.createSVGPoint(), p2 = svg.createSVGPoint();
    p1.x = b.x; p1.y = b.y; p2.x = b.x + b.width; p2.y = b.y + b.height;
    const a = p1.matrixTransform(m), c = p2.matrixTransform(m);
    const r = svg.getBoundingClientRect();
    let w = Math.max(c.x - a.x, 700) * 1.3, h = Math.max(c.y - a.y, 450) * 1.3;
    if (w / h < r.width / r.height) w = h * r.width / r.height; else h = w * r.height / r.width;
    setView({ x: (a.x + c.x - w) / 2, y: (a.y + c.y - h) / 2, w, h });
  }

  // ---------------------------------------------------------------- heat strip
  const strip = $("strip");
  const stripSvg = document.createElementNS(SVGNS, "svg");
  const T = D.steps.length, L = D.layers.length;
  stripSvg.setAttribute("viewBox", `0 0 ${Math.max(T, 1)} ${Math.max(L, 1) * 10}`);
  stripSvg.setAttribute("preserveAspectRatio", "none");
  stripSvg.style.height = `${Math.min(16 * Math.max(L, 1), 64)}px`;
  // Padding: grey stripes over the share of a cell's height that is padding at that step,
  // about 6 pixels apart however many steps the strip is stretched over.
  const period = Math.max(T, 1) / 220;
  stripSvg.innerHTML = `<defs><pattern id="padding-hatch" patternUnits="userSpaceOnUse" width="${period}"
    height="10"><rect width="${period}" height="10" fill="#ffffff" fill-opacity="0.5"/>
    <rect width="${period / 2}" height="10" fill="#8c8c8c"/></pattern></defs>`;
  const heatCells = [];  // {rect, norm, visit}
  D.layers.forEach((layer, li) => {
    D.steps.forEach((t, ti) => {
      const rect = document.createElementNS(SVGNS, "rect");
      const norm = D.heat[li][ti];
      rect.setAttribute("x", ti);
      rect.setAttribute("y", li * 10 + 0.5);
      rect.setAttribute("width", 1);
      rect.setAttribute("height", 9);
      rect.setAttribute("class", "heat-cell");
      rect.setAttribute("fill", colour(norm));
      rect.dataset.t = t;
      rect.dataset.layer = layer;
      const pad = D.padding[t] && D.padding[t].layers[layer];
      const tip = document.createElementNS(SVGNS, "title");
      tip.textContent = `${layer} ${D.stepNames[t]}: ||dL/dh|| ${fmt(norm)}${pad ? " · " + pad.text : ""}`;
      rect.appendChild(tip);
      stripSvg.appendChild(rect);
      if (pad && pad.count && norm !== null) {  // only where the layer has this step
        rect.classList.add("padding");
        const share = pad.count / pad.batch;
        const hatch = document.createElementNS(SVGNS, "rect");
        hatch.setAttribute("x", ti);
        hatch.setAttribute("y", li * 10 + 0.5 + 9 * (1 - share));
        hatch.setAttribute("width", 1);
        hatch.setAttribute("height", 9 * share);
        hatch.setAttribute("fill", "url(#padding-hatch)");
        hatch.setAttribute("class", "heat-padding");  // clicks and hover go to the cell below
        hatch.dataset.t = t;
        stripSvg.appendChild(hatch);
      }
      const visit = D.hiddenVisits[`${layer}|${t}`];
      heatCells.push({ rect, norm, visit: visit === undefined ? null : visit });
    });
  });
  strip.appendChild(stripSvg);
  stripSvg.addEventListener("click", (e) => {
    const t = e.target.dataset ? e.target.dataset.t : undefined;
    if (t !== undefined) selectStep(Number(t));
  });

  function selectStep(t) {
    for (const c of heatCells) c.rect.classList.toggle("selected", Number(c.rect.dataset.t) === t);
    for (const el of svg.querySelectorAll(".focus")) el.classList.remove("focus");
    const target = document.getElementById(D.targets[t]);
    if (target) {
      target.classList.add("focus");
      focusOn(target);
    }
    const keys = Object.keys(D.boxes).filter((k) => D.boxes[k].step === t && D.boxes[k].members);
    const drawnAsOps = D.detailed.includes(t);
    let body = `<h2>${esc(D.stepNames[t])}</h2>${paddingNote(t)}<p>${drawnAsOps ? "drawn op by op" :
      "drawn as one node per layer; its ops:"}</p><ul class="op-list">`;
    for (const k of keys) {
      for (const m of D.boxes[k].members) {
        const n = D.nodes[m];
        body += `<li data-box="${k}" data-node="${m}">${esc(n.name || n.op)} <small>${esc(n.op)} ` +
          `(${n.shape.join(", ")}) ‖∂‖ ${fmt(n.grad && n.grad.norm)}</small></li>`;
      }
    }
    details.innerHTML = body + "</ul>";
    for (const li of details.querySelectorAll("li")) {
      li.addEventListener("click", () => showNode(li.dataset.box, li.dataset.node));
    }
  }

  // ---------------------------------------------------------------- node details
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
  function esc(text) {
    const div = document.createElement("div");
    div.textContent = text === null || text === undefined ? "" : String(text);
    return div.innerHTML;
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
      `<rect x="${i * 12}" y="${40 - 38 * c / top}" width="11" height="${38 * c / top}" fill="#3182bd">` +
      `<title>${c}</title></rect>`).join("");
    return `<svg class="histogram" data-of="${which}" width="${hist.length * 12}" height="54">${bars}` +
      `<text x="0" y="52" font-size="9">${fmt(s.min)}</text>` +
      `<text x="${hist.length * 12}" y="52" font-size="9" text-anchor="end">${fmt(s.max)}</text></svg>`;
  }
  function showNode(boxKey, nodeKey) {
    for (const el of svg.querySelectorAll("g.node.selected")) el.classList.remove("selected");
    if (nodeEls[boxKey]) nodeEls[boxKey].classList.add("selected");
    const box = D.boxes[boxKey];
    if (box.kind === "padding") {
      details.innerHTML = `<h2>padding at ${esc(D.stepNames[box.step])}</h2>${paddingNote(box.step, box.layer)}` +
        `<p class="hint">${esc(box.note)}</p>`;
      return;
    }
    if (box.kind === "stand_in") {
      details.innerHTML = `<h2>${esc(box.title)}</h2><p>${esc(box.note)}</p>` +
        `<table><tr><td>norm</td><td data-stat="grad-norm">${fmt(box.norm)}</td></tr></table>`;
      return;
    }
    if (box.kind === "cell" && !nodeKey) {
      details.innerHTML = `<h2>${esc(box.title)} at ${esc(D.stepNames[box.step])}</h2>` +
        paddingNote(box.step, box.layer) +
        `<p>${box.members.length} ops in one node; ‖∂L/∂h‖ ${fmt(box.norm)}</p>`;
      selectStep(box.step);
      nodeEls[boxKey].classList.add("selected");
      return;
    }
    const n = D.nodes[nodeKey || box.members[0]];
    const tags = Object.entries(n.tags).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(", ") || "none";
    const gate = box.gate ? `<tr><td>gate</td><td>${esc(D.pytorch[box.gate] || box.gate)} ` +
      `(classic: ${esc(D.classic[box.gate])})</td></tr>` : "";
    details.innerHTML = `<h2 id="detail-title">${esc(n.name || n.op)}</h2>${paddingNote(box.step, box.layer)}<table>` +
      `<tr><td>op</td><td data-field="op">${esc(n.op)}</td></tr>` +
      `<tr><td>shape</td><td data-field="shape">(${n.shape.join(", ")})</td></tr>` +
      `<tr><td>dtype</td><td data-field="dtype">${esc(n.dtype)}</td></tr>` +
      `<tr><td>tags</td><td data-field="tags">${tags}</td></tr>${gate}</table>` +
      `<h3>gradient ∂L/∂(this)</h3>${statsTable("grad", n.grad)}<h3>value</h3>${statsTable("value", n.value)}`;
  }
  for (const [key, el] of Object.entries(nodeEls)) {
    if (!D.boxes[key]) continue;
    el.addEventListener("click", () => { if (!drag || !drag.moved) showNode(key); });
  }

  // ---------------------------------------------------------------- gate names
  const gateLabels = [];
  for (const [key, box] of Object.entries(D.boxes)) {
    if (!box.gate || !nodeEls[key]) continue;
    const text = nodeEls[key].querySelector("text");
    const outline = nodeEls[key].querySelector("path, polygon");
    if (!text) continue;
    nodeEls[key].dataset.gate = box.gate;
    text.classList.add("gate-label");
    gateLabels.push({ text, gate: box.gate, original: text.textContent,
      room: outline ? outline.getBBox().width - 8 : 80 });
  }
  function nameGates(mode) {
    for (const g of gateLabels) {
      g.text.textContent = mode === "classic" ? D.classic[g.gate] : (D.pytorch[g.gate] || g.original);
      g.text.removeAttribute("textLength");
      if (g.text.getComputedTextLength() > g.room) {  // squeeze a long name into its box
        g.text.setAttribute("textLength", g.room);
        g.text.setAttribute("lengthAdjust", "spacingAndGlyphs");
      }
    }
  }
  $("gate-names").addEventListener("change", (e) => nameGates(e.target.value));
  $("gate-switch").style.display = gateLabels.length ? "" : "none";

  // ---------------------------------------------------------------- backward replay
  const litOrder = Object.entries(D.boxes).filter(([k, b]) => b.visit !== null && nodeEls[k])
    .sort((a, b) => a[1].visit - b[1].visit);
  const heatOrder = heatCells.filter((c) => c.visit !== null).sort((a, b) => a.visit - b.visit);
  const frames = D.frames;
  let frame = -1, litUpTo = 0, heatUpTo = 0, currentT = null, timer = null;
  $("frames").textContent = frames.length;
  $("node-count").textContent = litOrder.length;

  function show(f) {
    // Light every box whose gradient is complete by frame f (unlight on the way back).
    f = Math.max(-1, Math.min(frames.length - 1, f));
    if (f < frame) {
      for (const [k] of litOrder) nodeEls[k].classList.remove("lit");
      for (const c of heatOrder) c.rect.setAttribute("fill", "#ffffff");
      litUpTo = heatUpTo = 0;
      currentT = null;
    }
    frame = f;
    graphBox.classList.add("replaying");
    const upTo = f < 0 ? -1 : frames[f];
    while (litUpTo < litOrder.length && litOrder[litUpTo][1].visit <= upTo) {
      const [k, box] = litOrder[litUpTo++];
      nodeEls[k].classList.add("lit");
      if (box.step !== null) currentT = box.step;
    }
    while (heatUpTo < heatOrder.length && heatOrder[heatUpTo].visit <= upTo) {
      const c = heatOrder[heatUpTo++];
      c.rect.setAttribute("fill", colour(c.norm));
    }
    $("frame").textContent = f + 1;
    $("lit-count").textContent = litUpTo;
    $("current-t").textContent = currentT === null ? "–" : currentT;
  }
  function startReplay() {
    if (frame === -1 || frame >= frames.length - 1) {
      frame = frames.length;  // from the start
      show(-1);
    }
  }
  function stop() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "▶ play backward pass";
  }
  function play() {
    if (timer) { stop(); return; }
    startReplay();
    const stride = Math.max(1, Math.ceil(frames.length / 300));  // about 10 seconds at any length
    $("play").textContent = "❚❚ pause";
    timer = setInterval(() => {
      show(frame + stride);
      if (frame >= frames.length - 1) stop();
    }, 30);
  }
  $("play").addEventListener("click", play);
  $("forward").addEventListener("click", () => { stop(); show(frame + 1); });
  $("back").addEventListener("click", () => { stop(); show(frame - 1); });
  $("reset").addEventListener("click", () => {
    stop();
    show(frames.length - 1);
    graphBox.classList.remove("replaying");
    frame = -1;
    for (const c of heatCells) c.rect.setAttribute("fill", colour(c.norm));
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); play(); }
    if (e.key === "ArrowRight") { stop(); show(frame + 1); }
    if (e.key === "ArrowLeft") { stop(); show(frame - 1); }
  });

  window.explorer = {
    loadMs: performance.now() - started,
    litCount: () => litUpTo,
    nodeCount: litOrder.length,
    frame: () => frame,
    frames: frames.length,
    currentT: () => currentT,
    playing: () => timer !== null,
  };
})();
