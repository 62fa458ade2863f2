"""The sequence layers RNN, LSTM and GRU: agreement with a loop of cells, layouts,
stacking, initial states, dropout between layers, gradients, checks and graph tags."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.testing import gradcheck

F64 = mt.float64
LAYERS = {"rnn_tanh": (nn.RNN, nn.RNNCell, {}),
          "rnn_relu": (nn.RNN, nn.RNNCell, {"nonlinearity": "relu"}),
          "lstm": (nn.LSTM, nn.LSTMCell, {}),
          "gru": (nn.GRU, nn.GRUCell, {})}


def _states(output):
    """A layer's final state as a tuple: (h_n,) or (h_n, c_n)."""
    return output if isinstance(output, tuple) else (output,)


@pytest.mark.parametrize("kind", LAYERS)
def test_one_layer_equals_a_loop_of_cells_including_gradients(kind):
    layer_cls, cell_cls, options = LAYERS[kind]
    layer = layer_cls(3, 4, dtype=F64, **options)
    cell = cell_cls(3, 4, dtype=F64, **options)
    cell.load_state_dict({name: layer.state_dict()[f"{name}_l0"] for name in cell.state_dict()})
    x = mt.randn(5, 2, 3, dtype=F64)
    upstream = mt.randn(5, 2, 4, dtype=F64)

    output, final = layer(x)
    (output * upstream).sum().backward()

    state, steps = None, []
    for t in range(5):
        state = cell(x[t], state)
        steps.append(_states(state)[0])
    (mt.stack(steps) * upstream).sum().backward()

    np.testing.assert_allclose(output.array, mt.stack(steps).array, rtol=1e-12, atol=1e-14)
    for got, want in zip(_states(final), _states(state)):
        np.testing.assert_allclose(got.array[0], want.array, rtol=1e-12, atol=1e-14)
    for name, param in cell.named_parameters():
        np.testing.assert_allclose(getattr(layer, f"{name}_l0").grad.array, param.grad.array,
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_two_layers_equal_two_chained_one_layer_models(kind):
    layer_cls, _, options = LAYERS[kind]
    stacked = layer_cls(3, 4, num_layers=2, dtype=F64, **options)
    first, second = layer_cls(3, 4, dtype=F64, **options), layer_cls(4, 4, dtype=F64, **options)
    state = stacked.state_dict()
    first.load_state_dict({k: state[k] for k in first.state_dict()})
    second.load_state_dict({k: state[k.replace("_l0", "_l1")] for k in second.state_dict()})
    x = mt.randn(6, 2, 3, dtype=F64)

    output, final = stacked(x)
    middle, final_first = first(x)
    expected, final_second = second(middle)

    np.testing.assert_allclose(output.array, expected.array, rtol=1e-12)
    for got, a, b in zip(_states(final), _states(final_first), _states(final_second)):
        np.testing.assert_allclose(got.array, np.concatenate([a.array, b.array]), rtol=1e-12)


@pytest.mark.parametrize("kind", LAYERS)
def test_batch_first_is_only_a_layout(kind):
    layer_cls, _, options = LAYERS[kind]
    seq_first = layer_cls(3, 4, num_layers=2, dtype=F64, **options)
    batch_first = layer_cls(3, 4, num_layers=2, batch_first=True, dtype=F64, **options)
    batch_first.load_state_dict(seq_first.state_dict())
    x = mt.randn(5, 2, 3, dtype=F64, requires_grad=True)
    xb = mt.tensor(x.array.transpose(1, 0, 2), requires_grad=True)

    out_s, final_s = seq_first(x)
    out_b, final_b = batch_first(xb)
    np.testing.assert_array_equal(out_b.array, out_s.array.transpose(1, 0, 2))
    for a, b in zip(_states(final_s), _states(final_b)):
        assert b.shape == (2, 2, 4)  # h_n keeps (num_layers, batch, hidden)
        np.testing.assert_array_equal(a.array, b.array)
    out_s.sum().backward()
    out_b.sum().backward()
    np.testing.assert_allclose(xb.grad.array, x.grad.array.transpose(1, 0, 2), rtol=1e-12)


@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_input_equals_a_batch_of_one(kind):
    layer_cls, _, options = LAYERS[kind]
    layer = layer_cls(3, 4, num_layers=2, batch_first=True, dtype=F64, **options)
    x = mt.randn(5, 3, dtype=F64)
    hx = tuple(mt.randn(2, 4, dtype=F64) for _ in _states(layer(x)[1]))
    hx_arg = hx if kind == "lstm" else hx[0]

    output, final = layer(x, hx_arg)
    batched_hx = tuple(h.unsqueeze(1) for h in hx)
    output_b, final_b = layer(x.unsqueeze(0), batched_hx if kind == "lstm" else batched_hx[0])
    assert output.shape == (5, 4)
    np.testing.assert_array_equal(output.array, output_b.array[0])
    for a, b in zip(_states(final), _states(final_b)):
        assert a.shape == (2, 4)
        np.testing.assert_array_equal(a.array, b.array[:, 0])


@pytest.mark.parametrize("kind", LAYERS)
def test_zero_initial_state_is_the_default_and_a_given_one_is_used(kind):
    layer_cls, _, options = LAYERS[kind]
    layer = layer_cls(3, 4, num_layers=2, **options)
    x = mt.randn(5, 2, 3)
    zeros = tuple(mt.zeros(2, 2, 4) for _ in _states(layer(x)[1]))
    default, _ = layer(x)
    explicit, _ = layer(x, zeros if kind == "lstm" else zeros[0])
    np.testing.assert_array_equal(default.array, explicit.array)
    ones = tuple(mt.ones(2, 2, 4) for _ in zeros)
    given_state, _ = layer(x, ones if kind == "lstm" else ones[0])
    assert not np.allclose(given_state.array, default.array)


def test_relu_rnn_matches_numpy():
    rnn = nn.RNN(3, 4, nonlinearity="relu", dtype=F64)
    x, h0 = mt.randn(6, 2, 3, dtype=F64), mt.randn(1, 2, 4, dtype=F64)
    output, h_n = rnn(x, h0)
    p = {k: v.array for k, v in rnn.state_dict().items()}
    h, expected = h0.array[0], []
    for t in range(6):
        h = np.maximum(x.array[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"]
                       + h @ p["weight_hh_l0"].T + p["bias_hh_l0"], 0)
        expected.append(h)
    np.testing.assert_allclose(output.array, np.stack(expected), rtol=1e-12)
    np.testing.assert_allclose(h_n.array[0], h, rtol=1e-12)


@given(kind=st.sampled_from(sorted(LAYERS)), seq=st.integers(1, 3), batch=st.integers(1, 2),
       input_size=st.integers(1, 3), hidden=st.integers(1, 3), num_layers=st.integers(1, 2),
       bias=st.booleans())
def test_gradients_with_respect_to_input_and_initial_state(kind, seq, batch, input_size, hidden,
                                                           num_layers, bias):
    layer_cls, _, options = LAYERS[kind]
    layer = layer_cls(input_size, hidden, num_layers=num_layers, bias=bias, dtype=F64, **options)
    x = mt.randn(seq, batch, input_size, dtype=F64, requires_grad=True)
    hx = [mt.randn(num_layers, batch, hidden, dtype=F64, requires_grad=True)
          for _ in layer.state_names]

    def everything(x, *hx):
        output, final = layer(x, tuple(hx) if len(hx) == 2 else hx[0])
        return mt.cat([output.reshape(-1), *(s.reshape(-1) for s in _states(final))])

    assert gradcheck(everything, [x, *hx])


def test_dropout_acts_between_layers_in_training_only():
    mt.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=1.0)
    x = mt.randn(5, 2, 3)
    out_a, _ = lstm(x)
    out_b, _ = lstm(mt.randn(5, 2, 3))
    # Everything between the layers is dropped: the top layer sees zeros, whatever x is.
    np.testing.assert_array_equal(out_a.array, out_b.array)
    lstm.eval()
    out_eval, _ = lstm(x)
    assert not np.allclose(out_eval.array, out_a.array)
    no_dropout = nn.LSTM(3, 4, num_layers=2)
    no_dropout.load_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(out_eval.array, no_dropout(x)[0].array)


def test_dropout_is_not_applied_after_the_last_layer():
    gru = nn.GRU(3, 4, dropout=0.9)  # one layer: nothing in between
    x = mt.randn(5, 2, 3)
    np.testing.assert_array_equal(gru(x)[0].array, gru.eval()(x)[0].array)


def test_truncated_bptt_carries_detached_state_across_chunks():
    lstm = nn.LSTM(3, 4, dtype=F64)
    x = mt.randn(8, 2, 3, dtype=F64)
    full, _ = lstm(x)
    first_x = mt.tensor(x.array[:4], requires_grad=True)
    first, state = lstm(first_x)
    state = tuple(s.detach() for s in state)
    second, _ = lstm(x[4:], state)
    np.testing.assert_allclose(mt.cat([first, second]).array, full.array, rtol=1e-12)
    second.sum().backward()
    assert first_x.grad is None  # the backward stopped at the chunk boundary
    assert lstm.weight_hh_l0.grad is not None


def test_repr_and_parameter_layout():
    assert repr(nn.LSTM(3, 4)) == "LSTM(3, 4)"
    assert repr(nn.GRU(3, 4, num_layers=3, bias=False, batch_first=True, dropout=0.5)) == (
        "GRU(3, 4, num_layers=3, bias=False, batch_first=True, dropout=0.5)")
    lstm = nn.LSTM(3, 4, num_layers=2)
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == [
        ("weight_ih_l0", (16, 3)), ("weight_hh_l0", (16, 4)), ("bias_ih_l0", (16,)),
        ("bias_hh_l0", (16,)), ("weight_ih_l1", (16, 4)), ("weight_hh_l1", (16, 4)),
        ("bias_ih_l1", (16,)), ("bias_hh_l1", (16,))]
    assert all(np.abs(p.array).max() <= 0.5 for p in lstm.parameters())  # 1/sqrt(4)
    assert [n for n, _ in nn.RNN(3, 4, bias=False).named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0"]


def test_errors_name_the_layer_and_the_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(seq, batch, "
                       r"input_size\) or unbatched \(seq, input_size\) with input_size 3, "
                       r"got \(5, 2, 7\)"):
        lstm(mt.ones(5, 2, 7))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        lstm(mt.ones(3))
    with pytest.raises(ValueError, match=r"LSTM: expected c0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(mt.ones(5, 2, 3), (mt.zeros(2, 2, 4), mt.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \('h0', 'c0'\)"):
        lstm(mt.ones(5, 2, 3), mt.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"RNN: expected h0 of shape \(1, 4\), got \(1, 1, 4\)"):
        nn.RNN(3, 4)(mt.ones(5, 3), mt.zeros(1, 1, 4))
    with pytest.raises(TypeError, match="GRU: input has dtype float64 but the parameters have "
                       "float32"):
        nn.GRU(3, 4)(mt.ones(5, 2, 3, dtype=F64))
    with pytest.raises(ValueError, match="GRU: the input sequence is empty"):
        nn.GRU(3, 4)(mt.ones(0, 2, 3))
    with pytest.raises(ValueError, match=r"GRU: expected input of shape \(batch, seq, input_size\)"):
        nn.GRU(3, 4, batch_first=True)(mt.ones(2, 5, 2))


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="LSTM: num_layers must be a positive integer, got 0"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"GRU: dropout must be in \[0, 1\], got 2"):
        nn.GRU(3, 4, dropout=2)
    with pytest.raises(ValueError, match="RNN: nonlinearity must be one of"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="RNN: input_size must be a positive integer, got 2.5"):
        nn.RNN(2.5, 4)


# ---------------------------------------------------------- what a graph shows
def _nodes(output):
    """The op nodes of the output's graph, as the renderer sees them."""
    return [n for n in mt.viz.trace(output).nodes.values() if n.kind == "op"]


def test_steps_are_tagged_with_layer_time_and_gate():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, num_layers=2)

    model = Model()
    output, _ = model.lstm(mt.randn(3, 2, 3))
    tags = [fn.tags for fn in _nodes(output)]
    assert {"layer": "lstm.l1", "t": 2, "cell": nn.LSTMCell, "gate": "forget"} in tags
    assert {"layer": "lstm.l0", "t": 0, "cell": nn.LSTMCell, "gate": "candidate"} in tags
    assert {(t.get("layer"), t.get("t")) for t in tags} >= {
        (f"lstm.l{k}", t) for k in range(2) for t in range(3)}
    named = {(fn.tags.get("t"), fn.name) for fn in _nodes(output) if fn.name}
    assert {(1, "h"), (1, "c"), (1, "forget"), (None, "x_proj")} <= named
    assert model.lstm.weight_hh_l1.name == "lstm.weight_hh_l1"


