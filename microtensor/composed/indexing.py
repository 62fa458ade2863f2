"""Sorting and indexing: ``sort``, ``topk``, ``index_select``, ``scatter``... and in-place writes.

Sorting is stable, with nan as the largest value (numpy's order and PyTorch's); the gathering
and scattering ops take PyTorch's index dtypes and checks, and their gradients go to the
entries picked. The in-place forms (``masked_fill_``, ``clamp_``, ``scatter_``...) compute the
op out of place and write it through ``inplace.modify``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import inplace
from .. import ops as F
from ..dims import wrap_dim
from ..errors import DtypeError
from ..tensor import Tensor, ValuesIndices


def _sort_order(x: Tensor, dim: int, descending: bool) -> Tensor:
    """Stable sort positions along ``dim``: ties keep their order, nan counts as the largest
    (numpy's order and PyTorch's). Descending sorts the reversed row ascending and reverses
    back, so ties still come in order of position and nan first."""
    dim = wrap_dim(dim, x.ndim)
    if not x.ndim:
        return Tensor._wrap(np.zeros((), np.int64))
    if not descending:
        return Tensor._wrap(np.argsort(x.array, axis=dim, kind="stable").astype(np.int64))
    order = np.flip(np.argsort(np.flip(x.array, dim), axis=dim, kind="stable"), dim)
    return Tensor._wrap((x.shape[dim] - 1 - order).astype(np.int64))


def sort(x: Tensor, dim: int = -1, descending: bool = False, *,
         stable: bool = False) -> ValuesIndices:
    """``(values, indices)`` sorted along ``dim``; nan sorts as the largest value, ties keep
    their order (``stable=False`` too: PyTorch's order of ties there is unspecified).
    The gradient goes to the entries the values came from.

    >>> import microtensor as mt
    >>> mt.tensor([2.0, float("nan"), 1.0]).sort(descending=True).indices.tolist()
    [1, 0, 2]
    """
    indices = _sort_order(x, dim, descending)
    return ValuesIndices(x.gather(dim, indices) if x.ndim else x.clone(), indices)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (``sort(...).indices``).

    >>> import microtensor as mt
    >>> mt.tensor([3, 1, 2]).argsort().tolist()
    [1, 2, 0]
    """
    return _sort_order(x, dim, descending)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> ValuesIndices:  # noqa: A002 - PyTorch's name
    """The ``k`` largest (``largest=False``: smallest) entries along ``dim`` and where they
    are, largest first; nan counts as the largest. Ties go to the first position (PyTorch
    picks any). Always sorted, which ``sorted=False`` allows.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 5.0, 3.0]).topk(2).values.tolist()
    [5.0, 3.0]
    """
    dim = wrap_dim(dim, x.ndim)
    if x.dtype == np.bool_:
        raise DtypeError("topk does not support bool dtypes on CPU")
    if not 0 <= k <= (x.shape[dim] if x.ndim else 1):
        raise RuntimeError(f"topk: selected index k ({k}) out of range for dimension {dim} of "
                           f"a tensor of shape {x.shape}")
    indices = _sort_order(x, dim, largest)
    if not x.ndim:
        return ValuesIndices(x.clone(), indices)
    indices = Tensor._wrap(indices.array[(slice(None),) * dim + (slice(0, k),)].copy())
    return ValuesIndices(x.gather(dim, indices), indices)


def _index_vector(index: Any, op: str, dtypes: str = "iu") -> np.ndarray:
    index = np.asarray(index.array if isinstance(index, Tensor) else index)
    if index.dtype.kind not in dtypes or index.dtype == np.uint8:
        raise DtypeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {index.shape}")
    return index


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (a vector of integers) picks along ``dim``; repeated picks add
    their gradients.

    >>> import microtensor as mt
    >>> mt.arange(6).reshape(2, 3).index_select(1, mt.tensor([2, 0])).tolist()
    [[2, 0], [5, 3]]
    """
    index = _index_vector(index, "index_select")
    dim = wrap_dim(dim, x.ndim)
    size = x.shape[dim] if x.ndim else 1
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"index_select(): index out of range in self (index "
                         f"{index.min() if index.min() < 0 else index.max()}, size {size})")
    if not x.ndim:
        if index.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index.size} value(s)")
        return x.clone()  # PyTorch's result is 0-d, whatever the index's shape
    return F.Index.apply(x, index=(slice(None),) * dim + (index.reshape(-1),))


def _scatter(x: Tensor, dim: int, index: Any, src: Any, value: Any, op: str,
             accumulate: bool) -> Tensor:
    index = np.asarray(index.array if isinstance(index, Tensor) else index)
    if index.dtype != np.int64:
        raise DtypeError(f"{op}(): Expected dtype int64 for index, got {index.dtype}")
    if not isinstance(src, Tensor):  # scatter(dim, index, 1.5): a number is the value
        src, value = None, src if value is None else value
    if src is None:
        if value is None or accumulate:
            raise TypeError(f"{op}() needs src (a tensor)" + ("" if accumulate else " or value"))
        return F.Scatter.apply(x, np.asarray(value).astype(x.dtype), index=index, dim=dim,
                               is_value=True)
    if src.dtype != x.dtype:
        raise DtypeError(f"{op}(): Expected self.dtype to be equal to src.dtype, got "
                         f"{x.dtype} and {src.dtype}")
    return F.Scatter.apply(x, src, index=index, dim=dim, accumulate=accumulate)


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``x`` with ``src``'s entries (or ``value``) written where ``index`` points
    along ``dim``: ``out[..., index[i, j], ...] = src[i, j]``.

    >>> import microtensor as mt
    >>> mt.zeros(3).scatter(0, mt.tensor([2, 0]), mt.tensor([1.0, 2.0])).tolist()
    [2.0, 0.0, 1.0]
    """
    return _scatter(x, dim, index, src, value, "scatter", accumulate=False)


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of ``x`` with ``src``'s entries added where ``index`` points (repeats add up).

    >>> import microtensor as mt
    >>> mt.zeros(2).scatter_add(0, mt.tensor([1, 1]), mt.tensor([1.0, 2.0])).tolist()
    [0.0, 3.0]
    """
    return _scatter(x, dim, index, src, None, "scatter_add", accumulate=True)


def index_add(x: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source`` added at the entries ``index`` picks along
    ``dim`` (repeats add up).

    >>> import microtensor as mt
    >>> mt.zeros(3).index_add(0, mt.tensor([0, 0]), mt.tensor([1.0, 2.0])).tolist()
    [3.0, 0.0, 0.0]
    """
    index = _index_vector(index, "index_add_")
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add(): argument 'source' must be Tensor, not "
                        f"{type(source).__name__}")
    if source.dtype != x.dtype:
        raise DtypeError(f"index_add_(): self ({x.dtype}) and source ({source.dtype}) must have "
                         f"the same scalar type")
    # alpha is cast to x's dtype (PyTorch's index_add truncates 0.5 to 0 for integers).
    return F.IndexAdd.apply(x, source, index=index, dim=dim, alpha=alpha)


