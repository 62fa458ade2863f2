"""Views, indexing, in-place writes, matmul and einsum differentiated twice and three times
(``create_graph=True``), against PyTorch: writes through a view of a non-leaf (``CopySlices``
recorded), item assignment on a non-leaf, gradients that are placed into zeros (``Embed``),
einsum's diagonals and size-1 broadcasting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt


def derivatives(lib, f, arrays, seed, order):
    """The gradients of ``f`` (random upstream) with respect to every input, then ``order - 1``
    times the gradient of their sum against random directions: PyTorch's repeated backward."""
    rng = np.random.default_rng(seed)
    make = mt.tensor if lib is mt else torch.tensor
    inputs = [make(a, requires_grad=True) for a in arrays]
    out = f(lib, *inputs)
    found, target = [], (out * make(rng.standard_normal(tuple(out.shape)))).sum()
    for k in range(order):
        grads = lib.autograd.grad(target, inputs, create_graph=k < order - 1, allow_unused=True)
        grads = [lib.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]
        found += [g.detach().numpy().copy() for g in grads]
        target = sum((g * make(rng.standard_normal(tuple(g.shape)))).sum()
                     for g in grads if g.requires_grad)
        if not isinstance(target, (mt.Tensor, torch.Tensor)):
            break  # no gradient depends on the inputs any more
    return found


def assert_as_pytorch(f, shapes, seed, order=2):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    mine = derivatives(mt, f, arrays, seed, order)
    theirs = derivatives(torch, f, arrays, seed, order)
    assert len(mine) == len(theirs)
    for k, (m, t) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-12, err_msg=f"result {k}")


def _transpose_then_mul_(lib, x, w):
    y = x * x
    y.transpose(0, 1).mul_(w * x.T)  # a write through a view of a non-leaf
    return y


def _view_chain_then_add_(lib, x, w):
    y = x.sin()
    y.view(3, 2, 2).narrow(1, 1, 1).select(2, 0).add_(w[:3, 0].reshape(3, 1) ** 2)
    return y * x


def _setitem_slice(lib, x, w):
    y = x * 2
    y[1:, :2] = x[:2, :2] * w[:2, :2]
    return y * y


def _setitem_integer(lib, x, w):
    y = x.sin()
    y[0, 1] = (w * w).sum()
    return y * x


def _setitem_advanced(lib, x, w):
    y = x * x
    y[[0, 2]] = w[:2, :4] * x[1]
    return y


def _index_repeated(lib, x, w):
    return x[[0, 0, 2]] * x[[1, 1, 1]] * w[:3, :4]


def _copy_into_view(lib, x, w):
    y = x * 3
    y[:, 1].copy_(w[:3, 0] * x[:, 0])
    return y * y


def _scatter(lib, x, w):
    index = lib.tensor([[0, 2], [1, 0]])
    return (x * x).scatter(0, index, w * w) * x


def _scatter_add(lib, x, w):
    index = lib.tensor([[0, 2, 2, 1], [1, 0, 0, 0]])
    return (x * x).scatter_add(0, index, w[:2] * w[:2])


def _gather(lib, x, w):
    index = lib.tensor([[0, 2, 1, 1], [2, 2, 0, 1]])
    return x.gather(0, index) ** 2 * w[:2]


PROGRAMS = {
    "transpose then mul_": (_transpose_then_mul_, [(3, 4), (4, 3)]),
    "view, narrow, select then add_": (_view_chain_then_add_, [(3, 4), (4, 3)]),
    "setitem slice": (_setitem_slice, [(3, 4), (4, 3)]),
    "setitem one element": (_setitem_integer, [(3, 4), (4, 3)]),
    "setitem integer arrays": (_setitem_advanced, [(3, 4), (4, 4)]),
    "index with repeats": (_index_repeated, [(3, 4), (4, 4)]),
    "copy_ into a column": (_copy_into_view, [(3, 4), (4, 3)]),
    "scatter": (_scatter, [(3, 2), (2, 2)]),
    "scatter_add": (_scatter_add, [(3, 4), (3, 4)]),
    "gather": (_gather, [(3, 4), (3, 4)]),
    "matmul vector @ batch": (lambda lib, a, b: (a @ b) ** 2, [(3,), (2, 3, 4)]),
    "matmul batch @ vector": (lambda lib, a, b: (a @ b) ** 2, [(2, 4, 3), (3,)]),
    "matmul batch @ matrix": (lambda lib, a, b: (a @ b) ** 2, [(2, 4, 3), (3, 2)]),
    "einsum diagonal": (lambda lib, a, b: lib.einsum("iij,jk->ik", a * a, b), [(3, 3, 2), (2, 4)]),
    "einsum trace": (lambda lib, a: lib.einsum("ii", a) * a, [(3, 3)]),
    "einsum size-1 broadcast": (lambda lib, a, b: lib.einsum("ij,kj->ikj", a, b) ** 2,
                                [(3, 1), (2, 4)]),
    "einsum ellipsis, summed alone": (lambda lib, a, b: lib.einsum("...ij,k->...i", a, b) * a.sum(),
                                      [(2, 3, 4), (5,)]),
    "permute": (lambda lib, a: a.permute(2, 0, 1) * a.permute(2, 0, 1).exp(), [(2, 3, 4)]),
    "cat and stack": (lambda lib, a, b: lib.stack([lib.cat([a, b * a]), (a * b).repeat(2, 1)]),
                      [(2, 3), (2, 3)]),
}


@pytest.mark.parametrize("name", PROGRAMS)
@given(seed=st.integers(0, 2**32 - 1))
def test_double_backward_is_pytorchs(name, seed):
    f, shapes = PROGRAMS[name]
    assert_as_pytorch(f, shapes, seed)


@pytest.mark.parametrize("name", ["transpose then mul_", "setitem slice", "index with repeats",
                                  "matmul vector @ batch", "einsum diagonal", "scatter_add"])
def test_third_derivatives_are_pytorchs(name):
    f, shapes = PROGRAMS[name]
    assert_as_pytorch(f, shapes, seed=7, order=3)

