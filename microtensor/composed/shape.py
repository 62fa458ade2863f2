"""Shape methods: views and copies that rearrange entries, and the in-place shape forms.

Views (``narrow``, ``select``, ``unbind``, ``x.mT``) share ``x``'s memory; ``flip``, ``roll``,
``tril``/``triu``, ``repeat`` and ``repeat_interleave`` copy. ``unsqueeze_``, ``squeeze_``,
``t_`` and ``transpose_`` make ``x`` itself the view (its node in the graph included), and
``detach_`` cuts ``x`` itself off the graph. ``PROPERTIES`` lists the ones PyTorch has as a
property rather than a method.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import autograd, inplace, versions
from .. import ops as F
from ..dims import wrap_dim
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor, as_shape
from .indexing import index_select


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view of ``length`` entries of ``dim`` from ``start`` (negative ``start`` counts
    from the end).

    >>> import microtensor as mt
    >>> mt.arange(5).narrow(0, 1, 3).tolist()
    [1, 2, 3]
    """
    dim = wrap_dim(dim, x.ndim)
    size = x.shape[dim]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or length < 0 or begin + length > size:
        raise ShapeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({size}) of dim {dim}")
    return x[(slice(None),) * dim + (slice(begin, begin + length),)]


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The view of entry ``index`` of ``dim``, that dim removed.

    >>> import microtensor as mt
    >>> mt.arange(6).reshape(2, 3).select(1, 0).tolist()
    [0, 3]
    """
    dim = wrap_dim(dim, x.ndim)
    size = x.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {x.shape} "
                         f"at dimension {dim}")
    return x[(slice(None),) * dim + (index,)]


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """Every entry of ``dim``, as views without that dim.

    >>> import microtensor as mt
    >>> [t.tolist() for t in mt.arange(4).reshape(2, 2).unbind()]
    [[0, 1], [2, 3]]
    """
    dim = wrap_dim(dim, x.ndim)
    return tuple(select(x, dim, i) for i in range(x.shape[dim]))


def flip(x: Tensor, *dims: Any) -> Tensor:
    """A copy with the order of entries reversed along ``dims``.

    >>> import microtensor as mt
    >>> mt.arange(4).reshape(2, 2).flip(0, 1).tolist()
    [[3, 2], [1, 0]]
    """
    return F.Flip.apply(x, dims=as_shape(dims))


def roll(x: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Entries shifted cyclically by ``shifts`` along ``dims`` (of the flattened tensor when
    ``dims`` is None, the shape kept).

    >>> import microtensor as mt
    >>> mt.arange(4).roll(1).tolist()
    [3, 0, 1, 2]
    """
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else dims if dims is None else tuple(dims)
    return F.Roll.apply(x, shifts=shifts, dims=dims)


def _triangle(x: Tensor, keep: Any, op: str) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
    # where, not a product with the mask: nan and inf outside the triangle become 0 too.
    return F.Where.apply(x, Tensor._wrap(np.zeros((), x.dtype)), condition=keep)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (entries with ``j - i <= diagonal``), 0 above.

    >>> import microtensor as mt
    >>> mt.ones(2, 2).tril().tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(x, np.tri(*x.shape[-2:], k=diagonal, dtype=bool) if x.ndim >= 2 else None,
                     "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (entries with ``j - i >= diagonal``), 0 below.

    >>> import microtensor as mt
    >>> mt.ones(2, 2).triu(1).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    return _triangle(x, ~np.tri(*x.shape[-2:], k=diagonal - 1, dtype=bool)
                     if x.ndim >= 2 else None, "triu")


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """``x`` tiled ``sizes[i]`` times along each dim (leading sizes add dims), a copy.

    >>> import microtensor as mt
    >>> mt.tensor([1, 2]).repeat(2, 2).tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    sizes = as_shape(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: trying to create tensor with negative dimension: {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    # Each dim n becomes (1, n), broadcast to (s, n), then merged: s copies of the dim in a row.
    split = [v for n in shape for v in (1, n)]
    tiled = [v for s, n in zip(sizes, shape) for v in (s, n)]
    return x.reshape(*split).expand(*tiled).reshape(*(s * n for s, n in zip(sizes, shape)))


def repeat_interleave(x: Tensor, repeats: int | Tensor, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each entry along ``dim`` repeated ``repeats`` times (a number, or one per entry); the
    flattened tensor's entries when ``dim`` is None.

    >>> import microtensor as mt
    >>> mt.tensor([1, 2]).repeat_interleave(mt.tensor([1, 2])).tolist()
    [1, 2, 2]
    """
    if dim is None:
        x, dim = x.flatten(), 0
    elif not x.ndim:  # PyTorch's own check: no dim of a 0-d tensor is in range here
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got "
                         f"{dim})")
    dim = wrap_dim(dim, x.ndim)
    n = x.shape[dim] if x.ndim else 1
    counts = np.asarray(repeats.array if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu":
        raise DtypeError(f"repeat_interleave: repeats must be integers, got {counts.dtype}")
    if counts.ndim > 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    if counts.size != 1 and counts.size != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along "
                           f"dim, but got repeats.size(0) = {counts.size} and input.size({dim}) "
                           f"= {n}")
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    index = np.repeat(np.arange(n), counts.reshape(-1))
    if output_size is not None and output_size != index.size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} but the repeats add up "
                           f"to {index.size}")
    return index_select(x, dim, index)


