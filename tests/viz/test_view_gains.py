"""The explorer's gains view: the gain of the recurrent path per layer and step, and the gates."""

import math
import os
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.plan import VANISHED
from microtensor.viz.views import gains
from microtensor.viz.views.gains import gain_colour, ramp

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ,
                                    reason="no Graphviz program (dot or graphviz-pure) found")


def recorded(kind, steps=50, layers=2, bidirectional=False, hidden=4, seed=0, dtype=mt.float64, scale=None,
             every_step=False):
    mt.manual_seed(seed)
    model = getattr(mt.nn, kind)(3, hidden, num_layers=layers, bidirectional=bidirectional, dtype=dtype)
    if scale is not None:
        for p in model.parameters():
            p.data = p.data * scale
    x = mt.randn(steps, 2, 3, dtype=dtype)
    with mt.viz.record() as rec:
        out, _ = model(x)
        total = ((out if every_step else out[-1]) ** 2).sum()
        total.backward()
    return model, x, out, total, rec


def view(total, rec):
    drawing = mt.viz.draw_graph(total, rec)
    return drawing, gains.data(drawing, rec)


def rows_of(found, layer):
    return {r["label"].split(" ")[-1] if r["kind"] == "gate" else r["what"]: r
            for r in found["rows"] if r["layer"] == layer}


# ------------------------------------------------------------------ the numbers
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_gains_are_step_gains_and_the_gates_their_nodes_means(kind):
    _, _, _, total, rec = recorded(kind)
    drawing, found = view(total, rec)
    g = drawing.graph
    gate = {"RNN": None, "LSTM": "forget", "GRU": "update"}[kind]
    for layer in (f"{kind.lower()}.l0", f"{kind.lower()}.l1"):
        rows = rows_of(found, layer)
        expected = {"gain through h"} | ({"gain through c"} if kind == "LSTM" else set()) | ({gate} - {None})
        assert set(rows) == expected
        for state in ("h", "c") if kind == "LSTM" else ("h",):
            row = rows[f"gain through {state}"]
            step_gains = g.step_gains(None if state == "h" else state, layer=layer)
            assert sorted(step_gains) == list(range(1, 50))  # step t sends back to t-1
            assert row["values"][0] is None
            for t, gain in step_gains.items():
                assert row["values"][t] == pytest.approx(gain, rel=5e-4), (layer, state, t)
                assert row["fills"][t] == gain_colour(gain) or row["fills"][t] == VANISHED
        if gate:
            nodes = [n for n in g.nodes.values() if n.layer == layer and n.name == gate]
            assert len(nodes) == 50
            for n in nodes:
                assert rows[gate]["values"][n.step] == pytest.approx(n.array.mean(), rel=5e-4)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_the_gate_means_are_the_gates_recomputed_from_the_weights(kind):
    """An independent check: the forget (update) gate from the layer's own weights and h."""
    model, x, out, total, rec = recorded(kind, steps=12, layers=1, bidirectional=True, hidden=5)
    _, found = view(total, rec)
    h_size = 5
    row = 1  # the gate's block of rows: f in (i, f, g, o), z in (r, z, n)
    xs, hs = x.numpy(), out.detach().numpy()
    for suffix, layer, order in (("", "l0", range(12)), ("_reverse", "l0_reverse", range(11, -1, -1))):
        rows = slice(row * h_size, (row + 1) * h_size)
        w_ih, w_hh = (getattr(model, f"weight_{k}_l0{suffix}").detach().numpy()[rows] for k in ("ih", "hh"))
        b = sum(getattr(model, f"bias_{k}_l0{suffix}").detach().numpy()[rows] for k in ("ih", "hh"))
        half = slice(h_size, None) if suffix else slice(0, h_size)
        gate_row = next(r for r in found["rows"]
                        if r["layer"] == f"{kind.lower()}.{layer}" and r["kind"] == "gate")
        h = np.zeros((2, h_size))
        for t in order:
            gate = 1 / (1 + np.exp(-(xs[t] @ w_ih.T + h @ w_hh.T + b)))
            assert gate_row["values"][t] == pytest.approx(gate.mean(), rel=5e-4), (layer, t)
            h = hs[t][:, half]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_each_direction_of_a_bidirectional_layer_has_its_rows(kind):
    _, _, _, total, rec = recorded(kind, steps=8, bidirectional=True, every_step=True)
    drawing, found = view(total, rec)
    name = kind.lower()
    # As the heat strip stacks them.
    layers = [f"{name}.l1", f"{name}.l0", f"{name}.l1_reverse", f"{name}.l0_reverse"]
    assert list(dict.fromkeys(r["layer"] for r in found["rows"])) == layers
    for layer in layers:
        row = rows_of(found, layer)["gain through h"]
        step_gains = drawing.graph.step_gains(layer=layer)
        assert sorted(step_gains) == (list(range(7)) if layer.endswith("_reverse") else list(range(1, 8)))
        assert row["label"] == f"{layer.replace('_reverse', ' ←')} gain h"
        for t, gain in step_gains.items():
            assert row["values"][t] == pytest.approx(gain, rel=5e-4)


