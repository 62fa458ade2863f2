"""The rolled view: one cell per layer and direction with its loop, the chosen step's numbers in it.

Data tests read ``views.rolled.data`` against the plan and the traced graph (found through
the plan's boxes, not through the view's own lookup); browser tests open explorer pages in
headless Chromium (the system browser, through Playwright) and read what the page shows.
"""

import os
import shutil
from pathlib import Path

import pytest

import microtensor as mt
from microtensor.viz.layout import text_width
from microtensor.viz.views import rolled

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ,
                                    reason="no Graphviz program (dot or graphviz-pure) found")
LSTM_ROLES = ["h", "c", "forget", "input", "candidate", "output"]
GRU_ROLES = ["h", "reset", "update", "new"]


def recorded(model, steps, layers=2, bidirectional=False, hidden=4, batch=2):
    mt.manual_seed(0)
    net = getattr(mt.nn, model)(3, hidden, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = net(mt.randn(steps, batch, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    return loss, rec


def four(x):
    return None if x is None else float(f"{x:.4g}")


def node_of(p, graph, layer, step, role):
    """The traced node the graph shows as ``role`` of ``layer`` at ``step``: its own box where the
    step is drawn op by op, else the member of the layer's cell box that carries the name."""
    for box in p.boxes.values():
        if box.step == step and box.layer == layer:
            if box.kind == "op" and box.role == role:
                return graph.nodes[box.members[0]]
            if box.kind == "cell":
                named = [graph.nodes[m] for m in box.members if graph.nodes[m].name == role]
                return named[-1] if named else None
    return None


def check_numbers(drawing, data):
    """Every cell's numbers at every step are the graph's summaries, coloured on the plan's scale."""
    p, graph = drawing.plan, drawing.graph
    for cell in data["cells"]:
        assert cell["steps"] == next(lane.steps for lane in p.lanes if lane.name == cell["lane"])
        for box in cell["boxes"]:
            for i, step in enumerate(cell["steps"]):
                n = node_of(p, graph, cell["layer"], step, box["role"])
                assert n is not None, (cell["layer"], step, box["role"])
                assert box["grad"][i] == four(n.grad.norm)
                assert box["mean"][i] == four(n.value.mean)
                assert box["norm"][i] == four(n.value.norm)
                shade = data["shades"][box["shade"][i]]
                own = p.boxes.get(n.key)
                zero = own.no_gradient if own is not None else n.grad.norm == 0 and step in p.no_gradient
                assert shade["fill"] == p.colour(n.grad.norm, zero)
                assert shade["status"] == p.status(n.grad.norm, zero)


def inside(inner, outer):
    return outer["x"] <= inner["x"] and inner["x"] + inner["w"] <= outer["x"] + outer["w"] and \
        outer["y"] <= inner["y"] and inner["y"] + inner["h"] <= outer["y"] + outer["h"]


def overlap(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def check_layout(data):
    """Boxes inside their cell and apart, cells apart, everything inside the picture."""
    picture = {"x": 0, "y": 0, "w": data["width"], "h": data["height"]}
    for cell in data["cells"]:
        assert inside(cell, picture)
        for i, box in enumerate(cell["boxes"]):
            assert inside(box, cell)
            assert not any(overlap(box, other) for other in cell["boxes"][i + 1:])
        assert cell["loop"]["x"] > cell["x"] + cell["w"]  # the loop and its label on the cell's right
    for i, cell in enumerate(data["cells"]):
        assert not any(overlap(cell, other) for other in data["cells"][i + 1:])
    for pill in data["pills"]:
        assert inside(pill, picture)


# ------------------------------------------------------------------ data
def test_an_lstm_of_two_layers_rolls_into_two_stacked_cells_with_their_loops():
    loss, rec = recorded("LSTM", steps=6)
    drawing = mt.viz.draw_graph(loss, rec, max_op_steps=2)
    data = rolled.data(drawing, rec)
    cells = {c["layer"]: c for c in data["cells"]}
    assert list(cells) == ["lstm.l0", "lstm.l1"]
    assert cells["lstm.l1"]["y"] + cells["lstm.l1"]["h"] < cells["lstm.l0"]["y"]  # bottom to top, as drawn
    for cell in cells.values():
        assert [b["role"] for b in cell["boxes"]] == LSTM_ROLES
        assert cell["loop"]["lines"] == ["h, c × 6 steps", "t = 0 → 5"]
        assert not cell["reverse"]
    # The boxes are named as the graph names them where it draws the step op by op.
    p = drawing.plan
    step = max(p.detailed)
    for cell in cells.values():
        for box in cell["boxes"]:
            drawn = [b for b in p.boxes.values()
                     if b.step == step and b.layer == cell["layer"] and b.role == box["role"]]
            assert [b.title for b in drawn] == [box["title"]]
    # The classic names, as the page's gate-name switch shows them, fit their boxes.
    classic = {b["role"]: b["classic"] for b in cells["lstm.l0"]["boxes"]}
    assert classic == {"h": None, "c": "remember gate", "forget": "forget gate",
                       "input": "learn gate: ignore", "candidate": "learn gate: new", "output": "use gate"}
    for box in cells["lstm.l0"]["boxes"]:
        if box["classic"]:
            assert text_width(box["classic"], box["classicSize"], bold=True) <= box["w"] - 10
    assert [a["kind"] for a in data["arrows"]] == ["input", "layer", "output"]
    assert [pill["text"] for pill in data["pills"]] == ["input x_t", "output y_t"]
    assert data["opensRolled"] is False
    check_layout(data)
    check_numbers(drawing, data)


def test_a_bidirectional_gru_has_its_directions_side_by_side_the_reverse_loop_running_backwards():
    loss, rec = recorded("GRU", steps=5, bidirectional=True)
    drawing = mt.viz.draw_graph(loss, rec, max_op_steps=2)
    data = rolled.data(drawing, rec)
    cells = {c["layer"]: c for c in data["cells"]}
    assert set(cells) == {"gru.l0", "gru.l1", "gru.l0_reverse", "gru.l1_reverse"}
    for layer in ("gru.l0", "gru.l1"):
        forward, backward = cells[layer], cells[layer + "_reverse"]
        assert forward["y"] == backward["y"] and forward["x"] + forward["w"] < backward["x"]
        assert forward["loop"]["lines"] == ["h × 5 steps", "t = 0 → 4"]
        assert backward["loop"]["lines"] == ["h × 5 steps", "backwards: t = 4 → 0"]
        assert backward["reverse"] and not forward["reverse"]
        assert forward["steps"] != backward["steps"]  # each direction's own (global) steps
    assert cells["gru.l1"]["y"] < cells["gru.l0"]["y"]
    for cell in cells.values():
        assert [b["role"] for b in cell["boxes"]] == GRU_ROLES
        assert all(b["classic"] is None for b in cell["boxes"])  # a GRU's cell declares no classic names
    # The second layer reads both directions of the first: four arrows between the layers.
    assert [a["kind"] for a in data["arrows"]].count("layer") == 4
    check_layout(data)
    check_numbers(drawing, data)


def test_exactly_zero_gradients_are_coloured_as_the_graph_colours_them():
    # out[-1] of a bidirectional GRU reads the reverse direction's first step only: its second
    # layer's later steps (in its own order) get exactly nothing.
    loss, rec = recorded("GRU", steps=5, bidirectional=True)
    drawing = mt.viz.draw_graph(loss, rec, detail="op")
    data = rolled.data(drawing, rec)
    reverse = next(c for c in data["cells"] if c["layer"] == "gru.l1_reverse")
    statuses = {data["shades"][s]["status"] for b in reverse["boxes"] for s in b["shade"]}
    assert "zero" in statuses
    check_numbers(drawing, data)


def test_an_encoder_and_its_decoder_stand_side_by_side_and_attention_gets_no_loop(translate_pass):
    loss, rec = translate_pass()
    drawing = mt.viz.draw_graph(loss, rec)
    data = rolled.data(drawing, rec)
    assert [(c["layer"], c["part"], c["loop"]["lines"][0]) for c in data["cells"]] == [
        ("encoder.rnn.l0", "encoder", "h × 3 steps"), ("encoder.rnn.l0_reverse", "encoder", "h × 3 steps"),
        ("decoder.cell", "decoder", "h, c × 4 steps")]
    xs = [c["x"] for c in data["cells"]]
    assert xs == sorted(xs)  # the encoder's directions, then the decoder, left to right
    assert "decoder.attention" in drawing.plan.layers  # drawn in the graph, but it has no loop
    check_layout(data)
    check_numbers(drawing, data)


def test_without_a_recording_the_cells_are_drawn_without_numbers():
    mt.manual_seed(0)
    out, _ = mt.nn.LSTM(2, 3)(mt.randn(4, 1, 2))
    data = rolled.data(mt.viz.draw_graph(out[-1].sum()), None)
    assert data["shades"] == [{"fill": "#ffffff", "status": "none", "ink": "#222222"}]
    for box in data["cells"][0]["boxes"]:
        assert box["grad"] == box["mean"] == box["norm"] == [None] * 4


def test_a_graph_without_steps_has_no_rolled_view():
    w = mt.ones(2, requires_grad=True)
    with mt.viz.record() as rec:
        (w * 2).sum().backward()
    assert rolled.data(mt.viz.draw_graph((w * 2).sum(), rec), rec) is None


def test_a_hand_written_loop_rolls_into_one_cell_of_its_hidden_state(tiny_rnn):
    net = tiny_rnn(steps=4)
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    drawing = mt.viz.draw_graph(loss, rec)
    data = rolled.data(drawing, rec)
    (cell,) = data["cells"]
    assert [b["role"] for b in cell["boxes"]] == ["h"]
    assert cell["loop"]["lines"] == ["h × 4 steps", "t = 0 → 3"]
    assert cell["boxes"][0]["grad"] == [four(float((h.grad.array ** 2).sum() ** 0.5)) for h in net.hs]
    check_layout(data)


def test_sequences_longer_than_the_threshold_open_rolled():
    def opens(steps):
        mt.manual_seed(0)
        rnn = mt.nn.RNN(1, 2)
        with mt.viz.record() as rec:
            out, _ = rnn(mt.randn(steps, 1, 1))
            out[-1].sum().backward()
        return rolled.data(mt.viz.draw_graph(out[-1].sum(), rec), rec)["opensRolled"]

    assert rolled.LONG_STEPS == 200
    assert opens(rolled.LONG_STEPS) is False and opens(rolled.LONG_STEPS + 1) is True


# ------------------------------------------------------------------ in the browser
SHOWN = """() => [...document.querySelectorAll('[data-view="rolled"] g.rolled-box')].map(g => ({
  layer: g.dataset.layer, role: g.dataset.role, fill: g.querySelector('rect').getAttribute('fill'),
  title: g.querySelector('.rolled-title').textContent,
  grad: g.querySelector('[data-field="grad"]').textContent,
  mean: g.querySelector('[data-field="mean"]').textContent,
  norm: g.querySelector('[data-field="norm"]').textContent}))"""


def shown_t(page):
    return page.eval_on_selector_all('[data-view="rolled"] [data-field="t"]',
                                     "els => els.map(e => e.textContent)")


def check_shown(page, explorer, step):
    """The rolled cells show ``step``'s numbers, as Python wrote them, and its colours."""
    data = rolled.data(explorer.drawing, None)
    shades = data["shades"]
    expected = {}
    for cell in data["cells"]:
        i = cell["steps"].index(step)
        for box in cell["boxes"]:
            expected[(cell["layer"], box["role"])] = box, i
    seen = page.evaluate(SHOWN)
    assert len(seen) == len(expected)
    for s in seen:
        box, i = expected[(s["layer"], s["role"])]
        for field in ("grad", "mean", "norm"):
            assert float(s[field]) == pytest.approx(box[field][i], rel=1e-3, abs=1e-12), (s, field)
        assert s["fill"] == shades[box["shade"][i]]["fill"]


@pytest.fixture(scope="module")
def lstm_page(open_page, tmp_path_factory):
    loss, rec = recorded("LSTM", steps=30, hidden=8)
    explorer = mt.viz.explore(loss, rec, title="LSTM, 2 layers, 30 steps")
    page, errors, _ = open_page(explorer.save(tmp_path_factory.mktemp("rolled") / "lstm.html"))
    yield page, errors, explorer
    page.close()


def visible(page, selector):
    return page.eval_on_selector(selector, "e => getComputedStyle(e).visibility === 'visible' && "
                                           "e.getBoundingClientRect().width > 0 && e.offsetParent !== null")


def step_in_graph_view(page, step):
    """Whether the unrolled graph's panel shows step ``step``'s boxes."""
    return page.evaluate("""(step) => {
      const panel = document.getElementById('graph').getBoundingClientRect();
      return [...document.querySelectorAll(`#graph-svg g.node[data-step="${step}"]`)].some(g => {
        const r = g.getBoundingClientRect();
        return r.width > 0 && r.left >= panel.left && r.right <= panel.right && r.top >= panel.top
          && r.bottom <= panel.bottom;
      });
    }""", step)


@needs_graphviz
def test_the_toggle_swaps_the_unrolled_graph_and_the_rolled_network(lstm_page):
    page, errors, _ = lstm_page
    assert visible(page, "#graph") and not visible(page, '[data-view="rolled"]')  # 30 steps open unrolled
    page.click('#view-toggle button[data-show="rolled"]')
    assert visible(page, '[data-view="rolled"]') and not visible(page, "#graph")
    graph = page.locator("#graph").bounding_box()
    slot = page.locator("#rolled").bounding_box()
    assert slot == pytest.approx(graph, abs=1)  # in the graph's place
    assert page.get_attribute('#view-toggle button[data-show="rolled"]', "aria-pressed") == "true"
    page.click('#view-toggle button[data-show="graph"]')
    assert visible(page, "#graph") and not visible(page, '[data-view="rolled"]')
    assert errors == []


@needs_graphviz
def test_a_step_chosen_in_the_strip_fills_the_rolled_cells_with_its_numbers(lstm_page):
    page, errors, explorer = lstm_page
    page.click('#view-toggle button[data-show="rolled"]')
    page.click('.heat-cell[data-t="17"][data-layer="lstm.l1"]')
    assert shown_t(page) == ["t=17", "t=17"]
    check_shown(page, explorer, 17)
    # The view's own ▶ moves to the next step, selected everywhere (the strip follows).
    page.click('[data-view="rolled"] button[data-move="1"]')
    assert shown_t(page) == ["t=18", "t=18"]
    check_shown(page, explorer, 18)
    assert page.eval_on_selector_all(".heat-cell.selected", "els => els.map(e => +e.dataset.t)") == [18, 18]
    # Back to the unrolled graph: it shows the chosen step.
    page.click('#view-toggle button[data-show="graph"]')
    assert step_in_graph_view(page, 18)
    assert errors == []


@needs_graphviz
def test_a_step_from_the_other_page_of_a_comparison_shows_in_the_rolled_cells(lstm_page):
    page, errors, explorer = lstm_page
    page.evaluate("window.postMessage({explorer: {name: 'step', payload: {step: 4, layer: null}}}, '*')")
    page.wait_for_function("""() => document.querySelector('[data-view="rolled"] [data-field="t"]')
      .textContent === 't=4'""")
    check_shown(page, explorer, 4)
    assert errors == []


@needs_graphviz
def test_the_gate_name_switch_renames_the_rolled_boxes(lstm_page):
    page, errors, _ = lstm_page
    titles = lambda: {(s["role"], s["title"]) for s in page.evaluate(SHOWN)}  # noqa: E731
    assert titles() == {(role, role) for role in LSTM_ROLES}
    page.select_option("#gate-names", "classic")
    assert titles() == {("h", "h"), ("c", "remember gate"), ("forget", "forget gate"),
                        ("input", "learn gate: ignore"), ("candidate", "learn gate: new"),
                        ("output", "use gate")}
    page.select_option("#gate-names", "pytorch")
    assert titles() == {(role, role) for role in LSTM_ROLES}
    assert errors == []


@needs_graphviz
def test_a_long_sequence_opens_rolled_and_goes_unrolled_around_a_chosen_step(open_page, tmp_path):
    loss, rec = recorded("LSTM", steps=300, layers=1, batch=1)
    explorer = mt.viz.explore(loss, rec, title="LSTM, 300 steps")
    page, errors, _ = open_page(explorer.save(tmp_path / "long.html"))
    assert visible(page, '[data-view="rolled"]') and not visible(page, "#graph")
    assert page.locator(".heat-cell").count() > 0  # with the strip
    assert shown_t(page) == ["t=299"]  # the last step, where the gradient enters, until one is chosen
    page.click('.heat-cell[data-t="150"]')  # a column of two steps: its first
    assert shown_t(page) == ["t=150"]
    check_shown(page, explorer, 150)
    page.click('#view-toggle button[data-show="graph"]')
    assert step_in_graph_view(page, 150)
    assert errors == []
    page.close()


@needs_graphviz
def test_a_screenshot_of_the_rolled_view_with_a_step_chosen(open_page, tmp_path):
    loss, rec = recorded("LSTM", steps=30, hidden=8)
    explorer = mt.viz.explore(loss, rec, title="LSTM, 2 layers, 30 steps: the rolled network")
    page, errors, _ = open_page(explorer.save(tmp_path / "shot.html"))
    page.click('#view-toggle button[data-show="rolled"]')
    page.click('.heat-cell[data-t="17"][data-layer="lstm.l1"]')
    # Readable at 1440x900: the numbers' text at least 11 px, the cells whole on screen.
    sizes = page.eval_on_selector_all('[data-view="rolled"] text',
                                      "els => els.map(e => e.getBoundingClientRect().height)")
    assert min(sizes) >= 11
    slot = page.locator("#rolled").bounding_box()
    for cell in page.locator('[data-view="rolled"] .rolled-frame').all():
        box = cell.bounding_box()
        assert slot["y"] <= box["y"] and box["y"] + box["height"] <= slot["y"] + slot["height"]
    folder = Path(os.environ.get("MICROTENSOR_SCREENSHOTS", tmp_path))
    shot = page.screenshot(path=str(folder / "explorer_rolled.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and errors == []
    page.close()
