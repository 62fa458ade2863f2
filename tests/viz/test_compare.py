"""Two recorded passes side by side (mt.viz.compare): the page's data, its errors, and in a real
(headless) browser, selections passed from one explorer to the other and one colour scale.

Browser tests use the system Chromium through Playwright (the ``browser`` fixture); they skip,
naming what is missing, when either is not installed, and every test here skips without a
Graphviz program (the explorers' graphs are drawn with it).
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.compare import SIDE_BY_SIDE_FROM
from microtensor.viz.plan import PALETTE, gradient_scale

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
pytestmark = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program (dot or graphviz-pure) found")


def recorded(model, x, extra=None):
    """One recorded pass of ``model`` on ``x``: loss = ||h_T||^2, plus ``extra`` (a loss term
    outside the network) when given."""
    with mt.viz.record() as rec:
        out, _ = model(x)
        loss = (out[-1] ** 2).sum()
        if extra is not None:
            loss = loss + extra
        loss.backward()
    return loss, rec


def rnn_and_lstm(steps=(8, 8), layers=(1, 1), seed=0):
    mt.manual_seed(seed)
    x = mt.randn(max(steps), 2, 3, dtype=mt.float64)
    rnn = mt.nn.RNN(3, 5, num_layers=layers[0], dtype=mt.float64)
    lstm = mt.nn.LSTM(3, 5, num_layers=layers[1], dtype=mt.float64)
    return recorded(rnn, x[:steps[0]]), recorded(lstm, x[:steps[1]])


def compare_data(page):
    text = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


def frame_pages(page):
    """Each side's explorer page, as the comparison holds it (a JSON string in a script element)."""
    return [json.loads(re.search(rf'<script type="application/json" id="frame-{side}">(.*?)</script>', page,
                                 re.S).group(1)) for side in (0, 1)]


# ------------------------------------------------------------------ the page's data
def test_the_shared_scale_is_the_union_of_both_passes_and_both_pictures_use_it():
    a, b = rnn_and_lstm()
    page = mt.viz.compare(a, b)
    own = [gradient_scale(mt.viz.trace(*side)) for side in (a, b)]
    assert own[0] != own[1]  # else the union would prove nothing
    union = [min(own[0][0], own[1][0]), max(own[0][1], own[1][1])]
    data = compare_data(page.html)
    assert data["scale"] == pytest.approx(union) and data["own"] == [pytest.approx(list(s)) for s in own]
    for side in page.sides:
        assert side.drawing.plan.scale == pytest.approx(tuple(union))
    assert page.data == data and data["labels"] == ["tanh RNN", "LSTM"] and data["lengths"] == [8, 8]
    assert f"from {10 ** union[0]:.2g} to {10 ** union[1]:.2g}" in data["note"]


def test_a_given_scale_replaces_the_union():
    page = mt.viz.compare(*rnn_and_lstm(), scale=(-9, 2))
    assert page.data["scale"] == [-9.0, 2.0]
    assert all(side.drawing.plan.scale == (-9.0, 2.0) for side in page.sides)


def test_the_page_is_self_contained_with_each_explorer_whole_in_its_frame(tmp_path):
    page = mt.viz.compare(*rnn_and_lstm(), labels=("before", "after <training>"), title="A & B")
    text = page.save(tmp_path / "compare.html").read_text()
    assert isinstance(page, mt.viz.Explorer) and page.drawing is page.sides[0].drawing
    assert 'data-view="compare"' in text and text.count('<iframe data-side="') == 2 and "{{" not in text
    assert "<title>A &amp; B</title>" in text and 'title="after &lt;training&gt;"' in text
    assert compare_data(text)["labels"] == ["before", "after <training>"]
    frames = frame_pages(text)
    for found in (text, *frames):  # no network at view time: the only URLs are namespace names
        assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', found)
        assert set(re.findall(r"https?://[^\s\"'<>)\\]+", found)) <= {  # a backslash ends one (JSON)
            "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
            "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"}
    # Nothing in a frame's page ends its script element early (frame_pages parsed it whole), or
    # hides its end (an HTML comment opened before a <script> tag would).
    for side in (0, 1):
        held = re.search(rf'id="frame-{side}">(.*?)</script>', text, re.S).group(1)
        assert "<!--" not in held and "<!--" in frames[side]
    for frame, side, label in zip(frames, page.sides, ("before", "after &lt;training&gt;")):
        assert frame.replace(re.search(r"<style>\n/\* An explorer in a comparison.*?</style>\n", frame,
                                       re.S).group(0), "") == side.html
        assert f"<title>{label}</title>" in frame
    assert mt.viz.compare(*rnn_and_lstm())._repr_html_().startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')


