"""gradcheck itself: it passes correct ops and catches wrong ones with a useful message."""

import functools
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import GradcheckError, gradcheck, shapes, tensor_pairs, tensors


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
@pytest.mark.parametrize("fast_mode", [False, True])
def test_leaves_inputs_and_their_grad_untouched(fast_mode):
    x, w = leaf([[0.5, -1.0], [2.0, 0.1]]), leaf([1.5, -2.0])
    x_before, w_before, array_of_x = x.array.copy(), w.array.copy(), x.array
    assert gradcheck(lambda x, w: (x @ w).exp(), [x, w], fast_mode=fast_mode)
    assert x.array is array_of_x
    np.testing.assert_array_equal(x.array, x_before)
    np.testing.assert_array_equal(w.array, w_before)
    assert x.grad is None and w.grad is None


@pytest.mark.parametrize("fast_mode", [False, True])
def test_an_fn_that_modifies_an_input_fails(fast_mode):
    x, counter = leaf([1.0, 2.0]), mt.zeros(2, dtype=mt.float64)

    def counts_its_calls(x, counter):
        counter.add_(1)
        return x * 2

    with pytest.raises(GradcheckError, match=r"^gradcheck of counts_its_calls: input 1 "
                                             r"\(shape \(2,\)\) was modified in place"):
        gradcheck(counts_its_calls, [x, counter], fast_mode=fast_mode)


# ----------------------------------------------------------- the op is named
def test_the_error_names_a_function_class_by_its_class():
    with pytest.raises(GradcheckError, match=r"^gradcheck of WrongSignTanh: the gradient of "
                                             r"input 0 \(shape \(1,\)\) is wrong at element"):
        gradcheck(WrongSignTanh.apply, [leaf([0.5])])


def test_the_error_names_a_nested_function_and_a_lambda_without_their_enclosing_scope():
    def half_gradient(x):
        return x.detach() * x

    with pytest.raises(GradcheckError, match=r"^gradcheck of half_gradient: "):
        gradcheck(half_gradient, [leaf([0.5])])
    with pytest.raises(GradcheckError, match=r"^gradcheck of <lambda>: "):
        gradcheck(lambda x: x.detach() * x, [leaf([0.5])])
    with pytest.raises(GradcheckError, match=r"^gradcheck of half_gradient: "):
        gradcheck(functools.partial(half_gradient), [leaf([0.5])])


def test_usage_errors_name_the_op_too():
    with pytest.raises(TypeError, match=r"^gradcheck of tanh: input 0 \(shape \(1,\)\) has "
                                        r"dtype float32"):
        gradcheck(mt.tanh, [leaf([0.5], dtype=mt.float32)])


class HalfGradient(mt.nn.Module):
    def forward(self, x):
        return x.detach() * x


def test_the_error_names_a_module_by_its_class():
    with pytest.raises(GradcheckError, match=r"^gradcheck of HalfGradient: "):
        gradcheck(HalfGradient(), [leaf([0.5])])


# ------------------------------------------------------------------ fast mode
def counting(fn):
    """fn, counting its calls in ``.calls``."""
    def counted(*args):
        counted.calls += 1
        return fn(*args)
    counted.calls = 0
    return counted


@pytest.mark.parametrize("fn, shapes_", [
    (mt.tanh, [(3, 4)]),
    (mt.sigmoid, [(5,)]),
    (lambda x: x.exp() * x, [()]),
    (lambda x: x.log_softmax(dim=-1), [(2, 3, 4)]),
    (lambda a, b: (a @ b).sum(dim=0), [(3, 4), (4, 2)]),
    (lambda x, b: (x * b + b).tanh() @ b, [(2, 3), (3,)]),
    (lambda x: (x * x).mean(dim=1, keepdim=True), [(4, 6)]),
], ids=["tanh", "sigmoid", "0-d", "log_softmax", "matmul-sum", "broadcast", "mean"])
def test_fast_mode_passes_correct_ops(fn, shapes_):
    rng = np.random.default_rng(0)
    inputs = [leaf(rng.uniform(-2, 2, shape)) for shape in shapes_]
    assert gradcheck(fn, inputs, fast_mode=True)


@given(pair=tensor_pairs(min_value=-3, max_value=3))
def test_fast_mode_passes_a_broadcast_binary_op_on_random_inputs(pair):
    assert gradcheck(lambda a, b: (a * b).sin() + a, list(pair), fast_mode=True)


