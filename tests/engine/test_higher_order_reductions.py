"""Reductions differentiated two and three times (``create_graph=True``), against PyTorch:
softmax and its relatives, var/std, norms, prod and cumprod (with zeros, where PyTorch's
double backward takes its slower, differentiable formulas), cumsum, max with ties, and the
losses built on them. Each order's derivative is of the previous one weighted by a fixed
random tensor, so no derivative is trivially zero (the sum of a softmax is 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import microtensor as mt


def derivatives(lib, f, x, order, seed=0):
    """The first ``order`` derivatives of ``sum(f(x) * w)``, each weighted by a random tensor of
    its shape and differentiated again."""
    rng = np.random.default_rng(seed)
    out = f(lib, x)
    out = (out * lib.tensor(rng.standard_normal(tuple(out.shape)))).sum()
    found = []
    for _ in range(order):
        (out,) = lib.autograd.grad(out, x, create_graph=True)
        found.append(out.detach().numpy().copy())
        out = (out * lib.tensor(rng.standard_normal(tuple(out.shape)))).sum()
    return found


def agree(f, values, shape, order=3):
    a = np.asarray(values, dtype=np.float64).reshape(shape)
    mine = derivatives(mt, f, mt.tensor(a, requires_grad=True), order)
    theirs = derivatives(torch, f, torch.tensor(a, requires_grad=True), order)
    for k, (m, t) in enumerate(zip(mine, theirs), start=1):
        np.testing.assert_allclose(m, t, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"order {k}")


SMOOTH = {
    "softmax": lambda lib, x: x.softmax(-1),
    "softmax_dim0": lambda lib, x: x.softmax(0),
    "log_softmax": lambda lib, x: x.log_softmax(-1),
    "log_softmax_dim0": lambda lib, x: x.log_softmax(0),
    "logsumexp": lambda lib, x: x.logsumexp(1),
    "logsumexp_keepdim": lambda lib, x: x.logsumexp(0, keepdim=True),
    # var is quadratic: composed with sin, so its third derivative is not constant
    "var": lambda lib, x: x.var(1).sin(),
    "var_all": lambda lib, x: x.var().sin(),
    "std_keepdim": lambda lib, x: x.std(0, keepdim=True),
    "std_correction0": lambda lib, x: x.std(1, correction=0),
    "norm2": lambda lib, x: x.norm(dim=1),
    "norm3": lambda lib, x: x.norm(p=3),
    "norm1.5": lambda lib, x: x.norm(p=1.5, dim=0, keepdim=True),
    "prod_dim": lambda lib, x: x.prod(1),
    "prod_all": lambda lib, x: x.prod(),
    "cumprod": lambda lib, x: x.cumprod(1),
    "cumsum_sin": lambda lib, x: x.cumsum(0).sin(),
    "cross_entropy": lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([2, 0]), reduction="sum") ** 2,
    "nll_loss_mean": lambda lib, x: lib.nn.functional.nll_loss(
        x.log_softmax(1), lib.tensor([1, 2])) ** 2,
}


#: A standard deviation is a square root: at a slice of (nearly) equal values its derivatives
#: blow up and their direction is rounding (std of [-2, -2 + 2.2e-16] is 1.6e-16 here, exactly,
#: and 2.2e-16 in PyTorch, which rounds the mean), so those slices are the dim's own business.
SINGULAR_AT_CONSTANT = {"std_keepdim": 0, "std_correction0": 1}


@pytest.mark.parametrize("name", SMOOTH)
@given(values=st.lists(st.floats(0.25, 2) | st.floats(-2, -0.25), min_size=6, max_size=6))
def test_third_derivatives_of_reductions_agree_with_pytorch(name, values):
    if name in SINGULAR_AT_CONSTANT:
        spread = np.ptp(np.reshape(values, (2, 3)), axis=SINGULAR_AT_CONSTANT[name])
        assume(spread.min() > 1e-3)
    agree(SMOOTH[name], values, (2, 3))


def test_layer_norm_second_derivative_agrees_with_pytorch():
    # Second order only: PyTorch's third derivative of its fused layer_norm differs from that
    # of the same formula composed of its own ops (its double backward is not differentiated
    # exactly); microtensor's is the composed formula's.
    agree(lambda lib, x: lib.nn.functional.layer_norm(x, (3,)),
          [0.3, 1.2, -0.7, 2.0, 0.5, -1.1], (2, 3), order=2)


WITH_ZEROS = {
    "prod_all": lambda lib, x: x.prod(),
    "prod_dim": lambda lib, x: x.prod(1),
    "cumprod": lambda lib, x: x.cumprod(1),
    "cumprod_dim0": lambda lib, x: x.cumprod(0),
}


@pytest.mark.parametrize("name", WITH_ZEROS)
@given(values=st.lists(st.sampled_from([0.0, 0.5, -1.5, 2.0]), min_size=8, max_size=8))
def test_second_derivatives_through_zeros_agree_with_pytorch(name, values):
    # Zeros take PyTorch's differentiable formulas (prod_safe_zeros_backward, cumprod's
    # O(n^2) one), which two or more zeros in a product are the test of.
    agree(WITH_ZEROS[name], values, (2, 4), order=2)


def test_cumprod_with_dtype_differentiates_twice_in_the_input_dtype():
    # The double backward works on the float64 input, not on the float32 output.
    agree(lambda lib, x: x.cumprod(0, dtype=lib.float32), [0.0, 0.3, 0.0, 1.7], (2, 2), order=2)


@pytest.mark.parametrize("reduce", ["amax", "amin", "max"])
def test_extremum_with_ties_has_a_zero_second_derivative(reduce):
    f = (lambda lib, x: getattr(x, reduce)(1) ** 2) if reduce != "max" else (
        lambda lib, x: x.max() ** 2)
    agree(f, [1.0, 3.0, 3.0, -2.0, -2.0, 0.5], (2, 3), order=2)


def test_first_order_prod_with_two_zeros_keeps_pytorchs_shortcut():
    # Outside a recorded pass the gradient is zero outright (no inf * 0 = nan), as PyTorch's.
    a = np.array([0.0, 0.0, np.inf])
    x, tx = mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.prod().backward()
    tx.prod().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("reduce", ["max", "amax"])
def test_a_nan_upstream_gradient_reaches_what_pytorchs_does(reduce):
    # max() fills the winners (a nan share stays there), amax multiplies by the mask (nan
    # everywhere); both orders, as PyTorch's.
    agree(lambda lib, x: getattr(x, reduce)() ** 2, [1.0, np.nan, 3.0], (3,), order=2)
