"""``gradcheck``: compare the engine's gradients with central finite differences.

For a function ``y = fn(x0, x1, ...)`` and an upstream gradient ``u`` (random, so
that a wrong broadcast or a forgotten transpose cannot hide behind a gradient of
ones), the engine's answer for input ``i`` is ``d<u, y>/dx_i``. The numeric answer
for one element ``x_i[k]`` is

    (<u, fn(.., x_i + eps e_k, ..)> - <u, fn(.., x_i - eps e_k, ..)>) / (2 eps)

which is exact up to ``O(eps^2)`` for smooth ``fn``. Everything runs in float64:
with ``eps = 1e-6`` float32 rounding alone would swamp the difference.

That costs two forward passes per element. Fast mode (PyTorch's ``fast_mode=True``,
pytorch/pytorch#53876) checks one random projection per input instead: with a
reproducible random direction ``u`` (unit length), the engine's answer is
``<u, d<v, y>/dx_i>`` (the backward pass already computed) and the numeric one

    (<v, fn(.., x_i + eps u, ..)> - <v, fn(.., x_i - eps u, ..)>) / (2 eps)

two forward passes per input, whatever its size. A wrong gradient almost surely moves
the projection, but the projection cannot say which element is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..autograd import grad, no_grad
from ..creation import from_numpy
from ..dtypes import float64
from ..tensor import Tensor

#: The upstream gradient is random but reproducible: a failure can be rerun and seen again.
_UPSTREAM_SEED = 0
#: Fast mode's directions are too; input ``i`` gets ``default_rng([_DIRECTION_SEED, i])``.
_DIRECTION_SEED = 1


class _Wording(NamedTuple):
    """How a failure names the check, what it differentiates and each argument:
    gradcheck's "the gradient of input 1", gradgradcheck's "the second derivative with
    respect to grad_output 0"."""

    check: str
    derivative: str
    argument: Callable[[int], str]


def _input(index: int) -> str:
    return f"input {index}"


