"""The unrolled picture a learner reads at a glance, measured as a learner sees it.

Every page is opened in headless Chromium (the system browser, through Playwright) at
1440x900, laid out by each Graphviz program found, over the matrix {RNN, LSTM, GRU} x {1, 2
layers} x {one direction, bidirectional} x T in {1, 5, 30} x {auto, op, cell}. What is
measured is what a reader needs: recurrent edges that stay between the two steps they join,
gates in one order, titles tall enough to read on load, names that mean something, and a
replay whose lit boxes and edges are exactly those the gradient has reached.
"""

import shutil

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.plan import PALETTE

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
def page(browser):
    """One tab at 1440x900, collecting console errors."""
    tab = browser.new_page(viewport={"width": 1440, "height": 900})
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    tab.close()


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
    const shown = r.right > panel.left && r.left < panel.right
      && r.bottom > panel.top && r.top < panel.bottom;
    if (shown && r.width > 0) visible += 1;
    const t = g.querySelector('text[font-weight="bold"]');
    if (!t) continue;
    if (g.dataset.step !== undefined) titles.push(t.textContent);
    const tr = rect(t);
    if (shown && tr.height > 0) heights.push(tr.height);
  }
  heights.sort((a, b) => a - b);
  const median = heights.length ? heights[Math.floor(heights.length / 2)] : 0;
  return {states, orders, titles, visible, median, shownTitles: heights.length};
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


def check_reads(seen, explorer):
    """The matrix's checks, for one page."""
    for edge in seen["states"]:
        assert edge["lo"] - 3 <= edge["left"] and edge["right"] <= edge["hi"] + 3, edge
    kinds = {frozenset(order) for order in seen["orders"]}  # one order per kind of cell
    assert len({tuple(order) for order in seen["orders"]}) <= len(kinds), seen["orders"]
    assert seen["median"] >= 11
    assert not BARE_OPS.intersection(seen["titles"])
    layout = explorer.drawing.plan.layout
    assert layout.width / layout.height <= 4.0


def packed_pass():
    from microtensor.nn.utils.rnn import pack_padded_sequence

    mt.manual_seed(0)
    lstm = mt.nn.LSTM(3, 4, num_layers=2, dtype=mt.float64)
    with mt.viz.record() as rec:
        _, (h, _) = lstm(pack_padded_sequence(mt.randn(6, 4, 3, dtype=mt.float64), [6, 2, 4, 5],
                                              enforce_sorted=False))
        loss = (h ** 2).sum()
        loss.backward()
    return loss, rec


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("case", ["packed", "translate"])
def test_a_packed_batch_and_the_translate_model_read_as_well(page, program, case, translate_pass):
    loss, rec = packed_pass() if case == "packed" else translate_pass()
    explorer = mt.viz.explore(loss, rec, program=program)
    check_reads(open_explorer(page, explorer), explorer)
    assert page.errors == []


def test_a_thousand_steps_open_on_the_last_steps_with_few_boxes(page):
    loss, rec = recorded("LSTM", 1, False, 1000, batch=1)
    explorer = mt.viz.explore(loss, rec)
    seen = open_explorer(page, explorer)
    check_reads(seen, explorer)
    assert seen["visible"] <= 300
    widths = page.eval_on_selector_all(".heat-cell", "els => els.map(e => +e.getAttribute('width'))")
    assert min(widths) >= 4  # aggregated: each cell a few steps, and the strip says so
    assert "each cell: 6 steps" in page.text_content("#falls")
    print(f"\nT=1000: the page's script is ready in {page.evaluate('window.explorer.loadMs'):.0f} ms; "
          f"{len(explorer.html) / 1e6:.1f} MB; {seen['visible']} boxes in the first view; "
          f"median title {seen['median']:.1f} px")


# ------------------------------------------------------------------ the findings, one by one
def test_steps_of_a_row_stand_at_even_gaps_with_no_hole_before_the_last():
    for model, layers, steps in (("RNN", 1, 8), ("LSTM", 1, 30), ("GRU", 2, 12)):
        drawn = mt.viz.draw_graph(*recorded(model, layers, False, steps)).plan
        frames = drawn.layout.frames
        for row in drawn.rows:
            gaps = [frames[b].x - frames[a].right for a, b in zip(row, row[1:])]
            assert not gaps or max(gaps) - min(gaps) < 1e-6, (model, row, gaps)


