"""The dtypes tensors use (numpy's), and the default one for Python floats."""

from typing import Any

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool = np.dtype("bool")  # noqa: A001 - PyTorch's name; shadows the builtin only in here

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
