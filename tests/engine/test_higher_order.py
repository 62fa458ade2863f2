"""The engine's recorded backward pass (``create_graph=True``), against PyTorch: the API
(``grad``, ``backward``, ``retain_graph``'s default, ``.grad`` accumulation, hooks), third
derivatives, user ``Function``s with numpy backwards (right, or a clear error), and numpy's
functions on tensors outside a recorded pass (unchanged, PyTorch's refusal of tensors that
require grad)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.autograd.higher_order import CreateGraphError


def pair(values, shape=None):
    """The same float64 leaf in both libraries."""
    a = np.asarray(values, dtype=np.float64)
    if shape is not None:
        a = a.reshape(shape)
    return mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def derivatives(lib, f, x, order):
    """The first ``order`` derivatives of ``f(x).sum()``, each summed and differentiated again."""
    out, found = f(lib, x).sum(), []
    for _ in range(order):
        (out,) = lib.autograd.grad(out, x, create_graph=True)
        found.append(out.detach().numpy().copy())
        out = out.sum()
    return found


THIRD = {
    "cube": lambda lib, x: x ** 3,
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "log_softmax": lambda lib, x: x.log_softmax(-1) * lib.arange(x.shape[-1], dtype=x.dtype),
    "exp_sin": lambda lib, x: (x.sin() * x).exp(),
}


@pytest.mark.parametrize("name", THIRD)
@given(values=st.lists(st.floats(-3, 3), min_size=6, max_size=6))
def test_third_derivatives_agree_with_pytorch(name, values):
    x, tx = pair(values, (2, 3))
    mine = derivatives(mt, THIRD[name], x, 3)
    theirs = derivatives(torch, THIRD[name], tx, 3)
    for k, (m, t) in enumerate(zip(mine, theirs), start=1):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-10, err_msg=f"{name}: order {k}")


def test_grad_with_create_graph_returns_tensors_in_a_graph():
    x = mt.tensor([0.5, 2.0], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = mt.grad(g.sum(), x)
    assert h.tolist() == [3.0, 12.0]
    assert x.grad is None


def test_a_gradient_constant_in_the_inputs_does_not_require_grad_as_in_pytorch():
    x, tx = pair([1.0, 2.0])
    (g,) = mt.grad((x * 2).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((tx * 2).sum(), tx, create_graph=True)
    assert g.requires_grad == tg.requires_grad == False  # noqa: E712 - the flag itself
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.grad(g.sum(), x)


def test_retain_graph_defaults_to_create_graph():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    mt.grad(y, x, create_graph=True)
    mt.grad(y, x)  # the graph was kept: a second pass works
    with pytest.raises(RuntimeError, match="second time"):
        mt.grad(y, x)


def test_backward_create_graph_accumulates_grad_out_of_place_as_pytorch():
    x, tx = pair([0.3, -1.2, 2.0])
    second = {}
    for lib, leaf in ((mt, x), (torch, tx)):
        with warnings.catch_warnings(record=True) as seen:  # PyTorch warns once per process
            warnings.simplefilter("always")
            (leaf ** 3).sum().backward(create_graph=True)
        assert lib is torch or "reference cycle between the parameter and its gradient" in str(
            seen[0].message)
        first = leaf.grad
        assert first.requires_grad
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (leaf.sin()).sum().backward(create_graph=True)
        assert leaf.grad is not first  # summed out of place, so ``first`` is unchanged
        (g2,) = lib.autograd.grad(leaf.grad.sum(), leaf)
        second[lib] = g2.detach().numpy().copy()
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(second[mt], second[torch], rtol=1e-12)


def test_hooks_see_and_replace_recorded_gradients():
    x, tx = pair([0.5, 1.5])
    result = {}
    for lib, leaf in ((mt, x), (torch, tx)):
        y = leaf.tanh()
        y.register_hook(lambda g, y=y: g * y)  # the replacement depends on x: recorded
        (g,) = lib.autograd.grad(y.sum(), leaf, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), leaf)
        result[lib] = (g.detach().numpy().copy(), h.numpy().copy())
    for m, t in zip(result[mt], result[torch]):
        np.testing.assert_allclose(m, t, rtol=1e-12)


def test_grad_outputs_that_require_grad_are_differentiated_through():
    # jvp's double-backward trick: the upstream gradient itself is a variable.
    x, tx = pair([0.5, 1.5, -1.0])
    results = []
    for lib, leaf in ((mt, x), (torch, tx)):
        v = lib.zeros(3, dtype=leaf.dtype, requires_grad=True)
        y = leaf.sin() * leaf
        (g,) = lib.autograd.grad(y, leaf, grad_outputs=v, create_graph=True)
        (jv,) = lib.autograd.grad(g, v, grad_outputs=lib.ones(3, dtype=leaf.dtype))
        results.append(jv.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_the_backward_ops_of_a_step_carry_its_scope():
    x = mt.tensor([0.5, 1.5], requires_grad=True)
    with mt.scope(t=3):
        y = x.tanh()
    (g,) = mt.grad(y.sum(), x, create_graph=True)
    assert dict(g.grad_fn.scope) == {"t": 3}


# --------------------------------------------------------------- user Functions
class Cube(mt.Function):
    """Right to any order: backward uses the saved input only."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * x ** 2


