"""Arithmetic with PyTorch's options: ``alpha=``, ``rounding_mode=``, remainders.

``add``/``sub`` (with ``alpha``, also in the legacy alpha-first order), ``div`` and its
rounding modes, ``remainder`` (``%``), ``fmod``, ``floor_divide`` (``//``) and their in-place
forms, ``square`` and ``round``. ``OPERATORS`` below gives Python's ``%`` and ``//`` (plain,
reflected and in place), which ``composed/__init__.py`` binds beside the methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import inplace
from .. import ops as F
from ..errors import DtypeError
from ..tensor import Tensor, as_operand, legacy_alpha_first, scaled_by_alpha


def square(x: Tensor) -> Tensor:
    """``x ** 2``, as PyTorch computes it (so bools square to int64).

    >>> import microtensor as mt
    >>> mt.tensor([-3, 2]).square().tolist(), mt.tensor([True]).square().dtype
    ([9, 4], dtype('int64'))
    """
    return x ** 2


def round(x: Tensor, *, decimals: int | None = None) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round half to even (``2.5`` to ``2.0``), at ``decimals`` places (0 unless given). As
    PyTorch: integers come back as they are, but only without ``decimals``; bools are refused.
    The gradient is zero.

    >>> import microtensor as mt
    >>> x = mt.tensor([0.5, 1.5, 2.5, 1.25], dtype=mt.float64)
    >>> x.round().tolist(), x.round(decimals=1).tolist()
    ([0.0, 2.0, 2.0, 1.0], [0.5, 1.5, 2.5, 1.2])
    """
    return F.Round.apply(x, decimals=decimals)


def add(x: Tensor, other: Tensor | float, alpha: Any = 1) -> Tensor:
    """``x + alpha * other`` (also in the legacy order ``x.add(alpha, other)``, with PyTorch's
    deprecation warning).

    >>> import microtensor as mt
    >>> mt.add(mt.tensor([1, 2]), mt.tensor([10, 10]), alpha=2).tolist()
    [21, 22]
    """
    other, alpha = legacy_alpha_first("add", other, alpha)
    return x + scaled_by_alpha(x, as_operand(other), alpha)


def sub(x: Tensor, other: Tensor | float, alpha: Any = 1) -> Tensor:
    """``x - alpha * other``.

    >>> import microtensor as mt
    >>> mt.sub(mt.tensor([1.0, 2.0]), 1, alpha=3).tolist()
    [-2.0, -1.0]
    """
    other, alpha = legacy_alpha_first("sub", other, alpha)
    other = as_operand(other)
    if x.dtype == np.bool_ or isinstance(other, bool) or getattr(other, "dtype", None) == np.bool_:
        # Checked before scaling, which may turn a bool ``other`` into a number.
        raise DtypeError("Subtraction, the `-` operator, with a bool tensor is not supported; "
                         "use `^` (logical xor) or `~` (logical not) instead")
    return x - scaled_by_alpha(x, other, alpha)


def div(x: Tensor, other: Tensor | float, *, rounding_mode: str | None = None) -> Tensor:
    """``x / other``: true division (integers into floats), or with ``rounding_mode="trunc"``
    (toward zero) or ``"floor"`` (down) in the common dtype, integers staying integers, and a
    zero gradient, as PyTorch. An integer division by zero raises.

    >>> import microtensor as mt
    >>> x = mt.tensor([7, -7])
    >>> (x / 2).tolist(), x.div(2, rounding_mode="trunc").tolist(), x.div(2, rounding_mode="floor").tolist()
    ([3.5, -3.5], [3, -3], [3, -4])
    """
    if rounding_mode is None:
        return x / other
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found {rounding_mode!r}")
    return F.DivRounded.apply(x, as_operand(other), rounding_mode=rounding_mode)


def true_divide(x: Tensor, other: Tensor | float) -> Tensor:
    """``x / other`` (PyTorch's other name of ``div``)."""
    return x / other


def remainder(x: Tensor, other: Tensor | float) -> Tensor:
    """``x % other``: Python's remainder, with the divisor's sign (``fmod`` keeps the dividend's).

    >>> import microtensor as mt
    >>> mt.tensor([7, -7]).remainder(3).tolist(), mt.tensor([7, -7]).fmod(3).tolist()
    ([1, 2], [1, -1])
    """
    return F.Remainder.apply(x, as_operand(other))


def _reflected_remainder(x: Tensor, other: Any) -> Tensor:
    """``other % x``, ``other`` not a tensor (no gradient through it in PyTorch, nor here)."""
    return F.Remainder.apply(as_operand(other), x, number_dividend=True)


def fmod(x: Tensor, other: Tensor | float) -> Tensor:
    """C's ``fmod(x, other)``: the remainder with the dividend's sign."""
    return F.Fmod.apply(x, as_operand(other))


def floor_divide(x: Tensor, other: Tensor | float) -> Tensor:
    """``x // other``: rounded down, in the common dtype. PyTorch has no gradient for it
    (backward raises); ``div(..., rounding_mode="floor")`` gives a zero one.

    >>> import microtensor as mt
    >>> (mt.tensor([7, -7]) // 2).tolist(), (7.5 // mt.tensor([2.0])).tolist()
    ([3, -4], [3.0])
    """
    return F.FloorDivide.apply(x, as_operand(other))


def _reflected_floor_divide(x: Tensor, other: Any) -> Tensor:
    return F.FloorDivide.apply(as_operand(other), x)


def remainder_(x: Tensor, other: Tensor | float) -> Tensor:
    """``x %= other`` in place."""
    other = as_operand(other)
    return inplace.modify(x, "remainder_", lambda t: remainder(t, other), other)


def fmod_(x: Tensor, other: Tensor | float) -> Tensor:
    """``fmod`` in place."""
    other = as_operand(other)
    return inplace.modify(x, "fmod_", lambda t: fmod(t, other), other)


def floor_divide_(x: Tensor, other: Tensor | float) -> Tensor:
    """``x //= other`` in place.

    >>> import microtensor as mt
    >>> x = mt.tensor([7, -7])
    >>> x //= 2
    >>> x.tolist()
    [3, -4]
    """
    other = as_operand(other)
    return inplace.modify(x, "floor_divide_", lambda t: floor_divide(t, other), other)


#: Python's operators for these, bound beside the methods.
OPERATORS = {"__mod__": remainder, "__rmod__": _reflected_remainder, "__imod__": remainder_,
             "__floordiv__": floor_divide, "__rfloordiv__": _reflected_floor_divide,
             "__ifloordiv__": floor_divide_}