def test_the_summary_gives_the_median_gains_and_the_mean_gate():
    _, _, _, total, rec = recorded("LSTM", steps=30)
    drawing, found = view(total, rec)
    g = drawing.graph
    for layer, said in zip(("lstm.l1", "lstm.l0"), found["summaries"]):
        forget = [n.array.mean() for n in g.nodes.values() if n.layer == layer and n.name == "forget"]
        h, c = (statistics.median(g.step_gains(state, layer=layer).values()) for state in (None, "c"))
        weighted = statistics.fmean(gains.gate_where_gradient_flows(g, layer, "forget", "c").values())
        assert said == (f"{layer}: median gain through h {h:.2g}, through c {c:.2g}; "
                        f"mean forget gate {np.mean(forget):.2g}, {weighted:.2g} where the gradient "
                        "flows (weighted by |∂L/∂c|)")


@pytest.mark.parametrize("kind, gate, state", [("LSTM", "forget", "c"), ("GRU", "update", "h")])
def test_the_gate_where_the_gradient_flows_is_weighted_by_the_states_gradient(kind, gate, state):
    model, x, out, total, rec = recorded(kind, steps=12, layers=1)
    drawing, found = view(total, rec)
    layer = f"{kind.lower()}.l0"
    nodes = {(n.name, n.step): n for n in drawing.graph.nodes.values() if n.layer == layer}
    weighted = gains.gate_where_gradient_flows(drawing.graph, layer, gate, state)
    assert sorted(weighted) == list(range(12))
    for t, value in weighted.items():
        w = np.abs(nodes[(state, t)].grad_array)
        assert value == pytest.approx(float((w * nodes[(gate, t)].array).sum() / w.sum()), rel=1e-12)
    row = rows_of(found, layer)[gate]
    assert row["weighted"] == [float(f"{weighted[t]:.4g}") for t in range(12)]


def test_long_sequences_show_each_columns_geometric_mean():
    _, _, _, total, rec = recorded("GRU", steps=400, layers=1)
    drawing, found = view(total, rec)
    assert found["perCell"] == 3 and "geometric mean" in found["note"]
    step_gains = drawing.graph.step_gains(layer="gru.l0")
    row = rows_of(found, "gru.l0")["gain through h"]
    assert len(row["values"]) == 134
    for c in (1, 60, 133):
        ts = [t for t in range(3 * c, min(3 * c + 3, 400))]
        expected = math.prod(step_gains[t] for t in ts) ** (1 / len(ts))
        assert row["values"][c] == pytest.approx(expected, rel=5e-4)


def test_where_the_gradient_vanished_the_gain_is_grey_and_left_out_of_the_median():
    _, _, _, total, rec = recorded("RNN", steps=60, layers=1, scale=0.3)
    drawing, found = view(total, rec)
    norms = drawing.graph.step_norms(layer="rnn.l0")
    gone = [t for t in range(1, 60) if norms[t] < 1e-6]
    assert gone  # the tanh RNN's gradient fades below 1e-6 within 60 steps
    row = rows_of(found, "rnn.l0")["gain through h"]
    assert row["vanished"] == gone and all(row["fills"][t] == VANISHED for t in gone)
    alive = [gain for t, gain in drawing.graph.step_gains(layer="rnn.l0").items() if t not in gone]
    assert found["summaries"] == [f"rnn.l0: median gain through h {statistics.median(alive):.2g} "
                                  "(where ‖∂L/∂state‖ ≥ 1e-06)"]


