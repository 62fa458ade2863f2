"""More elementwise math and rounded division: gradients against finite differences (away
from the kinks and jumps), PyTorch's values at the edges (ties, signs, zeros), and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import away_from, gradcheck, tensor_pairs, tensors

SMOOTH = {
    "sin": (mt.sin, np.sin, tensors()),
    "cos": (mt.cos, np.cos, tensors()),
    "log1p": (mt.log1p, np.log1p, tensors(min_value=-0.5, max_value=5)),
    "expm1": (mt.expm1, np.expm1, tensors(min_value=-5, max_value=5)),
    "rsqrt": (mt.rsqrt, lambda a: 1 / np.sqrt(a), tensors(min_value=0.2, max_value=5)),
    "reciprocal": (mt.reciprocal, lambda a: 1 / a, tensors(elements=away_from(0.0, margin=0.2))),
    "square": (mt.square, np.square, tensors()),
}


@pytest.mark.parametrize("name", SMOOTH)
@given(data=st.data())
def test_smooth_unary_values_and_gradients(name, data):
    op, reference, strategy = SMOOTH[name]
    x = data.draw(strategy)
    np.testing.assert_allclose(op(x).array, reference(x.array), rtol=1e-12)
    assert gradcheck(op, [x])


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
@given(x=tensors())
def test_piecewise_constant_ops_have_a_zero_gradient(name, x):
    x = x.detach().requires_grad_()
    out = getattr(x, name)()
    out.backward(mt.ones(*out.shape, dtype=mt.float64))
    assert out.requires_grad and not x.grad.array.any()


@given(pair=tensor_pairs(elements=away_from(0.0, margin=0.3)))
def test_remainder_and_fmod_gradients(pair):
    a, b = pair
    # Away from the jumps, where a / b is an integer: there finite differences straddle them.
    a = (mt.floor(a / b) * b + b * 0.5).detach().requires_grad_()
    assert gradcheck(lambda a, b: a % b, [a, b])
    assert gradcheck(mt.fmod, [a, b])


def test_signs_ties_and_zeros_as_pytorch():
    x = mt.tensor([-0.0, float("nan"), -2.5, 2.5, 0.5])
    assert x.sign().tolist()[:2] == [0.0, 0.0]  # numpy's sign keeps -0 and nan
    assert x.round().tolist()[2:] == [-2.0, 2.0, 0.0]  # half to even
    assert np.signbit((mt.tensor([-0.0]) % 2.0).array[0])  # fmod's sign, as PyTorch
    assert (mt.tensor([7, -7]) % -3).tolist() == [-2, -1]
    assert mt.tensor([7, -7]).fmod(-3).tolist() == [1, -1]
    assert (mt.tensor([-7.5]) // float("inf")).tolist() == [-1.0]


def test_integer_division_by_zero_raises_unless_nothing_is_divided():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        mt.tensor([1, 2]) % 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        mt.tensor([1]).div(mt.tensor([0]), rounding_mode="trunc")
    assert (mt.zeros(0, dtype=mt.int64) // 0).shape == (0,)
    assert (mt.tensor([1.0]) // 0.0).tolist() == [float("inf")]


def test_floor_divide_has_no_gradient_and_rounded_div_a_zero_one():
    x = mt.tensor([3.0, -3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (x // 2).sum().backward()
    x.div(2, rounding_mode="floor").sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="remainder"):
        (2.0 % x).sum().backward()


def test_alpha_rules():
    ints = mt.tensor([1, 2])
    with pytest.raises(mt.DtypeError, match="alpha"):
        ints.add(ints, alpha=0.5)
    with pytest.raises(mt.DtypeError, match="Boolean alpha"):
        mt.ones(2).add(mt.ones(2), alpha=True)
    with pytest.raises(mt.DtypeError, match="Subtraction"):
        ints.sub(mt.tensor([True, False]), alpha=2)
    assert mt.sub(10, ints, alpha=3).tolist() == [7, 4]


def test_in_place_remainder_and_floor_divide_keep_the_dtype():
    x = mt.tensor([7, -7])
    x %= 3
    assert x.tolist() == [1, 2]
    with pytest.raises(mt.DtypeError):
        x //= 2.5
