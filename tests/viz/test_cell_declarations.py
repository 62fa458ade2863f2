"""Recurrent steps carry their cell's declarations (the ``cell`` scope tag), and the trace reads
states and gates from there: a cell of one's own, with any state name, gets step norms and
named gate boxes, and defining it changes nothing for the built-in layers."""

import re
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.nn.cells import RNNCellBase
from microtensor.nn.recurrent import RNNBase

CELL_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "nn" / "adding_a_cell.md"


def readme_mgu() -> dict:
    """Run the minimal gated unit example of docs/nn/adding_a_cell.md as written and
    return its namespace: the classes ``MGUCell`` and ``MGU``, its ``graph``..."""
    blocks = re.findall(r"```python\n(.*?)```", CELL_GUIDE.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "def mgu_step" in b]
    namespace: dict = {}
    exec(compile(textwrap.dedent(block), "docs/nn/adding_a_cell.md MGU example", "exec"), namespace)
    return namespace


def define_a_cell() -> tuple[type, type]:
    """A new cell whose state is called ``a`` (a plain tanh RNN) with one gate named only by
    ``mt.nn.gate``, and its sequence layer. Defined afresh at each call: the old renderer
    changed its mind for every cell class defined anywhere."""

    def a_step(x_proj, state, weight_hh_t, bias_hh=None):
        (a,) = state
        with mt.nn.gate("mix"):
            mixed = (x_proj + a @ weight_hh_t).tanh()  # no name: trace names it "mix"
        mixed = mixed * 1.0  # leaves the gate's block
        mixed.name = "a"
        return (mixed,)

    cell = type("ACell", (RNNCellBase,), {"state_names": ("a",), "gate_names": ("mix",),
                                          "step": staticmethod(a_step)})
    return cell, type("ALayer", (RNNBase,), {"cell": cell})


