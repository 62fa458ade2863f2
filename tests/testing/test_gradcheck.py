"""gradcheck itself: it passes correct ops and catches wrong ones with a useful message."""

import re

import numpy as np
import pytest

import microtensor as mt
from microtensor.testing import GradcheckError, gradcheck


def leaf(values, dtype=mt.float64):
    return mt.tensor(values, dtype=dtype, requires_grad=True)


def square_matrix():
    return leaf([[1.0, 2.0, -0.5], [0.3, -1.2, 0.7], [2.2, 0.1, -0.4]])


# --------------------------------------------------------------- correct ops pass
def test_passes_for_correct_ops_with_broadcasting():
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    b = leaf([0.5, -0.25, 1.0])
    assert gradcheck(lambda x, b: (x * b + b).tanh() @ b, [x, b])


def test_passes_non_tensor_and_constant_inputs_through_unchecked():
    x = leaf([1.0, -2.0])
    constant = mt.tensor([3.0, 4.0], dtype=mt.float64)
    assert gradcheck(lambda x, c, k: x * c + k, [x, constant, 2.5])


def test_an_unused_input_has_a_zero_gradient():
    x, unused = leaf([1.0, 2.0]), leaf([3.0])
    assert gradcheck(lambda x, u: x * 2, [x, unused])


def test_output_that_ignores_every_input_has_zero_gradient():
    x = leaf([1.0, 2.0])
    assert gradcheck(lambda x: mt.ones(2, dtype=mt.float64), [x])


def test_a_0d_input_and_output():
    x = leaf(0.7)
    assert gradcheck(lambda x: x.exp() * x, [x])


def test_non_leaf_inputs_are_checked_too():
    x = leaf([1.0, -0.5]) * 3
    assert gradcheck(lambda x: x.sigmoid(), [x])


# ------------------------------------------------------- wrong ops are caught
class WrongSignTanh(mt.Function):
    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return -grad * (1 - out * out)


class TransposeForgettingBackward(mt.Function):
    """x.T whose backward forgot to transpose back: right for every symmetric upstream."""

    def forward(self, x):
        return x.T.copy()

    def backward(self, grad):
        return grad


class MatMulForgettingTranspose(mt.Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved_tensors
        return grad @ b, a.T @ grad  # should be grad @ b.T


class BiasAddAveragingItsGradient(mt.Function):
    """x + bias, whose backward averages the batch instead of summing it."""

    def forward(self, x, bias):
        return x + bias

    def backward(self, grad):
        return grad, grad.mean(axis=0)


class GradientOfTheWrongShape(mt.Function):
    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return np.concatenate([grad, grad])


def test_wrong_sign_fails_naming_input_element_and_values():
    x = leaf([[0.5, -1.0, 0.25], [2.0, 0.1, -0.3]])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda c, x: WrongSignTanh.apply(x) * c, [3.0, x])
    message = str(info.value)
    assert "input 1 (shape (2, 3))" in message
    assert re.search(r"at element \(\d, \d\)", message)
    assert "analytic" in message and "numeric" in message
    assert "6 of 6 elements differ" in message
    # The reported values are the analytic/numeric pair at the reported element.
    analytic, numeric = (float(v) for v in re.search(
        r"analytic (\S+), numeric (\S+);", message).groups())
    assert analytic == pytest.approx(-numeric, rel=1e-4)
    max_error = float(re.search(r"max abs error over this input (\S+) ", message).group(1))
    assert max_error >= abs(analytic - numeric) * (1 - 1e-5)


def test_forgotten_transpose_is_caught_where_an_upstream_of_ones_would_miss_it():
    x = square_matrix()
    assert gradcheck(TransposeForgettingBackward.apply, [x], grad_output=np.ones((3, 3)))
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(TransposeForgettingBackward.apply, [x])


def test_forgotten_transpose_in_matmul_is_caught():
    a, b = square_matrix(), square_matrix() * 0.5
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 3\)\)"):
        gradcheck(MatMulForgettingTranspose.apply, [a, b])


