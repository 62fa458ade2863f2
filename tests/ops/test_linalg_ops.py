"""matmul in each of numpy's cases: vector and matrix operands, and batches that broadcast."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import broadcastable_shapes, gradcheck, shapes, tensors

sides = st.integers(1, 4)


@st.composite
def matmul_operands(draw, a_kind, b_kind):
    """Operands of ``a @ b``; a kind is "vector", "matrix" or "batch" (matrices with leading
    dims that broadcast against the other operand's)."""
    n, k, m = draw(sides), draw(sides), draw(sides)
    a_core = {"vector": (k,)}.get(a_kind, (n, k))
    b_core = {"vector": (k,)}.get(b_kind, (k, m))
    a_batch = draw(shapes(min_dims=1, max_dims=2, max_side=3)) if a_kind == "batch" else ()
    b_batch = draw(broadcastable_shapes(a_batch, min_dims=1, max_side=3)) if b_kind == "batch" else ()
    return draw(tensors(a_batch + a_core)), draw(tensors(b_batch + b_core))


CASES = [("vector", "vector"), ("matrix", "vector"), ("vector", "matrix"), ("matrix", "matrix"),
         ("batch", "batch"), ("batch", "matrix"), ("matrix", "batch"), ("batch", "vector"),
         ("vector", "batch")]


@pytest.mark.parametrize("a_kind, b_kind", CASES, ids=[f"{a}@{b}" for a, b in CASES])
@given(data=st.data())
def test_matmul(a_kind, b_kind, data):
    a, b = data.draw(matmul_operands(a_kind, b_kind))
    expected = a.array @ b.array
    for out in (a @ b, mt.matmul(a, b), a.matmul(b)):
        assert out.dtype == mt.float64 and out.shape == expected.shape
        np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a, b: a @ b, [a, b])


@given(a=tensors((3, 2)), b=tensors((2, 4)))
def test_matmul_gradient_of_one_operand_only(a, b):
    constant = mt.tensor(b.array)
    assert gradcheck(lambda a: a @ constant, [a])
    assert gradcheck(lambda b: a.detach() @ b, [b])


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
def test_matmul_keeps_the_dtype(dtype):
    a = mt.ones(2, 3, dtype=dtype, requires_grad=True)
    out = a @ mt.ones(3, dtype=dtype)
    assert out.dtype == dtype and mt.grad(out.sum(), a)[0].dtype == dtype


def test_matmul_names_the_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"MatMul: .*\(2, 3\) float32, \(2, 3\) float32"):
        mt.ones(2, 3) @ mt.ones(2, 3)


def test_a_number_has_no_matrix_product(torch):
    """As PyTorch: ``2 @ t`` is Python's "unsupported operand" TypeError (not a dtype error)."""
    for lib in (mt, torch):
        t = lib.tensor([1.0, 2.0])
        with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for @: 'int' and 'Tensor'"):
            2 @ t
        with pytest.raises(TypeError):
            t @ 2.0
