"""Layers and losses differentiated twice (``create_graph=True``), against PyTorch.

Each test copies PyTorch's parameters into microtensor's module (float64) and compares the
Hessian-vector product of a loss, ``grad(sum(grad(loss, params, create_graph=True) * v),
params)`` for random ``v``, to 1e-10 relative to its largest entry. The fused LSTM and GRU
steps refuse a recorded pass, naming the cell and the composed layer; the fused RNN step
records like any op.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.autograd.higher_order import CreateGraphError
from microtensor.nn import functional as F
from microtensor.nn.utils.rnn import pack_padded_sequence

F64 = mt.float64
RECURRENT = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}),
             ("LSTM", {}), ("GRU", {})]

def _pair(torch, kind: str, *args, **options):
    """PyTorch's module ``kind`` in float64 and microtensor's with its parameters."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **options).double()
    ours = getattr(nn, kind)(*args, **options, dtype=F64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _hvp(grad, loss, params, vs, wrap):
    """The gradient of ``loss`` and the Hessian-vector products with ``vs``, w.r.t. ``params``
    (``grad`` is ``mt.grad`` or ``torch.autograd.grad``; ``wrap`` makes a constant)."""
    grads = grad(loss, params, create_graph=True)
    dot = sum((g * wrap(v)).sum() for g, v in zip(grads, vs))
    products = grad(dot, params, allow_unused=True)
    return ([g.detach().numpy() for g in grads],
            [np.zeros(v.shape) if h is None else h.numpy() for h, v in zip(products, vs)])


def _both(torch, our_loss, our_params, their_loss, their_params, seed=0):
    """The gradients and Hessian-vector products in both libraries, for the same ``v``."""
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(tuple(p.shape)) for p in their_params]
    ours = _hvp(mt.grad, our_loss(), our_params, vs, mt.tensor)
    theirs = _hvp(torch.autograd.grad, their_loss(), their_params, vs, torch.tensor)
    return ours, theirs


def _assert_close(ours, theirs, what=""):
    for k, (got, want) in enumerate(zip(ours, theirs)):
        finite = np.abs(want[np.isfinite(want)])
        scale = finite.max(initial=0.0) or 1.0
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * scale,
                                   equal_nan=True, err_msg=f"{what} #{k}")


def _compare(torch, our_loss, our_params, their_loss, their_params, what=""):
    (our_grads, our_hvp), (their_grads, their_hvp) = _both(
        torch, our_loss, our_params, their_loss, their_params)
    _assert_close(our_grads, their_grads, f"{what} gradient")
    _assert_close(our_hvp, their_hvp, f"{what} Hessian-vector product")


def _cubic(out):
    """A loss with a nonzero second derivative in the output as well (the ``out`` of either
    library)."""
    return (out * out * out).sum() + out.sum()


# ------------------------------------------------------------------ recurrent layers
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize(("kind", "options"), RECURRENT, ids=lambda v: str(v or ""))
def test_recurrent_layer_hessian_vector_product(torch, kind, options, packed):
    ours, theirs = _pair(torch, kind, 3, 4, num_layers=2, bidirectional=True, **options)
    x = np.random.default_rng(1).standard_normal((5, 3, 3))
    lengths = [5, 2, 3]
    x_ours, x_theirs = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    def our_loss():
        data = pack_padded_sequence(x_ours, lengths, enforce_sorted=False) if packed else x_ours
        out = ours(data)[0]
        return _cubic(out.data if packed else out)

    def their_loss():
        data = (torch.nn.utils.rnn.pack_padded_sequence(x_theirs, lengths, enforce_sorted=False)
                if packed else x_theirs)
        out = theirs(data)[0]
        return _cubic(out.data if packed else out)

    _compare(torch, our_loss, [*ours.parameters(), x_ours],
             their_loss, [*theirs.parameters(), x_theirs], kind)


def test_lstm_hessian_vector_product_for_weight_hh_l0(torch):
    ours, theirs = _pair(torch, "LSTM", 3, 5, num_layers=2)
    rng = np.random.default_rng(2)
    x, targets = rng.standard_normal((6, 2, 3)), rng.standard_normal((6, 2, 5))
    h0, c0 = rng.standard_normal((2, 2, 2, 5))

    def loss(module, tensor, state):
        out, _ = module(tensor(x), state)
        return ((out - tensor(targets)) ** 2).sum()

    _compare(torch, lambda: loss(ours, mt.tensor, (mt.tensor(h0), mt.tensor(c0))),
             [ours.weight_hh_l0],
             lambda: loss(theirs, torch.tensor, (torch.tensor(h0), torch.tensor(c0))),
             [theirs.weight_hh_l0], "weight_hh_l0")


