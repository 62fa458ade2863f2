"""``check_op``: the whole property test of a new op in one call.

For every example drawn (hypothesis, the active profile), with inputs as float64 tensors:

1. the forward pass against a numpy reference: shape, dtype and values;
2. ``gradcheck`` (first derivatives) and ``gradgradcheck`` (second derivatives);
3. the same on inputs derived from the draw: every input reduced to one element (0-d),
   and, for ops of several inputs, one input at a time given a shape that broadcasts
   against the others (its first row, or its last axis cut to length 1). Where the
   reference refuses a derived shape the op must refuse it too, and is not checked there;
4. a float32 run: forward and backward give float32 results, finite wherever float64's are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ..autograd import Function, grad
from ..creation import tensor
from ..dtypes import float32, float64
from ..tensor import Tensor
from .gradcheck import GradcheckError, _op_name, gradcheck
from .gradgradcheck import gradgradcheck

#: The float32 run's upstream gradient, reproducible as gradcheck's.
_UPSTREAM_SEED = 3


def check_op(op: Callable[..., Tensor] | type[Function],
             inputs: st.SearchStrategy[tuple[np.ndarray, ...]],
             reference: Callable[..., Any], *, rtol: float = 1e-7, atol: float = 1e-10,
             second_order: bool = True, fast_mode: bool = False,
             max_examples: int | None = None) -> None:
    """Property-test ``op`` against the numpy ``reference``, raising on the first failure.

    ``op`` takes tensors and returns a tensor; an ``mt.Function`` subclass is called
    through its ``apply``. ``inputs`` is a hypothesis strategy of tuples of float64 numpy
    arrays (the op's arguments; keep them small, a few elements each, since the finite
    differences cost two forward passes per element). ``reference`` takes the same
    arrays and returns the expected array. Checked for each draw (see the module
    docstring): the forward pass (``rtol``/``atol``), ``gradcheck``, ``gradgradcheck``
    (``second_order=False`` skips it, for an op that does not support
    ``create_graph``), 0-d and broadcast inputs derived from the draw, and a float32 run.
    ``fast_mode`` is passed to both checks.

    It runs hypothesis itself: call it once inside a plain test function (not inside a
    ``@given`` test). The active settings profile applies, without a deadline (finite
    differences are slow by design); ``max_examples`` overrides the profile's count.

    Raises ``GradcheckError`` naming the op and what failed; hypothesis adds the inputs
    of the smallest failing example.

    >>> import numpy as np
    >>> import microtensor as mt
    >>> import hypothesis.extra.numpy as hnp
    >>> from hypothesis import strategies as st
    >>> class Softplus(mt.Function):
    ...     def forward(self, x):
    ...         self.save_for_backward(x)
    ...         return np.logaddexp(0, x)
    ...     def backward(self, grad):
    ...         (x,) = self.saved_tensors
    ...         return grad / (1 + np.exp(-x))
    >>> small = hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=3),
    ...                    elements=st.floats(-5, 5))
    >>> check_op(Softplus, small.map(lambda x: (x,)), lambda x: np.logaddexp(0, x),
    ...          max_examples=5)
    """
    fn = op.apply if isinstance(op, type) and issubclass(op, Function) else op
    name = _op_name(fn)
    profile = settings.default
    count = profile.max_examples if max_examples is None else max_examples

    @settings(profile, deadline=None, max_examples=count)
    @given(inputs)
    def check_example(arrays: Any) -> None:
        arrays = _as_arrays(name, arrays)
        _check_inputs(fn, name, arrays, reference, "the drawn inputs", rtol, atol,
                      second_order, fast_mode)
        for what, derived in _derived(arrays):
            if _refused(fn, name, derived, reference, what):
                continue
            _check_inputs(fn, name, derived, reference, what, rtol, atol, second_order,
                          fast_mode)
        _check_float32(fn, name, arrays)

    check_example()


def _as_arrays(name: str, drawn: Any) -> tuple[np.ndarray, ...]:
    arrays = drawn if isinstance(drawn, tuple) else (drawn,)
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64:
            got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"check_op of {name}: the inputs strategy must draw tuples of "
                            f"float64 numpy arrays; argument {i} is {got}")
    return arrays


def _leaves(arrays: tuple[np.ndarray, ...], dtype: Any = float64) -> list[Tensor]:
    # Copies: the op and the checks must not share memory with hypothesis's draw.
    return [tensor(np.array(a), dtype=dtype, requires_grad=True) for a in arrays]


def _shapes(arrays: tuple[np.ndarray, ...]) -> str:
    return ", ".join(str(a.shape) for a in arrays)


def _check_inputs(fn: Callable[..., Tensor], name: str, arrays: tuple[np.ndarray, ...],
                  reference: Callable[..., Any], what: str, rtol: float, atol: float,
                  second_order: bool, fast_mode: bool) -> None:
    where = f"check_op of {name} on {what} (shapes {_shapes(arrays)})"
    expected = np.asarray(reference(*arrays))
    out = fn(*_leaves(arrays))
    if not isinstance(out, Tensor):
        raise GradcheckError(f"{where}: the op returned {type(out).__name__}, not a Tensor")
    if out.shape != expected.shape:
        raise GradcheckError(f"{where}: the forward pass has shape {out.shape}, the reference "
                             f"{expected.shape}")
    if out.dtype != expected.dtype:
        raise GradcheckError(f"{where}: the forward pass has dtype {out.dtype}, the reference "
                             f"{expected.dtype}")
    error = np.abs(out.array - expected)
    bad = ~(error <= atol + rtol * np.abs(expected))  # nan counts as bad, unless both are
    bad &= ~(np.isnan(out.array) & np.isnan(expected))
    if bad.any():
        worst = tuple(int(k) for k in np.unravel_index(
            np.argmax(np.where(bad, np.nan_to_num(error, nan=np.inf), -1.0)), expected.shape))
        raise GradcheckError(
            f"{where}: the forward pass differs from the reference at element {worst}: "
            f"{out.array[worst]!r} vs {expected[worst]!r}; {int(bad.sum())} of {bad.size} "
            f"elements differ (rtol={rtol:g}, atol={atol:g})")
    try:
        gradcheck(fn, _leaves(arrays), fast_mode=fast_mode)
        if second_order:
            gradgradcheck(fn, _leaves(arrays), fast_mode=fast_mode)
    except GradcheckError as err:
        raise GradcheckError(f"{where}: {err}") from err


def _derived(arrays: tuple[np.ndarray, ...]) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """Inputs made from the draw: all 0-d, then each input in turn with a shape that
    broadcasts against the others'. Those that would repeat the draw are left out."""
    derived = []
    if all(a.size for a in arrays) and any(a.ndim for a in arrays):
        derived.append(("0-d inputs", tuple(np.array(a.flat[0]) for a in arrays)))
    if len(arrays) > 1:
        for i, a in enumerate(arrays):
            if a.ndim:
                derived.append((f"input {i} without its first axis",
                                arrays[:i] + (np.array(a[0]),) + arrays[i + 1:]))
            if a.ndim and a.shape[-1] > 1:
                derived.append((f"input {i} with its last axis cut to length 1",
                                arrays[:i] + (np.array(a[..., :1]),) + arrays[i + 1:]))
    return derived


