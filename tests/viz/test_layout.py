"""Pictures readable at any length: the render matrix with every Graphviz program found.

Each drawing must render cleanly with its pinned positions and be no wider than 4:1, and
the step frames of a row must stand on one baseline (their bottom edges line up), left to
right in time (right to left in a reverse lane).
"""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

import microtensor as mt

PROGRAMS = [p for p in ("dot", "graphviz-pure") if shutil.which(p)]
needs_graphviz = pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program (dot or graphviz-pure) found")
MAX_ASPECT = 4.0
_recorded = {}


def recorded(model, layers, steps):
    """One recorded pass per (model, layers, steps), shared by the details and programs."""
    key = (model, layers, steps)
    if key not in _recorded:
        mt.manual_seed(0)
        layer = getattr(mt.nn, model)(3, 4, num_layers=layers, dtype=mt.float64)
        with mt.viz.record() as rec:
            out, _ = layer(mt.randn(steps, 1, 3, dtype=mt.float64))
            loss = (out[-1] ** 2).sum()
            loss.backward()
        _recorded[key] = mt.viz.trace(loss, rec)
    return _recorded[key]


def layout(source, program):
    done = subprocess.run([program, "-Kneato", "-n2", "-Tsvg"], input=source.encode(), capture_output=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    return ET.fromstring(done.stdout)


def size(root):
    pt = lambda v: float(v.removesuffix("pt"))  # noqa: E731
    return pt(root.get("width")), pt(root.get("height"))


def cluster_boxes(root):
    """step -> (left, bottom) of its cluster's outline."""
    boxes = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        match = re.fullmatch(r"step(\d+)", g.get("id", ""))
        if g.get("class") == "cluster" and match:
            shape = next(el for el in g if el.tag.endswith(("path", "polygon")))
            points = re.findall(r"([\d.-]+),([\d.-]+)", shape.get("d") or shape.get("points"))
            boxes[int(match.group(1))] = (min(float(x) for x, _ in points), max(float(y) for _, y in points))
    return boxes


def check_baseline(root, drawn):
    """Each row's step frames share their bottom edge and stand in time order."""
    boxes = cluster_boxes(root)
    assert set(boxes) == set(drawn.steps)  # every step has its frame
    for row in drawn.rows:
        bottoms = [boxes[t][1] for t in row]
        assert max(bottoms) - min(bottoms) < 1.0, f"row {row}: frame bottoms {bottoms}"
        lefts = [boxes[t][0] for t in row]
        reverse = drawn.lane_of(row[0]).reverse
        assert lefts == sorted(lefts), f"row {row}: frames out of order"
        assert not reverse or [drawn.position[t] for t in row] == sorted(drawn.position[t] for t in row)


@needs_graphviz
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("steps", [1, 5, 12, 40])
@pytest.mark.parametrize("detail", ["auto", "op", "cell"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("model", ["RNN", "LSTM", "GRU"])
def test_render_matrix_exits_cleanly_within_the_aspect_bound(model, layers, detail, steps, program):
    dot = mt.viz.draw_graph(recorded(model, layers, steps), detail=detail)
    root = layout(dot.source, program)
    width, height = size(root)
    assert width / height <= MAX_ASPECT, f"{width:.0f} x {height:.0f} pt"
    check_baseline(root, dot.plan)


@needs_graphviz
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("model", ["RNN", "LSTM", "GRU"])
def test_bptt_order_view_keeps_steps_on_one_baseline(model, layers, program):
    dot = mt.viz.draw_graph(recorded(model, layers, 5), detail="op", bptt_order=True)
    root = layout(dot.source, program)
    width, height = size(root)
    assert width / height <= MAX_ASPECT
    check_baseline(root, dot.plan)


@needs_graphviz
@pytest.mark.parametrize("steps", [100, 1000])
def test_long_sequences_with_the_defaults_stay_within_the_bound(steps):
    dot = mt.viz.draw_graph(recorded("LSTM", 1, steps))
    root = layout(dot.source, PROGRAMS[0])
    width, height = size(root)
    assert width / height <= MAX_ASPECT
    assert len(dot.plan.rows) > 3  # time wrapped into rows


def test_rows_keep_time_in_order_and_the_wrap_is_a_drawn_state_edge():
    drawn = mt.viz.plan(recorded("RNN", 1, 200), detail="cell")
    assert [t for row in drawn.rows for t in row] == list(range(200))
    assert len(drawn.rows) > 1
    wraps = [link for link in drawn.links if link.wrap]
    assert len(wraps) == len(drawn.rows) - 1
    ends = {(row[-1], nxt[0]) for row, nxt in zip(drawn.rows, drawn.rows[1:])}
    assert {(drawn.boxes[w.src].step, drawn.boxes[w.dst].step) for w in wraps} == ends
    source = mt.viz.draw_graph(recorded("RNN", 1, 200), detail="cell").source
    for w in wraps:  # a dashed stub out of the row's last step, and one into the next row's first
        assert re.search(rf'id="{w.key}__out"[^\]]*style="dashed"', source)
        assert re.search(rf'id="{w.key}__in"[^\]]*style="dashed"', source)


def test_a_bidirectional_layer_is_drawn_as_a_forward_and_a_reverse_lane():
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(4, 1, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    drawn = mt.viz.plan(mt.viz.trace(loss, rec), detail="op")
    assert drawn.rows == [[0, 1, 2, 3], [4, 5, 6, 7]]  # one lane per direction, each its own row
    assert [drawn.labels[s] for s in drawn.rows[1]] == [f"lstm (reverse) · t={t}" for t in range(4)]
    assert list(drawn.clusters[5]) == ["lstm.l0_reverse", "lstm.l1_reverse"]  # layer 0 below layer 1
    reverse_states = {(drawn.boxes[l.src].step, drawn.boxes[l.dst].step) for l in drawn.links
                      if l.state and drawn.boxes[l.src].layer == "lstm.l0_reverse"}
    assert sorted(reverse_states) == [(5, 4), (6, 5), (7, 6)]  # the reverse lane runs right to left
    if PROGRAMS:
        root = layout(mt.viz.draw_graph(mt.viz.trace(loss, rec), detail="op").source, PROGRAMS[0])
        check_baseline(root, drawn)


def test_an_encoder_and_a_decoder_are_two_lanes_of_time():
    pytest.importorskip("models.seq2seq")
    from models.encoders import WordEncoder
    from models.seq2seq import Seq2Seq
    from models.sequences import make_batch, pad_ids

    mt.manual_seed(0)
    model = Seq2Seq(WordEncoder(10, 4, 6), vocab_size=7, embed_size=4, hidden_size=6)
    batch = make_batch(pad_ids([[3, 4, 5], [6]]), [3, 1], [[3, 4], [5, 6, 3]])
    with mt.viz.record() as rec:
        loss = model.loss(batch)
        loss.backward()
    drawn = mt.viz.plan(mt.viz.trace(loss, rec), detail="op")
    names = [[drawn.labels[s] for s in row] for row in drawn.rows]
    assert names == [[f"encoder · t={t}" for t in range(3)], [f"encoder (reverse) · t={t}" for t in range(3)],
                     [f"decoder · t={t}" for t in range(4)]]
    for layers in drawn.clusters.values():  # no step mixes the encoder's and the decoder's ops
        assert len({layer.split(".")[0] for layer in layers}) == 1
    if PROGRAMS:
        source = mt.viz.draw_graph(mt.viz.trace(loss, rec), detail="op").source
        assert "label=<<B>decoder · t=3 · padding 1 of 2</B>>" in source  # its first target has ended
        root = layout(source, PROGRAMS[0])
        check_baseline(root, drawn)


def test_attention_is_drawn_as_edges_from_the_source_steps_weighted_by_the_kept_weights():
    pytest.importorskip("models.seq2seq")
    from models.encoders import WordEncoder
    from models.seq2seq import Seq2Seq
    from models.sequences import make_batch, pad_ids

    mt.manual_seed(0)
    model = Seq2Seq(WordEncoder(10, 4, 6), vocab_size=7, embed_size=4, hidden_size=6)
    batch = make_batch(pad_ids([[3, 4, 5], [6, 7, 0]]), [3, 2], [[3, 4], [5, 6, 3]])
    with mt.viz.record() as plain:
        model.loss(batch).backward()
    with mt.viz.record(keep_values=True) as rec:
        loss = model.loss(batch)
        loss.backward()
    assert [l for l in mt.viz.plan(mt.viz.trace(loss, plain)).links if l.attention is not None] == []
    graph = mt.viz.trace(loss, rec)
    drawn = mt.viz.plan(graph, detail="op")
    edges = {}
    for link in drawn.links:
        if link.attention is not None:
            src, dst = drawn.boxes[link.src], drawn.boxes[link.dst]
            assert dst.title == "attention" and src.title == "h"
            edges[(drawn.labels[src.step], drawn.labels[dst.step])] = link.attention
    weights = {drawn.labels[drawn.drawn_step[k]]: n.array.mean(axis=0) for k, n in graph.nodes.items()
               if n.name == "attention"}
    assert sorted(weights) == [f"decoder · t={t}" for t in range(4)]
    for step, mean in weights.items():
        assert mean.sum() == pytest.approx(1.0)
        for s, w in enumerate(mean):
            assert edges.get((f"encoder · t={s}", step), 0.0) == pytest.approx(w if w >= 0.01 else 0.0)
    source = mt.viz.draw_graph(graph, detail="op").source
    assert source.count("__attention") == len(edges)
    if PROGRAMS:
        layout(source, PROGRAMS[0])
