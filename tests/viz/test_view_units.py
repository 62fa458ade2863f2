"""The units view: each hidden unit of a state or gate over time, checked against the recording.

The data tests compare every number of the view with the arrays the ``Recording`` kept of
each step (``step_values``, ``step_grads``, found through the traced graph's nodes). The
browser tests open the page in headless Chromium at 1440x900: a clicked state box opens
its heatmaps, whose tooltips, row switch, sort and unit marks show those same numbers.
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from microtensor.viz.columns import steps_per_column
from microtensor.viz.views import units

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
LSTM_NAMES = ["h", "c", "forget", "input", "candidate", "output"]


def recorded(model="LSTM", steps=30, hidden=16, batch=3, seed=0, **options):
    """One recorded pass of a float64 layer; the loss reads the last step's output."""
    mt.manual_seed(seed)
    layer = getattr(mt.nn, model)(3, hidden, dtype=mt.float64, **options)
    with mt.viz.record() as rec:
        out, _ = layer(mt.randn(steps, batch, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    return loss, rec


def arrays(drawing, rec, layer, name):
    """t -> (value, gradient) of one tensor at each step, as the Recording kept them."""
    found = {}
    for n in drawing.graph.nodes.values():
        if n.step is not None and n.layer == layer and n.name == name:
            assert n.step not in found, f"two nodes named {name} at t={n.step}"
            fn = int(n.key[len("op"):])  # an op's node key is f"op{id(fn)}"
            found[n.step] = (rec.step_values[fn], rec.step_grads[fn])
    return found


def close(got, expected):
    """Seven significant digits: equal to 1e-6 relative."""
    np.testing.assert_allclose(np.array(got, dtype=float), expected, rtol=1e-6, atol=0)


# ------------------------------------------------------------------ the data
@pytest.fixture(scope="module")
def lstm():
    loss, rec = recorded()
    drawing = mt.viz.draw_graph(loss, rec)
    return drawing, rec, units.data(drawing, rec)


def test_every_value_and_gradient_equals_the_recordings_arrays(lstm):
    drawing, rec, found = lstm
    assert found["modes"] == ["batch mean", "row 0", "row 1", "row 2"] and found["note"] == ""
    (layer,) = found["layers"]
    assert layer["layer"] == "lstm.l0" and list(layer["tensors"]) == LSTM_NAMES and layer["units"] == 16
    assert layer["columns"] == [[t] for t in range(30)] and layer["t"] == [[t, t] for t in range(30)]
    for name in LSTM_NAMES:
        kept = arrays(drawing, rec, "lstm.l0", name)
        values = np.stack([kept[t][0] for t in range(30)])  # (t, row, unit)
        grads = np.stack([kept[t][1] for t in range(30)])
        maps = layer["tensors"][name]["maps"]
        close(maps[0]["value"], values.mean(axis=1).T)
        close(maps[0]["grad"], grads.mean(axis=1).T)
        total = np.abs(grads).sum(axis=(0, 1))
        close(maps[0]["total"], total)
        assert maps[0]["order"] == list(np.argsort(-total, kind="stable"))
        for k in range(3):
            close(maps[1 + k]["value"], values[:, k].T)
            close(maps[1 + k]["grad"], grads[:, k].T)
            assert maps[1 + k]["order"] == list(np.argsort(-np.abs(grads[:, k]).sum(axis=0), kind="stable"))


def test_each_state_and_gate_box_opens_its_own_tensor(lstm):
    drawing, _, found = lstm
    p = drawing.plan
    expected = {}
    for key, box in p.boxes.items():
        if box.kind == "cell":
            expected[key] = {"layer": 0, "name": "h", "step": box.step, "cell": True}
        elif box.step is not None and box.role in LSTM_NAMES:
            expected[key] = {"layer": 0, "name": box.role, "step": box.step, "cell": False}
    assert found["boxes"] == expected
    drawn = {(b["name"], b["step"]) for b in expected.values() if not b["cell"]}
    assert len(drawn) == 6 * len(p.detailed)
    assert sum(b["cell"] for b in expected.values()) == 30 - len(p.detailed)


def test_gru_and_hand_written_loops_name_their_tensors(tiny_rnn):
    loss, rec = recorded("GRU", steps=5, hidden=4, batch=2)
    drawing = mt.viz.draw_graph(loss, rec)
    (layer,) = units.data(drawing, rec)["layers"]
    assert list(layer["tensors"]) == ["h", "reset", "update", "new"]
    kept = arrays(drawing, rec, "gru.l0", "update")
    close(layer["tensors"]["update"]["maps"][2]["grad"], np.stack([kept[t][1][1] for t in range(5)]).T)

    rnn = tiny_rnn(6)  # h.name = "h" in a loop of one's own, one sequence: no row switch
    with mt.viz.record() as rec:
        loss = rnn.forward()
        loss.backward()
    found = units.data(mt.viz.draw_graph(loss, rec), rec)
    assert found["modes"] == ["batch mean"] and found["about"] == "one sequence in the batch"
    (layer,) = found["layers"]
    assert layer["layer"] == "rnn" and list(layer["tensors"]) == ["h"]
    close(layer["tensors"]["h"]["maps"][0]["value"], np.concatenate([h.detach().numpy() for h in rnn.hs]).T)
    close(layer["tensors"]["h"]["maps"][0]["grad"], np.concatenate([h.grad.numpy() for h in rnn.hs]).T)


def test_a_packed_batch_has_null_where_a_sequence_is_padding():
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(2, 4, dtype=mt.float64, bidirectional=True)
    x, lengths = mt.randn(6, 3, 2, dtype=mt.float64), [4, 6, 3]  # packing sorts them: rows 1, 0, 2
    with mt.viz.record() as rec:
        out, _ = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
        padded, _ = pad_packed_sequence(out)
        loss = (padded ** 2).sum()
        loss.backward()
    drawing = mt.viz.draw_graph(loss, rec)
    found = units.data(drawing, rec)
    assert [layer["label"] for layer in found["layers"]] == ["lstm.l0", "lstm.l0_reverse ←"]
    outputs = padded.detach().numpy()
    for layer, half in zip(found["layers"], (slice(0, 4), slice(4, 8))):
        h = layer["tensors"]["h"]["maps"]
        kept = arrays(drawing, rec, layer["layer"], "h")
        for t in range(6):
            present = [r for r in range(3) if t < lengths[r]]
            value, grad = kept[t]
            assert len(value) == len(present)  # a packed step holds only the sequences still running
            close([h[0]["value"][u][t] for u in range(4)], outputs[t, present, half].mean(axis=0))
            close([h[0]["grad"][u][t] for u in range(4)], grad.mean(axis=0))
            for r in range(3):
                got_value = [h[1 + r]["value"][u][t] for u in range(4)]
                got_grad = [h[1 + r]["grad"][u][t] for u in range(4)]
                if r not in present:
                    assert got_value == got_grad == [None] * 4
                    continue
                close(got_value, outputs[t, r, half])
                row = int(np.argmin(np.abs(value - outputs[t, r, half]).sum(axis=1)))  # its row in the step
                close(got_grad, grad[row])


def test_a_masked_loop_leaves_its_padding_rows_out():
    rng = np.random.default_rng(0)
    w = mt.tensor(rng.normal(size=(3, 3)), requires_grad=True)
    h, hs = mt.tensor(rng.normal(size=(2, 3))), []  # two sequences that differ
    with mt.viz.record() as rec:
        for t in range(4):  # every row computed at every step; row 1 is padding from t=2
            with mt.scope(layer="decoder", t=t, padding=(1,) if t >= 2 else (), batch=2):
                h = (h @ w).tanh()
                h.name = "h"
            hs.append(h)
        loss = sum(x[0].sum() for x in hs)
        loss.backward()
    (layer,) = units.data(mt.viz.draw_graph(loss, rec), rec)["layers"]
    maps, values = layer["tensors"]["h"]["maps"], np.stack([x.detach().numpy() for x in hs])
    close(maps[0]["value"], np.concatenate([values[:2].mean(axis=1), values[2:, 0]]).T)
    close(maps[2]["value"][0][:2], values[:2, 1, 0])
    assert [maps[2]["value"][u][2:] for u in range(3)] == [[None, None]] * 3


def test_a_column_of_several_steps_holds_their_mean():
    loss, rec = recorded("RNN", steps=400, hidden=4, batch=2)
    drawing = mt.viz.draw_graph(loss, rec)
    found = units.data(drawing, rec)
    assert steps_per_column(drawing.plan) == 3 and found["note"] == "each column: the mean over 3 steps"
    (layer,) = found["layers"]
    assert len(layer["columns"]) == 134 and layer["columns"][-1] == [399] and layer["t"][1] == [3, 5]
    kept = arrays(drawing, rec, "rnn.l0", "h")
    values = np.stack([kept[t][0] for t in range(400)])
    grads = np.stack([kept[t][1] for t in range(400)])
    columns = [range(c, min(c + 3, 400)) for c in range(0, 400, 3)]
    maps = layer["tensors"]["h"]["maps"]
    close(maps[0]["value"], np.stack([values[list(c)].mean(axis=(0, 1)) for c in columns]).T)
    close(maps[0]["grad"], np.stack([grads[list(c)].mean(axis=(0, 1)) for c in columns]).T)
    close(maps[2]["grad"], np.stack([grads[list(c), 1].mean(axis=0) for c in columns]).T)
    close(maps[0]["total"], np.abs(grads).sum(axis=(0, 1)))


def test_rows_one_by_one_only_for_small_batches_and_pages(monkeypatch):
    loss, rec = recorded("RNN", steps=3, hidden=2, batch=9)
    found = units.data(mt.viz.draw_graph(loss, rec), rec)
    assert found["modes"] == ["batch mean"] and "batches up to 8" in found["about"]
    loss, rec = recorded("RNN", steps=3, hidden=2, batch=4)
    monkeypatch.setattr(units, "ROW_NUMBERS", 40)  # 4 rows x 2 x 2 units x 3 steps = 48 numbers
    found = units.data(mt.viz.draw_graph(loss, rec), rec)
    assert found["modes"] == ["batch mean"] and "left out: they would add 48 numbers" in found["about"]
    assert len(found["layers"][0]["tensors"]["h"]["maps"]) == 1


def test_a_thousand_steps_of_a_two_layer_lstm_stay_small():
    """The issue's page: T=1,000, hidden 64, 2 layers, at most 15 MB in all; this view's share."""
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(8, 64, num_layers=2)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(1000, 4, 8))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    found = units.data(mt.viz.draw_graph(loss, rec), rec)
    size = len(json.dumps(found, separators=(",", ":"), allow_nan=False))
    print(f"\nunits view at T=1000, hidden 64, 2 layers, batch 4: {size / 1e6:.2f} MB")
    assert [len(layer["columns"]) for layer in found["layers"]] == [167, 167]
    assert found["modes"] == ["batch mean"] and "left out" in found["about"]  # 4 rows would add 9 MB
    assert size < 2.5e6


def test_nothing_to_show_and_bad_input():
    loss, rec = recorded("RNN", steps=3, hidden=2, batch=1)
    assert units.data(mt.viz.draw_graph(loss), None) is None
    with pytest.raises(TypeError, match="^units view: drawing must be the UnrolledGraph .* got Tensor$"):
        units.data(loss, rec)
    w = mt.ones(2, 2, requires_grad=True)
    with mt.viz.record() as plain:
        out = (w @ w).sum()  # no steps
        out.backward()
    assert units.data(mt.viz.draw_graph(out, plain), plain) is None


# ------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def lstm_page(open_page, tmp_path_factory):
    if not HAS_GRAPHVIZ:
        pytest.skip("no Graphviz program (dot or graphviz-pure) found")
    loss, rec = recorded()
    explorer = mt.viz.explore(loss, rec, title="LSTM, hidden 16, 30 steps, batch 3")
    path = explorer.save(tmp_path_factory.mktemp("units") / "lstm.html")
    page, errors, _ = open_page(path)
    yield page, errors, explorer, rec, path
    page.close()


def last_box(explorer, name):
    """The key of ``name``'s box at the last step (in the first view, by the loss)."""
    return max((k for k, b in explorer.drawing.plan.boxes.items() if b.role == name and b.step is not None),
               key=lambda k: explorer.drawing.plan.boxes[k].step)


def click_box(page, key):
    """Click a graph box, panned into view first (the strip and the drawers leave the graph
    little height at 1440x900)."""
    page.evaluate("k => window.explorerCore.keepInView(window.explorerCore.nodeEls[k])", key)
    page.click(f"g.node#{key}")


def tooltip(page, unit, t, which="value"):
    """Hover a cell and read the numbers its tooltip shows."""
    page.hover(f'.unit-cell[data-map="{which}"][data-unit="{unit}"][data-t="{t}"]')
    read = {k: page.text_content(f'.units-tip [data-tip="{k}"]') for k in ("unit", "t", "value", "grad")}
    return int(read["unit"]), read["t"], float(read["value"]), float(read["grad"])


def test_clicking_an_h_box_opens_its_heatmaps_with_the_recordings_numbers(lstm_page):
    page, errors, explorer, rec, _ = lstm_page
    assert not page.locator('[data-view="units"] .units-scroll').is_visible()
    click_box(page, last_box(explorer, 'h'))
    view = page.locator('[data-view="units"]')
    assert view.locator(".units-title").text_content() == "h of lstm.l0: 16 units (rows) × steps (columns)"
    for which in ("value", "grad"):
        cells = page.locator(f'.unit-cell[data-map="{which}"]')
        assert cells.count() == 16 * 30
    cells = page.eval_on_selector_all('.unit-cell[data-map="value"]', "cs => cs.map(c => [c.dataset.unit, "
                                      "c.dataset.step, c.dataset.t])")
    assert {c[0] for c in cells} == {str(u) for u in range(16)}
    assert {(c[1], c[2]) for c in cells} == {(str(t), str(t)) for t in range(30)}  # one step a column
    kept = arrays(explorer.drawing, rec, "lstm.l0", "h")
    for unit, t in ((3, 29), (11, 12), (0, 0)):
        shown = tooltip(page, unit, t, "grad" if t == 12 else "value")
        assert shown[:2] == (unit, f"t={t}")
        close(shown[2:], [kept[t][0][:, unit].mean(), kept[t][1][:, unit].mean()])
    # Room for the graph at 1440x900: the drawer stays compact.
    assert page.locator('[data-view="units"]').bounding_box()["height"] <= 225
    assert errors == []


def test_columns_line_up_with_the_heat_strip(lstm_page):
    page, errors, explorer, _, _ = lstm_page
    click_box(page, last_box(explorer, 'h'))
    for t in (0, 17, 29):
        strip = page.locator(f'.heat-cell[data-t="{t}"]').bounding_box()
        cell = page.locator(f'.unit-cell[data-map="grad"][data-unit="0"][data-t="{t}"]').bounding_box()
        assert abs(strip["x"] - cell["x"]) < 1 and abs(strip["width"] - cell["width"]) < 1
    assert errors == []


def test_the_row_switch_shows_that_rows_numbers(lstm_page):
    page, errors, explorer, rec, _ = lstm_page
    click_box(page, last_box(explorer, 'forget'))
    kept = arrays(explorer.drawing, rec, "lstm.l0", "forget")
    mean = tooltip(page, 5, 20)
    page.select_option('[data-view="units"] .units-mode', label="row 2")
    row = tooltip(page, 5, 20)
    close(mean[2:], [kept[20][0][:, 5].mean(), kept[20][1][:, 5].mean()])
    close(row[2:], [kept[20][0][2, 5], kept[20][1][2, 5]])
    assert page.text_content(".units-tip").count("row 2") == 1
    page.select_option('[data-view="units"] .units-mode', label="batch mean")
    assert errors == []


def test_sorting_orders_the_rows_by_total_gradient(lstm_page):
    page, errors, explorer, rec, _ = lstm_page
    click_box(page, last_box(explorer, 'c'))
    kept = arrays(explorer.drawing, rec, "lstm.l0", "c")
    total = np.abs(np.stack([kept[t][1] for t in range(30)])).sum(axis=(0, 1))

    def rows():  # the units from top to bottom, as drawn
        cells = page.eval_on_selector_all('.unit-cell[data-map="grad"][data-t="0"]', "cs => cs.map(c => "
                                          "[Number(c.getAttribute('y')), Number(c.dataset.unit)])")
        return [u for _, u in sorted(cells)]

    assert rows() == list(range(16))
    page.check('[data-view="units"] .units-sort')
    assert rows() == list(np.argsort(-total, kind="stable")) != list(range(16))
    page.uncheck('[data-view="units"] .units-sort')
    assert rows() == list(range(16))
    assert errors == []


def test_clicking_a_unit_marks_it_in_every_steps_box(lstm_page):
    page, errors, explorer, rec, _ = lstm_page
    click_box(page, last_box(explorer, 'h'))
    page.click('.unit-cell[data-map="value"][data-unit="7"][data-t="25"]')
    marks = page.eval_on_selector_all(".unit-mark", "ms => ms.map(m => [Number(m.dataset.step), "
                                      "Number(m.dataset.unit), m.parentNode.id, m.textContent])")
    assert sorted(m[0] for m in marks) == list(range(30))  # every step: its h box, or the step's one box
    assert {m[1] for m in marks} == {7}
    boxes = explorer.drawing.plan.boxes
    assert all(boxes[m[2]].role == "h" or boxes[m[2]].kind == "cell" for m in marks)
    kept = arrays(explorer.drawing, rec, "lstm.l0", "h")
    at_29 = next(m[3] for m in marks if m[0] == 29)
    numbers = [float(x) for x in re.findall(r"(?:value|∂L/∂h) (\S+?)(?:,|$)", at_29)]
    close(numbers, [kept[29][0][:, 7].mean(), kept[29][1][:, 7].mean()])
    assert page.locator(".units-unit").count() == 2  # the unit's row in both maps
    assert errors == []


def test_a_unit_from_the_other_page_opens_its_heatmap_and_a_step_is_outlined(lstm_page):
    page, errors, explorer, _, _ = lstm_page
    page.click('[data-view="units"] .units-close')
    assert page.locator(".unit-mark").count() == 0
    # What a comparison's other page sends: its layer is called otherwise, at the same depth.
    page.evaluate("window.postMessage({explorer: {name: 'unit', payload: "
                  "{layer: 'rnn.l0', name: 'c', unit: 4}}}, '*')")
    page.wait_for_selector(".unit-mark")
    assert page.text_content(".units-title").startswith("c of lstm.l0")
    marked = page.eval_on_selector_all(".unit-mark", "ms => ms.map(m => m.dataset.unit)")
    assert len(marked) == 30 and set(marked) == {"4"}
    page.click('.heat-cell[data-t="13"]')
    assert page.get_attribute(".units-step", "data-step") == "13"
    assert errors == []


def test_a_step_drawn_as_one_box_opens_the_hidden_state(lstm_page):
    page, errors, explorer, _, _ = lstm_page
    cell = next(k for k, b in explorer.drawing.plan.boxes.items() if b.kind == "cell")
    page.evaluate(f"window.explorerCore.nodeEls[{cell!r}].dispatchEvent(new MouseEvent('click'))")
    assert page.text_content(".units-title").startswith("h of lstm.l0")
    assert errors == []


def test_the_layer_switch_shows_each_direction_of_a_stack(open_page, tmp_path):
    if not HAS_GRAPHVIZ:
        pytest.skip("no Graphviz program (dot or graphviz-pure) found")
    loss, rec = recorded("GRU", steps=5, hidden=5, batch=2, num_layers=2, bidirectional=True)
    explorer = mt.viz.explore(loss, rec)
    page, errors, _ = open_page(explorer.save(tmp_path / "gru.html"))
    page.click('[data-view="units"] .units-open')  # without a box to click (the rolled view, say)
    assert page.text_content(".units-title").startswith("h of gru.l1:")
    page.select_option('[data-view="units"] .units-tensor', "update")
    page.select_option('[data-view="units"] .units-layer', label="gru.l0_reverse ←")
    assert page.text_content(".units-title").startswith("update of gru.l0_reverse ←: 5 units")
    kept = arrays(explorer.drawing, rec, "gru.l0_reverse", "update")
    close(tooltip(page, 2, 1)[2:], [kept[1][0][:, 2].mean(), kept[1][1][:, 2].mean()])
    assert errors == []
    page.close()


def test_a_long_sequence_says_how_its_columns_are_made(open_page, tmp_path):
    if not HAS_GRAPHVIZ:
        pytest.skip("no Graphviz program (dot or graphviz-pure) found")
    loss, rec = recorded("RNN", steps=400, hidden=4, batch=1)
    explorer = mt.viz.explore(loss, rec)
    page, errors, _ = open_page(explorer.save(tmp_path / "long.html"))
    page.evaluate("window.explorerCore.emit('unit', {layer: 'rnn.l0', name: 'h', unit: 1})")
    assert page.locator('.unit-cell[data-map="value"]').count() == 4 * 134
    assert "each column: the mean over 3 steps" in page.text_content(".units-note")
    assert not page.locator('[data-view="units"] .units-mode').is_visible()  # one row: no switch
    assert tooltip(page, 1, 3)[1] == "t=3…5 (mean of 3 steps)"
    assert errors == []
    page.close()


def test_screenshot(open_page, lstm_page, tmp_path):
    *_, explorer, _, path = lstm_page
    page, errors, _ = open_page(path)  # a fresh page: nothing selected yet
    click_box(page, last_box(explorer, "h"))
    page.click('.unit-cell[data-map="value"][data-unit="3"][data-t="28"]')
    page.click('.heat-cell[data-t="28"]')  # the step in the graph: its h box carries the unit's mark
    h28 = next(k for k, b in explorer.drawing.plan.boxes.items() if b.role == "h" and b.step == 28)
    page.evaluate("k => window.explorerCore.keepInView(window.explorerCore.nodeEls[k])", h28)
    page.hover('.unit-cell[data-map="grad"][data-unit="3"][data-t="20"]')
    assert page.locator(".unit-mark").count() == 30
    folder = Path(os.environ.get("MICROTENSOR_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(folder / "explorer_units.png"))
    assert (folder / "explorer_units.png").stat().st_size > 10_000
    assert errors == []
    page.close()
