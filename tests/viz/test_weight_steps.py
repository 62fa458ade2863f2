"""Recording.weight_steps: a weight's gradient as the sum over steps that backprop through time adds."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils.rnn import pack_padded_sequence


def recorded_layer(kind, packed, layers=2, bidirectional=True, steps=6, seed=0):
    mt.manual_seed(seed)
    layer = getattr(mt.nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
    x = mt.randn(steps, 3, 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = layer(pack_padded_sequence(x, [steps, 4, 2]) if packed else x)
        data = out.data if packed else out
        (data ** 2 * mt.randn(*data.shape, dtype=mt.float64)).sum().backward()
    return layer, rec


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_steps_terms_sum_to_the_gradient(kind, packed):
    layer, rec = recorded_layer(kind, packed)
    for name, param in layer.named_parameters():
        parts = rec.weight_steps(param)
        assert sorted(parts) == list(range(6)), name  # every step, nothing from outside them
        assert all(part.shape == param.shape for part in parts.values())
        np.testing.assert_allclose(sum(parts.values()), param.grad.numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)
        # Each step's term is its own: no two steps carry the same numbers.
        assert len({part.tobytes() for part in parts.values()}) == 6, name


def test_each_term_is_what_that_step_sends_the_weight(tiny_rnn):
    """For h_t = tanh(x_t U + h_{t-1} W), step t's term of dL/dW is h_{t-1}ᵀ dL/dpre_t."""
    net = tiny_rnn(steps=5)
    with mt.viz.record() as rec:
        net.forward().backward()
    parts = rec.weight_steps(net.W)
    for t in range(5):
        before = net.hs[t - 1].detach().numpy() if t else np.zeros((1, net.hidden))
        np.testing.assert_allclose(parts[t], before.T @ net.pres[t].grad.numpy(), rtol=1e-12, atol=1e-15)
    u = rec.weight_steps(net.U)
    for t in range(5):
        np.testing.assert_allclose(u[t], net.xs[t].numpy().T @ net.pres[t].grad.numpy(), rtol=1e-12)


def test_a_weight_used_after_the_loop_is_under_none():
    mt.manual_seed(1)
    rnn, head = mt.nn.RNN(2, 3, dtype=mt.float64), mt.nn.Linear(3, 1, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = rnn(mt.randn(4, 1, 2, dtype=mt.float64))
        head(out[-1]).sum().backward()
    assert list(rec.weight_steps(head.weight)) == [None]
    np.testing.assert_allclose(rec.weight_steps(head.weight)[None], head.weight.grad.numpy())
    assert None not in rec.weight_steps(rnn.weight_hh_l0)


def test_a_weight_shared_by_two_layers_is_split_by_layer_too(weight_shared_by_two_layers):
    w, _, rec = weight_shared_by_two_layers()
    parts = rec.weight_steps(w)
    assert sorted(parts) == ["fwd", "fwd_reverse"] and sorted(parts["fwd"]) == [0, 1, 2, 3]
    total = sum(sum(steps.values()) for steps in parts.values())
    np.testing.assert_allclose(total, w.grad.numpy(), rtol=0, atol=1e-12)


def test_bad_requests_are_named():
    layer, rec = recorded_layer("RNN", False, layers=1, bidirectional=False)
    with pytest.raises(TypeError, match="weight_steps: expected a leaf tensor"):
        rec.weight_steps(layer.weight_hh_l0 * 2)
    with pytest.raises(ValueError, match="weight_steps: stranger got no gradient"):
        stranger = mt.ones(2, requires_grad=True)
        stranger.name = "stranger"
        rec.weight_steps(stranger)


def test_watching_a_pass_does_not_multiply_lazy_gradients_out():
    """The observer sees each step's weight gradient as the engine holds it (factors)."""
    seen = []

    class Edges:
        def edge(self, fn, index, parent, grad):
            seen.append(type(grad).__name__)

    lstm = mt.nn.LSTM(2, 3)
    with mt.observe(Edges()):
        out, _ = lstm(mt.randn(5, 1, 2))
        out.sum().backward()
    assert seen.count("OuterGrad") >= 5 and seen.count("SparseGrad") >= 5


def test_what_reaches_a_weight_through_an_initial_state_is_no_steps():
    """h0 = tanh(x0 W): step 0 sends W a gradient through ops that are not a view or a sum."""
    mt.manual_seed(3)
    w = mt.randn(3, 3, dtype=mt.float64, requires_grad=True)
    xs = mt.randn(4, 1, 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        h = (xs[0] @ w).tanh()
        for t in range(4):
            with mt.scope(layer="rnn", t=t):
                h = (xs[t] + h @ w).tanh()
                h.name = "h"
        h.sum().backward()
    parts = rec.weight_steps(w)
    assert sorted(parts, key=str) == [0, 1, 2, 3, None]
    np.testing.assert_allclose(sum(parts.values()), w.grad.numpy(), rtol=0, atol=1e-12)
    assert np.abs(parts[None]).max() > 1e-6  # the initial state's share, not a rounding rest