def record_norms(layer, steps=6, batch=2, seed=0):
    """The layer's graph after a backward pass of the sum of squared outputs, seeded."""
    mt.manual_seed(seed)
    x = mt.randn(steps, batch, layer.input_size, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = layer(x)
        loss = (out ** 2).sum()
        loss.backward()
    return mt.viz.trace(loss, rec)


def watched(cell: type, kept: list) -> type:
    """A subclass of ``cell`` whose step keeps its states, their gradients retained."""
    step = cell.step

    def keeping(*args, **kwargs):
        state = step(*args, **kwargs)
        for s in state:
            s.retain_grad()
            kept.append(s)
        return state

    return type(f"Watched{cell.__name__}", (cell,), {"step": staticmethod(keeping)})


def true_norms(kept: list, name: str) -> dict[str, dict[int, float]]:
    """The norm of each kept state's real gradient, by the layer and step it was made at."""
    norms: dict[str, dict[int, float]] = {}
    for s in kept:
        if s.name == name:
            tags = dict(s.grad_fn.scope)
            norms.setdefault(tags["layer"], {})[tags["t"]] = float(np.linalg.norm(s.grad.array))
    return norms


# ---------------------------------------------------------------- the guide's cell
def test_the_readme_mgu_runs_and_gets_norms_for_every_layer_direction_and_step():
    ns = readme_mgu()
    graph = ns["graph"]
    assert ns["MGU"].gate_names == ns["MGUCell"].gate_names == ("forget", "candidate")
    layers = ["mgu.l0", "mgu.l0_reverse", "mgu.l1", "mgu.l1_reverse"]
    assert {layer: sorted(norms) for layer, norms in ns["norms"].items()} == {
        layer: [0, 1, 2, 3, 4] for layer in layers}
    for gate, op in (("forget", "Sigmoid"), ("candidate", "Tanh")):  # named by mt.nn.gate alone
        boxes = graph.named(gate)
        assert {(n.layer, n.step) for n in boxes} == {(layer, t) for layer in layers for t in range(5)}
        assert all(n.op == op and n.tags["gate"] == gate and n.gates == ("forget", "candidate")
                   for n in boxes)
    assert graph.step_norms(layer="mgu.l1") == ns["norms"]["mgu.l1"]


def test_the_readme_mgu_step_is_zhou_et_al():
    """h_t = (1 - f_t) * h_{t-1} + f_t * tanh(W_n [f_t * h_{t-1}, x_t] + b_n) (Zhou et al., 2016)."""
    ns = readme_mgu()
    cell = ns["MGUCell"](3, 4, dtype=mt.float64)
    x, h = mt.randn(2, 3, dtype=mt.float64), mt.randn(2, 4, dtype=mt.float64)
    w_ih, w_hh = cell.weight_ih.array, cell.weight_hh.array
    b = cell.bias_ih.array + cell.bias_hh.array

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    f = sigmoid(x.array @ w_ih[:4].T + h.array @ w_hh[:4].T + b[:4])
    n = np.tanh(x.array @ w_ih[4:].T + (f * h.array) @ w_hh[4:].T + b[4:])
    np.testing.assert_allclose(cell(x, h).array, (1 - f) * h.array + f * n, rtol=1e-13)


# ------------------------------------------------------------- any state name
def test_a_cell_whose_state_is_a_gets_step_norms_and_its_gate_box():
    cell, layer = define_a_cell()
    kept = []
    watching = type("Watching", (layer,), {"cell": watched(cell, kept)})
    graph = record_norms(watching(3, 4, dtype=mt.float64))
    expected = true_norms(kept, "a")["watching.l0"]
    assert sorted(graph.step_norms()) == list(range(6))
    np.testing.assert_allclose([graph.step_norms()[t] for t in range(6)],
                               [expected[t] for t in range(6)], rtol=1e-12)
    mix = graph.named("mix")
    assert sorted(n.step for n in mix) == list(range(6)) and all(n.op == "Tanh" for n in mix)
    assert all(n.states == ("a",) and n.cell.__name__ == "WatchedACell" for n in mix)


@settings(max_examples=15, deadline=None)
@given(steps=st.integers(1, 4), num_layers=st.integers(1, 2), bidirectional=st.booleans())
def test_layer_norms_are_each_layer_and_directions_own_state_gradients(steps, num_layers,
                                                                        bidirectional):
    cell, layer = define_a_cell()
    kept = []
    watching = type("Watching", (layer,), {"cell": watched(cell, kept)})
    graph = record_norms(watching(2, 3, num_layers=num_layers, bidirectional=bidirectional,
                                  dtype=mt.float64), steps=steps)
    expected = true_norms(kept, "a")
    norms = graph.layer_norms()
    assert sorted(norms) == sorted(expected) and len(norms) == num_layers * (1 + bidirectional)
    for name, by_step in expected.items():
        assert sorted(norms[name]) == sorted(by_step)
        np.testing.assert_allclose([norms[name][t] for t in by_step], list(by_step.values()),
                                   rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------- directions apart
def test_a_bidirectional_lstm_keeps_its_directions_apart():
    """Finding 13: one number per position mixed the forward pass's gradient at t with the
    reverse pass's (hypot(1.584, 1.021) = 1.884); each direction is its own h's gradient."""
    kept = []
    lstm = type("WatchedLSTM", (nn.LSTM,), {"cell": watched(nn.LSTMCell, kept)})
    graph = record_norms(lstm(3, 4, bidirectional=True, dtype=mt.float64), steps=10)
    expected = true_norms(kept, "h")
    norms = graph.layer_norms()
    assert sorted(norms) == ["watchedlstm.l0", "watchedlstm.l0_reverse"]
    for name in norms:
        assert graph.step_norms(layer=name) == norms[name]
        np.testing.assert_allclose([norms[name][t] for t in range(10)],
                                   [expected[name][t] for t in range(10)], rtol=1e-12)
    forward, reverse = norms["watchedlstm.l0"][9], norms["watchedlstm.l0_reverse"][9]
    assert forward != pytest.approx(reverse)  # the two really differ: mixing them loses both
    with pytest.raises(ValueError) as raised:
        graph.step_norms()
    assert str(raised.value) == (
        "step_norms: the graph holds both directions (layers watchedlstm.l0, "
        "watchedlstm.l0_reverse); pass layer= one of them, or use layer_norms() for each layer apart")


def test_layers_of_one_direction_still_add_up_per_step():
    graph = record_norms(nn.GRU(3, 4, num_layers=2, dtype=mt.float64), steps=4)
    norms = graph.layer_norms()
    assert graph.step_norms() == {t: float(np.hypot(norms["gru.l0"][t], norms["gru.l1"][t]))
                                  for t in range(4)}


# ------------------------------------------------------------- no global registry
def test_defining_cells_does_not_change_the_builtin_lstms_norms():
    lstm = nn.LSTM(3, 5, num_layers=2, dtype=mt.float64)
    bidirectional = nn.LSTM(3, 5, bidirectional=True, dtype=mt.float64)
    before = record_norms(lstm).step_norms(), record_norms(bidirectional).layer_norms()
    assert sorted(before[0]) == list(range(6)) and all(len(v) == 6 for v in before[1].values())
    # Kept alive while the norms are computed again: a class nothing holds may be collected.
    defined = define_a_cell(), readme_mgu()  # the first's state ("a",) sorts before "h"
    after = record_norms(lstm).step_norms(), record_norms(bidirectional).layer_norms()
    assert after == before and defined


# ------------------------------------------------------------- declarations
def test_bad_gate_declarations_fail_at_class_creation_in_one_line():
    step = staticmethod(nn.cells.rnn_step)
    cases = [
        ({"gate_names": "forget"}, "BadCell: gate_names must be a tuple of distinct str, got 'forget'"),
        ({"gate_names": ("forget", 1)},
         "BadCell: gate_names must be a tuple of distinct str, got ('forget', 1)"),
        ({"gate_names": ("f", "f")}, "BadCell: gate_names must be a tuple of distinct str, got ('f', 'f')"),
        ({"gate_labels": {"f": 1}, "gate_names": ("f",)}, "BadCell: gate_labels must map names to str"),
        ({"gate_labels": {"g": "gate"}, "gate_names": ("f",)},
         "BadCell: gate_labels labels 'g', which is neither a gate nor a state ('f', 'h')"),
    ]
    for declared, message in cases:
        with pytest.raises(TypeError) as raised:
            type("BadCell", (RNNCellBase,), {"step": step, **declared})
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_cell_tag_that_is_not_a_declaration_fails_in_trace():
    x = mt.ones(2, requires_grad=True)
    with mt.scope(layer="rnn", t=0, cell=SimpleNamespace(state_names=("h",))):
        h = x.tanh()
    h.name = "h"
    with pytest.raises(TypeError, match=r"^scope tag cell=namespace\(state_names=\('h',\)\): "
                                        r"declare gate_names \(see RNNCellBase\)$"):
        mt.viz.trace(h.sum())


# ------------------------------------------------------------- mt.nn.gate
def test_gate_is_the_gate_scope_tag():
    x = mt.ones(2, requires_grad=True)
    with mt.nn.gate("forget"):
        a = x.sigmoid()
    with mt.scope(gate="forget"):
        b = x.sigmoid()
    assert dict(a.grad_fn.scope) == dict(b.grad_fn.scope) == {"gate": "forget"}
    with pytest.raises(TypeError, match="^gate: the name must be a str, got 3$"):
        mt.nn.gate(3)


def test_trace_names_the_tensor_that_leaves_the_gate_only():
    x = mt.ones(2, requires_grad=True)
    with mt.nn.gate("update"):
        inside = x.sigmoid()
        gate = inside * 2  # the gate's tensor: used outside the block
    named = gate + 1
    named.name = "h"
    with mt.nn.gate("kept"):
        kept = x.tanh()
        kept.name = "mine"  # a name of its own stays
    with mt.nn.gate("outer"), mt.nn.gate("inner"):
        nested = x.exp()  # the innermost gate names it
    graph = mt.viz.trace((named + kept + nested).sum())
    names = {n.op: n.name for n in graph.nodes.values() if n.kind == "op"}
    assert names["Sigmoid"] is None and names["Mul"] == "update" and names["Tanh"] == "mine"
    assert names["Exp"] == "inner"
    with mt.nn.gate("last"):
        out = x.sigmoid().sum()  # the output itself leaves the block
    assert mt.viz.trace(out).nodes[mt.viz.trace(out).output].name == "last"


def test_builtin_cells_keep_their_explicit_gate_names():
    graph = record_norms(nn.LSTM(2, 3, dtype=mt.float64), steps=2)
    gates = {n.tags["gate"]: n.name for n in graph.nodes.values() if n.op in ("Sigmoid", "Tanh")
             and "gate" in n.tags}
    assert gates == {g: g for g in nn.LSTMCell.gate_names}


# ------------------------------------------------------------- Node's reading of the tags
def test_node_reads_states_gates_labels_and_direction_from_its_tags():
    graph = record_norms(nn.LSTM(2, 3, bidirectional=True, dtype=mt.float64), steps=2)
    c = [n for n in graph.named("c") if n.direction == "reverse"][0]
    assert c.cell is nn.LSTMCell and c.states == ("h", "c") and c.layer == "lstm.l0_reverse"
    assert c.gates == ("forget", "input", "candidate", "output")
    assert c.gate_labels["c"] == "remember gate"
    c.gate_labels["c"] = "changed"  # a copy: the declaration stays
    assert nn.LSTMCell.gate_labels["c"] == "remember gate"
    forward = [n for n in graph.named("h") if n.layer == "lstm.l0"][0]
    assert forward.direction == "forward"
    params = [n for n in graph.nodes.values() if n.kind == "param"]
    assert all(n.cell is None and n.states == ("h",) and n.gates == () and n.gate_labels == {}
               and n.direction is None for n in params)


# ------------------------------------------------------------- the warning
def test_a_loop_with_steps_and_no_state_name_is_warned_about():
    x, w = mt.randn(3, 1, 4), mt.randn(4, 4, requires_grad=True)
    h = mt.zeros(1, 4)
    for t in range(3):
        with mt.scope(layer="rnn", t=t):
            h = (x[t] + h @ w).tanh()
    with pytest.warns(UserWarning) as caught:
        mt.viz.trace(h.sum())
    (warning,) = caught
    message = str(warning.message)
    assert "\n" not in message and "no tensor named 'h'" in message
    assert 'h.name = "h"' in message and "cell=" in message and "state_names" in message
    assert warning.filename == __file__  # points at the caller of trace


def _no_warning(trace):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return trace()


def test_the_readme_loop_that_names_h_and_a_tagged_loop_are_not_warned_about():
    # The hand-written loop of docs/viz/index.md ("Padding"), as written there.
    lengths = np.array([3, 1, 2])
    x, W = mt.randn(3, 3, 4), mt.randn(4, 4, requires_grad=True)  # noqa: N806 - the guide's names
    h = mt.zeros(3, 4)
    with mt.viz.record() as rec:
        for t in range(3):
            with mt.scope(layer="rnn", t=t, padding=tuple(np.flatnonzero(lengths <= t)), batch=3):
                h = (x[t] + h @ W).tanh(); h.name = "h"  # noqa: E702 - as the guide writes it
        loss = h.sum()
        loss.backward()
    assert sorted(_no_warning(lambda: mt.viz.trace(loss, rec)).step_norms()) == [0, 1, 2]

    # A loop whose state is "a", declared by a cell tag that is not a class at all.
    memory = SimpleNamespace(state_names=("a",), gate_names=(), gate_labels={})
    a = mt.zeros(1, 4)
    with mt.viz.record() as rec:
        for t in range(3):
            with mt.scope(layer="loop", t=t, cell=memory):
                a = (x[t, :1] + a @ W).tanh()
                a.name = "a"
        loss = a.sum()
        loss.backward()
    graph = _no_warning(lambda: mt.viz.trace(loss, rec))
    assert sorted(graph.step_norms()) == [0, 1, 2] and graph.named("a")[0].states == ("a",)