def test_a_standalone_layer_is_labelled_by_its_class():
    output, _ = nn.GRU(2, 3)(mt.randn(2, 1, 2))
    assert {fn.tags.get("layer") for fn in _nodes(output)} >= {"gru.l0"}


# ------------------------------------------------------- declaring a new cell
class MinimalCell(nn.cells.RNNCellBase):
    """A cell declared with a composed step only: h' = tanh(x_proj + h W)."""

    step = staticmethod(nn.cells.rnn_step)


class MinimalRNN(nn.recurrent.RNNBase):
    cell = MinimalCell


def test_a_new_cell_is_one_class_and_its_layer_one_declaration():
    cell, layer = MinimalCell(2, 3, dtype=mt.float64), MinimalRNN(2, 3, dtype=mt.float64)
    assert MinimalRNN.state_names == ("h",) and MinimalRNN.gates == 1
    reference = nn.RNN(2, 3, dtype=mt.float64)
    reference.load_state_dict(layer.state_dict())
    x = mt.randn(4, 2, 2, dtype=mt.float64)
    np.testing.assert_allclose(layer(x)[0].array, reference(x)[0].array, rtol=1e-14)
    assert cell(x[0]).shape == (2, 3)


def test_a_missing_fused_step_fails_at_construction_not_at_forward():
    with pytest.raises(ValueError, match="MinimalRNN: fused=True, but MinimalCell declares no "
                                         "fused_step"):
        MinimalRNN(2, 3, fused=True)


