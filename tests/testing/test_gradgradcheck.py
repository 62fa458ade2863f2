"""gradgradcheck: passes correct second derivatives, catches a backward whose graph is wrong."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import GradcheckError, away_from, gradcheck, gradgradcheck, shapes, tensors


def leaf(values):
    return mt.tensor(values, dtype=mt.float64, requires_grad=True)


# -------------------------------------------------------- built-in ops pass
UNARY_OPS = {
    "tanh": mt.tanh,
    "sigmoid": lambda x: x.sigmoid(),
    "exp": mt.exp,
    "cube": lambda x: x ** 3,
    "sum": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(dim=-1),
    "mean": lambda x: x.mean(),
}


@pytest.mark.parametrize("op", UNARY_OPS.values(), ids=UNARY_OPS.keys())
@given(x=tensors(shapes(max_dims=2, max_side=3), min_value=-2, max_value=2))
def test_builtin_ops_pass(op, x):
    assert gradgradcheck(op, [x])


@given(x=tensors(shapes(max_dims=2, max_side=3), min_value=0.2, max_value=5))
def test_log_passes(x):
    assert gradgradcheck(mt.log, [x])


@given(a=tensors((2, 3)), b=tensors((3, 2)))
def test_matmul_passes_for_both_inputs(a, b):
    assert gradgradcheck(lambda a, b: a @ b, [a, b])


def test_a_composition_with_broadcasting_passes():
    x, w = leaf([[0.5, -1.0, 0.3], [2.0, 0.1, -0.7]]), leaf([1.5, -2.0, 0.4])
    assert gradgradcheck(lambda x, w: (x * w).tanh() * x.exp(), [x, w])


def test_fast_mode_passes():
    assert gradgradcheck(lambda x: x.sigmoid() * x, [leaf(np.linspace(-2, 2, 12))], fast_mode=True)


def test_several_outputs_and_given_grad_outputs():
    def tanh_and_norm(x):
        return x.tanh(), (x * x).sum()

    x = leaf([0.5, -1.0, 2.0])
    assert gradgradcheck(tanh_and_norm, [x])
    assert gradgradcheck(tanh_and_norm, [x], [leaf([1.0, -0.5, 0.25]), leaf(2.0)])


def test_a_given_grad_output_that_needs_no_grad_is_a_constant():
    assert gradgradcheck(mt.tanh, [leaf([0.5, -1.0])], mt.tensor([1.0, 3.0], dtype=mt.float64))


def test_non_contiguous_grad_outputs():
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    assert gradgradcheck(lambda x: x.tanh() * x, [x], gen_non_contig_grad_outputs=True)


def test_inputs_that_are_not_tensors_or_need_no_grad_pass_through():
    x, c = leaf([0.5, -1.0]), mt.tensor([2.0, 3.0], dtype=mt.float64)
    assert gradgradcheck(lambda x, c, k: (x * c).exp() * k, [x, c, 1.5])


def test_an_input_the_output_ignores_is_left_out():
    assert gradgradcheck(lambda x, unused: x ** 3, [leaf([0.5, 2.0]), leaf([1.0])])


def test_a_linear_function_has_zero_second_derivative():
    assert gradgradcheck(lambda x: x * 3, [leaf([0.5, 2.0])])


# ---------------------------------------- a wrong second derivative is caught
class CachedCube(mt.Function):
    """x**3 whose backward is right in value, but uses x*x kept where create_graph cannot see
    it (as Python numbers): its gradient is a constant in x, so the second derivative misses
    6 x. (A saved array, even inside a dict, would be refused instead: see SavedSquare.)"""

    def forward(self, x):
        self.cache = {"square": (x * x).tolist()}
        return x ** 3

    def backward(self, grad):
        return grad * 3 * np.asarray(self.cache["square"])


class SavedSquare(mt.Function):
    """x**3 that saves the intermediate x*x: create_graph refuses it (CreateGraphError)."""

    def forward(self, x):
        self.square = x * x
        return x ** 3

    def backward(self, grad):
        return grad * 3 * self.square


def test_a_right_first_derivative_with_a_wrong_second_fails():
    x = leaf([0.5, -1.2, 2.0])
    assert gradcheck(CachedCube.apply, [x])
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(CachedCube.apply, [x])
    message = str(info.value)
    assert message.startswith("gradgradcheck of CachedCube: the second derivative with respect "
                              "to input 0 (shape (3,)) is wrong at element")
    assert "3 of 3 elements differ" in message


def test_fast_mode_catches_it_too():
    x = leaf([0.5, -1.2, 2.0])
    with pytest.raises(GradcheckError, match=r"gradgradcheck of CachedCube: the second "
                                             r"derivative with respect to input 0 .* fails fast"):
        gradgradcheck(CachedCube.apply, [x], fast_mode=True)


def test_it_is_caught_inside_a_composition_naming_the_function():
    def cube_plus_tanh(x):
        return CachedCube.apply(x) + x.tanh()

    with pytest.raises(GradcheckError, match="gradgradcheck of cube_plus_tanh: the second"):
        gradgradcheck(cube_plus_tanh, [leaf([0.5, -1.2])])


def test_a_backward_that_cannot_be_recorded_fails_clearly():
    x = leaf([0.5, -1.2])
    assert gradcheck(SavedSquare.apply, [x])
    with pytest.raises(GradcheckError, match=r"gradgradcheck of SavedSquare: the backward pass "
                                             r"cannot be recorded with create_graph=True, so it "
                                             r"has no second derivative: SavedSquare: .*neither "
                                             r"an input nor the output") as info:
        gradgradcheck(SavedSquare.apply, [x])
    assert isinstance(info.value.__cause__, mt.autograd.higher_order.CreateGraphError)


def test_raise_exception_false_returns_false():
    x = leaf([0.5, -1.2])
    assert gradgradcheck(CachedCube.apply, [x], raise_exception=False) is False
    assert gradgradcheck(SavedSquare.apply, [x], raise_exception=False) is False


# ------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("option, message", [
    ({"check_batched_grad": True}, "check_batched_grad=True needs vmap"),
    ({"check_fwd_over_rev": True}, "check_fwd_over_rev=True needs forward-mode AD"),
])
def test_unsupported_options_are_refused(option, message):
    with pytest.raises(NotImplementedError, match=f"gradgradcheck of tanh: {message}"):
        gradgradcheck(mt.tanh, [leaf([0.5])], **option)


@pytest.mark.parametrize("option, message", [
    ({"check_rev_over_rev": False}, "check_rev_over_rev=False leaves nothing to check"),
    ({"nondet_tol": -1.0}, "nondet_tol must be >= 0, got -1.0"),
])
def test_meaningless_options_are_refused(option, message):
    with pytest.raises(ValueError, match=f"gradgradcheck of tanh: {message}"):
        gradgradcheck(mt.tanh, [leaf([0.5])], **option)


def test_options_that_always_hold_here_are_accepted():
    assert gradgradcheck(mt.tanh, [leaf([0.5])], nondet_tol=1e-9, check_undefined_grad=False,
                         check_grad_dtypes=True, masked=True)


def test_no_input_requiring_grad():
    with pytest.raises(ValueError, match="gradgradcheck of tanh: no input requires grad"):
        gradgradcheck(mt.tanh, [mt.tensor([0.5], dtype=mt.float64)])


def test_a_float32_input():
    with pytest.raises(TypeError, match="gradgradcheck of tanh: input 0 has dtype float32; "
                                        "finite differences need float64"):
        gradgradcheck(mt.tanh, [mt.tensor([0.5], requires_grad=True)])


def test_grad_outputs_that_do_not_match_the_outputs():
    x = leaf([0.5, 1.0])
    with pytest.raises(ValueError, match=r"grad_output 0 has shape \(3,\) but output 0 has "
                                         r"shape \(2,\)"):
        gradgradcheck(mt.tanh, [x], leaf([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs that require grad"):
        gradgradcheck(mt.tanh, [x], [leaf([1.0, 2.0]), leaf([1.0, 2.0])])


def test_a_function_that_does_not_return_tensors():
    with pytest.raises(TypeError, match="gradgradcheck of <lambda>: func must return a Tensor "
                                        "or a tuple of Tensors, got float at output 0"):
        gradgradcheck(lambda x: 1.0, [leaf([0.5])])


# ---------------------------------------------------- PyTorch's verdicts agree
def torch_cases(torch):
    class TorchCachedCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.cache = {"square": (x * x).detach()}
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.cache["square"]

    class TorchSavedSquare(torch.autograd.Function):  # x*x made under no_grad: a constant
        @staticmethod
        def forward(ctx, x):
            ctx.square = x * x
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.square

    return {
        "tanh_times_x": (lambda x: x.tanh() * x, lambda x: x.tanh() * x, 1),
        "cube": (lambda x: x ** 3, lambda x: x ** 3, 1),
        "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, 2),
        "log_sigmoid_sum": (lambda x: x.sigmoid().log().sum(), lambda x: x.sigmoid().log().sum(), 1),
        "cached_cube": (CachedCube.apply, TorchCachedCube.apply, 1),
        "saved_square": (SavedSquare.apply, TorchSavedSquare.apply, 1),
    }


@pytest.mark.parametrize("case", ["tanh_times_x", "cube", "matmul", "log_sigmoid_sum",
                                  "cached_cube", "saved_square"])
def test_agrees_with_torch_gradgradcheck(torch, case):
    ours, theirs, arity = torch_cases(torch)[case]
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-2, 2, (3, 3)) for _ in range(arity)]
    verdict = gradgradcheck(ours, [leaf(a) for a in arrays], raise_exception=False)
    expected = torch.autograd.gradgradcheck(
        theirs, [torch.tensor(a, requires_grad=True) for a in arrays], raise_exception=False)
    assert verdict == expected
    assert verdict == (case not in ("cached_cube", "saved_square"))


# ------------------------------------------------ every unary op of ops.METHODS, and more
#: Where each op's numerical second derivative is defined: positive values for the logs and
#: roots, away from the kinks and jumps of the piecewise ones (whose second derivative is 0).
DOMAIN = {
    "log": {"min_value": 0.2, "max_value": 5}, "sqrt": {"min_value": 0.2, "max_value": 5},
    "rsqrt": {"min_value": 0.2, "max_value": 5}, "log1p": {"min_value": -0.8, "max_value": 5},
    "reciprocal": {"elements": away_from(0.0, margin=0.3, min_value=-3, max_value=3)},
    "abs": {"elements": away_from(0.0)}, "relu": {"elements": away_from(0.0)},
    "sign": {"elements": away_from(0.0)},
    "floor": {"elements": away_from(*range(-10, 11))},
    "ceil": {"elements": away_from(*range(-10, 11))},
}


@pytest.mark.parametrize("name", sorted(mt.ops.METHODS))
@given(data=st.data())
def test_every_unary_builtin_op_passes(name, data):
    domain = DOMAIN.get(name, {"min_value": -3, "max_value": 3})
    x = data.draw(tensors(shapes(max_dims=2, max_side=3), **domain))
    assert gradgradcheck(getattr(mt, name), [x])


REDUCING_OPS = {
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(-1),
    "logsumexp": lambda x: x.logsumexp(-1),
    "var": lambda x: x.var(-1),
    "std": lambda x: x.std(-1),
    "norm": lambda x: x.norm(),
    "norm_3": lambda x: x.norm(3),
    "prod": lambda x: x.prod(-1),
    "cumsum": lambda x: x.cumsum(-1),
    "cumprod": lambda x: x.cumprod(-1),
    "amax": lambda x: x.amax(-1),
    "flip_roll": lambda x: x.flip(-1).roll(1, -1) * x,
    "transpose_matmul": lambda x: x.T @ x,
    "einsum_trace": lambda x: mt.einsum("ij,ij->", x, x) * x.sum(),
    "gather": lambda x: x.gather(-1, mt.tensor([[0, 2]]).expand(x.shape[0], 2)) ** 2,
    "cross_entropy": lambda x: mt.nn.functional.cross_entropy(x, mt.zeros(x.shape[0], dtype=mt.int64)),
}


@pytest.mark.parametrize("op", REDUCING_OPS.values(), ids=REDUCING_OPS.keys())
@given(x=tensors((2, 3), min_value=0.3, max_value=2, unique=True))
def test_reductions_and_shape_ops_pass(op, x):
    assert gradgradcheck(op, [x])
