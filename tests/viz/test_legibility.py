"""The unrolled picture a learner reads at a glance, measured as a learner sees it.

Every page is opened in headless Chromium (the system browser, through Playwright) at
1440x900, laid out by each Graphviz program found, over the matrix {RNN, LSTM, GRU} x {1, 2
layers} x {one direction, bidirectional} x T in {1, 5, 30} x {auto, op, cell}. What is
measured is what a reader needs: recurrent edges that stay between the two steps they join,
gates in one order, titles tall enough to read on load, names that mean something, and a
replay whose lit boxes and edges are exactly those the gradient has reached.
"""

import os
import shutil

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.plan import PALETTE

CHROMIUM = "/usr/bin/chromium"
PROGRAMS = [p for p in ("dot", "graphviz-pure") if shutil.which(p)]
pytestmark = pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program (dot or graphviz-pure) found")
BARE_OPS = {"Permute", "Index", "Stack", "Reshape", "Transpose"}
_passes = {}


def recorded(model, layers, bidirectional, steps, batch=2):
    """One recorded pass per configuration (the loss reads the last step's output)."""
    key = (model, layers, bidirectional, steps, batch)
    if key not in _passes:
        mt.manual_seed(0)
        layer = getattr(mt.nn, model)(3, 4, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
        with mt.viz.record() as rec:
            out, _ = layer(mt.randn(steps, batch, 3, dtype=mt.float64))
            loss = (out[-1] ** 2).sum()
            loss.backward()
        _passes[key] = (loss, rec)
    return _passes[key]


@pytest.fixture(scope="module")
def page():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python package) not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        tab = browser.new_page(viewport={"width": 1440, "height": 900})
        tab.errors = []
        tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: tab.errors.append(str(e)))
        yield tab
        browser.close()


def open_explorer(tab, explorer):
    tab.errors.clear()
    tab.set_content(explorer.html)
    tab.wait_for_function("window.explorer !== undefined")
    return tab.evaluate(MEASURE)


# One pass over the page, in screen pixels: what the tests below assert on.
MEASURE = """() => {
  const svg = document.getElementById('graph-svg');
  const panel = document.getElementById('graph').getBoundingClientRect();
  const rect = (e) => e.getBoundingClientRect();
  const union = (rs) => ({left: Math.min(...rs.map(r => r.left)), right: Math.max(...rs.map(r => r.right)),
                          top: Math.min(...rs.map(r => r.top)), bottom: Math.max(...rs.map(r => r.bottom))});
  const stepBox = {};
  const stepOf = (s) => {
    if (!(s in stepBox)) {
      const frame = svg.querySelector(`g.cluster#step${s}`);
      const nodes = [...svg.querySelectorAll(`g.node[data-step="${s}"]`)];
      stepBox[s] = frame ? rect(frame) : union(nodes.map(rect));
    }
    return stepBox[s];
  };
  const node = (key) => document.getElementById(key);
  const states = [];
  for (const g of svg.querySelectorAll('g.edge[data-kind="state"]')) {
    const a = node(g.dataset.src), b = node(g.dataset.dst);
    const sa = stepOf(a.dataset.step), sb = stepOf(b.dataset.step);
    const path = rect(g.querySelector('path'));
    states.push({id: g.id, left: path.left, right: path.right, lo: Math.min(sa.left, sb.left),
                 hi: Math.max(sa.right, sb.right), scale: window.explorer.scale()});
  }
  const blocks = {};
  for (const g of svg.querySelectorAll('g.node[data-step][data-role]')) {
    const role = g.dataset.role;
    if (!['input', 'forget', 'candidate', 'output', 'reset', 'update', 'new'].includes(role)) continue;
    const key = g.dataset.step + '|' + g.dataset.layer;
    (blocks[key] = blocks[key] || []).push([rect(g).left, role, g.dataset.layer]);
  }
  const orders = Object.values(blocks).map(b => b.sort((x, y) => x[0] - y[0]).map(x => x[1]));
  const heights = [];
  const titles = [];
  let visible = 0;
  for (const g of svg.querySelectorAll('g.node')) {
    const r = rect(g);
    const shown = r.right > panel.left && r.left < panel.right && r.bottom > panel.top && r.top < panel.bottom;
    if (shown && r.width > 0) visible += 1;
    const t = g.querySelector('text[font-weight="bold"]');
    if (!t) continue;
    if (g.dataset.step !== undefined) titles.push(t.textContent);
    const tr = rect(t);
    if (shown && tr.height > 0) heights.push(tr.height);
  }
  heights.sort((a, b) => a - b);
  return {states, orders, titles, visible, median: heights.length ? heights[Math.floor(heights.length / 2)] : 0,
          shownTitles: heights.length, errors: []};
}"""


MATRIX = [(model, layers, bidirectional, steps, detail)
          for model in ("RNN", "LSTM", "GRU") for layers in (1, 2) for bidirectional in (False, True)
          for steps in (1, 5, 30) for detail in ("auto", "op", "cell")]


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize(("model", "layers", "bidirectional", "steps", "detail"), MATRIX)
def test_the_matrix_reads_at_a_glance(page, program, model, layers, bidirectional, steps, detail):
    loss, rec = recorded(model, layers, bidirectional, steps)
    explorer = mt.viz.explore(loss, rec, detail=detail, program=program)
    seen = open_explorer(page, explorer)
    assert page.errors == []
    # Every recurrent edge stays within the horizontal span of the two steps it joins.
    for edge in seen["states"]:
        tolerance = 3
        assert edge["lo"] - tolerance <= edge["left"] and edge["right"] <= edge["hi"] + tolerance, edge
    # Gates in one order in every step, layer and direction.
    assert len({tuple(order) for order in seen["orders"]}) <= 1, seen["orders"]
    # Titles a learner reads without zooming, on load.
    assert seen["median"] >= 11, f"median title {seen['median']:.1f} px over {seen['shownTitles']} titles"
    # Names that mean something inside a layer's step.
    assert not BARE_OPS.intersection(seen["titles"])
    # Within 4:1.
    layout = explorer.drawing.plan.layout
    assert layout.width / layout.height <= 4.0


def lightness(colour):
    """CIELAB L* of a hex colour."""
    rgb = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    return 116 * (y ** (1 / 3) if y > 216 / 24389 else (24389 / 27 * y + 16) / 116) - 16


def test_the_palette_is_one_way_its_lightness_strictly_falling():
    values = [lightness(c) for c in PALETTE]
    assert all(a > b for a, b in zip(values, values[1:])), values