def test_averaging_instead_of_summing_a_broadcast_gradient_is_caught():
    x, bias = leaf(np.ones((4, 2))), leaf([0.5, -1.0])
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2,\)\)"):
        gradcheck(BiasAddAveragingItsGradient.apply, [x, bias])


def test_gradient_of_the_wrong_shape_is_refused_by_the_engine():
    with pytest.raises(ValueError, match=r"GradientOfTheWrongShape.backward returned a gradient "
                                         r"of shape \(4,\) for input 0, which has shape \(2,\)"):
        gradcheck(GradientOfTheWrongShape.apply, [leaf([1.0, 2.0])])


def test_a_hook_that_changes_the_gradient_dtype_is_named():
    y = leaf([1.0, 2.0]) * 1
    y.register_hook(lambda g: g.float())
    with pytest.raises(mt.DtypeError, match=r"hook '<lambda>' has changed the type of value "
                                            r"\(was float64 got float32\)"):
        gradcheck(lambda y: y * 2, [y])


def test_a_hook_that_changes_the_gradient_shape_is_named():
    y = leaf([1.0, 2.0]) * 1

    def add_axis(g):
        return g[None]

    y.register_hook(add_axis)
    with pytest.raises(RuntimeError, match=r"hook '.*add_axis' returned a gradient of shape "
                                           r"\(1, 2\) for a tensor of shape \(2,\)"):
        gradcheck(lambda y: y * 2, [y])


def test_raise_exception_false_returns_false():
    assert gradcheck(WrongSignTanh.apply, [leaf([0.5])], raise_exception=False) is False


def test_a_nan_gradient_fails():
    with pytest.raises(GradcheckError, match="analytic nan"), np.errstate(all="ignore"):
        gradcheck(lambda x: (x * 0).sqrt(), [leaf([0.0, 1.0])])


# ----------------------------------------------------------------- bad usage
def test_rejects_float32_inputs_with_a_hint():
    x = leaf([1.0, 2.0], dtype=mt.float32)
    with pytest.raises(TypeError, match=r"input 0 \(shape \(2,\)\) has dtype float32.*"
                                        r"dtype=mt.float64"):
        gradcheck(lambda x: x * 2, [x])


def test_rejects_a_float32_output():
    with pytest.raises(TypeError, match="fn returned dtype float32"):
        gradcheck(lambda x: x.float() * 2, [leaf([1.0])])


def test_rejects_a_non_tensor_output():
    with pytest.raises(TypeError, match="fn must return a Tensor, got float"):
        gradcheck(lambda x: 1.0, [leaf([1.0])])


def test_rejects_inputs_of_which_none_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, [mt.tensor([1.0], dtype=mt.float64)])


def test_rejects_grad_output_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"grad_output has shape \(3,\) but fn's output has "
                                         r"shape \(2,\)"):
        gradcheck(lambda x: x * 2, [leaf([1.0, 2.0])], grad_output=np.ones(3))


# ------------------------------------------------------------------ mutation
def test_leaves_inputs_and_their_grad_untouched():
    x, w = leaf([[0.5, -1.0], [2.0, 0.1]]), leaf([1.5, -2.0])
    x_before, w_before = x.array.copy(), w.array.copy()
    data_of_x = x.array
    assert gradcheck(lambda x, w: (x @ w).exp(), [x, w])
    assert x.array is data_of_x
    np.testing.assert_array_equal(x.array, x_before)
    np.testing.assert_array_equal(w.array, w_before)
    assert x.grad is None and w.grad is None


def test_an_fn_that_modifies_an_input_fails():
    x, counter = leaf([1.0, 2.0]), mt.zeros(2, dtype=mt.float64)

    def counts_its_calls(x, counter):
        counter.add_(1)
        return x * 2

    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2,\)\) was modified in place "
                                             r"during its forward pass"):
        gradcheck(counts_its_calls, [x, counter])
