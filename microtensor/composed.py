"""Tensor methods composed from the engine's ops and factories, bound from one table.

Each is a plain function of the tensor, so ``tensor.py`` stays the short read it is: a new
one is its function here plus one line in ``METHODS`` (and, if PyTorch also has it as
``torch.NAME(x, ...)``, one name in ``functions.METHOD_FUNCTIONS``). The engine differentiates
them through the ops they call.

>>> import microtensor as mt
>>> x = mt.arange(6.0).reshape(2, 3)
>>> x.narrow(1, 1, 2).tolist(), [t.tolist() for t in x.unbind(1)][0]
([[1.0, 2.0], [4.0, 5.0]], [0.0, 3.0])
"""

from __future__ import annotations

from typing import Any

from .creation import full, tensor
from .dims import wrap_dim
from .errors import ShapeError
from .tensor import Tensor, _shape


def contiguous(x: Tensor) -> Tensor:
    """``x`` itself if its memory is in row-major order, else a row-major copy (as PyTorch).

    >>> import microtensor as mt
    >>> x = mt.ones(2, 3)
    >>> x.contiguous() is x, x.T.contiguous().is_contiguous()
    (True, True)
    """
    return x if x.array.flags.c_contiguous else x.clone()


def is_contiguous(x: Tensor) -> bool:
    """Whether ``x``'s memory is in row-major order (a transpose's is not).

    >>> import microtensor as mt
    >>> mt.ones(2, 3).T.is_contiguous()
    False
    """
    return bool(x.array.flags.c_contiguous)


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


def type_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` in ``other``'s dtype.

    >>> import microtensor as mt
    >>> mt.ones(2).type_as(mt.tensor([1])).dtype
    dtype('int64')
    """
    return x.to(other.dtype)


def new_full(x: Tensor, size: Any, fill_value: Any, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new tensor of ``size`` filled with ``fill_value``, in ``x``'s dtype by default.

    >>> import microtensor as mt
    >>> mt.ones(2, dtype=mt.float64).new_full((2,), 3).tolist()
    [3.0, 3.0]
    """
    return full(_shape((size,)), fill_value, dtype=dtype or x.dtype,
                requires_grad=requires_grad, device=device)


def new_zeros(x: Tensor, *size: Any, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Zeros of ``size`` (``new_zeros(2, 3)`` or ``new_zeros((2, 3))``), in ``x``'s dtype by
    default.

    >>> import microtensor as mt
    >>> mt.ones(1, dtype=mt.int32).new_zeros(2).dtype
    dtype('int32')
    """
    return new_full(x, _shape(size), 0, dtype, requires_grad, device)


def new_ones(x: Tensor, *size: Any, dtype: Any = None, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """Ones of ``size``, in ``x``'s dtype by default."""
    return new_full(x, _shape(size), 1, dtype, requires_grad, device)


def new_tensor(x: Tensor, data: Any, dtype: Any = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    """A new tensor of ``data`` (a copy), in ``x``'s dtype by default, as PyTorch.

    >>> import microtensor as mt
    >>> mt.ones(1).new_tensor([1, 2]).dtype
    dtype('float32')
    """
    return tensor(data, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device)


# PyTorch's names of the comparison operators, as methods and functions.
def gt(x: Tensor, other: Any) -> Tensor:
    """``x > other``."""
    return x > other


def ge(x: Tensor, other: Any) -> Tensor:
    """``x >= other``."""
    return x >= other


def lt(x: Tensor, other: Any) -> Tensor:
    """``x < other``."""
    return x < other


def le(x: Tensor, other: Any) -> Tensor:
    """``x <= other``."""
    return x <= other


def eq(x: Tensor, other: Any) -> Tensor:
    """``x == other``."""
    return x == other


def ne(x: Tensor, other: Any) -> Tensor:
    """``x != other``."""
    return x != other


#: The table: ``x.NAME(...)`` for each.
METHODS = {fn.__name__: fn for fn in (
    contiguous, is_contiguous, narrow, select, unbind, type_as, new_full, new_zeros, new_ones,
    new_tensor, gt, ge, lt, le, eq, ne,
)}

for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
