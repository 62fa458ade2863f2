"""The recurrent cells: gradients (finite differences), the cell modules, their checks,
and the scope tags and names they leave in the graph."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.nn.cells import gru_cell, lstm_cell, rnn_cell
from microtensor.testing import gradcheck

sizes = st.integers(1, 3)


def _randn(*shape, scale=1.0):
    return (mt.randn(*shape, dtype=mt.float64) * scale).requires_grad_()


def _weights(gates, input_size, hidden, bias):
    bound = 1 / np.sqrt(hidden)
    w_ih, w_hh = _randn(gates * hidden, input_size), _randn(gates * hidden, hidden, scale=bound)
    biases = [_randn(gates * hidden), _randn(gates * hidden)] if bias else [None, None]
    return [w_ih, w_hh, *biases]


# --------------------------------------------------------------- gradients
@given(batch=sizes, input_size=sizes, hidden=sizes, bias=st.booleans(),
       nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_rnn_cell_gradients(batch, input_size, hidden, bias, nonlinearity):
    x, h = _randn(batch, input_size), _randn(batch, hidden)
    params = _weights(1, input_size, hidden, bias)
    assert gradcheck(lambda *a: rnn_cell(*a, nonlinearity=nonlinearity), [x, h, *params])


@given(batch=sizes, input_size=sizes, hidden=sizes, bias=st.booleans())
def test_lstm_cell_gradients(batch, input_size, hidden, bias):
    x, h, c = _randn(batch, input_size), _randn(batch, hidden), _randn(batch, hidden)
    params = _weights(4, input_size, hidden, bias)

    def both_states(x, h, c, *params):  # check h' and c' at once
        return mt.cat(lstm_cell(x, (h, c), *params), dim=-1)

    assert gradcheck(both_states, [x, h, c, *params])


@given(batch=sizes, input_size=sizes, hidden=sizes, bias=st.booleans())
def test_gru_cell_gradients(batch, input_size, hidden, bias):
    x, h = _randn(batch, input_size), _randn(batch, hidden)
    params = _weights(3, input_size, hidden, bias)
    assert gradcheck(gru_cell, [x, h, *params])


def test_unbatched_cell_gradients():
    x, h, c = _randn(3), _randn(2), _randn(2)
    assert gradcheck(lambda x, h, c, *p: mt.cat(lstm_cell(x, (h, c), *p)),
                     [x, h, c, *_weights(4, 3, 2, True)])
    assert gradcheck(gru_cell, [x, h, *_weights(3, 3, 2, True)])


# ------------------------------------------------------ the math, by numpy
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_lstm_cell_matches_the_textbook_equations_in_pytorch_gate_order():
    cell = nn.LSTMCell(3, 2, dtype=mt.float64)
    x, h, c = (mt.randn(4, n, dtype=mt.float64) for n in (3, 2, 2))
    new_h, new_c = cell(x, (h, c))
    z = (x.array @ cell.weight_ih.array.T + cell.bias_ih.array
         + h.array @ cell.weight_hh.array.T + cell.bias_hh.array)
    i, f, g, o = np.split(z, 4, axis=1)
    expected_c = _sigmoid(f) * c.array + _sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(new_c.array, expected_c, rtol=1e-12)
    np.testing.assert_allclose(new_h.array, _sigmoid(o) * np.tanh(expected_c), rtol=1e-12)


def test_gru_cell_matches_pytorch_equations_with_b_hn_inside_the_reset_product():
    cell = nn.GRUCell(3, 2, dtype=mt.float64)
    x, h = mt.randn(4, 3, dtype=mt.float64), mt.randn(4, 2, dtype=mt.float64)
    gx = x.array @ cell.weight_ih.array.T + cell.bias_ih.array
    gh = h.array @ cell.weight_hh.array.T + cell.bias_hh.array
    r = _sigmoid(gx[:, 0:2] + gh[:, 0:2])
    z = _sigmoid(gx[:, 2:4] + gh[:, 2:4])
    n = np.tanh(gx[:, 4:6] + r * gh[:, 4:6])
    np.testing.assert_allclose(cell(x, h).array, (1 - z) * n + z * h.array, rtol=1e-12)


def test_rnn_cell_relu_matches_numpy():
    cell = nn.RNNCell(3, 2, nonlinearity="relu", dtype=mt.float64)
    x, h = mt.randn(4, 3, dtype=mt.float64), mt.randn(4, 2, dtype=mt.float64)
    z = (x.array @ cell.weight_ih.array.T + cell.bias_ih.array
         + h.array @ cell.weight_hh.array.T + cell.bias_hh.array)
    np.testing.assert_allclose(cell(x, h).array, np.maximum(z, 0), rtol=1e-12)


# ------------------------------------------------------------ the modules
@pytest.mark.parametrize("cls, gates", [(nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)])
def test_cell_parameters_follow_pytorch(cls, gates):
    cell = cls(3, 5)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (gates * 5, 3)), ("weight_hh", (gates * 5, 5)),
        ("bias_ih", (gates * 5,)), ("bias_hh", (gates * 5,))]
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.array).max() <= bound for p in cell.parameters())
    assert [n for n, _ in cls(3, 5, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
    assert repr(cls(3, 5, bias=False)) == f"{cls.__name__}(3, 5, bias=False)"


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_default_state_is_zeros_and_unbatched_input_works(cls):
    cell = cls(3, 2)
    x = mt.randn(3)
    zeros = (mt.zeros(2), mt.zeros(2)) if cls is nn.LSTMCell else mt.zeros(2)
    unbatched = _as_tuple(cell(x))
    with_zeros = _as_tuple(cell(x, zeros))
    batch_of_one = _as_tuple(cell(x.unsqueeze(0)))
    for state, explicit, batched in zip(unbatched, with_zeros, batch_of_one):
        assert state.shape == (2,) and batched.shape == (1, 2)
        np.testing.assert_array_equal(state.array, explicit.array)
        np.testing.assert_array_equal(state.array, batched.array[0])


def test_cell_errors_name_the_cell_and_the_shapes():
    cell = nn.LSTMCell(3, 2)
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(batch, 3\) or "
                       r"\(3,\) with input_size 3, got \(4, 5\)"):
        cell(mt.ones(4, 5))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(4, 2\), got \(4, 3\)"):
        cell(mt.ones(4, 3), (mt.zeros(4, 2), mt.zeros(4, 3)))
    with pytest.raises(TypeError, match=r"LSTMCell: hx must be a pair \(h, c\)"):
        cell(mt.ones(4, 3), mt.zeros(4, 2))
    with pytest.raises(TypeError, match="GRUCell: input has dtype float64 but the parameters "
                       "have float32"):
        nn.GRUCell(3, 2)(mt.ones(4, 3, dtype=mt.float64))
    with pytest.raises(TypeError, match="RNNCell: hx has dtype float64"):
        nn.RNNCell(3, 2)(mt.ones(4, 3), mt.zeros(4, 2, dtype=mt.float64))
    with pytest.raises(TypeError, match="RNNCell: input must be a Tensor, got ndarray"):
        nn.RNNCell(3, 2)(np.ones((4, 3)))
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        nn.RNNCell(3, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="GRUCell: hidden_size must be a positive integer, got 0"):
        nn.GRUCell(3, 0)


# ---------------------------------------------------- what a graph shows
def _nodes(output):
    """The op nodes of the output's graph, as the renderer sees them."""
    return [n for n in mt.viz.trace(output).nodes.values() if n.kind == "op"]


