"""Comparisons and predicates: bool tensors (or, for ``allclose``/``equal``, a Python bool).

PyTorch's names of the comparison operators (``gt``... ``ne``), the float predicates
(``isnan``, ``isinf``, ``isfinite``), the logical ops on truth values of any dtype, and
``isclose``/``allclose``/``equal`` with PyTorch's dtype rules. None of them has a gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import get_default_dtype
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor, tensor_operand


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


def isnan(x: Tensor) -> Tensor:
    """Where ``x`` is nan, as a bool tensor (all False for integers and bools).

    >>> import microtensor as mt
    >>> mt.tensor([1.0, float("nan")]).isnan().tolist()
    [False, True]
    """
    return Tensor._wrap(np.isnan(x.array))


def isinf(x: Tensor) -> Tensor:
    """Where ``x`` is inf or -inf, as a bool tensor.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, -float("inf"), float("nan")]).isinf().tolist()
    [False, True, False]
    """
    return Tensor._wrap(np.isinf(x.array))


def isfinite(x: Tensor) -> Tensor:
    """Where ``x`` is neither inf, -inf nor nan, as a bool tensor.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, float("inf"), float("nan")]).isfinite().tolist()
    [True, False, False]
    """
    return Tensor._wrap(np.isfinite(x.array))


def logical_not(x: Tensor) -> Tensor:
    """Where ``x`` is zero (False), as a bool tensor; nan counts as nonzero, as in PyTorch.

    >>> import microtensor as mt
    >>> mt.tensor([0.0, 2.0, float("nan")]).logical_not().tolist()
    [True, False, False]
    """
    return Tensor._wrap(np.logical_not(x.array))


def _logical(name: str, op: Callable, x: Tensor, other: Tensor) -> Tensor:
    """``op`` of the truth values (nonzero) of two tensors of any dtypes, broadcast."""
    other = tensor_operand(other, name)
    try:
        shape = np.broadcast_shapes(x.shape, other.shape)
    except ValueError:
        raise ShapeError(f"{name}: operands could not be broadcast together with shapes "
                         f"{x.shape} {other.shape}") from None
    return Tensor._wrap(np.asarray(op(x.array, other.array)).reshape(shape))


def logical_and(x: Tensor, other: Tensor) -> Tensor:
    """Where both are nonzero, as a bool tensor (``other`` a tensor, as PyTorch).

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 0.0]).logical_and(mt.tensor([2, 3])).tolist()
    [True, False]
    """
    return _logical("logical_and", np.logical_and, x, other)


def logical_or(x: Tensor, other: Tensor) -> Tensor:
    """Where either is nonzero, as a bool tensor."""
    return _logical("logical_or", np.logical_or, x, other)


def logical_xor(x: Tensor, other: Tensor) -> Tensor:
    """Where exactly one of the two is nonzero, as a bool tensor."""
    return _logical("logical_xor", np.logical_xor, x, other)


def isclose(x: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``|x - other| <= atol + rtol * |other|`` (or equal, infinities included), as a bool
    tensor; both of one dtype. Computed as PyTorch does: integers and bools in the default float
    dtype (no unsigned wrap-around), floats in their own.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 1.1]).isclose(mt.tensor([1.0 + 1e-6, 1.0])).tolist()
    [True, False]
    """
    other = tensor_operand(other, "isclose")
    if x.dtype != other.dtype:
        raise DtypeError(f"isclose: {x.dtype} did not match {other.dtype}")
    for what, value in (("rtol", rtol), ("atol", atol)):
        if value < 0:
            raise RuntimeError(f"isclose: {what} must be greater than or equal to zero, but got "
                             f"{value}")
    close = x == other
    if equal_nan:
        close = close | (isnan(x) & isnan(other))
    if rtol == 0 and atol == 0:
        return close
    if x.dtype.kind != "f":
        x, other = x.to(get_default_dtype()), other.to(get_default_dtype())
    allowed, actual = atol + (rtol * other).abs(), (x - other).abs()
    return close | (isfinite(actual) & (actual <= allowed))


def allclose(x: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere, as a Python bool.

    >>> import microtensor as mt
    >>> mt.allclose(mt.tensor([1.0, 2.0]), mt.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(x, other, rtol, atol, equal_nan).all())


def equal(x: Tensor, other: Tensor) -> bool:
    """Whether the two have one shape and equal values (after promotion; nan is never equal),
    as a Python bool. Other shapes are simply not equal.

    >>> import microtensor as mt
    >>> mt.equal(mt.tensor([1, 2]), mt.tensor([1.0, 2.0])), mt.equal(mt.ones(2), mt.ones(1))
    (True, False)
    """
    other = tensor_operand(other, "equal")
    return x.shape == other.shape and bool((x == other).all())
