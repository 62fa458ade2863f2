"""The fused recurrent steps (``fused=True``): the same outputs and gradients as the
composed steps, finite-difference checks of each step op, one graph node per layer and
step, float32, and clear errors."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.nn.fused import GRUStep, LSTMStep, RNNStep
from microtensor.testing import gradcheck, tensors

F64 = mt.float64
LAYERS = {"rnn_tanh": (nn.RNN, {}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
          "lstm": (nn.LSTM, {}), "gru": (nn.GRU, {})}
SETUPS = {"batched": {}, "unbatched": {"batch": None}, "batch_first": {"batch_first": True},
          "two_layers": {"num_layers": 2}, "no_bias": {"bias": False}}
STEP_OPS = {"RNNStep", "LSTMStep", "GRUStep"}


def _pair(kind, dtype=F64, **options):
    """A composed layer and a fused one with the same parameters."""
    layer_cls, extra = LAYERS[kind]
    composed = layer_cls(3, 4, dtype=dtype, **extra, **options)
    fused = layer_cls(3, 4, dtype=dtype, fused=True, **extra, **options)
    fused.load_state_dict(composed.state_dict())
    return composed, fused


def _run(layer, x, hx, upstream):
    """Output, final states and the gradients of ``<upstream, output> + sum(states)``
    for every parameter, the input and the initial states."""
    output, final = layer(x, hx)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (output * upstream).sum() + sum((s * s).sum() for s in finals)
    leaves = [x, *hx, *layer.parameters()] if isinstance(hx, tuple) else [x, hx,
                                                                         *layer.parameters()]
    return output, finals, mt.grad(loss, leaves)


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("kind", LAYERS)
def test_fused_layer_equals_composed_layer(kind, setup):
    options = dict(SETUPS[setup])
    batch = options.pop("batch", 2)
    composed, fused = _pair(kind, **options)
    layers = composed.num_layers
    lead = (5,) if batch is None else ((batch, 5) if composed.batch_first else (5, batch))
    x = mt.randn(*lead, 3, dtype=F64, requires_grad=True)
    state_shape = (layers, 4) if batch is None else (layers, batch, 4)
    hx = [mt.randn(*state_shape, dtype=F64, requires_grad=True) for _ in composed.state_names]
    hx = tuple(hx) if kind == "lstm" else hx[0]
    upstream = mt.randn(*lead, 4, dtype=F64)

    want_out, want_final, want_grads = _run(composed, x, hx, upstream)
    got_out, got_final, got_grads = _run(fused, x, hx, upstream)

    np.testing.assert_allclose(got_out.array, want_out.array, rtol=1e-12, atol=1e-12)
    for got, want in zip(got_final, want_final):
        np.testing.assert_allclose(got.array, want.array, rtol=1e-12, atol=1e-12)
    assert len(got_grads) == len(want_grads)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got.array, want.array, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", LAYERS)
def test_fused_layer_accumulates_the_same_parameter_grads(kind):
    """Through ``.backward()`` too, where the weight's per-step factors are multiplied once."""
    composed, fused = _pair(kind)
    x = mt.randn(6, 2, 3, dtype=F64)
    for layer in (composed, fused):
        layer(x)[0].tanh().sum().backward()
    for (name, want), got in zip(composed.named_parameters(), fused.parameters()):
        np.testing.assert_allclose(got.grad.array, want.grad.array, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


@given(data=st.data(), batch=st.integers(1, 3), size=st.integers(1, 3),
       nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_rnn_step_gradcheck(data, batch, size, nonlinearity):
    x_proj = data.draw(tensors(shape=(batch, size), min_value=-2, max_value=2))
    h = data.draw(tensors(shape=(batch, size), min_value=-1, max_value=1))
    weight = data.draw(tensors(shape=(size, size), min_value=-1, max_value=1))
    if nonlinearity == "relu":  # finite differences across relu's kink are meaningless
        assume(np.abs(x_proj.array + h.array @ weight.array).min() > 1e-3)
    assert gradcheck(lambda *a: RNNStep.apply(*a, nonlinearity=nonlinearity),
                     [x_proj, h, weight])


@given(data=st.data(), batch=st.integers(1, 3), size=st.integers(1, 3))
def test_lstm_step_gradcheck(data, batch, size):
    x_proj = data.draw(tensors(shape=(batch, 4 * size), min_value=-2, max_value=2))
    h, c = (data.draw(tensors(shape=(batch, size), min_value=-1, max_value=1)) for _ in "hc")
    weight = data.draw(tensors(shape=(size, 4 * size), min_value=-1, max_value=1))
    assert gradcheck(LSTMStep.apply, [x_proj, h, c, weight])


@given(data=st.data(), batch=st.integers(1, 3), size=st.integers(1, 3), bias=st.booleans())
def test_gru_step_gradcheck(data, batch, size, bias):
    x_proj = data.draw(tensors(shape=(batch, 3 * size), min_value=-2, max_value=2))
    h = data.draw(tensors(shape=(batch, size), min_value=-1, max_value=1))
    weight = data.draw(tensors(shape=(size, 3 * size), min_value=-1, max_value=1))
    bias_hh = data.draw(tensors(shape=(3 * size,), min_value=-1, max_value=1)) if bias else None
    assert gradcheck(GRUStep.apply, [x_proj, h, weight, bias_hh])


@pytest.mark.parametrize("kind", LAYERS)
def test_fused_graph_has_one_step_node_per_layer_and_step(kind):
    _, fused = _pair(kind, num_layers=2)
    output, final = fused(mt.randn(4, 2, 3, dtype=F64))
    finals = final if isinstance(final, tuple) else (final,)
    graph = mt.viz.trace(output.sum() + sum(s.sum() for s in finals))
    steps = [n for n in graph.nodes.values() if n.op in STEP_OPS]
    assert sorted((n.layer, n.step) for n in steps) == [
        (f"{type(fused).__name__.lower()}.l{k}", t) for k in range(2) for t in range(4)]
    assert not any("gate" in n.tags for n in graph.nodes.values())
    assert len(graph.named("h")) == 8  # the state each step hands on, as in the composed graph
    if kind == "lstm":
        assert len(graph.named("c")) == 8


@pytest.mark.parametrize("kind", LAYERS)
def test_fused_graph_records_the_same_step_norms_and_weight_shares(kind):
    """What the renderer draws from a recorded backward: ||dL/dh_t|| and each step's
    share of the recurrent weight's gradient, as for the composed layer."""
    found = []
    x = mt.randn(4, 2, 3, dtype=F64)
    for layer in _pair(kind):
        with mt.viz.record() as recording:
            loss = layer(x)[0].tanh().sum()
            loss.backward()
        graph = mt.viz.trace(loss, recording)
        found.append((graph.step_norms("h"), graph.weight_shares()))
        assert mt.viz.draw_graph(graph).source
    (want_norms, want_shares), (got_norms, got_shares) = found
    assert list(got_norms) == list(range(4))
    np.testing.assert_allclose(list(got_norms.values()), list(want_norms.values()), rtol=1e-12)
    shares = [(want_shares[name], got_shares[name]) for name in ("weight_hh_l0", "bias_hh_l0")
              if name in want_shares]
    assert shares
    for want, got in shares:
        assert list(got) == list(want)
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-12)


@pytest.mark.parametrize("kind, gates", [("lstm", {"input", "forget", "candidate", "output"}),
                                         ("gru", {"reset", "update", "new"})])
def test_composed_default_graph_still_shows_the_gates(kind, gates):
    composed, _ = _pair(kind)
    assert not composed.fused
    output, _ = composed(mt.randn(3, 2, 3, dtype=F64))
    graph = mt.viz.trace(output.sum())
    assert not any(n.op in STEP_OPS for n in graph.nodes.values())
    for t in range(3):
        assert {n.tags["gate"] for n in graph.nodes.values()
                if n.step == t and "gate" in n.tags} == gates


@pytest.mark.parametrize("kind", LAYERS)
def test_fused_float32_matches_float64(kind):
    _, fused64 = _pair(kind)
    fused32 = LAYERS[kind][0](3, 4, fused=True, **LAYERS[kind][1])
    fused32.load_state_dict({k: v.float() for k, v in fused64.state_dict().items()})
    x = mt.randn(5, 2, 3, dtype=F64)
    out64, _ = fused64(x)
    out32, _ = fused32(x.float())
    out64.sum().backward()
    out32.sum().backward()
    assert out32.dtype == mt.float32
    np.testing.assert_allclose(out32.array, out64.array, rtol=1e-5, atol=1e-6)
    for p32, p64 in zip(fused32.parameters(), fused64.parameters()):
        assert p32.grad.dtype == mt.float32
        np.testing.assert_allclose(p32.grad.array, p64.grad.array, rtol=1e-4, atol=1e-5)


def test_fused_is_shown_and_kept():
    lstm = nn.LSTM(3, 4, fused=True)
    assert lstm.fused and repr(lstm) == "LSTM(3, 4, fused=True)"
    assert repr(nn.RNN(3, 4)) == "RNN(3, 4)"
    assert "fused" not in lstm.state_dict()


def test_fused_must_be_a_bool():
    with pytest.raises(TypeError, match="RNN: fused must be True or False, got 'yes'"):
        nn.RNN(3, 4, fused="yes")


@pytest.mark.parametrize("inputs, error, message", [
    ((np.zeros((2, 8)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 4))), ValueError,
     r"LSTMStep: expected weight_hh_t of shape \(2, 8\), got \(2, 4\)"),
    ((np.zeros((2, 4)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 8))), ValueError,
     r"LSTMStep: expected x_proj of shape \(2, 8\), got \(2, 4\)"),
    ((np.zeros((2, 8)), np.zeros(2), np.zeros(2), np.zeros((2, 8))), ValueError,
     r"LSTMStep: states must be \(batch, hidden\), got \(2,\)"),
    ((np.zeros((2, 8)), np.zeros((2, 2)), np.zeros((2, 2), np.float32), np.zeros((2, 8))),
     TypeError, "LSTMStep: c has dtype float32; every input must have the same floating dtype"),
])
def test_bad_step_inputs_are_refused(inputs, error, message):
    with pytest.raises(error, match=message):
        LSTMStep.apply(*(mt.tensor(a, dtype=a.dtype, requires_grad=True) for a in inputs))


def test_bad_nonlinearity_and_bias_are_refused():
    h = mt.zeros(1, 2, dtype=F64)
    with pytest.raises(ValueError, match="RNNStep: nonlinearity must be 'tanh' or 'relu'"):
        RNNStep.apply(mt.zeros(1, 2, dtype=F64), h, mt.zeros(2, 2, dtype=F64), nonlinearity="elu")
    with pytest.raises(ValueError, match=r"GRUStep: expected bias_hh of shape \(6,\), got \(2,\)"):
        GRUStep.apply(mt.zeros(1, 6, dtype=F64), h, mt.zeros(2, 6, dtype=F64),
                      mt.zeros(2, dtype=F64))