def test_lstm_cell_tags_gates_and_names_states():
    model = nn.Sequential(nn.LSTMCell(3, 2))
    x = mt.randn(1, 3, requires_grad=True)
    with mt.scope(t=4):
        h, c = model[0](x)
    assert (h.name, c.name) == ("h", "c")
    by_name = {fn.name: fn.tags for fn in _nodes(h) if fn.name}
    assert by_name["forget"] == {"t": 4, "layer": "0", "cell": nn.LSTMCell, "gate": "forget"}
    assert {"input", "forget", "candidate", "output", "c", "h"} <= set(by_name)
    assert all(fn.tags["layer"] == "0" for fn in _nodes(h))


def test_gru_cell_names_its_gates():
    h = nn.GRUCell(3, 2)(mt.randn(1, 3, requires_grad=True))
    gates = {fn.tags.get("gate") for fn in _nodes(h)}
    assert gates == {None, "reset", "update", "new"}
    assert {"reset", "update", "new", "h"} <= {fn.name for fn in _nodes(h)}
    assert dict(h.grad_fn.scope) == {"layer": "grucell", "cell": nn.GRUCell}  # a standalone cell


def test_state_names_say_which_states_each_cell_carries():
    assert nn.RNNCell.state_names == nn.GRUCell.state_names == ("h",)
    assert nn.LSTMCell.state_names == ("h", "c")
    cell = nn.LSTMCell(2, 3)
    assert len(cell(mt.ones(1, 2))) == len(cell.state_names)


def test_gate_names_declare_the_gates_each_step_computes_in_display_order():
    assert nn.LSTMCell.gate_names == ("forget", "input", "candidate", "output")
    assert nn.GRUCell.gate_names == ("reset", "update", "new") and nn.RNNCell.gate_names == ()
    for cell in (nn.RNNCell, nn.LSTMCell, nn.GRUCell):
        out = cell(2, 3)(mt.randn(1, 2, requires_grad=True))
        h = out[0] if isinstance(out, tuple) else out
        assert {fn.tags.get("gate") for fn in _nodes(h)} - {None} == set(cell.gate_names)
        assert all(fn.cell is cell for fn in _nodes(h))  # every op of the step carries its cell
    for layer in (nn.RNN, nn.LSTM, nn.GRU):  # the sequence layers copy the declarations
        assert (layer.gate_names, layer.gate_labels) == (layer.cell.gate_names, layer.cell.gate_labels)


def test_gate_labels_are_the_classic_explanation_and_read_only():
    assert dict(nn.LSTMCell.gate_labels) == {
        "forget": "forget gate", "input": "learn gate: ignore", "candidate": "learn gate: new",
        "output": "use gate", "c": "remember gate"}
    assert dict(nn.GRUCell.gate_labels) == dict(nn.RNNCell.gate_labels) == {}
    with pytest.raises(TypeError):
        nn.RNNCell.gate_labels["h"] = "shared by every cell that declares none"
