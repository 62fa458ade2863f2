"""The dtypes tensors use (numpy's), the default one for Python floats, and PyTorch's
type promotion: what dtype an op on mixed operands computes in.

PyTorch promotes differently from numpy, and a learner copying PyTorch code must get
the same dtypes: ``float32 + int64`` is float32 (numpy: float64), a float16 tensor
times a float64 scalar stays float16, and a Python float never widens a tensor.
"""

import builtins
import numbers
from typing import Any

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool = np.dtype("bool")  # noqa: A001 - PyTorch's name; shadows the builtin only in here
uint8 = np.dtype("uint8")
int8 = np.dtype("int8")
int16 = np.dtype("int16")

_default = [float32]


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise ``mt.float64``, ``np.float64``, ``"float64"`` and the like to a numpy dtype."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def set_default_dtype(dtype: Any) -> None:
    """Choose the dtype Python floats become (float32 unless changed), as PyTorch.

    >>> import microtensor as mt
    >>> mt.set_default_dtype(mt.float64)
    >>> mt.tensor([1.5]).dtype
    dtype('float64')
    >>> mt.set_default_dtype(mt.float32)
    """
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be floating point, got {dtype}")
    _default[0] = dtype


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become.

    >>> import microtensor as mt
    >>> mt.get_default_dtype()
    dtype('float32')
    """
    return _default[0]


# ----------------------------------------------------------------- type promotion
def _category(dtype: np.dtype) -> int:
    """bool < integer < floating: promotion never goes down this ladder."""
    return 0 if dtype.kind == "b" else 2 if dtype.kind == "f" else 1


def promote_types(type1: Any, type2: Any) -> np.dtype:
    """The smallest dtype both operands fit in, by PyTorch's table (``torch.promote_types``).

    Across categories the higher category's dtype wins whatever its width (numpy
    would widen: int32 with float16 is float64 there).

    >>> import microtensor as mt
    >>> mt.promote_types(mt.int64, mt.float16), mt.promote_types(mt.int32, mt.int64)
    (dtype('float16'), dtype('int64'))
    """
    a, b = as_dtype(type1), as_dtype(type2)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)  # within a category numpy's table is PyTorch's


def scalar_dtype(value: Any) -> np.dtype:
    """The dtype a Python number stands for: bool, int64, or the default float dtype.

    >>> scalar_dtype(True), scalar_dtype(3)
    (dtype('bool'), dtype('int64'))
    """
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool
    if isinstance(value, numbers.Integral):
        return int64
    if isinstance(value, numbers.Real):
        return get_default_dtype()
    raise TypeError(f"unsupported scalar of type {type(value).__name__}")


def result_type(*operands: Any) -> np.dtype:
    """The dtype an op on ``operands`` computes in, by PyTorch's rules (``torch.result_type``).

    Tensors with dimensions decide; a 0-d tensor, and after it a Python number, can only
    lift the result to a higher category (bool < integer < floating), never widen it
    within one: ``float16_tensor * 2.5`` stays float16, ``int32_tensor + 2.5`` is the
    default float dtype, ``int8_tensor + 1000`` stays int8 (and wraps, as in PyTorch).

    >>> import microtensor as mt
    >>> mt.result_type(mt.ones(2), mt.tensor([1, 2])), mt.result_type(mt.tensor([1, 2]), 2.5)
    (dtype('float32'), dtype('float32'))
    >>> mt.result_type(mt.ones(2), mt.tensor(1.0, dtype=mt.float64))
    dtype('float32')
    """
    dims = zero = scalar = None
    for x in operands:
        data = x if isinstance(x, (np.ndarray, np.generic)) else getattr(x, "array", x)
        if isinstance(data, np.generic):  # numpy scalars act as Python numbers, as in PyTorch
            data = data.item()
        if isinstance(data, np.ndarray):
            if data.ndim:
                dims = data.dtype if dims is None else promote_types(dims, data.dtype)
            else:
                zero = data.dtype if zero is None else promote_types(zero, data.dtype)
        else:
            kind = scalar_dtype(data)
            scalar = kind if scalar is None else promote_types(scalar, kind)
    return _lift(dims, _lift(zero, scalar))


def _lift(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """``higher``'s dtype, unless ``lower`` is of a higher category (PyTorch's combine_categories)."""
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower):
        return higher
    return promote_types(higher, lower)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether a result of dtype ``from_`` may be written into a tensor of dtype ``to`` (an
    in-place op's rule, ``torch.can_cast``): never down a category, float into int included.

    >>> import microtensor as mt
    >>> mt.can_cast(mt.float64, mt.float32), mt.can_cast(mt.float32, mt.int64)
    (True, False)
    """
    return _category(as_dtype(from_)) <= _category(as_dtype(to))