def test_the_cell_state_and_the_hidden_state_each_run_along_one_line():
    drawn = mt.viz.draw_graph(*recorded("LSTM", 2, False, 8), detail="op").plan
    rects = drawn.layout.rects
    for row in drawn.rows:
        for layer in drawn.layers:
            for role in ("c", "h"):
                ys = {rects[k].cy for k, b in drawn.boxes.items() if b.role == role and b.layer == layer
                      and b.step in row}
                assert len(ys) == 1, (role, layer, row, ys)
    for i, link in enumerate(drawn.links):  # along the lines, h and c pass straight on
        if link.state and not link.wrap:
            (x0, y0), (x1, y1) = drawn.layout.paths[i][0]
            assert abs(y0 - y1) < 1e-6 and x0 < x1


def test_boxes_inside_a_step_say_what_the_tensor_is():
    drawn = mt.viz.draw_graph(*recorded("LSTM", 2, False, 5), detail="op").plan
    titles = {b.title for b in drawn.boxes.values()}
    assert {"W_hhᵀ", "x_t W_ihᵀ", "h₀", "c₀", "f pre-activation", "pre-activations", "h W_hhᵀ", "f ⊙ c",
            "i ⊙ g", "tanh(c)", "forget", "outputs y (stacked)", "loss"} <= titles
    first = next(b for b in drawn.boxes.values() if b.title == "f pre-activation")
    assert first.lines[0] == "Index (2, 4)"  # the op class stays, as the small second line
    assert all(b.title != "input" for b in drawn.boxes.values() if b.role == "constant" and b.step == 0)
    # A packed batch: the rows that go on at a step where a sequence ends, and those that end.
    packed = {b.title for b in mt.viz.draw_graph(*packed_pass(), detail="op").plan.boxes.values()}
    assert {"h, running rows", "c, running rows", "h, ended rows"} <= packed


@pytest.mark.parametrize("detail", ["auto", "op", "cell"])
@pytest.mark.parametrize("bptt_order", [False, True])
def test_the_loss_is_drawn_joined_to_the_last_step(detail, bptt_order):
    drawn = mt.viz.draw_graph(*recorded("LSTM", 1, False, 12), detail=detail, bptt_order=bptt_order).plan
    loss = next(k for k, b in drawn.boxes.items() if b.output)
    reached, todo = set(), [k for k, b in drawn.boxes.items() if b.step == 11]
    while todo:
        key = todo.pop()
        for link in drawn.links:
            if link.src == key and link.dst not in reached:
                reached.add(link.dst)
                todo.append(link.dst)
    assert loss in reached


def test_exact_zero_is_no_gradient_path_and_auto_detail_follows_the_gradient_per_direction():
    drawn = mt.viz.draw_graph(*recorded("LSTM", 1, True, 10)).plan
    forward, reverse = drawn.lanes
    assert reverse.reverse and set(reverse.steps[:9]) == drawn.no_gradient  # out[-1] reads t=9 only
    assert not drawn.vanished
    assert all("no gradient (exactly 0)" in drawn.step_title(s) and "vanished" not in drawn.step_title(s)
               for s in drawn.no_gradient & drawn.detailed)
    assert drawn.detailed == set(forward.steps[-6:]) | {reverse.steps[-1]}
    # Gradient that shrinks until it is exactly zero has vanished: it is not "no path".
    long = mt.viz.draw_graph(*recorded("LSTM", 1, False, 1000, batch=1)).plan
    assert not long.no_gradient and len(long.vanished) > 700


def test_the_palette_orders_steps_by_norm_in_lightness():
    drawn = mt.viz.draw_graph(*recorded("RNN", 1, False, 8)).plan
    norms = drawn.heat["rnn.l0"]
    ranked = sorted(norms, key=norms.get)
    shades = [lightness(drawn.colour(norms[s])) for s in ranked]
    assert all(a >= b for a, b in zip(shades, shades[1:]))  # larger norm, never lighter