# ------------------------------------------------------------------ fused steps
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_rnn_step_records_its_backward(torch, nonlinearity):
    ours, theirs = _pair(torch, "RNN", 3, 4, num_layers=2, nonlinearity=nonlinearity)
    fused = nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, dtype=F64, fused=True)
    fused.load_state_dict(ours.state_dict())
    x = np.random.default_rng(4).standard_normal((5, 2, 3))
    _compare(torch, lambda: _cubic(fused(mt.tensor(x))[0]), list(fused.parameters()),
             lambda: _cubic(theirs(torch.tensor(x))[0]), list(theirs.parameters()), "fused")


@pytest.mark.parametrize(("kind", "step"), [("LSTM", "LSTMStep"), ("GRU", "GRUStep")])
def test_fused_lstm_and_gru_steps_refuse_create_graph(kind, step):
    fused = getattr(nn, kind)(3, 4, dtype=F64, fused=True)
    out, _ = fused(mt.randn(5, 2, 3, dtype=F64))
    with pytest.raises(CreateGraphError,
                       match=rf"^{step}: the fused {kind} step cannot be differentiated twice "
                             r"\(create_graph=True\).*Build the layer with fused=False"):
        mt.grad(_cubic(out), list(fused.parameters()), create_graph=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_steps_still_differentiate_once(kind):
    composed = getattr(nn, kind)(3, 4, dtype=F64)
    fused = getattr(nn, kind)(3, 4, dtype=F64, fused=True)
    fused.load_state_dict(composed.state_dict())
    x = mt.randn(5, 2, 3, dtype=F64)
    want = mt.grad(_cubic(composed(x)[0]), list(composed.parameters()))
    got = mt.grad(_cubic(fused(x)[0]), list(fused.parameters()))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.array, w.array, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ attention, normalization
def test_multihead_attention_hessian_vector_product(torch):
    ours, theirs = _pair(torch, "MultiheadAttention", 4, 2)
    rng = np.random.default_rng(5)
    query, key = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    q_ours, q_theirs = mt.tensor(query, requires_grad=True), torch.tensor(query, requires_grad=True)

    def loss(module, q, tensor):
        out, weights = module(q, tensor(key), tensor(key))
        return _cubic(out) + (weights * weights).sum()

    _compare(torch, lambda: loss(ours, q_ours, mt.tensor), [*ours.parameters(), q_ours],
             lambda: loss(theirs, q_theirs, torch.tensor), [*theirs.parameters(), q_theirs])


def test_layer_norm_hessian_vector_product(torch):
    ours, theirs = _pair(torch, "LayerNorm", (2, 3))
    x = np.random.default_rng(6).standard_normal((4, 2, 3))
    x_ours, x_theirs = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _compare(torch, lambda: _cubic(ours(x_ours)), [*ours.parameters(), x_ours],
             lambda: _cubic(theirs(x_theirs)), [*theirs.parameters(), x_theirs])


# ------------------------------------------------------------------ losses
CROSS_ENTROPY_OPTIONS = [
    {}, {"weight": True}, {"ignore_index": 2}, {"label_smoothing": 0.2},
    {"reduction": "sum"}, {"reduction": "none"},
    {"weight": True, "ignore_index": 0, "label_smoothing": 0.3},
    {"weight": True, "reduction": "sum", "label_smoothing": 0.1},
    {"weight": True, "reduction": "none", "ignore_index": 4},
]


@pytest.mark.parametrize(("options", "probabilities"), [
    (options, probabilities) for options in CROSS_ENTROPY_OPTIONS
    for probabilities in (False, True)
    if not (probabilities and "ignore_index" in options)])  # class indices only
def test_cross_entropy_hessian_vector_product(torch, options, probabilities):
    rng = np.random.default_rng(7)
    scores, weight = rng.standard_normal((4, 5)), rng.random(5)
    target = rng.dirichlet(np.ones(5), 4) if probabilities else np.array([1, 0, 2, 4])
    upstream = rng.standard_normal(4)
    s_ours, s_theirs = mt.tensor(scores, requires_grad=True), torch.tensor(scores, requires_grad=True)

    def loss(functional, s, tensor):
        kwargs = {**options, "weight": tensor(weight)} if "weight" in options else options
        out = functional.cross_entropy(s, tensor(target), **kwargs)
        return (out * tensor(upstream)).sum() if out.ndim else out

    _compare(torch, lambda: loss(F, s_ours, mt.tensor), [s_ours],
             lambda: loss(torch.nn.functional, s_theirs, torch.tensor), [s_theirs])


def _loss_pair(torch, x, t):
    """Input and target requiring grad, in both libraries."""
    return ([mt.tensor(x, requires_grad=True), mt.tensor(t, requires_grad=True)],
            [torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # torch: a module
@given(data=st.data(), weighted=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_binary_cross_entropy_hessian_vector_product(torch, data, weighted, reduction):
    shape = data.draw(st.sampled_from([(3,), (2, 3)]), label="shape")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    rng = np.random.default_rng(seed)
    x, t, w = rng.uniform(0.05, 0.95, shape), rng.random(shape), rng.random(shape)
    ours, theirs = _loss_pair(torch, x, t)

    def loss(functional, inputs, tensor):
        out = functional.binary_cross_entropy(*inputs, weight=tensor(w) if weighted else None,
                                              reduction=reduction)
        return _cubic(out)

    _compare(torch, lambda: loss(F, ours, mt.tensor), ours,
             lambda: loss(torch.nn.functional, theirs, torch.tensor), theirs)


# The second pass divides by 0 in the engine's ops (inf and nan, as PyTorch's, which warns not).
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_binary_cross_entropy_double_backward_at_0_and_1_is_pytorchs(torch):
    """PyTorch's double backward puts eps in each factor, (x + eps)(1 - x + eps): at x = 0 and
    1 it differs from the derivative of the first backward's clamped formula."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1e-13])
    t = np.array([0.0, 0.3, 1.0, 0.6, 0.2, 0.5])
    ours, theirs = _loss_pair(torch, x, t)
    _compare(torch, lambda: F.binary_cross_entropy(*ours, reduction="sum"), ours,
             lambda: torch.nn.functional.binary_cross_entropy(*theirs, reduction="sum"), theirs)


@pytest.mark.parametrize("pos_weight", [
    False, True], ids=["plain", "pos_weight"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_hessian_vector_product(torch, reduction, pos_weight):
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((4, 3)) * 3, rng.random((4, 3))
    w, pw = rng.random((4, 3)), rng.random(3) + 0.5
    ours, theirs = _loss_pair(torch, x, t)

    def loss(functional, inputs, tensor):
        out = functional.binary_cross_entropy_with_logits(
            *inputs, weight=tensor(w), reduction=reduction,
            pos_weight=tensor(pw) if pos_weight else None)
        return _cubic(out)

    _compare(torch, lambda: loss(F, ours, mt.tensor), ours,
             lambda: loss(torch.nn.functional, theirs, torch.tensor), theirs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 / 0 at t = 0, as in the test above
def test_kl_div_with_a_target_that_requires_grad(torch):
    """``t log t`` (``_TLogT``): nan at t = 0 in both libraries, the rest equal."""
    rng = np.random.default_rng(9)
    log_p = np.log(rng.dirichlet(np.ones(4), 3))
    t = rng.dirichlet(np.ones(4), 3)
    t[0, 1] = 0.0
    ours, theirs = _loss_pair(torch, log_p, t)
    _compare(torch, lambda: _cubic(F.kl_div(*ours, reduction="none")), ours,
             lambda: _cubic(torch.nn.functional.kl_div(*theirs, reduction="none")), theirs)


def test_embedding_scale_grad_by_freq_hessian_vector_product(torch):
    """PyTorch's double backward leaves the frequency scaling to the first backward."""
    ours, theirs = _pair(torch, "Embedding", 6, 3, scale_grad_by_freq=True)
    indices = np.array([[1, 2, 1], [4, 1, 0]])
    _compare(torch, lambda: _cubic(ours(mt.tensor(indices))), list(ours.parameters()),
             lambda: _cubic(theirs(torch.tensor(indices))), list(theirs.parameters()))


# ------------------------------------------------------------------ module hooks
def test_full_backward_hook_under_create_graph(torch):
    """The hook sees gradients that require grad (as PyTorch's), and the gradient it returns
    stays differentiable."""
    ours, theirs = _pair(torch, "LayerNorm", 3)
    x = np.random.default_rng(10).standard_normal((2, 3))
    seen = {"ours": [], "theirs": []}

    def hook(name):
        def double(module, grad_input, grad_output):
            seen[name].append((grad_input[0].requires_grad, grad_output[0].requires_grad))
            return (grad_input[0] * 2,)
        return double

    ours.register_full_backward_hook(hook("ours"))
    theirs.register_full_backward_hook(hook("theirs"))
    x_ours, x_theirs = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _compare(torch, lambda: _cubic(ours(x_ours.tanh())), [*ours.parameters(), x_ours],
             lambda: _cubic(theirs(x_theirs.tanh())), [*theirs.parameters(), x_theirs])
    assert seen["ours"] == seen["theirs"] == [(True, True), (False, False)]