class GradcheckError(AssertionError):
    """The analytic gradient of a function disagrees with its finite-difference estimate
    (or the function modified its inputs). An ``AssertionError``, so pytest shows it as a
    failed check.

    >>> raise GradcheckError("gradcheck of Softplus: the gradient of input 0 ...")
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: gradcheck of Softplus: the gradient of input 0 ...
    """


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, grad_output: Any = None,
              raise_exception: bool = True, fast_mode: bool = False) -> bool:
    """Check ``fn``'s gradient with respect to every input that requires grad.

    ``inputs`` are passed to ``fn`` in order; inputs that are not tensors, or do not
    require grad, are passed through unchecked. An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Also checked: ``fn`` leaves its
    inputs unmodified. (That each gradient has its input's shape and dtype, the engine
    itself checks: an op's backward, a hook.)
    Nothing is left in the inputs' ``.grad``.

    ``fast_mode=True`` compares one random projection per input instead of every element
    (see the module docstring): one backward pass and two forward passes per input
    rather than two per element, for large inputs. The projection passes when
    ``|analytic - numeric| <= atol * sum(|u|) + rtol * |numeric|``: the full check allows
    every element an error of ``atol`` and projecting those on ``u`` adds them up to at
    most ``atol * sum(|u|)`` (PyTorch scales atol the same way; it also multiplies by
    ``sum(v)`` because its full check compares the Jacobian, ours already ``v``'s row of it).
    A wrong element weighs in by its share of ``u``, so an error hiding in one element
    whose gradient is tiny next to the others' can slip past one projection.

    Returns True, or on failure raises ``GradcheckError`` naming the op, the input, the
    worst element, both values and the largest error (in fast mode: both projections;
    rerun with ``fast_mode=False`` to find the element). Returns False instead when
    ``raise_exception`` is False.

    >>> import microtensor as mt
    >>> x = mt.tensor([[0.5, -1.0], [2.0, 0.1]], dtype=mt.float64, requires_grad=True)
    >>> w = mt.tensor([1.5, -2.0], dtype=mt.float64, requires_grad=True)
    >>> gradcheck(lambda x, w: (x * w).tanh(), [x, w])
    True
    >>> gradcheck(mt.tanh, [mt.randn(300, 400, dtype=mt.float64, requires_grad=True)],
    ...           fast_mode=True)  # 3 forward passes, not 240,001
    True

    A ``detach()`` that hides half of the gradient of ``x * x``:

    >>> def square(x):
    ...     return x.detach() * x
    >>> gradcheck(square, [x])
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: gradcheck of square: the gradient of input 0
    (shape (2, 2)) is wrong at element (1, 0): analytic 1.28085, numeric 2.56169;
    4 of 4 elements differ, max abs error over this input 1.28085 (atol=1e-05, rtol=0.001)
    >>> gradcheck(square, [x], fast_mode=True)
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: gradcheck of square: the gradient of input 0
    (shape (2, 2)) fails fast mode's random projection v^T J u: analytic 0.326455, numeric
    0.652909, error 0.326455 > tolerance 0.0006725 (atol * sum|u| + rtol * |numeric|,
    atol=1e-05, rtol=0.001); one projection cannot say which element is wrong: rerun with
    fast_mode=False to find it
    """
    name = _op_name(fn)
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"gradcheck of {name}: no input requires grad, so there is nothing "
                         "to check; create the inputs with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != float64:
            raise TypeError(f"gradcheck of {name}: input {i} (shape {inputs[i].shape}) has "
                            f"dtype {inputs[i].dtype}; finite differences need float64, so "
                            "create it with dtype=mt.float64 (or convert with .double())")
    wording = _Wording(f"gradcheck of {name}", "the gradient of", _input)
    try:
        _check(fn, wording, inputs, checked, eps, atol, rtol, grad_output, fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _op_name(fn: Callable) -> str:
    """What an error calls ``fn``: ``Softplus`` for ``Softplus.apply``, ``<lambda>``, ``tanh``."""
    if isinstance(fn, functools.partial):
        return _op_name(fn.func)
    owner = getattr(fn, "__self__", None)
    # SomeFunction.apply is a classmethod, bound to the op's class: the class is the op.
    named = owner if isinstance(owner, type) else fn
    name = getattr(named, "__qualname__", None) or type(fn).__qualname__  # a Module instance
    return name.rsplit("<locals>.", 1)[-1]  # "test_x.<locals>.<lambda>" says no more than this


def _check(fn: Callable[..., Tensor], wording: _Wording, inputs: list, checked: list[int],
           eps: float, atol: float, rtol: float, grad_output: Any, fast_mode: bool) -> None:
    before = {i: x.array.copy() for i, x in enumerate(inputs) if isinstance(x, Tensor)}

    out = _output(fn, wording.check, inputs)
    _check_unmodified(wording, inputs, before, "its forward pass")
    upstream = _upstream(wording.check, grad_output, out)
    analytic = _analytic(out, [inputs[i] for i in checked], upstream)
    _check_unmodified(wording, inputs, before, "the backward pass")

    for i, found in zip(checked, analytic):
        x = inputs[i]  # its gradient has its shape and dtype: the engine checks that
        if fast_mode:
            u = _direction(i, x.shape)
            numeric = _numeric_projection(fn, inputs, i, upstream, u, eps)
            _compare_projection(wording, i, x.shape, float(np.sum(u * found)), numeric,
                                atol * float(np.sum(np.abs(u))), atol, rtol)
        else:
            numeric = _numeric(fn, inputs, i, upstream, eps)
            _compare(wording, i, x.shape, found, numeric, atol, rtol)
    _check_unmodified(wording, inputs, before, "a perturbed forward pass")


def _output(fn: Callable[..., Tensor], check: str, inputs: list) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{check}: fn must return a Tensor, got "
                        f"{type(out).__name__}")
    if out.dtype != float64:
        raise TypeError(f"{check}: fn returned dtype {out.dtype}; finite "
                        "differences need a float64 output (is there a .float() or a float32 "
                        "constant inside?)")
    return out


def _upstream(check: str, grad_output: Any, out: Tensor) -> np.ndarray:
    if grad_output is None:
        return np.random.default_rng(_UPSTREAM_SEED).standard_normal(out.shape)
    upstream = np.asarray(grad_output.array if isinstance(grad_output, Tensor) else grad_output,
                          dtype=np.float64)
    if upstream.shape != out.shape:
        raise ValueError(f"{check}: grad_output has shape {upstream.shape} but "
                         f"fn's output has shape {out.shape}")
    return upstream


def _analytic(out: Tensor, wrt: list[Tensor], upstream: np.ndarray) -> list[np.ndarray]:
    """The engine's gradients (zeros for inputs the output does not depend on)."""
    if not out.requires_grad:  # no recorded path at all: every gradient is zero
        return [np.zeros_like(x.array) for x in wrt]
    found = grad(out, wrt, grad_outputs=from_numpy(upstream), allow_unused=True)
    return [np.zeros_like(x.array) if g is None else g.array for x, g in zip(wrt, found)]


