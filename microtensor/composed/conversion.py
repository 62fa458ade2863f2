"""Layout and dtype conversions, and new tensors made after an existing one.

``contiguous`` and ``is_contiguous`` ask about the memory order of the tensor's array;
``type_as`` converts to another tensor's dtype; the ``new_*`` factories make a fresh tensor
(never a view, never in the graph) in the tensor's dtype unless told otherwise, as PyTorch's.
"""

from __future__ import annotations

from typing import Any

from ..creation import full, tensor
from ..tensor import Tensor, as_shape


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
    return full(as_shape((size,)), fill_value, dtype=dtype or x.dtype,
                requires_grad=requires_grad, device=device)


def new_zeros(x: Tensor, *size: Any, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Zeros of ``size`` (``new_zeros(2, 3)`` or ``new_zeros((2, 3))``), in ``x``'s dtype by
    default.

    >>> import microtensor as mt
    >>> mt.ones(1, dtype=mt.int32).new_zeros(2).dtype
    dtype('int32')
    """
    return new_full(x, as_shape(size), 0, dtype, requires_grad, device)


def new_ones(x: Tensor, *size: Any, dtype: Any = None, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """Ones of ``size``, in ``x``'s dtype by default."""
    return new_full(x, as_shape(size), 1, dtype, requires_grad, device)


def new_tensor(x: Tensor, data: Any, dtype: Any = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    """A new tensor of ``data`` (a copy), in ``x``'s dtype by default, as PyTorch.

    >>> import microtensor as mt
    >>> mt.ones(1).new_tensor([1, 2]).dtype
    dtype('float32')
    """
    return tensor(data, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device)
