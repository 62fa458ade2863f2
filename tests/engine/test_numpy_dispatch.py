"""numpy's functions on tensors inside a recorded backward pass: every entry of the dispatch
tables gives numpy's answer (values, shape, dtype) and records a graph; outside a recorded
pass, and for functions the tables lack, nothing is recorded and nothing is lost silently."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
from microtensor.autograd.higher_order import recording_backward
from microtensor.numpy_dispatch import FUNCTIONS, UFUNCS

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3))
B = RNG.standard_normal((2, 3))
POSITIVE = np.abs(A) + 0.5
SQUARE = RNG.standard_normal((3, 3))

#: One call per table entry: (numpy function, its arguments with arrays standing for tensors).
CALLS = {
    "where": (np.where, (A > 0, A, B)),
    "sum": (np.sum, (A,), {"axis": 1, "keepdims": True}),
    "sum_all": (np.sum, (A,)),
    "zeros_like": (np.zeros_like, (A,)),
    "ones_like": (np.ones_like, (A,)),
    "broadcast_to": (np.broadcast_to, (A[0], (4, 3))),
    "expand_dims": (np.expand_dims, (A, (0, -1))),
    "squeeze": (np.squeeze, (A[None],), {"axis": 0}),
    "reshape": (np.reshape, (A, (3, 2))),
    "transpose": (np.transpose, (A,)),
    "transpose_axes": (np.transpose, (A[None], (2, 0, 1))),
    "swapaxes": (np.swapaxes, (A, 0, 1)),
    "moveaxis": (np.moveaxis, (A[None], 0, -1)),
    "flip": (np.flip, (A, 1)),
    "flip_all": (np.flip, (A,)),
    "roll": (np.roll, (A, 1, 1)),
    "concatenate": (np.concatenate, ([A, B], 1)),
    "stack": (np.stack, ([A, B], 2)),
    "cumsum": (np.cumsum, (A, 1)),
    "cumprod": (np.cumprod, (A, 0)),
    "astype": (np.astype, (A, np.float32)),
    "copy": (np.copy, (A,)),
    "einsum": (np.einsum, (A, [0, 1], B, [0, 1], [1])),
    "prod": (np.prod, (A, 1)),
}
SPLITS = {"split_sections": (A, 3, 1), "split_indices": (A, [1, 2], 1)}
BINARY_UFUNCS = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum",
                 "fmod"]
UNARY_UFUNCS = ["negative", "positive", "absolute", "exp", "log", "sqrt", "sign", "sin", "cos",
                "tanh", "log1p", "expm1", "floor", "ceil", "trunc", "reciprocal", "square"]


def as_tensors(value, requires_grad=True):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return mt.tensor(value, requires_grad=requires_grad)
    if isinstance(value, np.ndarray):
        return mt.tensor(value)
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [as_tensors(v, requires_grad) for v in value]
    return value


def same(got, expected):
    assert isinstance(got, mt.Tensor), type(got)
    assert got.shape == np.shape(expected) and got.dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got.array, expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", CALLS)
def test_each_function_gives_numpys_answer_and_records(name):
    func, args, *kw = CALLS[name]
    kwargs = kw[0] if kw else {}
    expected = func(*args, **kwargs)
    with recording_backward():
        got = func(*(as_tensors(a) for a in args), **kwargs)
    same(got, expected)
    assert got.requires_grad != (name in ("zeros_like", "ones_like"))  # those are constants


@pytest.mark.parametrize("name", SPLITS)
def test_split_gives_numpys_pieces(name):
    a, sections, axis = SPLITS[name]
    with recording_backward():
        pieces = np.split(as_tensors(a), sections, axis)
    for got, expected in zip(pieces, np.split(a, sections, axis), strict=True):
        same(got, expected)


@pytest.mark.parametrize("name", BINARY_UFUNCS)
def test_each_binary_ufunc_gives_numpys_answer(name):
    ufunc = getattr(np, name)
    x, y = POSITIVE, POSITIVE[::-1]
    with recording_backward():
        same(ufunc(as_tensors(x), as_tensors(y)), ufunc(x, y))
        same(ufunc(x, as_tensors(y)), ufunc(x, y))  # an array on the left: the tensor's operator
        same(ufunc(as_tensors(x), 2.0), ufunc(x, 2.0))  # a number takes the tensor's dtype


@pytest.mark.parametrize("name", UNARY_UFUNCS)
def test_each_unary_ufunc_gives_numpys_answer(name):
    ufunc = getattr(np, name)
    with recording_backward():
        same(ufunc(as_tensors(POSITIVE)), ufunc(POSITIVE))


def test_the_tables_are_covered():
    assert {f for f, *_ in CALLS.values()} | {np.split, np.shape, np.ndim, np.result_type,
                                              np.size} == set(FUNCTIONS)
    covered = set(BINARY_UFUNCS) | set(UNARY_UFUNCS) | {
        "floor_divide", "remainder", "matmul", "equal", "not_equal", "less", "less_equal",
        "greater", "greater_equal", "bitwise_and", "bitwise_or", "bitwise_xor", "invert",
        "isnan", "isinf", "isfinite", "logical_not", "logical_and", "logical_or"}
    assert covered == set(UFUNCS)


def test_a_function_the_tables_lack_is_refused_for_a_tensor_that_requires_grad():
    with recording_backward(), pytest.raises(TypeError, match="polyval"):
        np.polyval([1.0, 0.0], mt.tensor(A, requires_grad=True))
    with recording_backward():  # a constant: numpy on its array
        assert type(np.polyval([1.0, 0.0], mt.tensor(A))) is np.ndarray


def test_an_array_divided_by_a_tensor_is_the_tensors_operator_outside_a_recorded_pass():
    quotient = np.ones(3) / mt.tensor([1.0, 2.0, 4.0], requires_grad=True)
    assert isinstance(quotient, mt.Tensor) and quotient.requires_grad
    assert quotient.tolist() == [1.0, 0.5, 0.25]


def test_structure_queries_read_the_tensor():
    t = mt.tensor(SQUARE, requires_grad=True)
    with recording_backward():
        assert np.shape(t) == (3, 3) and np.ndim(t) == 2 and np.size(t) == 9
        assert np.result_type(t, np.float32) == np.float64