def test_bad_declarations_fail_when_the_class_is_created():
    with pytest.raises(TypeError, match="NoStep: declare step"):
        type("NoStep", (nn.cells.RNNCellBase,), {})
    with pytest.raises(TypeError, match=r"BadStates: state_names must be a non-empty tuple"):
        type("BadStates", (nn.cells.RNNCellBase,), {"step": staticmethod(nn.cells.rnn_step),
                                                     "state_names": "h"})
    with pytest.raises(TypeError, match="NoCell: declare cell"):
        type("NoCell", (nn.recurrent.RNNBase,), {})


def test_the_unroll_runs_with_the_cyclic_collector_paused_and_restores_it():
    import gc

    seen = []
    step = mt.nn.RNN.cell.step

    def watching_step(*args, **kwargs):
        seen.append(gc.isenabled())
        if len(seen) == 6:
            raise ArithmeticError("a step failed")
        return step(*args, **kwargs)

    class Watching(mt.nn.RNN):
        cell = type("WatchingCell", (mt.nn.RNN.cell,), {"step": staticmethod(watching_step)})

    Watching(2, 3)(mt.randn(4, 1, 2))
    assert seen == [False] * 4 and gc.isenabled()
    with pytest.raises(ArithmeticError):
        Watching(2, 3)(mt.randn(4, 1, 2))  # fails in the middle of the unroll
    assert len(seen) == 6 and gc.isenabled()