def _matrix_transpose(x: Tensor) -> Tensor:
    """``x.mT``: the last two dims swapped (a view).

    >>> import microtensor as mt
    >>> mt.zeros(4, 2, 3).mT.shape
    (4, 3, 2)
    """
    if x.ndim < 2:
        if x.ndim == 0:
            warnings.warn("Tensor.mT is deprecated on 0-D tensors. This function is the "
                          "identity in these cases.", UserWarning, stacklevel=3)
            return x.permute()
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x.ndim}-D tensor.")
    return x.transpose(-2, -1)


def detach_(x: Tensor) -> Tensor:
    """Cut ``x`` itself off from the graph (a leaf that requires no grad); views refuse, as
    PyTorch's.

    >>> import microtensor as mt
    >>> (mt.ones(2, requires_grad=True) * 2).detach_().requires_grad
    False
    """
    if isinstance(x, inplace.View):
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    x.grad_fn, x.requires_grad = None, False
    return x


def _take_view(x: Tensor, op: str, view: Callable[[Tensor], Tensor]) -> Tensor:
    """``x`` made into ``view(x)`` itself (PyTorch's in-place shape methods): it takes the
    view's array, its node in the graph and, if ``x`` is a view, the extra view step; the
    memory's version ticks, as PyTorch's does."""
    if autograd.is_grad_enabled() and x.requires_grad:
        inplace.refuse_leaf(x, op)
    made = view(x)
    node = made.grad_fn  # read before the write below, which would make the view rebuild it
    if isinstance(made, inplace.View) and isinstance(x, inplace.View):
        earlier = object.__new__(inplace.View)  # x's steps so far, as the parent of its new one
        earlier.parent, earlier.op, earlier.options = x.parent, x.op, x.options
        x.parent, x.op, x.options = earlier, made.op, made.options
        x.base_fn, x.made_at = made.base_fn, made.made_at
    x.array = made.array
    versions.record_write(x.array)
    if not isinstance(x, inplace.View):
        inplace.note_reshaped(x)
    if node is not None:
        inplace.move_node(x, node)
    return x


def unsqueeze_(x: Tensor, dim: int) -> Tensor:
    """``unsqueeze`` in place: ``x`` itself gets the new shape.

    >>> import microtensor as mt
    >>> mt.zeros(2).unsqueeze_(0).shape
    (1, 2)
    """
    return _take_view(x, "unsqueeze_", lambda t: t.unsqueeze(dim))


def squeeze_(x: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """``squeeze`` in place."""
    return _take_view(x, "squeeze_", lambda t: t.squeeze(dim))


def t_(x: Tensor) -> Tensor:
    """``t`` in place."""
    return _take_view(x, "t_", lambda t: t.t())


def transpose_(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """``transpose`` in place."""
    return _take_view(x, "transpose_", lambda t: t.transpose(dim0, dim1))


#: PyTorch's properties among these: ``x.mT``, not ``x.mT()``.
PROPERTIES = {"mT": _matrix_transpose}