def _refused(fn: Callable[..., Tensor], name: str, arrays: tuple[np.ndarray, ...],
             reference: Callable[..., Any], what: str) -> bool:
    """True when the reference refuses these inputs, after checking the op refuses them too."""
    try:
        with np.errstate(all="ignore"):
            reference(*arrays)
    except Exception as refusal:  # whatever the reference raises for shapes it refuses
        try:
            fn(*_leaves(arrays))
        except Exception:  # the op may word its refusal differently
            return True
        raise GradcheckError(
            f"check_op of {name} on {what} (shapes {_shapes(arrays)}): the reference refuses "
            f"these inputs ({type(refusal).__name__}: {refusal}) but the op accepted them") from None
    return False


def _check_float32(fn: Callable[..., Tensor], name: str, arrays: tuple[np.ndarray, ...]) -> None:
    """float32 in, float32 out and float32 gradients, finite wherever float64's are (and
    within float32's range)."""
    where = f"check_op of {name} in float32 (shapes {_shapes(arrays)})"
    wide_inputs, narrow_inputs = _leaves(arrays), _leaves(arrays, float32)
    wide, narrow = fn(*wide_inputs), fn(*narrow_inputs)
    if narrow.dtype != float32:
        raise GradcheckError(f"{where}: float32 inputs gave a {narrow.dtype} output")
    _check_finite(where, "the output", narrow.array, wide.array)
    if not narrow.requires_grad:
        return
    upstream = np.random.default_rng(_UPSTREAM_SEED).uniform(-1.0, 1.0, narrow.shape)
    wide_grads = grad(wide, wide_inputs, tensor(upstream, dtype=float64), allow_unused=True)
    narrow_grads = grad(narrow, narrow_inputs, tensor(upstream, dtype=float32), allow_unused=True)
    for i, (g32, g64) in enumerate(zip(narrow_grads, wide_grads)):
        if g32 is None:
            continue
        if g32.dtype != float32:
            raise GradcheckError(f"{where}: the gradient of input {i} has dtype {g32.dtype}")
        _check_finite(where, f"the gradient of input {i}", g32.array, g64.array)


def _check_finite(where: str, what: str, narrow: np.ndarray, wide: np.ndarray) -> None:
    # Where float64's value is beyond float32's range, float32 overflows honestly.
    bad = ~np.isfinite(narrow) & (np.abs(wide) < np.finfo(np.float32).max)
    if bad.any():
        element = tuple(int(k) for k in np.unravel_index(np.argmax(bad), narrow.shape))
        raise GradcheckError(f"{where}: {what} is {narrow[element]} at element {element} where "
                             f"float64 gives {wide[element]!r}")
