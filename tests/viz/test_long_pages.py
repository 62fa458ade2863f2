"""Long sequences: the page's size at T=1,000 (hidden 64, 2 layers) and what it keeps of the steps
drawn as one box per layer (what their op list shows; full statistics for the steps drawn op by op).

The size is asserted; the time to interactive is printed (machines differ, and a wall-clock
limit in a unit test measures the machine): ``pytest -s tests/viz/test_long_pages.py``.
"""

import json
import re
import shutil

import pytest

import microtensor as mt
from microtensor.viz.explore import BRIEF_NOTE

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
pytestmark = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program (dot or graphviz-pure) found")
MAX_MB = 15.0


def lstm_explorer(steps, hidden, layers=2, batch=1, inputs=8, title=None):
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(inputs, hidden, num_layers=layers)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(steps, batch, inputs))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    return mt.viz.explore(loss, rec, title=title)


def test_a_thousand_steps_of_a_two_layer_lstm_make_a_page_under_15_mb(open_page, page_data, tmp_path):
    explorer = lstm_explorer(steps=1000, hidden=64, title="LSTM, hidden 64, 2 layers, 1,000 steps")
    path = explorer.save(tmp_path / "long.html")
    size = path.stat().st_size
    data = page_data(explorer.html)
    raw = json.dumps(data, separators=(",", ":"))
    svg = re.search(r"<svg id=\"graph-svg\".*?</svg>", explorer.html, re.S).group(0)
    shares = sorted(((len(json.dumps(v, separators=(",", ":")).encode()), k) for k, v in data.items()),
                    reverse=True)
    print(f"\npage at T=1000, hidden 64, 2 layers: {size / 1e6:.2f} MB: graph SVG "
          f"{len(svg.encode()) / 1e6:.2f} MB, data {len(raw.encode()) / 1e6:.2f} MB (" +
          ", ".join(f"{k} {n / 1e6:.2f}" for n, k in shares if n >= 5000) + " MB)")
    page, errors, seconds = open_page(path)
    script_ms = page.evaluate("window.explorer.loadMs")
    print(f"interactive in {seconds:.2f} s (the script's own work: {script_ms:.0f} ms)")
    assert size <= MAX_MB * 1e6
    assert errors == []
    assert page.evaluate("document.body.classList.contains('rolled-shown')")  # a long sequence opens rolled
    # The log plot's axis ends at the last step, not at the last column's nominal end.
    assert page.eval_on_selector_all("#plot text.tick", "ts => ts.map(t => t.textContent)")[:2] == \
        ["t=0", "t=999"]
    page.close()


@pytest.fixture(scope="module")
def cell_steps(open_page, tmp_path_factory):
    """A page whose early steps are drawn as one box per layer (the last two op by op)."""
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(3, 4, num_layers=2, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(8, 2, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    explorer = mt.viz.explore(loss, rec, max_op_steps=2)
    page, errors, _ = open_page(explorer.save(tmp_path_factory.mktemp("brief") / "cells.html"))
    yield explorer, page, errors
    page.close()


def test_ops_of_a_step_drawn_as_one_box_keep_what_its_op_list_shows(cell_steps, page_data):
    explorer, _, _ = cell_steps
    data, p, graph = page_data(explorer.html), explorer.drawing.plan, explorer.drawing.graph
    assert data["detailed"] == [6, 7] and data["briefNote"] == BRIEF_NOTE
    for box in p.boxes.values():
        for m in box.members:
            n, kept = graph.nodes[m], data["nodes"][m]
            if box.kind == "cell":
                assert set(kept) == {"op", "shape", "grad"} | ({"name"} if n.name else set())
                if n.grad is None:
                    assert kept["grad"] is None
                else:
                    assert kept["grad"]["norm"] == pytest.approx(n.grad.norm, rel=1e-3, abs=1e-12)
            else:  # drawn op by op, or outside the steps: everything the details panel shows
                assert {"tags", "dtype", "value", "grad"} <= set(kept)
                if n.value is not None:
                    assert kept["value"]["hist"] == list(n.value.hist)


def test_the_details_of_an_op_of_a_step_drawn_as_one_box_say_where_its_statistics_are(cell_steps):
    explorer, page, errors = cell_steps
    page.click('.heat-cell[data-t="2"][data-layer="lstm.l0"]')
    assert page.text_content("#details p") == "drawn as one box per layer; its ops:"
    page.locator("#details .op-list li", has_text="forget").first.click()
    n = explorer.drawing.graph.nodes[page.text_content('#details [data-field="key"]')]
    assert (n.name, n.layer, n.step) == ("forget", "lstm.l1", 2)  # the op list starts at the top layer
    assert page.text_content("#detail-title") == "forget"
    assert page.text_content('[data-field="op"]') == "Sigmoid"
    assert page.text_content('[data-field="shape"]') == "(2, 4)"
    assert float(page.text_content('[data-stat="grad-norm"]')) == pytest.approx(n.grad.norm, rel=1e-3)
    assert page.text_content('[data-field="brief"]') == BRIEF_NOTE
    assert errors == []
