"""The interactive explorer: a self-contained page, and its behaviour in a real (headless) browser.

Browser tests use the system Chromium through Playwright's Python API (no browser download);
they skip, naming what is missing, when either is not installed. CI installs both.
"""

import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
pytestmark = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program (dot or graphviz-pure) found")


def lstm_pass(steps=5, layers=2, seed=0):
    mt.manual_seed(seed)
    lstm = mt.nn.LSTM(3, 4, num_layers=layers, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(steps, 2, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    return loss, rec


def test_the_page_is_self_contained(tmp_path):
    page = mt.viz.explore(*lstm_pass(), title="LSTM").save(tmp_path / "p.html").read_text()
    # No network at view time: nothing is fetched (the only URLs are SVG's namespace names).
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
                    "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"}
    assert page.count("<script") == 2 and "{{" not in page


def test_page_data_matches_the_plan_and_the_recording(page_data):
    loss, rec = lstm_pass(steps=4, layers=2)
    explorer = mt.viz.explore(loss, rec)
    data = page_data(explorer.html)
    graph = explorer.drawing.graph
    assert data["steps"] == [0, 1, 2, 3] and data["layers"] == ["lstm.l1", "lstm.l0"]  # as drawn, top down
    for li, layer in enumerate(data["layers"]):
        for t in range(4):
            norms = graph.step_norms(layer=layer)
            assert data["heat"][li][t] == pytest.approx(norms[t], rel=1e-3)
    classic = {data["boxes"][k]["role"]: v["label"] for k, v in data["classic"].items()}
    assert classic == {"forget": "forget gate", "input": "learn gate: ignore", "candidate": "learn gate: new",
                       "output": "use gate", "c": "remember gate"}
    rows = data["strip"]["rows"]
    assert [r["layer"] for r in rows] == ["lstm.l1", "lstm.l0"]
    for r in rows:
        norms = graph.step_norms(layer=r["layer"])
        assert [c["norm"] for c in r["cells"]] == pytest.approx([norms[t] for t in range(4)], rel=1e-3)
    assert data["frames"] == sorted(data["frames"]) and len(data["frames"]) > 0


def test_jupyter_shows_the_page_in_a_frame():
    shown = mt.viz.explore(*lstm_pass(steps=2, layers=1))._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;")


# ------------------------------------------------------------------ in the browser
VIEWPORT = (1400, 900)  # this file's browser tests, narrower than the shared default


@pytest.fixture(scope="module")
def lstm_page(open_page, tmp_path_factory):
    loss, rec = lstm_pass(steps=6, layers=2)
    explorer = mt.viz.explore(loss, rec, title="LSTM, 2 layers, 6 steps")
    path = explorer.save(tmp_path_factory.mktemp("explorer") / "lstm.html")
    page, errors, _ = open_page(path, VIEWPORT)
    yield page, errors, explorer
    page.close()


def test_loads_without_console_errors_and_one_strip_cell_per_layer_and_step(lstm_page):
    page, errors, explorer = lstm_page
    assert page.locator(".heat-cell").count() == 2 * 6
    assert page.locator("#graph svg g.node").count() >= len(explorer.drawing.plan.boxes)
    assert errors == []


def test_clicking_a_node_shows_its_statistics_as_recorded(lstm_page):
    page, errors, explorer = lstm_page
    graph = explorer.drawing.graph
    forget = next(k for k, b in explorer.drawing.plan.boxes.items()
                  if b.title == "forget" and b.step == 5 and b.layer == "lstm.l1")
    page.click(f"g.node#{forget}")  # in the first view: the last steps of the top layer, by the loss
    node = graph.nodes[explorer.drawing.plan.boxes[forget].members[0]]
    assert page.text_content("#detail-title") == "forget"
    assert page.text_content('[data-field="op"]') == "Sigmoid"
    assert page.text_content('[data-field="shape"]') == "(2, 4)"
    assert "gate=forget" in page.text_content('[data-field="tags"]')
    for which, summary in (("grad", node.grad), ("value", node.value)):
        for stat in ("norm", "mean", "std", "min", "max", "fraction"):
            expected = summary.zeros if stat == "fraction" else getattr(summary, stat)
            shown = float(page.text_content(f'[data-stat="{which}-{stat}"]'))
            assert shown == pytest.approx(expected, rel=1e-3, abs=1e-12)
        bars = page.locator(f'svg.histogram[data-of="{which}"] rect')
        assert bars.count() == len(summary.hist)
    assert errors == []


def test_the_gate_switch_relabels_the_lstm_gates(lstm_page):
    page, errors, _ = lstm_page
    labels = lambda: page.eval_on_selector_all(  # noqa: E731
        "g.node[data-gate] text.gate-label",
        "els => els.map(e => e.closest('g.node').dataset.gate + '=' + e.textContent)")
    before = labels()
    assert set(before) == {"input=input", "forget=forget", "candidate=candidate", "output=output", "c=c"}
    assert len(before) == 5 * 2 * 6  # every gate and cell state of both layers at all six steps
    page.select_option("#gate-names", "classic")
    after = set(labels())
    assert {"forget=forget gate", "input=learn gate: ignore", "candidate=learn gate: new",
            "output=use gate", "c=remember gate"} == after
    page.select_option("#gate-names", "pytorch")
    assert set(labels()) == set(before)
    assert errors == []


def test_play_replays_the_backward_pass_back_to_the_first_step(lstm_page):
    page, errors, explorer = lstm_page
    total = page.evaluate("window.explorer.nodeCount")
    assert total == sum(1 for b in explorer.drawing.plan.boxes.values() if b.visit is not None)
    page.click("#play")
    counts, steps = [], []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts.append(page.evaluate("window.explorer.litCount()"))
        steps.append(page.evaluate("window.explorer.currentT()"))
        if not page.evaluate("window.explorer.playing()"):
            break
        time.sleep(0.05)
    counts.append(page.evaluate("window.explorer.litCount()"))
    assert counts == sorted(counts) and counts[-1] == total and len(set(counts)) > 2
    assert page.evaluate("window.explorer.currentT()") == 0 or 0 in steps
    page.click("#back")
    assert page.evaluate("window.explorer.litCount()") < total
    # Time runs backwards in the replay: the first step that lights is the last one.
    page.click("#reset")
    while page.evaluate("window.explorer.currentT()") is None:
        page.click("#forward")
    assert page.evaluate("window.explorer.currentT()") == 5
    assert errors == []


def test_clicking_a_step_in_the_strip_shows_its_ops(lstm_page, tmp_path):
    page, errors, _ = lstm_page
    page.click('.heat-cell[data-t="2"][data-layer="lstm.l0"]')
    assert page.text_content("#details h2") == "t=2"
    assert page.locator("#details .op-list li").count() > 10
    page.locator("#details .op-list li", has_text="forget").first.click()
    assert page.text_content("#detail-title") == "forget"
    assert page.locator('.heat-cell.selected').count() == 2
    assert errors == []


def test_a_thousand_steps_load_and_a_screenshot_is_written(open_page, tmp_path):
    loss, rec = lstm_pass(steps=1000, layers=1)
    path = mt.viz.explore(loss, rec, title="LSTM, 1,000 steps").save(tmp_path / "long.html")
    page, errors, seconds = open_page(path, VIEWPORT)
    assert page.locator(".heat-cell").count() == 167  # six steps a cell: each at least 4 px wide
    script_ms = page.evaluate("window.explorer.loadMs")
    print(f"\nexplorer at T=1000: page ready in {seconds:.2f} s (script {script_ms:.0f} ms), "
          f"{path.stat().st_size / 1e6:.1f} MB")
    assert errors == []
    page.close()
    # The picture for the record (and the docs, when MICROTENSOR_SCREENSHOTS names a folder).
    loss, rec = lstm_pass(steps=12, layers=2)
    path = mt.viz.explore(loss, rec, title="LSTM, 2 layers, 12 steps").save(tmp_path / "shot.html")
    page, errors, _ = open_page(path, VIEWPORT)
    page.select_option("#gate-names", "classic")
    page.click('.heat-cell[data-t="10"][data-layer="lstm.l1"]')
    page.locator("#details .op-list li", has_text="forget").first.click()
    folder = Path(os.environ.get("MICROTENSOR_SCREENSHOTS", tmp_path))
    shot = page.screenshot(path=str(folder / "explorer.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and errors == []
    page.close()
    assert math.isfinite(seconds)


# ------------------------------------------------------------------ padding
LENGTHS = [6, 2, 4, 5]  # rows 1, 2, 3 end early: 1 of 4 is padding at t=2, 3; 2 at t=4; 3 at t=5
PADDED = {2: 1, 3: 1, 4: 2, 5: 3}


def packed_lstm_pass():
    from microtensor.nn.utils.rnn import pack_padded_sequence

    mt.manual_seed(0)
    lstm = mt.nn.LSTM(3, 4, num_layers=2, dtype=mt.float64)
    x = mt.randn(6, 4, 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        _, (h, _) = lstm(pack_padded_sequence(x, LENGTHS, enforce_sorted=False))
        loss = (h ** 2).sum()
        loss.backward()
    return loss, rec


def test_page_data_says_which_steps_are_padding(page_data):
    data = page_data(mt.viz.explore(*packed_lstm_pass()).html)
    assert {int(t): {layer: (p["count"], p["batch"]) for layer, p in step["layers"].items()}
            for t, step in data["padding"].items()} == \
        {t: {"lstm.l0": (k, 4), "lstm.l1": (k, 4)} for t, k in PADDED.items()}
    assert data["padding"]["4"]["text"] == "padding: 2 of 4 sequences (rows 1, 2)"
    assert page_data(mt.viz.explore(*lstm_pass()).html)["padding"] == {}


def test_padded_steps_show_as_padding_in_the_strip_and_the_details(open_page, tmp_path):
    explorer = mt.viz.explore(*packed_lstm_pass(), max_op_steps=2, title="packed LSTM")
    page, errors, _ = open_page(explorer.save(tmp_path / "packed.html"), VIEWPORT)
    cells = page.eval_on_selector_all(".heat-cell.padding",
                                      "els => els.map(e => e.dataset.layer + '|' + e.dataset.t)")
    assert sorted(cells) == sorted(f"lstm.l{k}|{t}" for k in (0, 1) for t in PADDED)
    hatches = page.eval_on_selector_all(".heat-padding", "els => els.map(e => [+e.dataset.t, "
                                        "+e.getAttribute('height'), getComputedStyle(e).fill])")
    assert len(hatches) == 2 * len(PADDED)
    for t, height, fill in hatches:  # striped over the share of the batch that is padding
        assert height == pytest.approx(12 * PADDED[t] / 4) and "padding-hatch" in fill
    # Drawn, not only present: the striped part of a padded cell has the stripes' grey, the rest
    # of the cell (and an unpadded cell) none.
    from io import BytesIO

    from PIL import Image

    def greys(selector, top, bottom):
        box = page.locator(selector).bounding_box()
        shot = Image.open(BytesIO(page.screenshot(clip={
            "x": box["x"] + 1, "y": box["y"] + box["height"] * top, "width": box["width"] - 2,
            "height": box["height"] * (bottom - top)}))).convert("RGB")
        pixels = np.asarray(shot, dtype=int)
        return int((np.abs(pixels - 0x8C).max(axis=-1) < 24).sum())

    assert greys('.heat-cell[data-t="5"][data-layer="lstm.l0"]', 0.4, 0.95) > 10  # 3 of 4: striped
    assert greys('.heat-cell[data-t="5"][data-layer="lstm.l0"]', 0.05, 0.2) == 0  # the real quarter
    assert greys('.heat-cell[data-t="1"][data-layer="lstm.l0"]', 0.05, 0.95) == 0
    # The step panel and the node panel say it; an unpadded step does not.
    page.click('.heat-cell[data-t="4"][data-layer="lstm.l0"]')
    assert page.text_content('#details [data-field="padding"]') == "padding: 2 of 4 sequences (rows 1, 2)"
    page.dispatch_event("g.node#padding4", "click")
    assert page.text_content("#details h2") == "padding at t=4"
    assert "a packed RNN skips them" in page.text_content("#details")
    page.click('.heat-cell[data-t="5"][data-layer="lstm.l1"]')
    forget = next(k for k, b in explorer.drawing.plan.boxes.items() if b.title == "forget" and b.step == 5)
    page.dispatch_event(f"g.node#{forget}", "click")
    assert page.text_content("#detail-title") == "forget"
    assert page.text_content('#details [data-field="padding"]') == "padding: 3 of 4 sequences (rows 1, 2, 3)"
    page.click('.heat-cell[data-t="1"][data-layer="lstm.l0"]')
    assert page.locator('#details [data-field="padding"]').count() == 0
    assert page.locator("#details .op-list li").count() > 10
    assert errors == []
    page.close()
