"""dtype rules: PyTorch's defaults, numpy arrays keep theirs, scalars never upcast."""

import numpy as np
import pytest

import microtensor as mt


def test_python_floats_become_the_default_dtype():
    assert mt.tensor([1.0, 2.0]).dtype == mt.float32
    assert mt.tensor(3.0).dtype == mt.float32
    mt.set_default_dtype(mt.float64)
    assert mt.tensor([1.0]).dtype == mt.float64
    assert mt.zeros(2).dtype == mt.float64
    assert mt.randn(2).dtype == mt.float64


def test_ints_and_bools_keep_their_kind():
    assert mt.tensor([1, 2]).dtype == mt.int64
    assert mt.tensor([True]).dtype == mt.bool


def test_numpy_arrays_keep_their_dtype():
    assert mt.tensor(np.zeros(2, dtype=np.float64)).dtype == mt.float64
    assert mt.from_numpy(np.zeros(2, dtype=np.float16)).dtype == np.float16


def test_explicit_dtype_wins():
    assert mt.tensor([1, 2], dtype=mt.float64).dtype == mt.float64
    assert mt.ones(2, dtype="float64").dtype == mt.float64


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(2)
    assert not np.shares_memory(mt.tensor(a).array, a)
    assert np.shares_memory(mt.from_numpy(a).array, a)


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
def test_python_scalars_on_either_side_keep_the_tensor_dtype(dtype):
    x = mt.ones(2, dtype=dtype, requires_grad=True)
    for y in (x + 1.5, 1.5 + x, x * 2, 2 * x, x - 1, 1 - x, x / 3, 3 / x, x ** 2, 2 ** x):
        assert y.dtype == dtype
    (x * 2.5).sum().backward()
    assert x.grad.dtype == dtype


def test_mixed_float_dtypes_promote_like_numpy():
    assert (mt.ones(1, dtype=mt.float32) + mt.ones(1, dtype=mt.float64)).dtype == mt.float64


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating point tensors can require gradients, got dtype int64"):
        mt.tensor([1, 2], requires_grad=True)


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="tensors hold numbers; got data of dtype <U"):
        mt.tensor(["a", "b"])
    with pytest.raises(TypeError, match="cannot make a tensor from list"):
        mt.tensor([[1.0], [1.0, 2.0]])


def test_comparisons_give_boolean_tensors_without_grad():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == mt.bool and not mask.requires_grad
    assert (x == 2.0).tolist() == [False, True]
    assert ((x >= 1) & (x < 2)).tolist() == [True, False]


def test_cast_is_differentiable_and_grad_keeps_source_dtype():
    x = mt.ones(2, dtype=mt.float32, requires_grad=True)
    y = x.double() * 3
    assert y.dtype == mt.float64
    y.sum().backward()
    assert x.grad.dtype == mt.float32 and x.grad.tolist() == [3.0, 3.0]


def test_creation_functions():
    assert mt.zeros(2, 3).shape == (2, 3) and mt.zeros((2, 3)).shape == (2, 3)
    assert mt.ones_like(mt.zeros(2, dtype=mt.float64)).dtype == mt.float64
    assert mt.full((2,), 7).dtype == mt.int64
    assert mt.full((2,), 0.5).dtype == mt.float32
    assert mt.arange(3).dtype == mt.int64 and mt.arange(3.0).dtype == mt.float32
    assert mt.eye(3).tolist()[1] == [0.0, 1.0, 0.0]
    assert mt.randn(2, 3, requires_grad=True).requires_grad
    mt.manual_seed(5)
    a = mt.rand(4)
    mt.manual_seed(5)
    assert (mt.rand(4) == a).all()


def test_repr_shows_what_matters():
    assert repr(mt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mt.tensor([1.0], dtype=mt.float64)) == "tensor([1.], dtype=float64)"
    assert "requires_grad=True" in repr(mt.ones(1, requires_grad=True))
    assert "grad_fn=<Mul>" in repr(mt.ones(1, requires_grad=True) * 2)


def test_python_protocols():
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert np.asarray(x).shape == (2, 2) and float(x[0, 1]) == 2.0
    assert x.sum().item() == 10.0
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="0-d"):
        len(mt.tensor(1.0))
    assert {x: 1}[x] == 1  # hashable by identity


def test_numpy_scalars_keep_their_dtype():
    assert mt.tensor(np.float64(1.5)).dtype == mt.float64
    assert mt.tensor(np.float32(1.5)).dtype == mt.float32
