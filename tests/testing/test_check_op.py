"""check_op: one call passes a correct op and names what is wrong with a broken one."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import GradcheckError, check_op

SMALL_SHAPES = hnp.array_shapes(max_dims=2, max_side=3)


def arrays(shape=SMALL_SHAPES, low=-5.0, high=5.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high))


def one(strategy):
    return strategy.map(lambda a: (a,))


def softplus(x):
    return np.logaddexp(0, x)


class Softplus(mt.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.logaddexp(0, x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + np.exp(-x))


class SoftplusWrongForward(Softplus):
    def forward(self, x):
        self.save_for_backward(x)
        return np.logaddexp(0, x) + 1e-3


class SoftplusWrongBackward(Softplus):
    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + np.exp(x))  # the sign of x: sigmoid(-x)


class SoftplusCachedSigmoid(Softplus):
    """Right gradient, but from a sigmoid kept where create_graph cannot see it (Python
    numbers): the recorded gradient is a constant of x."""

    def forward(self, x):
        self.cache = {"sigmoid": (1 / (1 + np.exp(-x))).tolist()}
        return np.logaddexp(0, x)

    def backward(self, grad):
        return grad * np.asarray(self.cache["sigmoid"])


class SoftplusInFloat64(Softplus):
    """Computes in float64 whatever it is given: float32 in, float64 out."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.logaddexp(0, np.asarray(x, dtype=np.float64))


# ------------------------------------------------------------------ passing
def test_a_correct_function_passes():
    check_op(Softplus, one(arrays()), softplus)


def test_a_correct_binary_op_with_broadcasting_passes():
    pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3).flatmap(
        lambda shapes: st.tuples(*(arrays(shape) for shape in shapes.input_shapes)))
    check_op(lambda a, b: a * b.tanh(), pairs, lambda a, b: a * np.tanh(b), max_examples=10)


def test_matmul_passes_and_its_derived_shapes_are_refused_as_numpy_refuses_them():
    pairs = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).flatmap(
        lambda n: st.tuples(arrays((n[0], n[1])), arrays((n[1], n[2]))))
    check_op(lambda a, b: a @ b, pairs, np.matmul, max_examples=10)


def test_built_in_elementwise_ops_pass():
    check_op(mt.tanh, one(arrays()), np.tanh, max_examples=10)
    check_op(mt.log, one(arrays(low=0.5, high=5.0)), np.log, max_examples=10)


# ------------------------------------------------------------------ failing
def test_a_wrong_forward_fails_naming_the_op():
    with pytest.raises(GradcheckError, match=r"check_op of SoftplusWrongForward on the drawn "
                                             r"inputs \(shapes .*\): the forward pass differs "
                                             r"from the reference at element"):
        check_op(SoftplusWrongForward, one(arrays()), softplus, max_examples=5)


def test_a_wrong_backward_fails_in_gradcheck():
    with pytest.raises(GradcheckError, match=r"check_op of SoftplusWrongBackward on the drawn "
                                             r"inputs \(shapes .*\): gradcheck of "
                                             r"SoftplusWrongBackward: the gradient of input 0"):
        check_op(SoftplusWrongBackward, one(arrays()), softplus, max_examples=5)


def test_a_wrong_second_derivative_fails_in_gradgradcheck():
    with pytest.raises(GradcheckError, match=r"check_op of SoftplusCachedSigmoid on the drawn "
                                             r"inputs \(shapes .*\): gradgradcheck of "
                                             r"SoftplusCachedSigmoid: the second derivative "
                                             r"with respect to input 0"):
        check_op(SoftplusCachedSigmoid, one(arrays()), softplus, max_examples=5)


class MulAveragingBroadcast(mt.Function):
    """a * b whose backward averages b's gradient over a broadcast axis instead of summing it:
    right whenever the shapes agree, so only a derived broadcast input shows it."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_b = grad * a
        if np.ndim(grad_b) > np.ndim(b):
            grad_b = np.mean(grad_b, axis=0)
        return grad * b, grad_b


def test_a_wrong_broadcast_gradient_fails_on_a_derived_input():
    pair = (np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(2, 3, 6).reshape(2, 3))
    with pytest.raises(GradcheckError, match=r"check_op of MulAveragingBroadcast on input 1 "
                                             r"without its first axis \(shapes \(2, 3\), "
                                             r"\(3,\)\): gradcheck of MulAveragingBroadcast: "
                                             r"the gradient of input 1"):
        check_op(MulAveragingBroadcast, st.just(pair), np.multiply)


def test_second_order_false_skips_gradgradcheck():
    check_op(SoftplusCachedSigmoid, one(arrays()), softplus, second_order=False, max_examples=5)


def test_a_float64_result_from_float32_inputs_fails():
    with pytest.raises(GradcheckError, match=r"check_op of SoftplusInFloat64 in float32 "
                                             r"\(shapes .*\): float32 inputs gave a float64 "
                                             r"output"):
        check_op(SoftplusInFloat64, st.just((np.linspace(-2, 2, 4),)), softplus)


def test_an_op_that_accepts_shapes_the_reference_refuses_fails():
    def add_same_shapes(a, b):
        if a.shape != b.shape:
            raise ValueError(f"shapes {a.shape} and {b.shape} differ")
        return a + b

    with pytest.raises(GradcheckError, match=r"check_op of <lambda> on input 0 without its "
                                             r"first axis \(shapes \(3,\), \(2, 3\)\): the "
                                             r"reference refuses these inputs \(ValueError: "
                                             r"shapes \(3,\) and \(2, 3\) differ\) but the op "
                                             r"accepted them"):
        pair = (np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(2, 3, 6).reshape(2, 3))
        check_op(lambda a, b: a + b, st.just(pair), add_same_shapes)


def test_a_wrong_shape_fails():
    with pytest.raises(GradcheckError, match=r"check_op of <lambda> on the drawn inputs "
                                             r"\(shapes \(2, 3\)\): the forward pass has shape "
                                             r"\(2, 3\), the reference \(3,\)"):
        check_op(lambda x: x.tanh(), one(arrays((2, 3))), lambda x: np.tanh(x).sum(0),
                 max_examples=2)


def test_a_strategy_that_draws_float32_is_refused():
    with pytest.raises(TypeError, match="check_op of tanh: the inputs strategy must draw tuples "
                                        "of float64 numpy arrays; argument 0 is float32"):
        check_op(mt.tanh, one(hnp.arrays(np.float32, (2,), elements=st.floats(-1, 1, width=32))),
                 np.tanh, max_examples=2)