def test_the_strip_explains_itself(page, translate_pass):
    explorer = mt.viz.explore(*recorded("GRU", 2, False, 12))
    open_explorer(page, explorer)
    labels = page.eval_on_selector_all(".strip-label", "els => els.map(e => e.textContent)")
    assert labels == ["gru.l1", "gru.l0"]  # as the graph stacks them: layer 1 above layer 0
    ticks = page.eval_on_selector_all(".tick", "els => els.map(e => e.textContent)")
    assert "t=0" in ticks and "11" in ticks
    numbers = page.eval_on_selector_all(".bar-label", "els => els.map(e => e.textContent)")
    assert sum(text.startswith("1e") for text in numbers) >= 2
    assert page.locator("#plot polyline.norm-line").count() == 2
    # A bidirectional layer's directions are two rows aligned by position.
    open_explorer(page, mt.viz.explore(*recorded("LSTM", 1, True, 10)))
    xs = page.eval_on_selector_all(".heat-cell", "els => els.map(e => [e.dataset.layer, +e.dataset.t, "
                                   "+e.getAttribute('x'), e.dataset.status])")
    by = {(layer, t): (x, status) for layer, t, x, status in xs}
    assert all(by[("lstm.l0", t)][0] == by[("lstm.l0_reverse", t)][0] for t in range(10))
    assert [by[("lstm.l0_reverse", t)][1] for t in range(10)] == ["zero"] * 9 + ["flow"]
    assert "no gradient (exactly 0) at t=0…8" in page.text_content("#falls")
    # No empty rows: the seq2seq strip has one row per recurrent layer that carries h.
    open_explorer(page, mt.viz.explore(*translate_pass()))
    rows = page.eval_on_selector_all(".strip-label", "els => els.map(e => e.textContent)")
    cells = page.eval_on_selector_all(".heat-cell",
                                      "els => els.map(e => [e.dataset.layer, e.dataset.status])")
    assert all(any(layer == row.rstrip(" ←") and status != "none" for layer, status in cells) for row in rows)
    assert page.errors == []


def test_the_replay_starts_from_nothing_and_lights_exactly_what_the_gradient_reached(page):
    explorer = mt.viz.explore(*recorded("LSTM", 1, False, 5), title="replay")
    open_explorer(page, explorer)
    page.click("#forward")  # a fresh page: ▶| starts from nothing, at the loss
    assert page.locator("g.node.lit").count() == 1
    loss = next(k for k, b in explorer.drawing.plan.boxes.items() if b.output)
    assert page.evaluate("window.explorer.current()") == loss
    page.click("#play")
    page.wait_for_function("!window.explorer.playing()", timeout=30_000)
    assert page.evaluate("window.explorer.litCount()") == page.evaluate("window.explorer.nodeCount")
    page.click("#reset")
    assert page.locator("g.node.lit").count() == 0 and page.locator("g.edge.lit").count() == 0
    page.click("#forward")
    assert page.locator("g.node.lit").count() == 1
    # At every frame, the edges lit are exactly those the gradient has been sent along.
    frames = page.evaluate("window.explorer.frames")
    check = """() => {
      const D = JSON.parse(document.getElementById('explorer-data').textContent);
      const upTo = D.frames[window.explorer.frame()];
      const bad = [];
      for (const e of document.querySelectorAll('#graph-svg g.edge')) {
        const link = D.links[e.id];
        if (!link) continue;
        const sent = link.visit !== null && link.visit <= upTo;
        if (sent !== e.classList.contains('lit')) bad.push(e.id);
      }
      const cur = document.querySelector('g.node.current');
      const r = cur.getBoundingClientRect(), p = document.getElementById('graph').getBoundingClientRect();
      const inView = r.left >= p.left - 1 && r.right <= p.right + 1 && r.top >= p.top - 1
        && r.bottom <= p.bottom + 1;
      return [bad, inView,
              document.getElementById('caption').textContent];
    }"""
    captions = set()
    for _ in range(frames - 1):
        bad, in_view, caption = page.evaluate(check)
        assert bad == [] and in_view
        captions.add(caption)
        page.click("#forward")
    assert any("∂L/∂h₃ = ∂L/∂y₃ + ∂L/∂h₄ · ∂h₄/∂h₃" in c for c in captions)
    explained = page.get_attribute("#status", "title")
    assert "frame" in explained and "lit" in explained
    assert page.errors == []


