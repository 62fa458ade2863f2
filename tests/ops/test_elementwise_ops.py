"""Elementwise ops: forward against numpy, gradients against finite differences.

Values stay inside each op's domain (log and sqrt positive, pow's base positive) and
away from kinks and ties (abs and relu at 0, clamp's bounds, maximum's equal pairs),
where the derivative is not defined and finite differences would straddle it.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import (
    away_from,
    broadcastable_shapes,
    gradcheck,
    shapes,
    tensor_pairs,
    tensors,
)


def assert_forward(out, expected, dtype=mt.float64):
    assert out.dtype == dtype
    rtol = 1e-12 if dtype == mt.float64 else 1e-5
    np.testing.assert_allclose(out.array, expected, rtol=rtol, atol=rtol)


@st.composite
def pairs_with_domains(draw, a_range, b_range):
    """Two broadcasting tensors whose values come from different ranges (pow's base and
    exponent)."""
    a_shape = draw(shapes(max_dims=3))
    b_shape = draw(broadcastable_shapes(a_shape, max_dims=len(a_shape) + 1, max_side=3))
    if draw(st.booleans()):
        a_shape, b_shape = b_shape, a_shape
    a = draw(tensors(a_shape, min_value=a_range[0], max_value=a_range[1]))
    b = draw(tensors(b_shape, min_value=b_range[0], max_value=b_range[1]))
    return a, b


# ------------------------------------------------------------------ arithmetic
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}


@pytest.mark.parametrize("name", BINARY)
@given(pair=tensor_pairs(elements=away_from(0.0, margin=0.5)))
def test_binary_arithmetic_with_broadcasting(name, pair):
    op, reference = BINARY[name]
    a, b = pair
    assert_forward(op(a, b), reference(a.array, b.array))
    assert gradcheck(op, [a, b])


@pytest.mark.parametrize("name", BINARY)
@given(x=tensors(elements=away_from(0.0, margin=0.5)),
       scalar=st.sampled_from([-2.5, -1, 0.5, 3]))
def test_binary_arithmetic_with_a_python_scalar_on_either_side(name, x, scalar):
    op, reference = BINARY[name]
    assert_forward(op(x, scalar), reference(x.array, scalar))
    assert_forward(op(scalar, x), reference(scalar, x.array))
    assert gradcheck(lambda x: op(x, scalar), [x])
    assert gradcheck(lambda x: op(scalar, x), [x])


@given(x=tensors())
def test_unary_minus(x):
    assert_forward(-x, -x.array)
    assert gradcheck(lambda x: -x, [x])


@given(x=tensors(min_value=0.2, max_value=3), exponent=st.floats(-2.5, 3.0))
def test_tensor_to_a_scalar_power(x, exponent):
    assert_forward(x ** exponent, x.array ** exponent)
    assert gradcheck(lambda x: x ** exponent, [x])


@given(x=tensors(min_value=-3, max_value=3), exponent=st.sampled_from([1, 2, 3, -1, -2]))
def test_any_tensor_to_an_integer_power(x, exponent):
    if exponent < 0:
        x = mt.tensor(np.where(np.abs(x.array) < 0.2, 0.5, x.array), requires_grad=True)
    assert_forward(x ** exponent, x.array ** float(exponent))
    assert gradcheck(lambda x: x ** exponent, [x])


@given(base=st.floats(0.2, 4.0), x=tensors(min_value=-3, max_value=3))
def test_scalar_to_a_tensor_power(base, x):
    assert_forward(base ** x, base ** x.array)
    assert gradcheck(lambda x: base ** x, [x])


@given(pair=pairs_with_domains(a_range=(0.2, 3), b_range=(-2, 2)))
def test_tensor_to_a_tensor_power_with_broadcasting(pair):
    base, exponent = pair
    assert_forward(base ** exponent, base.array ** exponent.array)
    assert gradcheck(lambda b, e: b ** e, [base, exponent])


def test_zero_power_has_a_zero_gradient_at_zero():
    x = mt.tensor([0.0, 2.0], dtype=mt.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        (dx,) = mt.grad((x ** 0).sum(), x)
    assert dx.tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ unary math
UNARY = {
    "exp": (mt.exp, np.exp, tensors(min_value=-5, max_value=5)),
    "log": (mt.log, np.log, tensors(min_value=0.1, max_value=10)),
    "sqrt": (mt.sqrt, np.sqrt, tensors(min_value=0.1, max_value=10)),
    "abs": (mt.abs, np.abs, tensors(elements=away_from(0.0))),
    "tanh": (mt.tanh, np.tanh, tensors()),
    "sigmoid": (mt.sigmoid, lambda a: 1 / (1 + np.exp(-a)), tensors()),
    "relu": (mt.relu, lambda a: np.maximum(a, 0), tensors(elements=away_from(0.0))),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_math(name, data):
    op, reference, inputs = UNARY[name]
    x = data.draw(inputs, label="x")
    assert_forward(op(x), reference(x.array))
    assert_forward(getattr(x, name)(), reference(x.array))  # the method spelling
    assert gradcheck(op, [x])


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_math_forward_in_float32(name, data):
    op, reference, _ = UNARY[name]
    x = data.draw(tensors(dtype=mt.float32, min_value=0.1, max_value=5), label="x")
    assert_forward(op(x), reference(x.array.astype(np.float64)), dtype=mt.float32)


def test_abs_and_relu_have_zero_gradient_at_their_kink():
    x = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    assert mt.grad(x.abs().sum(), x)[0].tolist() == [0.0]
    assert mt.grad(x.relu().sum(), x)[0].tolist() == [0.0]


@pytest.mark.parametrize("bounds", [(-1.0, None), (None, 2.0), (-1.0, 2.0)],
                         ids=["min only", "max only", "both"])
@given(x=tensors(elements=away_from(-1.0, 2.0)))
def test_clamp(bounds, x):
    low, high = bounds
    assert_forward(x.clamp(low, high), np.clip(x.array, low, high))
    assert_forward(mt.clamp(x, min=low, max=high), np.clip(x.array, low, high))
    assert gradcheck(lambda x: x.clamp(low, high), [x])


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp: give at least one of min and max"):
        mt.ones(2).clamp()


# ----------------------------------------------------------- choosing elements
@pytest.mark.parametrize("op, reference", [(mt.maximum, np.maximum), (mt.minimum, np.minimum)],
                         ids=["maximum", "minimum"])
@given(pair=tensor_pairs(unique=True))
def test_maximum_and_minimum_with_broadcasting(op, reference, pair):
    a, b = pair
    assert_forward(op(a, b), reference(a.array, b.array))
    assert gradcheck(op, [a, b])


@pytest.mark.parametrize("op, reference", [(mt.maximum, np.maximum), (mt.minimum, np.minimum)],
                         ids=["maximum", "minimum"])
@given(x=tensors(elements=away_from(0.5)))
def test_maximum_and_minimum_with_a_0d_tensor(op, reference, x):
    half = mt.tensor(0.5, dtype=x.dtype)
    assert_forward(op(x, half), reference(x.array, 0.5))
    assert gradcheck(lambda x: op(x, half), [x])
    with pytest.raises(TypeError, match="argument 'other' must be a Tensor, not float"):
        op(x, 0.5)  # as PyTorch: maximum/minimum take tensors only


@pytest.mark.parametrize("op", [mt.maximum, mt.minimum], ids=["maximum", "minimum"])
def test_maximum_and_minimum_split_the_gradient_of_a_tie(op):
    a = mt.tensor([1.0], dtype=mt.float64, requires_grad=True)
    b = mt.tensor([1.0], dtype=mt.float64, requires_grad=True)
    grads = mt.grad(op(a, b).sum(), [a, b])
    assert [g.tolist() for g in grads] == [[0.5], [0.5]]


@st.composite
def where_inputs(draw):
    a, b = draw(tensor_pairs())
    condition_shape = draw(broadcastable_shapes(np.broadcast_shapes(a.shape, b.shape),
                                                max_side=3))
    condition = draw(hnp.arrays(np.bool_, condition_shape))
    return mt.tensor(condition), a, b


@given(inputs=where_inputs())
def test_where_with_three_way_broadcasting(inputs):
    condition, a, b = inputs
    assert_forward(mt.where(condition, a, b), np.where(condition.array, a.array, b.array))
    assert gradcheck(lambda a, b: mt.where(condition, a, b), [a, b])


@given(x=tensors(elements=away_from(0.0)))
def test_where_with_a_scalar_branch(x):
    assert_forward(mt.where(x > 0, x, 0.0), np.where(x.array > 0, x.array, 0.0))
    assert_forward(mt.where(x > 0, -1.0, x), np.where(x.array > 0, -1.0, x.array))
    assert gradcheck(lambda x: mt.where(x > 0, x, 0.0), [x])


# ---------------------------------------------------------------- copies, casts
@given(x=tensors())
def test_clone_copies_and_passes_the_gradient(x):
    y = x.clone()
    assert y.array is not x.array and not np.shares_memory(y.array, x.array)
    assert_forward(y, x.array)
    assert gradcheck(lambda x: x.clone() * 2, [x])


@given(x=tensors(dtype=mt.float32), upstream=st.floats(-3, 3))
def test_casting_float32_up_and_down_carries_the_gradient_in_the_input_dtype(x, upstream):
    for cast in (lambda t: t.double(), lambda t: t.to(mt.float64), lambda t: t.to("float64")):
        y = cast(x)
        assert_forward(y, x.array.astype(np.float64))
        (dx,) = mt.grad(y, x, grad_outputs=mt.full(y.shape, upstream, dtype=mt.float64))
        assert dx.dtype == mt.float32
        np.testing.assert_array_equal(dx.array, np.full(x.shape, upstream, dtype=np.float32))
    back = x.double().float()
    assert back.dtype == mt.float32 and np.array_equal(back.array, x.array)


@given(x=tensors())
def test_casting_float64_down_and_back_rounds_to_float32(x):
    y = x.float()
    assert_forward(y, x.array.astype(np.float32), dtype=mt.float32)
    (dx,) = mt.grad(y.double().sum(), x)
    assert dx.dtype == mt.float64 and (dx.array == 1).all()


def test_casting_to_the_same_dtype_returns_the_tensor():
    x = mt.ones(2, dtype=mt.float64, requires_grad=True)
    assert x.double() is x and x.to(mt.float64) is x


# ------------------------------------------------------------ dtype of results
SCALAR_OPS = {
    "x + 2.5": lambda x: x + 2.5, "2.5 + x": lambda x: 2.5 + x,
    "x - 1": lambda x: x - 1, "1 - x": lambda x: 1 - x,
    "x * 0.1": lambda x: x * 0.1, "0.1 * x": lambda x: 0.1 * x,
    "x / 3": lambda x: x / 3, "3 / x": lambda x: 3 / x,
    "x ** 2": lambda x: x ** 2, "x ** 0.5": lambda x: x ** 0.5, "2.0 ** x": lambda x: 2.0 ** x,
    "where(x > 1, x, 0.0)": lambda x: mt.where(x > 1, x, 0.0),
    "clamp(x, 0.5, 1.5)": lambda x: x.clamp(0.5, 1.5),
}


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
@pytest.mark.parametrize("expression", SCALAR_OPS)
def test_python_scalars_keep_the_tensor_dtype(expression, dtype):
    x = mt.tensor([0.5, 1.0, 2.0], dtype=dtype, requires_grad=True)
    y = SCALAR_OPS[expression](x)
    assert y.dtype == dtype
    (dx,) = mt.grad(y.sum(), x)
    assert dx.dtype == dtype


def test_numpy_scalars_keep_the_tensor_dtype():
    x = mt.ones(2)
    assert (x * np.float64(2)).dtype == mt.float32
    assert (x / np.sqrt(2.0)).dtype == mt.float32
