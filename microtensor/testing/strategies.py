"""Hypothesis strategies for property-testing ops: shapes, broadcasting shapes, tensors.

They wrap ``hypothesis.extra.numpy`` and return microtensor ``Tensor``s whose values
are finite and normal (no nan, inf or subnormals), inside a range an op's domain
allows. For gradients, ``unique=True`` and ``away_from`` keep values off the
points where an op is not differentiable (ties of ``max``, the kink of ``abs``).
"""

from __future__ import annotations

import math
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from ..creation import tensor
from ..dtypes import as_dtype, float64
from ..tensor import Tensor

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` dimensions of ``min_side..max_side`` each.

    >>> from hypothesis import given
    >>> @given(shapes(min_dims=1, max_dims=2, max_side=3))
    ... def check(shape):
    ...     assert 1 <= len(shape) <= 2 and all(1 <= n <= 3 for n in shape)
    >>> check()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(shape: Shape, min_dims: int = 0, max_dims: int | None = None,
                         min_side: int = 1, max_side: int | None = None
                         ) -> st.SearchStrategy[Shape]:
    """Shapes that broadcast with ``shape``: each dimension equal to ``shape``'s or 1 (or
    anything where ``shape`` has 1), with fewer or more leading dimensions.

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(broadcastable_shapes((3, 1)))
    ... def check(other):
    ...     np.broadcast_shapes((3, 1), other)  # raises if they do not broadcast
    >>> check()
    """
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims,
                                    min_side=min_side, max_side=max_side)


def away_from(*points: float, margin: float = 0.1, min_value: float = -10.0,
              max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Floats in ``[min_value, max_value]`` at least ``margin`` from every point, for ops
    with a kink there (``abs`` and ``relu`` at 0, ``clamp`` at its bounds).

    >>> from hypothesis import given
    >>> @given(away_from(0.0, 1.0))
    ... def check(v):
    ...     assert abs(v) >= 0.1 and abs(v - 1.0) >= 0.1 - 1e-12  # 1.0 - 0.9 rounds below 0.1
    >>> check()
    """
    edges = sorted(p for p in points if min_value - margin < p < max_value + margin)
    lows = [min_value] + [p + margin for p in edges]
    highs = [p - margin for p in edges] + [max_value]
    pieces = [_floats(lo, hi, float64) for lo, hi in zip(lows, highs) if lo <= hi]
    if not pieces:
        raise ValueError(f"away_from: no value in [{min_value}, {max_value}] is {margin} away "
                         f"from {points}")
    return st.one_of(pieces)


def tensors(shape: Shape | st.SearchStrategy[Shape] | None = None, dtype: Any = float64,
            elements: st.SearchStrategy[float] | None = None, min_value: float = -10.0,
            max_value: float = 10.0, requires_grad: bool = True,
            unique: bool = False) -> st.SearchStrategy[Tensor]:
    """Floating point ``Tensor``s of a fixed shape, a drawn one, or any of ``shapes()``.

    Values lie in ``[min_value, max_value]`` unless ``elements`` (a float strategy,
    such as ``away_from(0.0)``) is given. ``unique=True`` makes every value distinct
    and, with the default elements, at least ``(max_value - min_value) / (4 * size)``
    from any other, so no finite-difference step can turn two values into a tie.

    >>> import microtensor as mt
    >>> from hypothesis import given
    >>> @given(tensors(shape=(2, 3), min_value=0.5, max_value=2.0))
    ... def check(x):
    ...     assert x.shape == (2, 3) and x.dtype == mt.float64 and x.requires_grad
    ...     assert ((x >= 0.5) & (x <= 2.0)).all()
    >>> check()
    """
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"tensors: dtype must be floating point, got {dtype}")
    if min_value > max_value:
        raise ValueError(f"tensors: min_value {min_value} is above max_value {max_value}")
    def arrays(shape: Shape) -> st.SearchStrategy[np.ndarray]:
        if unique and elements is None:
            return _spread(shape, dtype, min_value, max_value)
        values = _floats(min_value, max_value, dtype) if elements is None else elements
        return hnp.arrays(dtype, shape, elements=values, unique=unique)

    # asarray: a 0-d result may come back as a numpy scalar, which tensor() would turn
    # into the default dtype.
    return _shape_strategy(shape).flatmap(arrays).map(
        lambda a: tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad))


def tensor_pairs(shape: Shape | st.SearchStrategy[Shape] | None = None, broadcast: bool = True,
                 dtype: Any = float64, elements: st.SearchStrategy[float] | None = None,
                 min_value: float = -10.0, max_value: float = 10.0, requires_grad: bool = True,
                 unique: bool = False) -> st.SearchStrategy[tuple[Tensor, Tensor]]:
    """Two tensors for a binary op: the same shape, or (``broadcast=True``) shapes that
    broadcast together, either one the larger. Values as in ``tensors``; ``unique=True``
    keeps every value of both apart from every other, so ``maximum(a, b)`` meets no tie.

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(tensor_pairs())
    ... def check(pair):
    ...     a, b = pair
    ...     np.broadcast_shapes(a.shape, b.shape)
    >>> check()
    """
    # At most one extra leading dimension, of a small size: keeps gradcheck quick.
    pair = _shape_strategy(shape).flatmap(lambda s: st.tuples(st.just(s), broadcastable_shapes(
        s, max_dims=len(s) + 1, max_side=3) if broadcast else st.just(s)))

    def draw(pair_shapes: tuple[Shape, Shape]) -> st.SearchStrategy[tuple[Tensor, Tensor]]:
        a, b = pair_shapes
        # Both drawn as one flat array, so ``unique`` holds across the two tensors too.
        both = tensors((math.prod(a) + math.prod(b),), dtype=dtype, elements=elements,
                       min_value=min_value, max_value=max_value, requires_grad=False,
                       unique=unique)
        return both.map(lambda t: (
            tensor(t.array[:math.prod(a)].reshape(a), requires_grad=requires_grad),
            tensor(t.array[math.prod(a):].reshape(b), requires_grad=requires_grad)))

    return pair.flatmap(draw)


def _shape_strategy(shape: Shape | st.SearchStrategy[Shape] | None) -> st.SearchStrategy[Shape]:
    if shape is None:
        return shapes()
    return shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))


def _floats(min_value: float, max_value: float, dtype: np.dtype) -> st.SearchStrategy[float]:
    """Finite, normal floats representable in ``dtype`` (bounds rounded inwards to it)."""
    low, high = np.asarray([min_value, max_value], dtype=dtype)
    if low < min_value:
        low = np.nextafter(low, dtype.type(np.inf))
    if high > max_value:
        high = np.nextafter(high, dtype.type(-np.inf))
    return st.floats(float(low), float(high), allow_nan=False, allow_infinity=False,
                     allow_subnormal=False, width=8 * dtype.itemsize)


def _spread(shape: Shape, dtype: np.dtype, min_value: float,
            max_value: float) -> st.SearchStrategy[np.ndarray]:
    """Distinct values on a grid of ``4 * size`` steps across the range: a size-n tensor
    always fits, and neighbours stay a step apart."""
    steps = max(4 * math.prod(shape), 1)
    grid = hnp.arrays(np.int64, shape, elements=st.integers(0, steps), unique=True)
    step = (max_value - min_value) / steps
    return grid.map(lambda k: (min_value + k * step).astype(dtype))
