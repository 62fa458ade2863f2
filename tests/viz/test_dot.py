"""The DOT source of an unrolled graph: step frames, the state line, detail levels, gradients,
names, pinned positions, escaping."""

import html
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.plan import PADDING_FILL


def recorded(net):
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    return loss, rec


def frames(source):
    """step -> (title, attributes) of each titled step frame (op-level steps), in source order."""
    found = {}
    for step, attrs in re.findall(r"\tsubgraph cluster_step(\d+) \{\n\t\tgraph \[([^\n]*)\]", source):
        title = re.search(r"label=<<B>(.*?)</B>>", attrs)
        if title:
            found[int(step)] = (html.unescape(title.group(1)), attrs)
    return found


def boxes(source):
    """key -> the attributes of each drawn box."""
    return dict(re.findall(r"^\t\t?(\w+) \[(label=<.*)\]$", source, re.M))


def edges(source):
    """(tail, head, {attribute: value}) of every drawn edge."""
    return [(a, b, dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', attrs)))
            for a, b, attrs in re.findall(r"^\t(\w+) -> (\w+) \[(.*)\]$", source, re.M)]


def state_edges(dot):
    """(source box, destination box, [attributes of each drawn piece]) of every state edge, from the
    edges' ids: one piece, or two (``__out``, ``__in``) for a state that continues on the next row."""
    state = {link.key: link for link in dot.plan.links if link.state}
    pieces = {}
    for _, _, attrs in edges(dot.source):
        key = re.sub(r"__(out|in)$", "", attrs["id"])
        if key in state:
            pieces.setdefault(key, []).append(attrs)
    return [(state[key].src, state[key].dst, found) for key, found in pieces.items()]


def pos(attrs):
    x, y = re.search(r'pos="([\d.-]+),([\d.-]+)!"', attrs).groups()
    return float(x), float(y)


def lstm_picture(**options):
    mt.manual_seed(0)
    lstm = mt.nn.LSTM(3, 4, dtype=mt.float64, **options)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(3, 2, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    return loss, rec


def test_one_titled_frame_per_step_in_time_order_with_every_box_pinned(tiny_rnn):
    dot = mt.viz.draw_graph(tiny_rnn(steps=4).forward(), detail="op")
    source, drawn = dot.source, dot.plan
    found = frames(source)
    assert list(found) == [0, 1, 2, 3]
    assert [title for title, _ in found.values()] == ["t=0", "t=1", "t=2", "t=3"]
    assert all(f'id="step{t}"' in attrs for t, (_, attrs) in found.items())
    # Laid out already: neato -n2 draws every box and edge where the layout put it.
    assert "layout=neato" in source
    drawn_boxes = boxes(source)
    assert set(drawn.boxes) <= set(drawn_boxes)
    assert all(re.search(r'pos="[\d.-]+,[\d.-]+!"', attrs) for attrs in drawn_boxes.values())
    assert all(re.fullmatch(r"(e,)?[\d., -]+", attrs["pos"]) for _, _, attrs in edges(source))
    # Time runs left to right within a row, rows top to bottom; the inputs sit below the state.
    assert [t for row in drawn.rows for t in row] == [0, 1, 2, 3]
    left = {t: float(re.search(r'bb="([\d.-]+),', attrs).group(1)) for t, (_, attrs) in found.items()}
    for row in drawn.rows:
        assert [left[t] for t in row] == sorted(left[t] for t in row)
    for t in range(4):
        h = next(k for k, b in drawn.boxes.items() if b.step == t and b.role == "h")
        inputs = [k for k, b in drawn.boxes.items()  # x_t (h₀, also a constant, stands on h's line)
                  if b.step == t and b.kind == "const" and b.role != "initial"]
        y = {k: pos(drawn_boxes[k])[1] for k in [h, *inputs]}  # DOT's y runs up
        assert inputs and all(y[k] < y[h] for k in inputs)


def test_state_edges_connect_consecutive_steps_from_h_and_are_bold(tiny_rnn):
    net = tiny_rnn(steps=4)
    dot = mt.viz.draw_graph(net.forward(), detail="op")
    step_of = {k: b.step for k, b in dot.plan.boxes.items()}
    spine = state_edges(dot)
    assert sorted((step_of[a], step_of[b]) for a, b, _ in spine) == [(0, 1), (1, 2), (2, 3)]
    for a, _, pieces in spine:
        assert dot.plan.boxes[a].title == "h" and dot.plan.boxes[a].role == "h"
        for attrs in pieces:
            assert float(attrs["penwidth"]) >= 2.5


def test_a_state_that_continues_on_the_next_row_is_two_dashed_stubs(tiny_rnn):
    net = tiny_rnn(steps=12)
    dot = mt.viz.draw_graph(net.forward(), detail="op")
    drawn = dot.plan
    assert len(drawn.rows) > 1
    row_of = {t: i for i, row in enumerate(drawn.rows) for t in row}
    drawn_boxes = set(boxes(dot.source))
    invisible = dict(re.findall(r"^\t(\w+) \[(shape=point style=invis[^\n]*)\]$", dot.source, re.M))
    wrapped = 0
    for link in drawn.links:
        if not link.state:
            continue
        ids = {attrs["id"]: (a, b, attrs) for a, b, attrs in edges(dot.source)
               if attrs["id"] in (link.key, f"{link.key}__out", f"{link.key}__in")}
        crosses = row_of[drawn.boxes[link.src].step] != row_of[drawn.boxes[link.dst].step]
        assert link.wrap == crosses, link.key
        if not crosses:
            assert set(ids) == {link.key}
            continue
        wrapped += 1
        assert set(ids) == {f"{link.key}__out", f"{link.key}__in"}
        (a, mid_a, out), (mid_b, b, into) = ids[f"{link.key}__out"], ids[f"{link.key}__in"]
        assert (a, b) == (link.src, link.dst)
        assert mid_a in invisible and mid_b in invisible and not {mid_a, mid_b} & drawn_boxes
        assert out["style"] == into["style"] == "dashed"
    assert wrapped == len(drawn.rows) - 1


def test_shared_weights_get_stand_ins_not_one_edge_per_step(tiny_rnn):
    net = tiny_rnn(steps=5)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op")
    w_key = next(k for k, n in dot.graph.nodes.items() if n.name == "W_hh")
    assert not re.search(rf"\t{w_key} -> ", dot.source)  # no fan-out edges from the weight
    assert "shared by every step" in boxes(dot.source)[w_key]
    shares = dot.graph.weight_shares()["W_hh"]
    stand_ins = re.findall(r"\t(proxy\d+) \[label=<<B>W_hh</B><BR/><FONT POINT-SIZE='\d+'>"
                           r"(?:‖∂‖ ([0-9.e+-]+)|no gradient \(exactly 0\))<", dot.source)
    assert len(stand_ins) == 5
    assert {dot.plan.boxes[k].step for k, _ in stand_ins} == set(range(5))  # one in each step
    assert all(dot.plan.boxes[k].copies == w_key for k, _ in stand_ins)
    assert sorted(float(v or 0) for _, v in stand_ins) == pytest.approx(sorted(shares.values()), rel=1e-2)


def test_gradient_annotations_equal_the_real_norms(tiny_rnn):
    net = tiny_rnn(steps=3)
    loss, rec = recorded(net)
    source = mt.viz.draw_graph(loss, rec, detail="op").source
    shown = [float(v) for v in re.findall(r"‖∂L/∂h‖ ([0-9.e+-]+)<", source)]
    expected = [np.linalg.norm(h.grad.array) for h in net.hs]
    assert sorted(shown) == pytest.approx(sorted(expected), rel=1e-2)
    assert "legend" in source and "vanished" in source


def test_vanished_steps_are_greyed_and_say_so(tiny_rnn):
    net = tiny_rnn(steps=12, scale=0.05)  # a contracting recurrence: gradients die out
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op", vanish_below=1e-4)
    norms = dot.graph.step_norms("h")
    vanished = [t for t, n in norms.items() if n < 1e-4]
    assert vanished and vanished[-1] < 11
    assert dot.plan.vanished == set(vanished) and dot.plan.no_gradient == set()
    found = frames(dot.source)
    assert set(found) == set(range(12))
    for t, (title, attrs) in found.items():
        assert title == (f"t={t} · gradient vanished" if t in vanished else f"t={t}")
        assert (f'fillcolor="{PADDING_FILL}"' in attrs) == (t in vanished)


def test_steps_no_gradient_path_reaches_say_so_apart_from_vanished():
    mt.manual_seed(0)
    rnn = mt.nn.RNN(3, 4, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = rnn(mt.randn(4, 2, 3, dtype=mt.float64))
        loss = (out[1] ** 2).sum()  # steps 2 and 3 do not matter to the loss at all
        loss.backward()
    dot = mt.viz.draw_graph(loss, rec, detail="op")
    assert dot.plan.no_gradient == {2, 3} and dot.plan.vanished == set()
    assert {t: title for t, (title, _) in frames(dot.source).items()} == {
        0: "t=0", 1: "t=1", 2: "t=2 · no gradient (exactly 0)", 3: "t=3 · no gradient (exactly 0)"}
    assert "no gradient (exactly 0) at t=2…3" in dot.source
    for t in (2, 3):
        h = next(b for b in dot.plan.boxes.values() if b.step == t and b.role == "h")
        assert h.no_gradient and "no gradient (exactly 0)" in h.lines


def test_an_exact_zero_says_no_gradient_whether_nothing_reads_it_or_a_factor_is_zero():
    # With zero initial states, ∂L/∂f at t=0 is ∂L/∂(f ⊙ c₀) ⊙ c₀ = 0 exactly, and so is W_hh's share
    # of it (h₀ W_hhᵀ): nothing to forget yet. The outputs of t=0 and t=1 get exactly zero too: the
    # loss reads out[-1] only. Neither faded, so neither is "vanished", and neither claims a cause.
    dot = mt.viz.draw_graph(*lstm_picture(), detail="op")
    drawn = dot.plan
    first = {b.title: b for b in drawn.boxes.values() if b.step == 0}
    assert first["f ⊙ c₀"].norm > 0 and first["h₀ W_hhᵀ"].norm > 0
    stacked = next(k for k, b in drawn.boxes.items() if b.title == "outputs y (stacked)" and b.step is None)
    assert {b.step: b.no_gradient for b in drawn.boxes.values() if b.copies == stacked} == {0: True, 1: True}
    for name in ("forget", "f pre-activation", "W_hhᵀ"):
        box = first[name]
        assert box.norm == 0 and box.no_gradient, name
        assert "no gradient (exactly 0)" in boxes(dot.source)[box.key], name
    assert "path" not in dot.source.replace("neato", "")  # a zero says what it is, not why


def test_cell_level_is_one_box_per_step_titled_with_the_step(tiny_rnn):
    net = tiny_rnn(steps=6)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="cell")
    cells = re.findall(r"\t(cell\d+) \[label=<<B>t=(\d+)</B><BR/><FONT POINT-SIZE='\d+'>rnn<", dot.source)
    assert sorted(int(t) for _, t in cells) == list(range(6))
    assert all(dot.plan.boxes[k].lines[0] == "rnn" for k, _ in cells)  # the layer, under the step
    assert frames(dot.source) == {}  # no titled op-level frames
    assert "Tanh" not in re.sub(r'tooltip="[^"]*"', "", dot.source)  # ops are inside the cells


def test_auto_detail_windows_long_sequences_and_states_the_elided_range(tiny_rnn):
    net = tiny_rnn(steps=20)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, max_op_steps=5)
    assert list(frames(dot.source)) == list(range(15, 20))
    assert len(re.findall(r"\t(cell\d+) \[", dot.source)) == 15
    assert "t=0…14: one box per layer per step (op detail for t=15…19)" in dot.source
    window = mt.viz.draw_graph(loss, rec, window=(3, 5))
    assert list(frames(window.source)) == [3, 4]
    assert "t=0…2, 5…19: one box per layer per step" in window.source


def test_bptt_order_view_numbers_edges_in_visit_order(tiny_rnn):
    net = tiny_rnn(steps=3)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op", bptt_order=True)
    numbers = [int(n) for n in re.findall(r'xlabel="(\d+)"', dot.source)]
    assert numbers and min(numbers) == 1
    assert 'dir="back"' in dot.source
    # The state edge into the last step is visited before the one into the first.
    step_of = {k: b.step for k, b in dot.plan.boxes.items()}
    spine = {step_of[b]: int(pieces[0]["xlabel"]) for _, b, pieces in state_edges(dot)}
    assert set(spine) == {1, 2} and spine[2] < spine[1]
    with pytest.raises(ValueError, match="needs a recording"):
        mt.viz.draw_graph(loss, bptt_order=True)


def test_tooltips_carry_op_shape_and_statistics(tiny_rnn):
    net = tiny_rnn(steps=2)
    loss, rec = recorded(net)
    source = mt.viz.draw_graph(loss, rec, detail="op").source
    tip = re.search(r'tooltip="(h · Tanh[^"]*)"', source).group(1)
    assert "shape (1, 4) float64" in tip and "layer=rnn, t=" in tip
    assert "value: mean" in tip and "grad: mean" in tip and "max|x|" in tip


def test_boxes_are_named_by_what_they_are_with_the_op_on_the_first_small_line():
    dot = mt.viz.draw_graph(*lstm_picture(), detail="op")
    titled = {}
    for attrs in boxes(dot.source).values():
        title, *small = re.findall(r"<B>(.*?)</B>|<FONT POINT-SIZE='\d+'>(.*?)</FONT>", attrs)
        titled.setdefault(title[0], []).append([s[1] for s in small])
    for name in ("W_hhᵀ", "x_t W_ihᵀ", "f pre-activation", "h₀", "c₀", "h W_hhᵀ", "f ⊙ c",
                 "outputs y (stacked)", "loss"):
        assert name in titled, name
    assert titled["f ⊙ c"][0][0] == "Mul (2, 4)" and titled["loss"][0][0] == "Sum ()"
    roles = {b.role for b in dot.plan.boxes.values()}
    assert {"h", "c", "forget", "input", "candidate", "output", "loss", "param", "initial",
            "stand_in"} <= roles
    forget = [b for b in dot.plan.boxes.values() if b.role == "forget"]
    assert len(forget) == 3 and all(b.lines[0] == "Sigmoid (2, 4)" for b in forget)


@pytest.mark.parametrize("h_first", [False, True], ids=["x U + h W", "h W + x U"])
def test_a_textbook_loops_initial_state_is_h0_and_its_input_is_not(h_first):
    # h_t = tanh(x_t U + h_{t-1} W) from h_0 = 0: both products are MatMuls of an untagged input.
    rng = np.random.default_rng(0)
    w_xh = mt.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    w_hh = mt.tensor(rng.normal(size=(4, 4)), requires_grad=True)
    w_xh.name, w_hh.name = "W_xh", "W_hh"
    h = mt.zeros(1, 4, dtype=mt.float64)
    for t in range(3):
        x = mt.tensor(rng.normal(size=(1, 3)))
        with mt.scope(layer="rnn", t=t):
            h = ((h @ w_hh + x @ w_xh) if h_first else (x @ w_xh + h @ w_hh)).tanh()
            h.name = "h"
    drawn = mt.viz.plan(mt.viz.trace(h.sum()), detail="op")
    first = [b for b in drawn.boxes.values() if b.step == 0]
    assert sorted((b.title, b.lines[0]) for b in first if b.role == "initial") == [("h₀", "(1, 4)")]
    assert sorted((b.title, b.lines[0]) for b in first if b.kind == "const" and b.role != "initial") == [
        ("input", "(1, 3)")]  # x_0 is no state
    assert "h₀ W_hh" in {b.title for b in first}


def test_a_step_of_several_layers_frames_each_layer():
    mt.manual_seed(0)
    rnn = mt.nn.RNN(3, 4, num_layers=2, dtype=mt.float64)
    out, _ = rnn(mt.randn(2, 1, 3, dtype=mt.float64))
    loss = out.sum()
    source = mt.viz.draw_graph(loss, detail="op").source
    layers = re.findall(r"\tsubgraph cluster_step(\d)_l(\d) \{\n\t\tgraph \[[^\n]*label=<([^>]*)>[^\n]*"
                        r'id="step(\d_l\d)"', source)
    assert sorted(layers) == [("0", "0", "rnn.l0", "0_l0"), ("0", "1", "rnn.l1", "0_l1"),
                              ("1", "0", "rnn.l0", "1_l0"), ("1", "1", "rnn.l1", "1_l1")]
    one = mt.viz.draw_graph(mt.nn.RNN(3, 4)(mt.randn(2, 1, 3))[0].sum(), detail="op").source
    assert list(frames(one)) == [0, 1] and "cluster_step0_l" not in one


def test_tokens_label_the_steps():
    dot = mt.viz.draw_graph(*lstm_picture(), detail="auto", max_op_steps=2, tokens=["s", "o", "p"])
    assert {t: title for t, (title, _) in frames(dot.source).items()} == {1: "t=1 · ‘o’", 2: "t=2 · ‘p’"}
    assert re.search(r"\tcell\d+ \[label=<<B>t=0 · ‘s’</B>", dot.source)
    with pytest.raises(ValueError, match="tokens"):
        mt.viz.draw_graph(*lstm_picture(), tokens=["too", "few"])


@pytest.mark.parametrize("name", ['q"uote', "{brace}", "<b>bold</b> & co", "back\\slash\\n", "]; evil [x"])
def test_names_render_literally_and_cannot_break_the_dot(name):
    w = mt.ones(2, requires_grad=True)
    w.name = name
    h = (w * 2).tanh()
    h.name = name
    dot = mt.viz.draw_graph(h.sum(), title=name)
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert f"<B>{escaped}</B>" in dot.source
    # Graphviz parses it (a syntax error fails the drawing) and the SVG shows the name as is.
    try:
        svg = dot.svg()
    except mt.viz.GraphvizNotFoundError:
        pytest.skip("no Graphviz program installed (optional tool)")
    texts = [el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]
    assert texts.count(name) >= 3  # the tensor, the parameter and the title


def test_bad_detail_is_refused(tiny_rnn):
    with pytest.raises(ValueError, match="detail must be one of"):
        mt.viz.draw_graph(tiny_rnn(steps=1).forward(), detail="everything")
