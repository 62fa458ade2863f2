"""Reductions (sum, mean, max, min, amax, amin, logsumexp) and softmax/log_softmax, over
every kind of ``dim`` (int, negative int, tuple, None) with ``keepdim`` both ways."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck, shapes, tensors


def assert_forward(out, expected):
    assert out.dtype == mt.float64
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)


@st.composite
def reductions(draw, unique=False, allow_tuple=True, allow_none=True):
    """(x, dim, keepdim): a tensor and a dim that fits it (None, an int, or a tuple of
    distinct dims, each possibly negative)."""
    x = draw(tensors(shapes(min_dims=1, max_dims=4, max_side=4), unique=unique), label="x")
    axis = st.integers(-x.ndim, x.ndim - 1)
    choices = [axis]
    if allow_tuple:
        choices.append(st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True).flatmap(
            lambda dims: st.tuples(*[st.sampled_from([d, d - x.ndim]) for d in dims])))
    if allow_none:
        choices.append(st.none())
    dim = draw(st.one_of(choices), label="dim")
    return x, dim, draw(st.booleans(), label="keepdim")


@pytest.mark.parametrize("name, reference", [("sum", np.sum), ("mean", np.mean)])
@given(case=reductions())
def test_sum_and_mean(name, reference, case):
    x, dim, keepdim = case
    op = getattr(mt, name)
    assert_forward(op(x, dim=dim, keepdim=keepdim), reference(x.array, axis=dim, keepdims=keepdim))
    assert gradcheck(lambda x: op(x, dim=dim, keepdim=keepdim), [x])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "amax", "amin", "logsumexp"])
@given(x=tensors(shape=shapes(max_dims=0), unique=True))
def test_reducing_a_0d_tensor_over_all_dims(name, x):
    out = getattr(x, name)()
    assert_forward(out, x.array)
    assert gradcheck(lambda x: getattr(x, name)(), [x])


@pytest.mark.parametrize("name, reference", [("max", np.max), ("min", np.min)])
@given(x=tensors(shape=shapes(min_dims=0), unique=True))
def test_max_and_min_over_everything(name, reference, x):
    assert_forward(getattr(x, name)(), reference(x.array))
    assert gradcheck(lambda x: getattr(x, name)(), [x])


@pytest.mark.parametrize("name, arg", [("max", np.argmax), ("min", np.argmin)])
@given(case=reductions(unique=True, allow_tuple=False, allow_none=False))
def test_max_and_min_along_a_dim_return_values_and_indices(name, arg, case):
    x, dim, keepdim = case
    values, indices = getattr(x, name)(dim=dim, keepdim=keepdim)
    expected = np.expand_dims(arg(x.array, axis=dim), dim)
    if not keepdim:
        expected = np.squeeze(expected, dim)
    assert indices.dtype == mt.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.array, expected)
    reference = np.max if name == "max" else np.min
    assert_forward(values, reference(x.array, axis=dim, keepdims=keepdim))
    assert gradcheck(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim).values, [x])


@pytest.mark.parametrize("name, reference", [("amax", np.max), ("amin", np.min)])
@given(case=reductions(unique=True))
def test_amax_and_amin(name, reference, case):
    x, dim, keepdim = case
    assert_forward(getattr(x, name)(dim=dim, keepdim=keepdim),
                   reference(x.array, axis=dim, keepdims=keepdim))
    assert gradcheck(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), [x])


@pytest.mark.parametrize("name", ["max", "amax"])
def test_a_tied_maximum_shares_its_gradient(name):
    x = mt.tensor([2.0, 5.0, 5.0], dtype=mt.float64, requires_grad=True)
    (dx,) = mt.grad(getattr(x, name)(), x)
    assert dx.tolist() == [0.0, 0.5, 0.5]


@given(case=reductions())
def test_logsumexp(case):
    x, dim, keepdim = case
    expected = np.log(np.sum(np.exp(x.array), axis=dim, keepdims=keepdim))
    assert_forward(mt.logsumexp(x, dim=dim, keepdim=keepdim), expected)
    assert gradcheck(lambda x: x.logsumexp(dim=dim, keepdim=keepdim), [x])


def test_logsumexp_does_not_overflow():
    x = mt.tensor([1000.0, 1000.0], dtype=mt.float64, requires_grad=True)
    out = x.logsumexp(0)
    assert out.item() == pytest.approx(1000 + np.log(2))
    np.testing.assert_allclose(mt.grad(out, x)[0].array, [0.5, 0.5])


def numpy_softmax(a, dim):
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


@given(case=reductions(allow_tuple=False, allow_none=False))
def test_softmax(case):
    x, dim, _ = case
    assert_forward(x.softmax(dim), numpy_softmax(x.array, dim))
    assert_forward(mt.softmax(x, dim=dim), numpy_softmax(x.array, dim))
    assert gradcheck(lambda x: x.softmax(dim), [x])


@given(case=reductions(allow_tuple=False, allow_none=False))
def test_log_softmax(case):
    x, dim, _ = case
    assert_forward(x.log_softmax(dim), np.log(numpy_softmax(x.array, dim)))
    assert gradcheck(lambda x: mt.log_softmax(x, dim=dim), [x])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_huge_scores_is_finite(name):
    x = mt.tensor([[1000.0, -1000.0, 0.0]], dtype=mt.float64, requires_grad=True)
    out = getattr(x, name)(-1)
    assert np.isfinite(out.array).all()
    (dx,) = mt.grad(out, x, grad_outputs=mt.tensor([[1.0, 2.0, 3.0]], dtype=mt.float64))
    assert np.isfinite(dx.array).all()


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "softmax",
                                  "log_softmax"])
def test_reductions_keep_the_dtype(name, dtype):
    x = mt.tensor([[0.5, -1.0], [2.0, 3.0]], dtype=dtype, requires_grad=True)
    out = getattr(x, name)(-1)
    assert out.dtype == dtype
    assert mt.grad(out.sum(), x)[0].dtype == dtype
