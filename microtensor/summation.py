"""How the engine adds many numbers: as accurately as PyTorch does, along every axis.

numpy's sum is pairwise (its rounding error grows as log n) only along the axis it walks
through in memory, the last one of a C-ordered array. Along any other axis it adds one row at a
time, so the error grows with n: a million float32 rows of 0.1 sum to 1% more than they
should. It also accumulates float16 in float16, which stops counting at 2048 (2048 + 1 rounds
back to 2048). PyTorch sums in cascades along every axis and accumulates half in float32.

``cascaded_sum`` does the same. Each reduced axis longer than ``SHORT`` (except the one numpy
already sums pairwise) is folded first: blocks of ``BLOCK`` rows are added up, then the block
sums, until no more than ``BLOCK`` remain. The error grows as ``BLOCK`` times the number of
folds (log n to the base ``BLOCK``), not as n, as PyTorch's does. The folds reshape an axis
into blocks, which is always a view, so nothing is copied but the partial sums.
"""

from __future__ import annotations

import numpy as np

#: Rows added one at a time within a fold: PyTorch's cascade adds 16 rows per level too.
BLOCK = 16
#: Axes up to this long are left to numpy, row by row: each fold costs a few numpy calls,
#: which would double the cost of the bias gradient of every step of a small batch, for an
#: error of at most ``SHORT`` roundings (float32: 8e-6 of the sum of magnitudes).
SHORT = 128
_FLOAT32 = np.dtype(np.float32)


def accumulation_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype sums of ``dtype`` are kept in while they run (PyTorch's ``acc_type`` on CPU).

    >>> import numpy as np
    >>> accumulation_dtype(np.dtype(np.float16)), accumulation_dtype(np.dtype(np.float32))
    (dtype('float32'), dtype('float32'))
    """
    return _FLOAT32 if dtype.char == "e" else dtype  # e: float16


def widened(x: np.ndarray) -> np.ndarray:
    """``x`` in the dtype its sums run in: float16 as float32, anything else as it is.

    >>> import numpy as np
    >>> widened(np.ones(2, np.float16)).dtype
    dtype('float32')
    """
    # np.astype, not the method: a tensor in a recorded backward pass has none (see
    # numpy_dispatch.py); only float16 pays for the function call.
    return np.astype(x, _FLOAT32) if x.dtype.char == "e" else x  # e: float16


def cascaded_sum(x: np.ndarray, axis: int | tuple[int, ...] | None = None,
                 keepdims: bool = False, dtype: np.dtype | None = None) -> np.ndarray:
    """``x.sum(axis, keepdims=keepdims)`` as PyTorch computes it: cascaded along every axis,
    float16 accumulated in float32, the result in ``dtype`` (default: ``x``'s). Integers and
    bools are exact and go to numpy as they are.

    >>> import numpy as np
    >>> cascaded_sum(np.ones((3000, 2), np.float16), axis=0).tolist()
    [3000.0, 3000.0]
    >>> int(cascaded_sum(np.full((10**6, 2), 0.1, np.float32), axis=0)[0])  # numpy's: 100958
    100000
    """
    if type(x) is not np.ndarray and not isinstance(x, np.generic):
        # a tensor, in a recorded backward pass: the engine's sum, which cascades itself
        return np.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)
    # The common case first, kept cheap: it runs for every bias gradient of every step.
    # (dtype chars: f float32, d float64, F and D complex; e, float16, takes the long way.)
    if (dtype is None or dtype == x.dtype) and x.dtype.char in "fdFD" and (
            not x.shape or max(x.shape) <= SHORT or not _needs_folding(x, axis)):
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))
    out_dtype = np.dtype(dtype or x.dtype)
    if out_dtype.kind not in "fc":
        return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, dtype=out_dtype))
    if x.dtype != out_dtype:  # PyTorch's dtype=: the input is cast first, then summed
        x = x.astype(out_dtype)
    acc = accumulation_dtype(out_dtype)
    axes = tuple(range(x.ndim)) if axis is None else _positive(axis, x.ndim)
    if len(axes) == x.ndim and x.flags.c_contiguous:  # one run through memory: all pairwise
        total = np.sum(x.reshape(-1), dtype=acc)
        return np.asarray(total, dtype=out_dtype).reshape((1,) * x.ndim if keepdims else ())
    for a in axes:
        if _foldable(x, a):
            x = _fold(x, a, acc)
    out = np.sum(x, axis=axes, keepdims=keepdims, dtype=acc)
    return np.asarray(out, dtype=out_dtype)


def _foldable(x: np.ndarray, axis: int) -> bool:
    """Whether numpy would add ``axis`` up one row at a time, over more than ``SHORT`` rows."""
    return x.shape[axis] > SHORT and not (axis == x.ndim - 1 and x.strides[axis] == x.itemsize)


def _needs_folding(x: np.ndarray, axis: int | tuple[int, ...] | None) -> bool:
    if axis is None:
        return not x.flags.c_contiguous and any(_foldable(x, a) for a in range(x.ndim))
    return any(_foldable(x, a) for a in _positive(axis, x.ndim))


def _fold(x: np.ndarray, axis: int, acc: np.dtype) -> np.ndarray:
    """``x`` with ``axis`` shortened to at most ``BLOCK`` partial sums that add up to the same."""
    while (n := x.shape[axis]) > BLOCK:
        blocks = n // BLOCK
        lead, end = (slice(None),) * axis, blocks * BLOCK
        split = x[(*lead, slice(0, end))].reshape(
            x.shape[:axis] + (blocks, BLOCK) + x.shape[axis + 1:])
        partial = np.sum(split, axis=axis + 1, dtype=acc)
        if end < n:  # the rows that fill no whole block make one more partial sum
            rest = np.sum(x[(*lead, slice(end, None))], axis=axis, keepdims=True, dtype=acc)
            partial = np.concatenate([partial, rest], axis=axis)
        x = partial
    return x


def _positive(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(int(a) % ndim if ndim else 0 for a in axes)
