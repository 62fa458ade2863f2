"""Padding in the picture: packed RNN steps and masked decoder steps carry ``padding``/``batch``
tags; the trace keeps them, the plan marks exactly the padded steps, and the DOT draws a grey
dashed "padding" box in each (and greys a step that is padding for every sequence)."""

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.nn.utils.rnn import pack_padded_sequence
from microtensor.viz.dot import esc
from microtensor.viz.plan import PADDING_FILL, PADDING_INK

KINDS = {"rnn": mt.nn.RNN, "lstm": mt.nn.LSTM, "gru": mt.nn.GRU}
PROGRAM = shutil.which("dot") or shutil.which("graphviz-pure")


@st.composite
def packed_runs(draw):
    kind = draw(st.sampled_from(sorted(KINDS)), label="kind")
    layers = draw(st.integers(1, 2), label="num_layers")
    bidirectional = draw(st.booleans(), label="bidirectional")
    batch = draw(st.integers(1, 4), label="batch")
    lengths = draw(st.lists(st.integers(1, 5), min_size=batch, max_size=batch), label="lengths")
    unsorted = draw(st.booleans(), label="enforce_sorted=False")
    if not unsorted:
        lengths.sort(reverse=True)
    return kind, layers, bidirectional, np.array(lengths), not unsorted


