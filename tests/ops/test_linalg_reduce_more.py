"""einsum, the strict products (mm, bmm, dot, mv, outer, inner), prod, cumsum, cumprod, var/std and
norm: gradients by finite differences, and the cases the oracle's random draws rarely reach
(prod's and cumprod's zeros, std and norm at zero, long float16/float32 inputs) against PyTorch."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck, shapes, tensors

EQUATIONS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
             ("ii->i", [(3, 3)]), ("iij->j", [(2, 2, 3)]), ("i,j->ij", [(2,), (3,)]),
             ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
             ("ij,ij->", [(1, 3), (2, 1)])]


@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS, ids=[e for e, _ in EQUATIONS])
@given(data=st.data())
def test_einsum_gradient(equation, shapes, data):
    operands = [data.draw(tensors(s)) for s in shapes]
    assert gradcheck(lambda *ops: mt.einsum(equation, *ops), operands)


@given(seed=st.integers(0, 2**32 - 1))
def test_reductions_gradients(seed):
    # Normal draws: no constant row (where std has no derivative) and no entry at 0.
    x = mt.tensor(np.random.default_rng(seed).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: t.prod(1), [x])
    assert gradcheck(lambda t: t.cumsum(0), [x])
    assert gradcheck(lambda t: t.var(1, correction=2), [x])
    assert gradcheck(lambda t: t.std((0, 1)), [x])
    for p in (1, 2, 3, 0.5, float("inf")):
        assert gradcheck(lambda t, p=p: t.norm(p, dim=0), [x])


@pytest.mark.parametrize("op", ["mm", "bmm", "dot", "mv", "outer", "inner"])
def test_products_gradient(op):
    shapes = {"mm": [(2, 3), (3, 4)], "bmm": [(2, 2, 3), (2, 3, 4)], "dot": [(3,), (3,)],
              "mv": [(2, 3), (3,)], "outer": [(2,), (3,)], "inner": [(2, 3), (4, 3)]}[op]
    rng = np.random.default_rng(0)
    operands = [mt.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(getattr(mt, op), operands)


def grads(lib, values, call):
    x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
    call(x).backward()
    return np.asarray(x.grad.tolist())


ZEROS = [[0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 5.0], [0.0, 0.0, 0.0], [[0.0, 2.0], [3.0, 0.0]],
         [1.0, 0.0, float("inf")], [2.0, float("nan"), 0.0]]


@pytest.mark.parametrize("values", ZEROS, ids=str)
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_prod_gradient_with_zeros_as_pytorch(torch, values, dim):
    def call(x):
        return x.prod() if dim is None else x.prod(dim).sum()
    np.testing.assert_array_equal(grads(mt, values, call), grads(torch, values, call))


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, -1, float("inf"), -float("inf")])
def test_norm_gradient_at_zero_as_pytorch(torch, p):
    for values in ([0.0, 0.0, 0.0], [0.0, 1.0, 0.0]):
        np.testing.assert_array_equal(grads(mt, values, lambda x: x.norm(p)),
                                      grads(torch, values, lambda x: x.norm(p)))


def test_std_gradient_at_zero_variance_is_zero():
    x = mt.full((2, 5), 0.1, dtype=mt.float64, requires_grad=True)
    x.std(1).sum().backward()
    assert x.grad.tolist() == [[0.0] * 5] * 2


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=10)
@given(dtype=st.sampled_from(["float16", "float32"]), n=st.integers(3000, 70000),
       axis=st.sampled_from([0, 1]))
def test_long_reductions_as_pytorch(torch, dtype, n, axis):
    """Sums accumulate as PyTorch's (float16 in float32, long axes cascaded), so var, std and
    norm of long columns or rows agree to their dtype's precision."""
    rng = np.random.default_rng(n)
    values = (rng.random((n, 2) if axis == 0 else (2, n)) + 10).astype(dtype)
    mine, theirs = mt.tensor(values), torch.from_numpy(values)
    rtol = {"float16": 2e-3, "float32": 1e-5}[dtype]
    for name, kw in (("var", {"dim": axis}), ("std", {"dim": axis}), ("norm", {"dim": axis})):
        np.testing.assert_allclose(getattr(mine, name)(**kw).array.astype(np.float64),
                                   getattr(theirs, name)(**kw).double().numpy(), rtol=rtol,
                                   err_msg=f"{name} {dtype}")


def test_errors_name_the_op():
    with pytest.raises(mt.ShapeError, match="mm: mat1 and mat2 shapes cannot be multiplied"):
        mt.mm(mt.ones(2, 3), mt.ones(4, 2))
    with pytest.raises(mt.DtypeError, match="dot: expected both vectors to have same dtype"):
        mt.dot(mt.ones(3), mt.ones(3, dtype=mt.float64))
    with pytest.raises(RuntimeError, match="einsum\\(\\): subscript j has size 2"):
        mt.einsum("ij,jk->ik", mt.ones(2, 3), mt.ones(2, 4))
    with pytest.raises(mt.DtypeError, match="std and var only support floating point"):
        mt.tensor([1, 2]).var()
    with pytest.raises(NotImplementedError, match="nuclear norm"):
        mt.ones(2, 2).norm("nuc")


def test_max_and_min_of_two_tensors_are_maximum_and_minimum():
    a, b = mt.tensor([1.0, 5.0]), mt.tensor([3.0, 2.0])
    assert a.max(b).tolist() == mt.max(a, b).tolist() == [3.0, 5.0]
    assert a.min(b).tolist() == mt.min(a, b).tolist() == [1.0, 2.0]


@given(data=st.data(), zeros=st.sampled_from([0, 1, 2]))
def test_cumprod_gradient_with_zeros(data, zeros):
    # cumprod is linear in each entry, so finite differences are exact enough even at a zero;
    # the same positions (the ends included) are zeroed in every slice along dim.
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = shape[:dim % len(shape)] + (max(shape[dim], zeros),) + shape[dim % len(shape) + 1:]
    values = data.draw(tensors(shape, min_value=-3, max_value=3)).array.copy()
    picked = data.draw(st.lists(st.integers(0, shape[dim] - 1), min_size=zeros, max_size=zeros,
                                unique=True))
    np.moveaxis(values, dim, 0)[picked] = 0.0
    x = mt.tensor(values, requires_grad=True)
    assert int((x == 0).sum().item()) >= zeros * x.numel() // shape[dim]
    assert gradcheck(lambda t: t.cumprod(dim), [x])


@pytest.mark.parametrize("values", ZEROS, ids=str)
@pytest.mark.parametrize("dim", [0, -1])
def test_cumprod_gradient_with_zeros_as_pytorch(torch, values, dim):
    # the upstream gradient 1, 2, 3...: each entry's part of the sum is seen
    def call(x):
        return (x.cumprod(dim) * x.new_tensor(np.arange(1.0, x.numel() + 1).reshape(x.shape))).sum()
    np.testing.assert_array_equal(grads(mt, values, call), grads(torch, values, call))


def test_scans_accumulate_float32_in_float64_and_need_a_dim(torch):
    """PyTorch's CPU scans add float32 in float64: a running sum that passes float32's range
    comes back; and dim is required (None is a TypeError)."""
    for op in ("cumsum", "cumprod"):
        values = [3e38, 3e38, -3e38] if op == "cumsum" else [1e30, 1e30, 1e-30]
        ours = getattr(mt.tensor(values), op)(0).tolist()
        assert ours == getattr(torch.tensor(values), op)(0).tolist()
        for lib in (mt, torch):
            with pytest.raises(TypeError):
                getattr(lib.ones(3), op)(None)