def test_classic_gate_names_fit_their_boxes_and_a_strip_click_always_highlights_its_step(page):
    explorer = mt.viz.explore(*recorded("LSTM", 2, False, 12))
    open_explorer(page, explorer)
    page.select_option("#gate-names", "classic")
    fits = page.eval_on_selector_all("g.node[data-gate]", """els => els.map(g => {
        const t = g.querySelector('text.gate-label').getBoundingClientRect();
        const box = g.querySelector('path, polygon').getBoundingClientRect();
        return [t.textContent, t.left >= box.left - 0.5 && t.right <= box.right + 0.5]; })""")
    assert fits and all(ok for _, ok in fits)
    labels = page.eval_on_selector_all("text.gate-label", "els => els.map(e => e.textContent)")
    classic = {"forget gate", "learn gate: ignore", "learn gate: new", "use gate", "remember gate"}
    assert classic <= set(labels)
    cell_step = min(set(explorer.drawing.plan.steps) - explorer.drawing.plan.detailed)
    page.click(f'.heat-cell[data-step="{cell_step}"][data-layer="lstm.l1"]')
    assert page.locator(f'#graph-svg .focus[data-step="{cell_step}"]').count() >= 1
    op_step = max(explorer.drawing.plan.detailed)
    page.click(f'.heat-cell[data-step="{op_step}"][data-layer="lstm.l1"]')
    assert page.eval_on_selector_all("#details h3.op-layer", "els => els.map(e => e.textContent)") == \
        ["lstm.l1", "lstm.l0"]
    assert page.errors == []


def test_lines_too_small_to_read_are_hidden_not_drawn_as_noise(page):
    open_explorer(page, mt.viz.explore(*recorded("LSTM", 1, False, 30), detail="op"))
    small = "g.node text:not([font-weight='bold'])"
    assert page.eval_on_selector(small, "e => getComputedStyle(e).display") != "none"
    page.click("#whole")
    assert page.eval_on_selector(small, "e => getComputedStyle(e).display") == "none"
    page.click("#home")
    assert page.eval_on_selector(small, "e => getComputedStyle(e).display") != "none"


def test_a_cell_of_ones_own_draws_like_the_built_in_ones(page):
    from test_cell_declarations import define_a_cell, readme_mgu

    def lstm_drawing():
        drawn = mt.viz.draw_graph(*recorded("LSTM", 2, True, 5), detail="op").plan
        rects = drawn.layout.rects
        return sorted((-1 if b.step is None else b.step, b.title, b.role,
                       tuple(round(v, 3) for v in vars(rects[k]).values())) for k, b in drawn.boxes.items())

    before = lstm_drawing()
    for layer in (readme_mgu()["MGU"](3, 4, bidirectional=True, dtype=mt.float64),
                  define_a_cell()[1](3, 4, dtype=mt.float64)):
        mt.manual_seed(0)
        with mt.viz.record() as rec:
            out, _ = layer(mt.randn(5, 2, 3, dtype=mt.float64))
            loss = (out[-1] ** 2).sum()
            loss.backward()
        explorer = mt.viz.explore(loss, rec, detail="op")
        drawn = explorer.drawing.plan
        hidden = layer.state_names[0]
        gates = set(layer.gate_names)
        for box in drawn.boxes.values():
            assert box.role != "op" or box.gate not in gates or box.title != box.gate  # gates have roles
        assert {b.role for b in drawn.boxes.values()} >= {hidden, *gates}
        for row in drawn.rows:  # the state runs along one line, step to step
            ys = {round(drawn.layout.rects[k].cy, 3) for k, b in drawn.boxes.items()
                  if b.role == hidden and b.step in row}
            assert len(ys) == 1
        assert set(drawn.heat) == set(drawn.layers)  # a heat strip row per layer and direction
        check_reads(open_explorer(page, explorer), explorer)
        assert page.locator(".heat-cell").count() == 5 * len(drawn.layers)
    assert lstm_drawing() == before  # defining cells changes nothing in the built-in LSTM's picture
    assert page.errors == []
