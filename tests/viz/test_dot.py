"""The DOT source of an unrolled graph: clusters, spine, detail levels, gradients, escaping."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import microtensor as mt


def recorded(net):
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    return loss, rec


def clusters(source):
    return re.findall(r"subgraph (cluster_t\d+) ", source)


def test_one_cluster_per_step_labelled_in_time_order(tiny_rnn):
    loss = tiny_rnn(steps=4).forward()
    source = mt.viz.draw_graph(loss, detail="op").source
    assert clusters(source) == ["cluster_t0", "cluster_t1", "cluster_t2", "cluster_t3"]
    assert [int(t) for t in re.findall(r'label="t=(\d+)', source)] == [0, 1, 2, 3]
    assert "rankdir=BT" in source  # inputs at the bottom, time left to right in rows


def state_edges(source):
    """(tail, head, attributes) of the drawn state edges, in the direction the state flows."""
    out = []
    for attrs in re.findall(r"\t\w+ -> \w+ \[([^\]]*)\]", source):
        if 'constraint="false"' in attrs and "invis" not in attrs:
            flows = re.search(r'id="(\w+?)__(\w+)"', attrs).groups()
            out.append((*flows, attrs))
    return out


def test_spine_edges_connect_consecutive_steps_and_are_bold(tiny_rnn):
    net = tiny_rnn(steps=4)
    dot = mt.viz.draw_graph(net.forward(), detail="op")
    step_of = {n.key: n.step for n in dot.graph.nodes.values()}
    spine = state_edges(dot.source)
    assert sorted((step_of[a], step_of[b]) for a, b, _ in spine) == [(0, 1), (1, 2), (2, 3)]
    for a, _, attrs in spine:
        assert dot.graph.nodes[a].name == "h"
        assert float(re.search(r'penwidth="([\d.]+)"', attrs).group(1)) >= 2.5


def test_shared_weights_get_stand_ins_not_one_edge_per_step(tiny_rnn):
    net = tiny_rnn(steps=5)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op")
    w_key = next(k for k, n in dot.graph.nodes.items() if n.name == "W_hh")
    assert not re.search(rf"\t{w_key} -> ", dot.source)  # no fan-out edges from the weight
    assert "shared by every step" in dot.source
    shares = dot.graph.weight_shares()["W_hh"]
    stand_ins = re.findall(r"\t(proxy\d+) \[label=<<B>W_hh</B><BR/><FONT POINT-SIZE='8'>∂ ([0-9.e+-]+)<",
                           dot.source)
    assert len(stand_ins) == 5
    assert sorted(float(v) for _, v in stand_ins) == pytest.approx(sorted(shares.values()), rel=1e-2)


def test_gradient_annotations_equal_the_real_norms(tiny_rnn):
    net = tiny_rnn(steps=3)
    loss, rec = recorded(net)
    source = mt.viz.draw_graph(loss, rec, detail="op").source
    shown = [float(v) for v in re.findall(r"‖∂L/∂h‖ ([0-9.e+-]+)<", source)]
    expected = [np.linalg.norm(h.grad.data) for h in net.hs]
    assert sorted(shown) == pytest.approx(sorted(expected), rel=1e-2)
    assert "legend" in source and "vanished" in source


def test_vanished_steps_are_greyed(tiny_rnn):
    net = tiny_rnn(steps=12, scale=0.05)  # a contracting recurrence: gradients die out
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op", vanish_below=1e-4)
    norms = dot.graph.step_norms("h")
    vanished = [t for t, n in norms.items() if n < 1e-4]
    assert vanished and vanished[-1] < 11
    for t in range(12):
        header = re.search(rf"subgraph cluster_t{t} \{{\n\t*([^\n]*)", dot.source).group(1)
        assert ("gradient vanished" in header) == (t in vanished)


def test_cell_level_is_one_node_per_step(tiny_rnn):
    net = tiny_rnn(steps=6)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="cell")
    cells = re.findall(r"\t(cell\d+) \[label=<<B>rnn</B><BR/><FONT POINT-SIZE='8'>t=(\d+)<", dot.source)
    assert sorted(int(t) for _, t in cells) == list(range(6))
    assert clusters(dot.source) == []
    assert "Tanh" not in re.sub(r'tooltip="[^"]*"', "", dot.source)  # ops are inside the cells


def test_auto_detail_windows_long_sequences_and_states_the_elided_range(tiny_rnn):
    net = tiny_rnn(steps=20)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, max_op_steps=5)
    assert clusters(dot.source) == [f"cluster_t{t}" for t in range(15, 20)]
    assert len(re.findall(r"\t(cell\d+) \[", dot.source)) == 15
    assert "t=0…14: one node per layer per step (op detail for t=15…19)" in dot.source
    window = mt.viz.draw_graph(loss, rec, window=(3, 5))
    assert clusters(window.source) == ["cluster_t3", "cluster_t4"]
    assert "t=0…2, 5…19: one node per layer per step" in window.source


def test_bptt_order_view_numbers_edges_in_visit_order(tiny_rnn):
    net = tiny_rnn(steps=3)
    loss, rec = recorded(net)
    dot = mt.viz.draw_graph(loss, rec, detail="op", bptt_order=True)
    numbers = [int(n) for n in re.findall(r'xlabel="(\d+)"', dot.source)]
    assert numbers and min(numbers) == 1
    assert 'dir="back"' in dot.source
    # The spine edge into the last step is visited before the one into the first.
    step_of = {n.key: n.step for n in dot.graph.nodes.values()}
    spine = {step_of[b]: int(re.search(r'xlabel="(\d+)"', attrs).group(1))
             for _, b, attrs in state_edges(dot.source)}
    assert spine[2] < spine[1]
    with pytest.raises(ValueError, match="needs a recording"):
        mt.viz.draw_graph(loss, bptt_order=True)


def test_tooltips_carry_op_shape_and_statistics(tiny_rnn):
    net = tiny_rnn(steps=2)
    loss, rec = recorded(net)
    source = mt.viz.draw_graph(loss, rec, detail="op").source
    tip = re.search(r'tooltip="(Tanh h[^"]*)"', source).group(1)
    assert "shape (1, 4) float64" in tip and "layer=rnn, t=" in tip
    assert "value: mean" in tip and "grad: mean" in tip and "max|x|" in tip


@pytest.mark.parametrize("name", ['q"uote', "{brace}", "<b>bold</b> & co", "back\\slash\\n", "]; evil [x"])
def test_names_render_literally_and_cannot_break_the_dot(name):
    w = mt.ones(2, requires_grad=True)
    w.name = name
    h = (w * 2).tanh()
    h.name = name
    dot = mt.viz.draw_graph(h.sum(), title=name)
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert f"<B>{escaped}</B>" in dot.source
    # Graphviz parses it (a syntax error fails the layout) and the SVG shows the name as is.
    try:
        svg = mt.viz.run_dot(dot.source, "svg").decode()
    except mt.viz.GraphvizNotFoundError:
        pytest.skip("no Graphviz program installed (optional tool)")
    texts = [el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]
    assert texts.count(name) >= 3  # the tensor, the parameter and the title


def test_bad_detail_is_refused(tiny_rnn):
    with pytest.raises(ValueError, match="detail must be one of"):
        mt.viz.draw_graph(tiny_rnn(steps=1).forward(), detail="everything")
