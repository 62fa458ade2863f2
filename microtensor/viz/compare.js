// The comparison page: two explorers, each in its own frame. Python computed what this page
// shows (compare.py: comparison_data); this script writes the labels and the note, and passes
// each frame's "step" and "unit" selections to the other frame, translated: the same t in the
// same lane, the layer at the same height (links.steps and links.layers, one map per side).
// Plain JavaScript, no libraries: the page must work offline from a single file.
"use strict";
(function () {
  const C = JSON.parse(document.getElementById("compare-data").textContent);
  const frames = [...document.querySelectorAll("iframe[data-side]")];
  const box = document.getElementById("comparison");
  const layoutSwitch = document.getElementById("layout");
  if (window.innerWidth < C.side_by_side_from) {  // too narrow for two: one above the other
    box.className = layoutSwitch.value = "stacked";
  }
  for (const f of frames) {  // each explorer's page, whole, is a JSON string beside the data
    f.srcdoc = JSON.parse(document.getElementById(`frame-${f.dataset.side}`).textContent);
  }
  for (const label of document.querySelectorAll(".label[data-side]")) {
    label.textContent = C.labels[Number(label.dataset.side)];
  }
  document.getElementById("compare-note").textContent = C.note;
  layoutSwitch.addEventListener("change", (e) => {
    // The frames load again at their new size, so each explorer fits its first view to it.
    box.className = e.target.value;
    for (const f of frames) f.srcdoc = f.srcdoc;  // eslint-disable-line no-self-assign
  });

  function layer(name, side) {
    // The other side's layer at the same place; null (the whole step) where it has none.
    if (name === null || name === undefined) return name;
    const found = C.links.layers[side][name];
    return found === undefined ? null : found;
  }
  const translate = {
    step(p, side) {
      const step = C.links.steps[side][String(p.step)];
      return step === undefined ? null : { ...p, step, layer: layer(p.layer, side) };
    },
    unit(p, side) {
      if (typeof p.layer !== "string") return { ...p };
      const other = C.links.layers[side][p.layer];
      return other === undefined ? null : { ...p, layer: other };
    },
  };
  const passed = [];  // what was passed on, for tests and the curious: {from, name, payload}
  window.addEventListener("message", (e) => {
    const m = e.data && e.data.explorer;
    const side = frames.findIndex((f) => f.contentWindow === e.source);
    if (!m || side < 0 || !translate[m.name]) return;
    const payload = translate[m.name](m.payload || {}, side);
    if (payload === null) return;  // nothing on the other side to select
    passed.push({ from: side, name: m.name, payload });
    frames[1 - side].contentWindow.postMessage({ explorer: { name: m.name, payload } }, "*");
  });
  window.comparison = { passed, data: C };
})();