# In place: each computes the op out of place and writes it through inplace.modify.
def masked_fill_(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``masked_fill`` in place.

    >>> import microtensor as mt
    >>> mt.ones(2).masked_fill_(mt.tensor([True, False]), 0.0).tolist()
    [0.0, 1.0]
    """
    return inplace.modify(x, "masked_fill_", lambda t: t.masked_fill(mask, value), value)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``clamp`` in place (an integer tensor cannot take float bounds: an error, as PyTorch).

    >>> import microtensor as mt
    >>> mt.tensor([-2.0, 2.0]).clamp_(-1, 1).tolist()
    [-1.0, 1.0]
    """
    return inplace.modify(x, "clamp_", lambda t: t.clamp(min, max), min, max)


def clip_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``clamp_``, by its other name."""
    return clamp_(x, min, max)


def index_add_(x: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``index_add`` in place.

    >>> import microtensor as mt
    >>> mt.zeros(2).index_add_(0, mt.tensor([1]), mt.tensor([5.0]), alpha=2).tolist()
    [0.0, 10.0]
    """
    return inplace.modify(x, "index_add_",
                          lambda t: index_add(t, dim, index, source, alpha=alpha), source)


def scatter_(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """``scatter`` in place.

    >>> import microtensor as mt
    >>> mt.zeros(2).scatter_(0, mt.tensor([1]), 7.0).tolist()
    [0.0, 7.0]
    """
    return inplace.modify(x, "scatter_", lambda t: scatter(t, dim, index, src, value=value), src)


def scatter_add_(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """``scatter_add`` in place."""
    return inplace.modify(x, "scatter_add_", lambda t: scatter_add(t, dim, index, src), src)
