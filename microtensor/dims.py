"""Dimension arguments, checked and wrapped the way PyTorch does, in one place.

Every op and method that takes a ``dim`` goes through ``wrap_dim`` or ``wrap_dims``:
negative dims count from the end, a 0-d tensor accepts ``0`` and ``-1`` (as if it
had one dimension of size 1), and anything else is PyTorch's ``IndexError``. Writes
into a tensor ask ``broadcasts_to`` whether a value's shape fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a value of ``shape`` broadcasts to ``target`` without changing it.

    >>> broadcasts_to((3,), (2, 3)), broadcasts_to((2, 3), (3,)), broadcasts_to((2, 0), (0,))
    (True, False, False)
    """
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:  # no common shape at all
        return False


def wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` as an index in ``[0, ndim)`` (``[0, 1)`` for a 0-d tensor).

    >>> wrap_dim(-1, 3), wrap_dim(0, 0)
    (2, 0)
    >>> wrap_dim(5, 2)
    Traceback (most recent call last):
    ...
    IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 5)
    """
    if isinstance(dim, bool) or not isinstance(dim, int):
        if not hasattr(dim, "__index__"):
            raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
        dim = dim.__index__()
    span = max(ndim, 1)
    if not -span <= dim < span:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, "
                         f"{span - 1}], but got {dim})")
    return dim % span


def wrap_dims(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """A reduction's ``dim`` (None, an int, or a sequence of them) as a tuple of numpy axes.

    None and ``()`` are None (all dims, as PyTorch). On a 0-d tensor the valid dims name no numpy axis, so
    they come back as ``()``: reducing over them leaves the value as it is, as PyTorch.

    >>> wrap_dims(-1, 3), wrap_dims([0, -1], 3), wrap_dims(0, 0), wrap_dims((), 2)
    ((2,), (0, 2), (), None)
    >>> wrap_dims((1, -1), 2)
    Traceback (most recent call last):
    ...
    RuntimeError: dim 1 appears multiple times in the list of dims
    """
    if type(dim) is int and -1 <= dim < ndim:  # the common case, one valid dim
        return (dim % ndim,) if ndim else ()
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return None  # PyTorch reads an empty list of dims as all of them
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    wrapped = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(wrapped)) != len(wrapped):
        repeated = next(d for d in wrapped if wrapped.count(d) > 1)
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    return wrapped if ndim else ()