def _numeric(fn: Callable[..., Tensor], inputs: list, index: int, upstream: np.ndarray,
             eps: float) -> np.ndarray:
    """Central differences of ``<upstream, fn(...)>``, one element of input ``index`` at a time.

    Elements are perturbed in a private copy, never in the caller's array.
    """
    perturbed = inputs[index].array.copy()
    flat = perturbed.reshape(-1)  # a view: writing flat[k] moves element k of ``perturbed``
    numeric = np.empty_like(flat)
    args = list(inputs)

    def value() -> np.ndarray:
        args[index] = from_numpy(perturbed).requires_grad_()
        return np.array(fn(*args).array, dtype=np.float64)  # copied before the next nudge

    with no_grad():
        for k in range(flat.size):
            original = flat[k]
            flat[k] = original + eps
            plus = value()
            flat[k] = original - eps
            minus = value()
            flat[k] = original
            numeric[k] = np.sum(upstream * (plus - minus)) / (2 * eps)
    return numeric.reshape(perturbed.shape)


def _direction(index: int, shape: tuple) -> np.ndarray:
    """Fast mode's direction for input ``index``: unit length, random signs, and every
    element's weight within a factor 2 of the others' (PyTorch's uniform [0, 1) weights can
    come out near 0 and hide that element), reproducible from the index and shape alone."""
    rng = np.random.default_rng([_DIRECTION_SEED, index])
    u = rng.uniform(0.5, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    length = np.sqrt(np.sum(u * u))
    return u / length if length > 0 else u  # an empty input has nothing to project


def _numeric_projection(fn: Callable[..., Tensor], inputs: list, index: int,
                        upstream: np.ndarray, direction: np.ndarray, eps: float) -> float:
    """Central difference of ``<upstream, fn(...)>`` along ``direction`` in input ``index``:
    two forward passes, on fresh arrays (the caller's stay untouched)."""
    args = list(inputs)
    x = inputs[index].array

    def value(step: float) -> np.ndarray:
        args[index] = from_numpy(np.asarray(x + step * direction)).requires_grad_()  # 0-d too
        return np.asarray(fn(*args).array, dtype=np.float64)

    with no_grad():
        plus, minus = value(eps), value(-eps)
    return float(np.sum(upstream * (plus - minus)) / (2 * eps))


def _compare_projection(wording: _Wording, index: int, shape: tuple, analytic: float, numeric: float,
                        scaled_atol: float, atol: float, rtol: float) -> None:
    error = abs(analytic - numeric)
    tolerance = scaled_atol + rtol * abs(numeric)
    if error <= tolerance:  # nan fails
        return
    raise GradcheckError(
        f"{wording.check}: {wording.derivative} {wording.argument(index)} (shape {shape}) fails "
        f"fast mode's random projection v^T J u: analytic {analytic:.6g}, numeric {numeric:.6g}, error "
        f"{error:.6g} > tolerance {tolerance:.6g} (atol * sum|u| + rtol * |numeric|, "
        f"atol={atol:g}, rtol={rtol:g}); one projection cannot say which element is wrong: "
        "rerun with fast_mode=False to find it")


def _compare(wording: _Wording, index: int, shape: tuple, analytic: np.ndarray, numeric: np.ndarray,
             atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric)
    bad = ~(error <= atol + rtol * np.abs(numeric))  # written as ~(<=) so nan counts as bad
    if not bad.any():
        return
    worst = np.argmax(np.where(bad, np.nan_to_num(error, nan=np.inf), -1.0))
    element = tuple(int(k) for k in np.unravel_index(worst, shape))
    raise GradcheckError(
        f"{wording.check}: {wording.derivative} {wording.argument(index)} (shape {shape}) is "
        f"wrong at element {element}: analytic {analytic[element]:.6g}, numeric "
        f"{numeric[element]:.6g}; {int(bad.sum())} of {bad.size} elements differ, max abs error "
        f"over this input {np.max(error):.6g} (atol={atol:g}, rtol={rtol:g})")


def _check_unmodified(wording: _Wording, inputs: list, before: dict[int, np.ndarray],
                      when: str) -> None:
    for i, original in before.items():
        now = inputs[i].array
        if now.shape != original.shape or not np.array_equal(now, original, equal_nan=True):
            raise GradcheckError(f"{wording.check}: {wording.argument(i)} (shape "
                                 f"{original.shape}) was modified in place during {when}; fn "
                                 "must leave its inputs unchanged")