def test_colours_are_a_log_scale_around_one_and_no_recording_leaves_the_view_out():
    assert gain_colour(1.0) == "#f7f7f7" and gain_colour(0.1) == "#2166ac" and gain_colour(10.0) == "#b2182b"
    assert gain_colour(0.0) == gain_colour(0.001) == "#2166ac"
    _, _, _, total, rec = recorded("RNN", steps=3, layers=1)
    assert gains.data(mt.viz.draw_graph(total, rec), None) is None
    with pytest.raises(ValueError, match="ramp: needs at least two colours, got 1"):
        ramp(("#ffffff",), 0.5)


# ------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def lstm_page(open_page, page_data, tmp_path_factory):
    _, _, _, total, rec = recorded("LSTM", steps=30, hidden=8)
    explorer = mt.viz.explore(total, rec, title="LSTM, 2 layers, 30 steps")
    page, errors, _ = open_page(explorer.save(tmp_path_factory.mktemp("gains") / "lstm.html"))
    yield page, errors, page_data(explorer.html)
    page.close()


@needs_graphviz
def test_one_row_per_layer_and_quantity_with_pythons_numbers(lstm_page):
    page, errors, data = lstm_page
    found = data["gains"]
    labels = page.eval_on_selector_all(".gains-label", "ts => ts.map(t => t.firstChild.textContent)")
    assert labels == ["lstm.l1 gain h", "lstm.l1 gain c", "lstm.l1 forget",
                      "lstm.l0 gain h", "lstm.l0 gain c", "lstm.l0 forget"]
    for row in found["rows"]:
        cells = page.eval_on_selector_all(
            f'.gains-cell[data-layer="{row["layer"]}"][data-kind="{row["kind"]}"]',
            "rs => rs.map(r => [r.getAttribute('fill'), r.querySelector('title').textContent])")
        cells = [c for c in cells if row["what"] in c[1]]
        assert len(cells) == 30
        for t, (fill, tip) in enumerate(cells):
            assert tip.startswith(f"{row['layer']} · t={t}: {row['what']} ")
            shown = tip.split(f"{row['what']} ")[1].split(" · ")[0]
            assert ("has vanished" in tip) == (t in row.get("vanished", []))
            if row["values"][t] is None:
                assert shown == "–" and fill == "#ffffff"
            else:
                assert float(shown) == pytest.approx(row["values"][t], rel=1e-9)
                assert fill == row["fills"][t]
    assert page.text_content('[data-view="gains"] .gains-summary') == "".join(found["summaries"])
    assert errors == []


@needs_graphviz
def test_a_selected_step_is_outlined_in_every_row(lstm_page):
    page, errors, _ = lstm_page
    page.click('.heat-cell[data-t="12"][data-layer="lstm.l1"]')
    outlined = page.eval_on_selector_all(".gains-cell.selected", "rs => rs.map(r => r.dataset.t)")
    assert outlined == ["12"] * 6
    page.click('.gains-cell[data-t="20"][data-kind="gate"]')
    assert page.locator('.heat-cell.selected[data-t="20"]').count() == 2
    assert errors == []


@needs_graphviz
def test_a_screenshot_with_a_weight_selected(lstm_page, tmp_path):
    """The picture for the docs (when MICROTENSOR_SCREENSHOTS names a folder): W_hh of the top
    layer chosen by clicking its stand-in at t=28, and that step shown."""
    page, errors, data = lstm_page
    w_hh = next(w for w in data["weights"]["weights"] if w["label"] == "W_hh, lstm.l1")
    key = next(k for k in w_hh["standIns"] if data["boxes"][k]["step"] == 28)
    page.click('.heat-cell[data-t="28"][data-layer="lstm.l1"]')  # the step's frame, as large as fits
    graph = page.locator("#graph").bounding_box()
    page.mouse.move(graph["x"] + graph["width"] / 2, graph["y"] + graph["height"] / 2)
    page.mouse.wheel(0, 40)  # a little smaller: the bottom row, with the stand-ins, in view
    assert page.eval_on_selector(f"g.node#{key}", "g => g.getBoundingClientRect().bottom") < 900
    page.click(f"g.node#{key}")
    assert page.locator("g.node.weight-share").count() == len(w_hh["standIns"])
    chosen = page.eval_on_selector(".weights-select", "s => s.selectedOptions[0].textContent")
    assert chosen.startswith(w_hh["label"])
    folder = Path(os.environ.get("MICROTENSOR_SCREENSHOTS", tmp_path))
    shot = page.screenshot(path=str(folder / "explorer_weights_gains.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and errors == []
