"""Elementwise ops differentiated twice and three times (``create_graph=True``), against
PyTorch's double backward: at random points, and at the special values where a gradient
formula masks a nan or an infinity (pow at 0 and with exponent 0, division by 0, clamp at its
bounds, remainder and fmod by 0), where PyTorch's grouping of the formula decides the result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt


def leaves(lib, arrays):
    """Float64 leaves requiring grad, in ``lib``, for each array (numbers stay numbers)."""
    make = mt.tensor if lib is mt else torch.tensor
    return [make(a, requires_grad=True) if isinstance(a, np.ndarray) else a for a in arrays]


def second_order(lib, f, arrays, seed):
    """The first gradients of ``f`` (random upstream) and the derivative of their sum against
    random directions, with respect to every leaf: PyTorch's double backward, as numbers."""
    rng = np.random.default_rng(seed)
    make = mt.tensor if lib is mt else torch.tensor
    xs = leaves(lib, arrays)
    inputs = [x for x in xs if not isinstance(x, (int, float))]
    out = f(lib, *xs)
    upstream = make(rng.standard_normal(tuple(out.shape)))
    firsts = lib.autograd.grad(out, inputs, upstream, create_graph=True, allow_unused=True)
    terms = [(g * make(rng.standard_normal(tuple(g.shape)))).sum()
             for g in firsts if g is not None and g.requires_grad]
    found = [g.detach().numpy().copy() for g in firsts]
    if terms:
        seconds = lib.autograd.grad(sum(terms), inputs, allow_unused=True)
        found += [np.zeros(tuple(x.shape)) if s is None else s.detach().numpy().copy()
                  for x, s in zip(inputs, seconds)]
    return found


def assert_as_pytorch(f, *arrays, seed=0):
    with np.errstate(all="ignore"):
        mine = second_order(mt, f, arrays, seed)
    theirs = second_order(torch, f, arrays, seed)
    assert len(mine) == len(theirs)
    for k, (m, t) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-12, err_msg=f"result {k}")


def f64(*values):
    return np.array(values, dtype=np.float64)


# Bases and exponents covering 0, -0, negatives, fractions, and exponents 0, 1, 2, 0.5.
BASES = f64(-1.0, 0.0, 0.0, 0.0, -0.0, 0.5, 2.0, -2.5, 0.0, 3.0)
EXPONENTS = f64(0.0, 0.0, -1.0, 2.0, 0.5, 2.0, -1.0, 3.0, 0.5, 1.0)

SPECIAL = {
    "pow(tensor, tensor)": (lambda lib, x, e: x ** e, BASES, EXPONENTS),
    "div": (lambda lib, a, b: a / b, f64(-1.0, 0.0, 1.0, 3.0, -0.0), f64(0.0, 0.0, 2.0, -0.5, 0.0)),
    "number / tensor": (lambda lib, b: 2 / b, f64(0.0, 2.0, -0.5)),
    "clamp(min, max)": (lambda lib, x: x.clamp(-0.5, 0.5), f64(-1.0, -0.5, 0.0, 0.5, 1.0)),
    "clamp(max=)": (lambda lib, x: x.clamp(max=0), f64(-1.0, 0.0, 1.0)),
    "clamp(min=)": (lambda lib, x: x.clamp(min=0), f64(-1.0, 0.0, 1.0)),
    "clamp(tensors)": (lambda lib, x, lo, hi: x.clamp(lo, hi), f64(-1.0, 0.0, 1.0, 0.5),
                       f64(-0.5, 0.5, 2.0, 0.5), f64(0.5, 0.0, 0.0, 0.5)),
    "clamp(max=tensor)": (lambda lib, x, hi: x.clamp(max=hi), f64(-1.0, 0.0, 1.0),
                          f64(0.0, 0.0, 0.5)),
    "remainder": (lambda lib, a, b: a % b, f64(-1.0, 0.0, 5.5, -3.0), f64(0.0, 0.0, 2.0, 2.0)),
    "fmod": (lambda lib, a, b: lib.fmod(a, b), f64(-1.0, 0.0, 5.5, -3.0),
             f64(0.0, 0.0, 2.0, 2.0)),
}


@pytest.mark.parametrize("name", SPECIAL)
def test_double_backward_at_special_values_is_pytorchs(name):
    f, *arrays = SPECIAL[name]
    assert_as_pytorch(f, *arrays)


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 0.5, -0.5, -1, 2.5])
def test_pow_of_a_number_twice_is_pytorchs(exponent):
    assert_as_pytorch(lambda lib, x: x ** exponent, BASES)


@pytest.mark.parametrize("base", [0, 2, 0.5, -2])
def test_a_number_to_a_tensor_power_twice_is_pytorchs(base):
    assert_as_pytorch(lambda lib, e: base ** e, EXPONENTS)
    assert_as_pytorch(lambda lib, e: lib.pow(base, e), EXPONENTS)


def test_pow_of_zero_is_a_constant_gradient_as_in_pytorch():
    x = mt.tensor([0.0, 2.0], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad((x ** 0).sum(), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0] and not g.requires_grad


def test_abs_twice_is_zero_with_the_first_gradient_pytorchs():
    x = mt.tensor([-1.0, 0.0, 2.0], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad(x.abs().sum(), x, create_graph=True)
    assert g.tolist() == [-1.0, 0.0, 1.0]
    (h,) = mt.grad((g * x).sum(), x)  # only the product's own x: abs's part is 0
    assert h.tolist() == [-1.0, 0.0, 1.0]


THIRD = {
    "x ** y": lambda lib, x, y: x ** y,
    "2 ** x": lambda lib, x, y: 2 ** x * y,
    "x / y": lambda lib, x, y: x / y,
    "x % y": lambda lib, x, y: (x % y) * x,
    "fmod(x, y)": lambda lib, x, y: lib.fmod(x, y) * y,
    "clamp": lambda lib, x, y: x.clamp(-1, 1) * y * x,
}


def derivatives(lib, f, x, y, order):
    """The first ``order`` derivatives of ``f(x, y).sum()`` in ``x`` and ``y``, each summed and
    differentiated again."""
    out, found = f(lib, x, y).sum(), []
    for _ in range(order):
        gx, gy = lib.autograd.grad(out, (x, y), create_graph=True, allow_unused=True)
        found += [g.detach().numpy().copy() for g in (gx, gy) if g is not None]
        parts = [g.sum() for g in (gx, gy) if g is not None and g.requires_grad]
        if not parts:
            break
        out = sum(parts)
    return found


@pytest.mark.parametrize("name", THIRD)
@given(values=st.lists(st.floats(0.25, 3), min_size=8, max_size=8),
       signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=4, max_size=4))
def test_third_derivatives_agree_with_pytorch(name, values, signs):
    x = np.array(values[:4]) * np.array(signs)
    if name == "x ** y":
        x = np.abs(x)  # real powers of negative numbers are nan
    y = np.array(values[4:])
    mx, my = (mt.tensor(a, requires_grad=True) for a in (x, y))
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (x, y))
    mine = derivatives(mt, THIRD[name], mx, my, 3)
    theirs = derivatives(torch, THIRD[name], tx, ty, 3)
    assert len(mine) == len(theirs)
    for k, (m, t) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(m, t, rtol=1e-9, atol=1e-9, err_msg=f"{name}: result {k}")