def test_steps_are_matched_by_t_and_layers_by_height_when_the_passes_differ():
    page = mt.viz.compare(*rnn_and_lstm(steps=(6, 4), layers=(2, 1)))
    data = page.data
    steps = [side.drawing.plan.lanes[0].steps for side in page.sides]
    assert data["lengths"] == [6, 4]
    assert data["links"]["steps"][0] == {str(a): b for a, b in zip(steps[0][:4], steps[1])}
    assert data["links"]["steps"][1] == {str(b): a for a, b in zip(steps[0][:4], steps[1])}
    assert data["links"]["layers"] == [{"rnn.l0": "lstm.l0"}, {"lstm.l0": "rnn.l0"}]  # rnn.l1: none
    assert "tanh RNN has 6 steps, LSTM 4: steps are matched by t, and t ≥ 4 is in tanh RNN alone" in \
        data["note"]


def test_a_bidirectional_pass_is_matched_lane_by_lane():
    mt.manual_seed(1)
    x = mt.randn(4, 1, 3, dtype=mt.float64)
    a = recorded(mt.nn.GRU(3, 4, bidirectional=True, dtype=mt.float64), x)
    b = recorded(mt.nn.LSTM(3, 4, bidirectional=True, dtype=mt.float64), x)
    page = mt.viz.compare(a, b, labels=("GRU", "LSTM"))
    lanes = [side.drawing.plan.lanes for side in page.sides]
    assert [lane.reverse for lane in lanes[0]] == [lane.reverse for lane in lanes[1]] == [False, True]
    links = page.data["links"]
    for mine, theirs in zip(lanes[0], lanes[1]):
        assert [links["steps"][0][str(s)] for s in mine.steps] == theirs.steps
    assert links["layers"][0] == {"gru.l0": "lstm.l0", "gru.l0_reverse": "lstm.l0_reverse"}


@pytest.fixture(scope="module")
def one_pass():
    return rnn_and_lstm()[0]


@pytest.mark.parametrize("a, message", [
    (lambda p: p[0], "compare: the first pass must be a (loss, recording) pair, got a Tensor"),
    (lambda p: (*p, None), "compare: the first pass must be a (loss, recording) pair, got a tuple of 3"),
    (lambda p: ("loss", p[1]), "compare: the first pass's output must be a Tensor (the loss) or a Graph, "
                               "got str"),
    (lambda p: (p[0], {}), "compare: the first pass's recording must be an mt.viz.Recording, got dict"),
])
def test_a_pass_that_is_not_a_recorded_pair_is_a_type_error(one_pass, a, message):
    with pytest.raises(TypeError) as err:
        mt.viz.compare(a(one_pass), one_pass)
    assert str(err.value) == message


def test_a_pass_without_a_recording_or_gradients_is_a_value_error(one_pass):
    with pytest.raises(ValueError, match=r"^compare: the second pass has no recording: run it inside "
                                         r"`with mt.viz.record\(\) as rec:` and pass \(loss, rec\)$"):
        mt.viz.compare(one_pass, (one_pass[0], None))
    rnn = mt.nn.RNN(3, 5)
    with mt.viz.record() as forward_only:
        out, _ = rnn(mt.randn(4, 1, 3))
    with pytest.raises(ValueError, match=r"^compare: the second pass has no gradients: call "
                                         r"loss.backward\(\) inside mt.viz.record\(\)$"):
        mt.viz.compare(one_pass, (out.sum(), forward_only))


