"""PyTorch's legacy constructors: ``mt.Tensor(...)``, the typed classes ``mt.LongTensor(...)``,
``mt.FloatTensor(...)``... and ``x.type()``.

Old PyTorch code, its older tutorials among it, makes tensors this way; new code uses
``mt.tensor``, ``mt.zeros`` and ``x.to``. The rules are PyTorch's: ``Tensor([1, 2])`` is a
tensor of the default float dtype, ``LongTensor([1.5])`` truncates to ``[1]``, ``Tensor(2, 3)``
is a 2x3 tensor (uninitialised in PyTorch, zeros here, as ``mt.empty``), ``Tensor()`` is empty,
and ``isinstance(x, mt.LongTensor)`` asks for the dtype.

>>> import microtensor as mt
>>> mt.Tensor([1, 2]).dtype, mt.LongTensor([1.5, 2.7]).tolist(), mt.Tensor(2, 3).shape
(dtype('float32'), [1, 2], (2, 3))
>>> isinstance(mt.tensor([1]), mt.LongTensor), mt.ones(2).type()
(True, 'torch.FloatTensor')
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .creation import from_numpy
from .devices import check_device
from .dtypes import as_dtype
from .tensor import Tensor, to_array


def construct(args: tuple, dtype: np.dtype, op: str, alias_any_dtype: bool = False) -> Tensor:
    """What a legacy constructor call ``op(*args)`` makes: an alias of a tensor (a view in the
    graph, of its dtype for ``Tensor``, of ``dtype`` only for the typed classes), or a tensor of
    ``dtype`` from sizes or from data (sharing a numpy array's memory where its dtype is
    ``dtype``, as PyTorch).

    >>> import microtensor as mt
    >>> construct((2, 3), mt.float32, "Tensor").shape
    (2, 3)
    """
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other.dtype != dtype and not alias_any_dtype:
            raise TypeError(f"{op}: expected a tensor of dtype {dtype}, got {other.dtype}")
        return other.view(other.shape)
    return from_numpy(_array_of(args, dtype, op))


def _array_of(args: tuple, dtype: np.dtype, op: str) -> np.ndarray:
    if not args:
        return np.zeros(0, dtype)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        negative = [a for a in args if a < 0]
        if negative:
            raise RuntimeError(f"{op}: trying to create a tensor with negative dimension "
                               f"{negative[0]}: {list(args)}")
        return np.zeros(args, dtype=dtype)  # PyTorch's memory is uninitialised: zeros here
    if len(args) > 1:
        raise TypeError(f"{op}: takes sizes (integers) or one sequence of data, got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    data = args[0]
    if not isinstance(data, (list, tuple, np.ndarray)):
        raise TypeError(f"{op}: data must be a sequence, got {type(data).__name__}")
    return to_array(data, dtype)


class _TypedTensorClass(type):
    """The type of ``mt.LongTensor`` and the others: calling one makes a tensor of its dtype;
    ``isinstance`` checks the dtype."""

    dtype: np.dtype

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        check_device(device)
        return construct(args, cls.dtype, cls.__name__)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


def _typed(name: str, dtype: Any) -> _TypedTensorClass:
    return _TypedTensorClass(name, (), {"dtype": np.dtype(dtype), "__module__": __name__})


FloatTensor = _typed("FloatTensor", np.float32)
DoubleTensor = _typed("DoubleTensor", np.float64)
HalfTensor = _typed("HalfTensor", np.float16)
ByteTensor = _typed("ByteTensor", np.uint8)
CharTensor = _typed("CharTensor", np.int8)
ShortTensor = _typed("ShortTensor", np.int16)
IntTensor = _typed("IntTensor", np.int32)
LongTensor = _typed("LongTensor", np.int64)
BoolTensor = _typed("BoolTensor", np.bool_)
TYPED = {cls.__name__: cls for cls in (FloatTensor, DoubleTensor, HalfTensor, ByteTensor,
                                       CharTensor, ShortTensor, IntTensor, LongTensor, BoolTensor)}
__all__ = [*TYPED, "tensor_type"]


def tensor_type(x: Tensor, dtype: Any = None, non_blocking: bool = False) -> str | Tensor:
    """``x.type()``: PyTorch's name of the tensor's type (``'torch.FloatTensor'``, the string
    old code compares); ``x.type(dtype)``: ``x`` cast to a dtype, a typed class
    (``mt.LongTensor``) or such a name.

    >>> import microtensor as mt
    >>> mt.tensor([1.5]).type(mt.LongTensor).tolist(), mt.tensor([1]).type("torch.DoubleTensor").dtype
    ([1], dtype('float64'))
    """
    if dtype is None:
        return next(f"torch.{name}" for name, cls in TYPED.items() if cls.dtype == x.dtype)
    if isinstance(dtype, str) and dtype.startswith("torch.") and dtype[6:] in TYPED:
        dtype = TYPED[dtype[6:]]
    return x.to(dtype.dtype if isinstance(dtype, _TypedTensorClass) else as_dtype(dtype))