class CubeFromSquare(mt.Function):
    """Right first derivative, but from a value computed inside forward: not joinable."""

    def forward(self, x):
        square = x * x
        self.save_for_backward(square)
        return square * x

    def backward(self, grad):
        (square,) = self.saved_tensors
        return grad * 3 * square


class CubeKeptOnSelf(mt.Function):
    """The same value kept as an attribute instead of saved."""

    def forward(self, x):
        self.square = x * x
        return self.square * x

    def backward(self, grad):
        return grad * 3 * self.square


class CubeHiddenInADict(mt.Function):
    """The intermediate inside a container on ``self``: found all the same."""

    def forward(self, x):
        self.cache = {"square": (x * x,)}
        return self.cache["square"][0] * x

    def backward(self, grad):
        return grad * 3 * self.cache["square"][0]


class CubeThroughArray(mt.Function):
    """A backward that leaves for plain numpy."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * np.asarray(x) ** 2


class CubeWithUnsupportedNumpy(mt.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * np.polyval([1, 0, 0], x)


def test_a_user_function_with_a_numpy_backward_is_differentiated_again():
    x = mt.tensor([0.5, -2.0], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = mt.grad(g.sum(), x)
    assert g.tolist() == [0.75, 12.0] and h.tolist() == [3.0, -12.0]


@pytest.mark.parametrize("fn, says", [
    (CubeFromSquare, "CubeFromSquare: .*neither an input nor the output"),
    (CubeKeptOnSelf, "CubeKeptOnSelf: .*neither an input nor the output"),
    (CubeHiddenInADict, "CubeHiddenInADict: .*neither an input nor the output"),
    (CubeThroughArray, "CubeThroughArray: .*Can't call numpy"),
    (CubeWithUnsupportedNumpy, "CubeWithUnsupportedNumpy: .*polyval"),
])
def test_a_user_backward_that_cannot_be_recorded_is_a_clear_error(fn, says):
    x = mt.tensor([0.5, -2.0], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad(fn.apply(x).sum(), x)  # first order: right, as before
    assert g.tolist() == [0.75, 12.0]
    with pytest.raises(CreateGraphError, match=says):
        mt.grad(fn.apply(x).sum(), x, create_graph=True)


# ------------------------------------------------------- numpy outside a recorded pass
def test_numpy_refuses_a_tensor_that_requires_grad_as_pytorch():
    x = mt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        np.asarray(x)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.exp(x)
    assert np.asarray(x.detach()).tolist() == [1.0, 1.0]


def test_numpy_on_plain_tensors_is_unchanged_outside_a_recorded_pass():
    x = mt.tensor([1.0, 2.0])
    assert type(np.exp(x)) is np.ndarray
    assert type(np.where(x.array > 1, x, 0)) is np.ndarray
    product = np.ones(2) * mt.tensor([1.0, 2.0], requires_grad=True)  # the tensor's operator
    assert isinstance(product, mt.Tensor) and product.requires_grad