def run_packed(kind, layers, bidirectional, lengths, enforce_sorted=False, seed=0):
    """A recorded forward and backward pass of a packed layer; its loss reads every output."""
    mt.manual_seed(seed)
    layer = KINDS[kind](3, 4, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
    x = mt.randn(int(max(lengths)), len(lengths), 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = layer(pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted))
        loss = (out.data ** 2).sum()
        loss.backward()
    return loss, rec


def expected_padding(lengths):
    """t -> the rows (caller's order) whose sequence has ended by step t."""
    return {t: tuple(int(r) for r in np.flatnonzero(lengths <= t)) for t in range(int(max(lengths)))}


@given(run=packed_runs())
@settings(max_examples=25)
def test_packed_steps_are_tagged_with_the_rows_that_are_padding(run):
    kind, layers, bidirectional, lengths, enforce_sorted = run
    loss, rec = run_packed(kind, layers, bidirectional, lengths, enforce_sorted)
    graph = mt.viz.trace(loss, rec)
    expected = expected_padding(lengths)
    stepped = [n for n in graph.nodes.values() if n.step is not None]
    assert stepped
    directions = {n.layer.endswith("_reverse") for n in stepped}
    assert directions == ({False, True} if bidirectional else {False})
    for n in stepped:  # every op of every step, both directions: the trace keeps the tags as set
        assert n.tags["padding"] == expected[n.step] and n.tags["batch"] == len(lengths), (n.layer, n.step)
        assert n.padding == mt.viz.Padding(len(expected[n.step]), len(lengths), expected[n.step])


@given(run=packed_runs())
@settings(max_examples=20)
def test_the_plan_marks_exactly_the_padded_steps_with_their_counts(run):
    kind, layers, bidirectional, lengths, enforce_sorted = run
    loss, rec = run_packed(kind, layers, bidirectional, lengths, enforce_sorted)
    drawn = mt.viz.plan(mt.viz.trace(loss, rec), detail="cell")
    lanes = [f"{kind} · ", f"{kind} (reverse) · "] if bidirectional else [""]  # one lane per direction
    expected = {f"{lane}t={t}": (len(rows), rows) for lane in lanes
                for t, rows in expected_padding(lengths).items() if rows}
    shared = {s: drawn.step_padding(s) for s in drawn.padding}  # the layers of a step agree: one batch
    assert {drawn.labels[s]: (p.count, p.rows) for s, p in shared.items()} == expected
    assert all(p.batch == len(lengths) for p in shared.values())
    for box in drawn.boxes.values():  # cells say it, and only in padded steps
        assert (box.step in drawn.padding) == any(line.startswith(("padding", "all padding"))
                                                  for line in box.lines), box.title


def cluster(source, step):
    """The DOT lines of step ``step``'s frame, nested layer frames included."""
    lines = source.splitlines()
    start = lines.index(f"\tsubgraph cluster_step{step} {{")
    depth = 0
    for end in range(start, len(lines)):
        depth += lines[end].startswith("\tsubgraph cluster_") - (lines[end] == "\t}")
        if depth == 0:
            return "\n".join(lines[start:end + 1])
    raise AssertionError(f"cluster_step{step} is not closed")


def seq2seq_pass(targets, sources=((3, 4, 5), (6,), (7, 8))):
    pytest.importorskip("models.seq2seq")
    from models.encoders import WordEncoder
    from models.seq2seq import Seq2Seq
    from models.sequences import make_batch, pad_ids

    mt.manual_seed(0)
    model = Seq2Seq(WordEncoder(10, 4, 6), vocab_size=7, embed_size=4, hidden_size=6)
    batch = make_batch(pad_ids([list(s) for s in sources]), [len(s) for s in sources], targets)
    with mt.viz.record() as rec:
        loss = model.loss(batch)
        loss.backward()
    return loss, rec


def test_an_encoder_decoder_shows_the_encoders_packing_and_the_decoders_masked_steps():
    # Targets of 2, 3 and 1 words: 3, 4 and 2 decoder steps with </s>.
    loss, rec = seq2seq_pass([[3, 4], [5, 6, 3], [4]])
    dot = mt.viz.draw_graph(loss, rec, detail="op")
    drawn = dot.plan
    named = {drawn.labels[s]: drawn.step_padding(s).describe() for s in drawn.padding}
    assert named == {
        "encoder · t=1": "padding: 1 of 3 sequences (row 1)",
        "encoder · t=2": "padding: 2 of 3 sequences (rows 1, 2)",
        "encoder (reverse) · t=1": "padding: 1 of 3 sequences (row 1)",
        "encoder (reverse) · t=2": "padding: 2 of 3 sequences (rows 1, 2)",
        "decoder · t=2": "padding: 1 of 3 sequences (row 2)",
        "decoder · t=3": "padding: 2 of 3 sequences (rows 0, 2)",
    }
    source = dot.source
    for step in drawn.padding:  # a grey dashed box inside the step's frame, which says so
        pad = drawn.step_padding(step)
        inside = cluster(source, step)
        assert drawn.step_title(step).startswith(f"{drawn.labels[step]} · {pad.short()}")
        assert f"label=<<B>{esc(drawn.step_title(step))}</B>>" in inside
        box = re.search(rf"\tpadding{step} \[(.*)\]", inside).group(1)
        assert 'style="dashed,filled"' in box and f'fillcolor="{PADDING_FILL}"' in box
        assert pad.amount() in box
    assert source.count("\tpadding") == len(drawn.padding)
    assert "padding (greyed, dashed) at encoder · t=1…2; encoder (reverse) · t=1…2; decoder · t=2…3" \
        in drawn.notes
    if PROGRAM:
        svg = "{http://www.w3.org/2000/svg}"
        boxes = {g.get("id"): g for g in ET.fromstring(dot.svg()).iter(f"{svg}g")
                 if g.get("class") == "node" and g.get("id", "").startswith("padding")}
        assert set(boxes) == {f"padding{s}" for s in drawn.padding}
        for key, g in boxes.items():  # drawn grey and dashed, and saying what it is
            outline = next(g.iter(f"{svg}polygon"))
            assert outline.get("fill") == PADDING_FILL and outline.get("stroke-dasharray")
            assert (g.get("data-kind"), g.get("data-role"), g.get("data-step")) == (
                "padding", "padding", key.removeprefix("padding"))
            assert drawn.step_padding(int(key.removeprefix("padding"))).amount() in \
                [t.text for t in g.iter(f"{svg}text")]


def test_nothing_is_drawn_as_padding_where_every_sequence_is_real():
    loss, rec = run_packed("lstm", 2, True, np.array([4, 4, 4]))  # packed, but no padding
    assert mt.viz.plan(mt.viz.trace(loss, rec)).padding == {}
    for source in (mt.viz.draw_graph(loss, rec, detail="op").source,
                   mt.viz.draw_graph(*seq2seq_pass([[3, 4], [5, 6]], sources=((3, 4), (5, 6)))).source):
        assert "padding=()" in source  # the tags are there (tooltips show them) ...
        # ... but no padding box, title, outline, note or legend key
        assert not re.search(r"\tpadding|· padding|· all padding|dashed,filled|padding \((greyed|dashed)",
                             source)
        assert PADDING_INK not in source


def user_loop(padding, steps=5, batch=3, detail="op"):
    """A hand-written loop that tags each step with ``padding(t)``."""
    mt.manual_seed(0)
    w = mt.randn(3, 3, requires_grad=True, dtype=mt.float64)
    w.name = "W_hh"
    h = mt.ones(batch, 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        for t in range(steps):
            with mt.scope(layer="rnn", t=t, padding=padding(t), batch=batch):
                h = (h @ w).tanh()
                h.name = "h"
        loss = h.sum()
        loss.backward()
    return mt.viz.draw_graph(loss, rec, detail=detail)


def test_a_step_that_is_padding_for_every_sequence_is_greyed_whole():
    lengths = np.array([3, 1, 2])
    dot = user_loop(lambda t: tuple(np.flatnonzero(lengths <= t)))
    drawn, source = dot.plan, dot.source
    assert {s: (drawn.step_padding(s).count, drawn.step_padding(s).full) for s in drawn.padding} == {
        1: (1, False), 2: (2, False), 3: (3, True), 4: (3, True)}
    for step in (3, 4):
        inside = cluster(source, step)
        assert f"label=<<B>t={step} · all padding</B>>" in inside
        assert 'style="rounded,filled,dashed"' in inside and f'fillcolor="{PADDING_FILL}"' in inside
        assert "all 3 sequences" in inside
        for key in drawn.clusters[step]["rnn"]:  # every box in it greyed
            if drawn.boxes[key].kind == "op":
                assert re.search(rf'\t{key} \[[^\n]*fillcolor="{PADDING_FILL}"', source)
    partial = cluster(source, 1)
    assert "label=<<B>t=1 · padding 1 of 3</B>>" in partial and 'style="rounded,filled"' in partial
    cells = user_loop(lambda t: t % 2, detail="cell")  # a count only: which rows is not known
    for box in cells.plan.boxes.values():
        if box.kind == "cell":
            assert (box.step % 2 == 1) == ("padding 1 of 3" in box.lines)
            dashed = re.search(rf'\t{box.key} \[[^\n]*style="rounded,filled,dashed"', cells.source)
            assert bool(dashed) == (box.step % 2 == 1)


@pytest.mark.parametrize("tags, message", [
    ({"padding": -1, "batch": 4}, "scope tag padding=-1 is negative (at layer='rnn', t=2)"),
    ({"padding": 5, "batch": 4}, "scope tag padding=5 is more than batch=4 (at layer='rnn', t=2)"),
    ({"padding": (0, 4), "batch": 4}, "scope tag padding=(0, 4) names row 4, outside batch=4"),
    ({"padding": (-1,), "batch": 4}, "scope tag padding=(-1,) names row -1, outside batch=4"),
    ({"padding": (1, 1), "batch": 4}, "scope tag padding=(1, 1) names a row twice"),
    ({"padding": 2}, "scope tag padding=2 needs batch="),
    ({"padding": 0, "batch": 0}, "scope tag batch=0 must be a positive int"),
    ({"padding": 1, "batch": 2.5}, "scope tag batch=2.5 must be a positive int"),
    ({"padding": "2", "batch": 4}, "scope tag padding='2' must be a count (int) or a tuple of batch rows"),
    ({"padding": True, "batch": 4}, "scope tag padding=True must be a count"),
])
def test_a_bad_padding_tag_is_a_one_line_error_naming_it(tags, message):
    w = mt.ones(2, requires_grad=True)
    with mt.scope(layer="rnn", t=2, **tags):
        y = (w * 2).tanh()
    with pytest.raises(ValueError) as err:
        mt.viz.trace(y.sum())
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="scope tag"):
        mt.viz.draw_graph(y.sum())


def test_the_nodes_of_one_step_must_agree_on_its_padding():
    w = mt.ones(2, requires_grad=True)
    with mt.scope(layer="rnn", t=0, padding=1, batch=4):
        y = w * 2
    with mt.scope(layer="rnn", t=0, padding=2, batch=4):
        y = y.tanh()
        y.name = "h"  # the step's state (a loop without one is warned about)
    with pytest.raises(ValueError, match=r"^scope tag padding: the nodes of rnn at t=0 disagree "
                                         r"\(padding: 1 of 4 sequences / padding: 2 of 4 sequences\)$"):
        mt.viz.plan(mt.viz.trace(y.sum()))


def test_layers_of_one_lane_with_different_batches_get_their_own_padding():
    # Two packed GRUs under one part ("encoder"): their steps share a lane, not a batch.
    class Encoder(mt.nn.Module):
        def __init__(self):
            super().__init__()
            self.words, self.chars = mt.nn.GRU(3, 4), mt.nn.GRU(3, 4)

    class Model(mt.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()

    mt.manual_seed(0)
    encoder = Model().encoder
    with mt.viz.record() as rec:
        _, a = encoder.words(pack_padded_sequence(mt.randn(3, 2, 3), [3, 1]))
        _, b = encoder.chars(pack_padded_sequence(mt.randn(3, 3, 3), [3, 2, 2]))
        loss = a.sum() + b.sum()
        loss.backward()
    dot = mt.viz.draw_graph(loss, rec, detail="op")
    drawn, source = dot.plan, dot.source
    layers = {layer for by_layer in drawn.padding.values() for layer in by_layer}
    assert len(layers) == 2
    at = {t: {layer.split(".")[1]: (p.count, p.batch) for layer, p in by_layer.items()}
          for t, by_layer in drawn.padding.items()}
    assert at == {1: {"words": (1, 2), "chars": (0, 3)}, 2: {"words": (1, 2), "chars": (2, 3)}}
    assert drawn.step_padding(1) is None and set(drawn.padding_text(2).split("; ")) == {
        "encoder.words.l0: padding: 1 of 2 sequences (row 1)",
        "encoder.chars.l0: padding: 2 of 3 sequences (rows 1, 2)"}
    step2 = cluster(source, 2)
    assert "label=<<B>t=2 · padding by layer</B>>" in step2
    assert "encoder.words.l0 · padding 1 of 2" in step2 and "encoder.chars.l0 · padding 2 of 3" in step2
    assert len(drawn.padding_boxes(1)) == 1 and len(drawn.padding_boxes(2)) == 2
    for key in drawn.padding_boxes(2):  # each in its own layer's frame
        layer = drawn.boxes[key].layer
        nested = re.search(rf"subgraph cluster_step2_l\d {{\n\t\tgraph \[[^\n]*label=<{re.escape(layer)} · "
                           rf"[^\n]*\n(?:\t\w[^\n]*\n)*?\t{key} \[", step2)
        assert nested, key