@pytest.mark.parametrize("labels", ["ab", ("a",), ("a", "b", "c"), ("a", ""), ("a", 2), None])
def test_labels_must_be_two_strings(one_pass, labels):
    with pytest.raises(TypeError, match=r"^compare: labels must be two non-empty strings, got "):
        mt.viz.compare(one_pass, one_pass, labels)


def test_unknown_options_and_bad_scales_are_named(one_pass):
    with pytest.raises(TypeError, match=r"^compare: unknown option 'colour' \(it takes explore's: detail, "
                                        r"window, .*, and scale\)$"):
        mt.viz.compare(one_pass, one_pass, colour="red")
    with pytest.raises(ValueError, match=r"^scale must be two finite numbers, low <= high .*got \(2, 1\)$"):
        mt.viz.compare(one_pass, one_pass, scale=(2, 1))
    with pytest.raises(ValueError, match=r"^scale must be \(low, high\): log10 of gradient norms, got 3$"):
        mt.viz.compare(one_pass, one_pass, scale=3)


# ------------------------------------------------------------------ in the browser
def open_comparison(browser, path, width=1440):
    """The comparison page with both explorers started; console errors of all three pages."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"request {r.url}")
            if not r.url.startswith(("file:", "about:")) else None)
    page.goto(path.resolve().as_uri())
    frames = [page.query_selector(f'iframe[data-side="{i}"]').content_frame() for i in (0, 1)]
    for frame in frames:
        frame.wait_for_function("window.explorer !== undefined")
    return page, frames, errors


@pytest.fixture(scope="module")
def comparison(browser, tmp_path_factory):
    """A 2-layer tanh RNN and a 1-layer LSTM, 8 steps each; the second pass's loss has a term
    outside the network that gives it a far larger gradient (so each pass alone would have its
    own colour scale)."""
    mt.manual_seed(0)
    x = mt.randn(8, 2, 3, dtype=mt.float64)
    mt.manual_seed(1)
    rnn = mt.nn.RNN(3, 5, num_layers=2, dtype=mt.float64)
    lstm = mt.nn.LSTM(3, 5, dtype=mt.float64)
    big = mt.ones(3, dtype=mt.float64, requires_grad=True)
    explorer = mt.viz.compare(recorded(rnn, x), recorded(lstm, x, (big * 1e4).sum()))
    path = explorer.save(tmp_path_factory.mktemp("compare") / "compare.html")
    page, frames, errors = open_comparison(browser, path)
    yield page, frames, errors, explorer, path
    page.close()


def test_the_page_loads_without_console_errors_in_either_frame(comparison):
    page, frames, errors, explorer, _ = comparison
    assert page.locator('[data-view="compare"] iframe').count() == 2
    assert page.locator('.label[data-side="0"]').text_content() == "tanh RNN"
    assert page.locator('.label[data-side="1"]').text_content() == "LSTM"
    assert page.locator("#compare-note").text_content() == explorer.data["note"]
    assert frames[0].locator(".heat-cell").count() == 2 * 8 and frames[1].locator(".heat-cell").count() == 8
    assert errors == []


def test_a_step_clicked_on_one_side_is_selected_on_the_other_and_back(comparison):
    page, frames, errors, explorer, _ = comparison
    frames[0].click('.heat-cell[data-t="3"][data-layer="rnn.l0"]')
    frames[1].wait_for_selector(".heat-cell.selected")  # the message arrives after the click
    selected = frames[1].eval_on_selector_all(".heat-cell.selected", "rs => rs.map(r => r.dataset.t)")
    assert selected == ["3"] and frames[1].text_content("#details h2") == "t=3"
    frames[1].click('.heat-cell[data-t="6"]')
    frames[0].wait_for_selector('.heat-cell.selected[data-t="6"]')
    selected = frames[0].eval_on_selector_all(".heat-cell.selected", "rs => rs.map(r => r.dataset.t)")
    assert selected == ["6", "6"] and frames[0].text_content("#details h2") == "t=6"
    passed = page.evaluate("window.comparison.passed")
    steps = [side.drawing.plan.lanes[0].steps for side in explorer.sides]
    assert passed[-2:] == [
        {"from": 0, "name": "step", "payload": {"step": steps[1][3], "layer": "lstm.l0"}},
        {"from": 1, "name": "step", "payload": {"step": steps[0][6], "layer": "rnn.l0"}}]
    # The top layer of the RNN has no partner: the LSTM shows the whole step.
    frames[0].click('.heat-cell[data-t="1"][data-layer="rnn.l1"]')
    frames[1].wait_for_selector('.heat-cell.selected[data-t="1"]')
    assert page.evaluate("window.comparison.passed")[-1]["payload"]["layer"] is None
    assert frames[1].text_content("#details h2") == "t=1"
    assert errors == []


def test_a_unit_selected_on_one_side_reaches_the_other_with_its_layer(comparison):
    page, frames, errors, _, _ = comparison
    for frame in frames:
        frame.evaluate("window.units = []; window.explorerCore.on('unit', (p, remote) => "
                       "window.units.push({...p, remote}))")
    # Messages arrive after the call that sends them returns: wait for them.
    frames[0].evaluate("window.explorerCore.emit('unit', {layer: 'rnn.l0', name: 'h', unit: 2})")
    frames[1].wait_for_function("window.units.length === 1")
    assert frames[1].evaluate("window.units") == [{"layer": "lstm.l0", "name": "h", "unit": 2,
                                                    "remote": True}]
    frames[1].evaluate("window.explorerCore.emit('unit', {layer: 'lstm.l0', name: 'c', unit: 4})")
    frames[0].wait_for_function("window.units.length === 2")
    assert frames[0].evaluate("window.units")[-1] == {"layer": "rnn.l0", "name": "c", "unit": 4,
                                                      "remote": True}
    # No layer of the LSTM stands where rnn.l1 does: nothing is passed (the next one is).
    frames[0].evaluate("window.explorerCore.emit('unit', {layer: 'rnn.l1', name: 'h', unit: 1})")
    frames[0].evaluate("window.explorerCore.emit('unit', {layer: 'rnn.l0', name: 'h', unit: 3})")
    frames[1].wait_for_function("window.units.length === 3")
    assert [u["unit"] for u in frames[1].evaluate("window.units")] == [2, 4, 3]
    assert errors == []


def test_equal_norms_get_equal_colours_in_both_frames(comparison, page_data):
    page, frames, errors, explorer, _ = comparison
    # The two passes' own scales differ by the term outside the LSTM; the page colours both on one.
    own = explorer.data["own"]
    assert own[1][1] - own[0][1] > 2
    lo, hi = explorer.data["scale"]
    for frame, side in zip(frames, explorer.sides):
        cells = frame.eval_on_selector_all(".heat-cell", "rs => rs.map(r => [r.dataset.layer, "
                                                         "Number(r.dataset.t), r.getAttribute('fill')])")
        graph = side.drawing.graph
        for layer, t, fill in cells:
            norm = graph.step_norms(layer=layer)[t]
            at = (np.log10(norm) - lo) / (hi - lo)
            assert fill == PALETTE[round(at * (len(PALETTE) - 1))], (layer, t)
    # The same recorded pass on both sides (the RNN's), each with the other's extra: equal colours.
    mt.manual_seed(3)
    rnn = mt.nn.RNN(3, 5, dtype=mt.float64)
    x = mt.randn(6, 1, 3, dtype=mt.float64)
    same = mt.viz.compare(recorded(rnn, x), recorded(rnn, x, (mt.ones(2, requires_grad=True) * 1e5).sum()))
    fills = [[c["fill"] for c in page_data(frame)["strip"]["rows"][0]["cells"]]
             for frame in frame_pages(same.html)]
    assert fills[0] == fills[1] and len(set(fills[0])) > 1
    assert errors == []


def test_the_layout_switch_stacks_the_explorers_and_they_load_again(browser, comparison):
    page, _, errors = open_comparison(browser, comparison[-1])
    page.select_option("#layout", "stacked")
    boxes = [page.locator(f'iframe[data-side="{i}"]').bounding_box() for i in (0, 1)]
    assert boxes[0]["width"] == boxes[1]["width"] > 1400
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
    for i in (0, 1):
        frame = page.query_selector(f'iframe[data-side="{i}"]').content_frame()
        frame.wait_for_function("window.explorer !== undefined")
        assert frame.locator("#plot").is_visible()  # a frame this wide keeps the log plot
    assert errors == []
    page.close()


def test_a_narrow_page_opens_the_explorers_one_above_the_other(browser, comparison):
    """A notebook's output or a tutorial page of the docs is narrower than 1,200 px: there the
    explorers stack, each at the frame's full width, and the switch says so."""
    for width, layout in ((SIDE_BY_SIDE_FROM - 1, "stacked"), (SIDE_BY_SIDE_FROM, "side-by-side")):
        page, _, errors = open_comparison(browser, comparison[-1], width=width)
        assert page.eval_on_selector("#comparison", "e => e.className") == layout
        assert page.input_value("#layout") == layout
        boxes = [page.locator(f'iframe[data-side="{i}"]').bounding_box() for i in (0, 1)]
        if layout == "stacked":
            assert boxes[0]["width"] == boxes[1]["width"] > width - 20
            assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
        else:
            assert boxes[0]["width"] < width / 2 and boxes[1]["x"] > boxes[0]["x"]
        assert errors == []
        page.close()


