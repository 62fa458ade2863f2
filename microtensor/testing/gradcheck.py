"""``gradcheck``: compare the engine's gradients with central finite differences.

For a function ``y = fn(x0, x1, ...)`` and an upstream gradient ``u`` (random, so
that a wrong broadcast or a forgotten transpose cannot hide behind a gradient of
ones), the engine's answer for input ``i`` is ``d<u, y>/dx_i``. The numeric answer
for one element ``x_i[k]`` is

    (<u, fn(.., x_i + eps e_k, ..)> - <u, fn(.., x_i - eps e_k, ..)>) / (2 eps)

which is exact up to ``O(eps^2)`` for smooth ``fn``. Everything runs in float64:
with ``eps = 1e-6`` float32 rounding alone would swamp the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import grad, no_grad
from ..creation import from_numpy
from ..dtypes import float64
from ..tensor import Tensor

#: The upstream gradient is random but reproducible: a failure can be rerun and seen again.
_UPSTREAM_SEED = 0


class GradcheckError(AssertionError):
    """The analytic gradient of a function disagrees with its finite-difference estimate
    (or the function modified its inputs). An ``AssertionError``, so pytest shows it as a
    failed check.

    >>> raise GradcheckError("input 0 (shape (2,)): ...")
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: input 0 (shape (2,)): ...
    """


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, grad_output: Any = None,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradient with respect to every input that requires grad.

    ``inputs`` are passed to ``fn`` in order; inputs that are not tensors, or do not
    require grad, are passed through unchecked. An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Also checked: ``fn`` leaves its
    inputs unmodified. (That each gradient has its input's shape and dtype, the engine
    itself checks: an op's backward, a hook.)
    Nothing is left in the inputs' ``.grad``.

    Returns True, or on failure raises ``GradcheckError`` naming the input, the worst
    element, both values and the largest error (returns False instead when
    ``raise_exception`` is False).

    >>> import microtensor as mt
    >>> x = mt.tensor([[0.5, -1.0], [2.0, 0.1]], dtype=mt.float64, requires_grad=True)
    >>> w = mt.tensor([1.5, -2.0], dtype=mt.float64, requires_grad=True)
    >>> gradcheck(lambda x, w: (x * w).tanh(), [x, w])
    True

    A ``detach()`` that hides half of the gradient of ``x * x``:

    >>> gradcheck(lambda x: x.detach() * x, [x])
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: gradcheck: the gradient of input 0
    (shape (2, 2)) is wrong at element (1, 0): analytic 1.28085, numeric 2.56169;
    4 of 4 elements differ, max abs error over this input 1.28085 (atol=1e-05, rtol=0.001)
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check; "
                         "create the inputs with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != float64:
            raise TypeError(f"gradcheck: input {i} (shape {inputs[i].shape}) has dtype "
                            f"{inputs[i].dtype}; finite differences need float64, so create "
                            "it with dtype=mt.float64 (or convert with .double())")
    try:
        _check(fn, inputs, checked, eps, atol, rtol, grad_output)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check(fn: Callable[..., Tensor], inputs: list, checked: list[int], eps: float,
           atol: float, rtol: float, grad_output: Any) -> None:
    before = {i: x.array.copy() for i, x in enumerate(inputs) if isinstance(x, Tensor)}

    out = _output(fn, inputs)
    _check_unmodified(inputs, before, "its forward pass")
    upstream = _upstream(grad_output, out)
    analytic = _analytic(out, [inputs[i] for i in checked], upstream)
    _check_unmodified(inputs, before, "the backward pass")

    for i, found in zip(checked, analytic):
        x = inputs[i]  # its gradient has its shape and dtype: the engine checks that
        numeric = _numeric(fn, inputs, i, upstream, eps)
        _compare(i, x.shape, found, numeric, atol, rtol)
    _check_unmodified(inputs, before, "a perturbed forward pass")


def _output(fn: Callable[..., Tensor], inputs: list) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype != float64:
        raise TypeError(f"gradcheck: fn returned dtype {out.dtype}; finite differences need a "
                        "float64 output (is there a .float() or a float32 constant inside?)")
    return out


def _upstream(grad_output: Any, out: Tensor) -> np.ndarray:
    if grad_output is None:
        return np.random.default_rng(_UPSTREAM_SEED).standard_normal(out.shape)
    upstream = np.asarray(grad_output.array if isinstance(grad_output, Tensor) else grad_output,
                          dtype=np.float64)
    if upstream.shape != out.shape:
        raise ValueError(f"gradcheck: grad_output has shape {upstream.shape} but fn's output "
                         f"has shape {out.shape}")
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


def _compare(index: int, shape: tuple, analytic: np.ndarray, numeric: np.ndarray,
             atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric)
    bad = ~(error <= atol + rtol * np.abs(numeric))  # written as ~(<=) so nan counts as bad
    if not bad.any():
        return
    worst = np.argmax(np.where(bad, np.nan_to_num(error, nan=np.inf), -1.0))
    element = tuple(int(k) for k in np.unravel_index(worst, shape))
    raise GradcheckError(
        f"gradcheck: the gradient of input {index} (shape {shape}) is wrong at element "
        f"{element}: analytic {analytic[element]:.6g}, numeric {numeric[element]:.6g}; "
        f"{int(bad.sum())} of {bad.size} elements differ, max abs error over this input "
        f"{np.max(error):.6g} (atol={atol:g}, rtol={rtol:g})")


def _check_unmodified(inputs: list, before: dict[int, np.ndarray], when: str) -> None:
    for i, original in before.items():
        now = inputs[i].array
        if now.shape != original.shape or not np.array_equal(now, original, equal_nan=True):
            raise GradcheckError(f"gradcheck: input {i} (shape {original.shape}) was modified "
                                 f"in place during {when}; fn must leave its inputs unchanged")