def test_fast_mode_costs_two_forward_passes_per_input_whatever_its_size():
    big = leaf(np.random.default_rng(0).standard_normal(10**5))
    scale = leaf([0.5])
    fn = counting(lambda x, s: (x * s).tanh())
    assert gradcheck(fn, [big, scale], fast_mode=True)
    assert fn.calls == 1 + 2 * 2  # the output, then two perturbed passes per input
    # The full check would take 1 + 2 * (10**5 + 1) passes: its count, on a small input.
    fn.calls = 0
    assert gradcheck(fn, [leaf(np.ones(7)), scale])
    assert fn.calls == 1 + 2 * (7 + 1)


def test_fast_mode_catches_a_wrong_gradient_in_a_large_input():
    big = leaf(np.random.default_rng(0).uniform(-2, 2, 10**5))
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(WrongSignTanh.apply, [big], fast_mode=True)


class ExpWrongAtOneElement(mt.Function):
    """exp, whose backward scales one element of the gradient (the largest) by ``factor``."""

    factor = 3.0

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        found = grad * out
        wrong = np.ones(found.size)
        wrong[np.argmax(np.abs(found))] = self.factor
        return found * wrong.reshape(found.shape)


@given(x=tensors(shape=shapes(max_dims=2, max_side=7), min_value=-2, max_value=2),
       factor=st.sampled_from([0.0, 0.5, 3.0, -1.0]))
def test_fast_mode_catches_one_wrong_element_as_the_full_check_does(x, factor):
    # Within a factor 2 of one another, every element of fast mode's direction weighs in:
    # an error of a fair share of the gradient's size (here, half its largest element or
    # more, in at most 49 elements) moves the projection by more than the tolerance.
    wrong = type("ExpWrongAtOneElement", (ExpWrongAtOneElement,), {"factor": factor})
    with pytest.raises(GradcheckError, match="is wrong at element"):
        gradcheck(wrong.apply, [x])
    with pytest.raises(GradcheckError, match=r"^gradcheck of ExpWrongAtOneElement: the "
                                             r"gradient of input 0 .* fast mode's random "
                                             r"projection .* rerun with fast_mode=False"):
        gradcheck(wrong.apply, [x], fast_mode=True)


@given(x=tensors(shape=st.integers(2, 6).map(lambda n: (n, n))))
def test_fast_mode_catches_a_forgotten_transpose_as_the_full_check_does(x):
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(TransposeForgettingBackward.apply, [x])
    with pytest.raises(GradcheckError, match="input 0 .* fast mode"):
        gradcheck(TransposeForgettingBackward.apply, [x], fast_mode=True)


@given(a=tensors(shape=(3, 4), min_value=-2, max_value=2),
       b=tensors(shape=(4, 4), min_value=-2, max_value=2))
def test_fast_mode_catches_a_forgotten_transpose_in_matmul_as_the_full_check_does(a, b):
    full = gradcheck(MatMulForgettingTranspose.apply, [a, b], raise_exception=False)
    fast = gradcheck(MatMulForgettingTranspose.apply, [a, b], raise_exception=False,
                     fast_mode=True)
    assert fast == full  # both fail unless b happens to be symmetric


@pytest.mark.parametrize("bug, inputs, culprit", [
    (WrongSignTanh.apply, lambda: [leaf([[0.5, -1.0], [2.0, 0.1]])], 0),
    (MatMulForgettingTranspose.apply, lambda: [square_matrix(), square_matrix() * 0.5], 0),
    (BiasAddAveragingItsGradient.apply, lambda: [leaf(np.ones((4, 2))), leaf([0.5, -1.0])], 1),
], ids=["sign", "matmul-transpose", "broadcast-mean"])
def test_fast_mode_names_the_input_with_the_wrong_gradient(bug, inputs, culprit):
    with pytest.raises(GradcheckError, match=rf"input {culprit} .* fast mode"):
        gradcheck(bug, inputs(), fast_mode=True)


def test_fast_mode_uses_the_given_grad_output():
    x = square_matrix()  # a symmetric upstream hides the forgotten transpose, as in full mode
    assert gradcheck(TransposeForgettingBackward.apply, [x], grad_output=np.ones((3, 3)),
                     fast_mode=True)


def test_fast_mode_fails_a_nan_and_can_return_false():
    with np.errstate(all="ignore"):
        assert not gradcheck(lambda x: (x * 0).sqrt(), [leaf([0.0, 1.0])],
                             raise_exception=False, fast_mode=True)
    assert gradcheck(WrongSignTanh.apply, [leaf([0.5])], raise_exception=False,
                     fast_mode=True) is False


def test_fast_mode_checks_an_empty_input_and_an_unused_one():
    assert gradcheck(lambda x, e, u: x.exp() + e.sum(), [leaf([1.0]), leaf(np.ones((0, 2))),
                                                          leaf([3.0])], fast_mode=True)