# ------------------------------------------------------------------ the vanishing demo's page
def test_the_vanishing_comparison_shows_gains_below_1_beside_a_forget_gate_near_1(browser, tmp_path):
    """The demo's comparison (T=50, its sizes) after 600 training steps, enough for the LSTM to
    learn the task; the picture for the docs when MICROTENSOR_SCREENSHOTS names a folder."""
    from demos import vanishing

    args = vanishing.parse_args(["--steps", "600", "--eval-every", "600", "--out", str(tmp_path)])
    test = vanishing.adding_problem(64, args.length, np.random.default_rng(args.seed + 1))
    with vanishing.StopOnInterrupt() as stop:
        results = [vanishing.train(setting, args, test, stop) for setting in vanishing.COMPARED]
    path = vanishing.write_comparison(results, args, test, tmp_path / "compare_rnn_lstm.html")
    page, frames, errors = open_comparison(browser, path)
    summaries = [frame.evaluate("JSON.parse(document.getElementById('explorer-data').textContent).gains"
                                ".summaries") for frame in frames]
    for frame, said in zip(frames, summaries):
        assert frame.text_content('[data-view="gains"] .gains-summary') == "".join(said)
    rnn = float(re.search(r"median gain through h ([\d.e+-]+)", summaries[0][0]).group(1))
    lstm = re.search(r"through c ([\d.e+-]+).*mean forget gate ([\d.e+-]+), ([\d.e+-]+) where the "
                     r"gradient flows", summaries[1][0])
    print(f"\nvanishing comparison: {summaries}")
    assert rnn < 1 and float(lstm.group(1)) > 0.95  # the LSTM's cell passes its gradient back whole
    # ... through a forget gate near 1 where the gradient flows, though not on average
    assert 0 < float(lstm.group(2)) < float(lstm.group(3)) and float(lstm.group(3)) > 0.9
    frames[0].click('.heat-cell[data-t="30"]')  # where the RNN's gradient has vanished, the LSTM's not
    frames[1].wait_for_selector('.heat-cell.selected[data-t="30"]')
    folder = Path(os.environ.get("MICROTENSOR_SCREENSHOTS", tmp_path))
    shot = page.screenshot(path=str(folder / "compare_vanishing.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and errors == []
    page.close()
