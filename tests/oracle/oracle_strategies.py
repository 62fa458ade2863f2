"""What the oracle feeds both libraries: shapes (0-d, size-0, size-1), dtypes, values with the
edge cases (0, -0, ties, inf, -inf, nan), broadcasting pairs, Python-scalar and 0-d operands,
and ``dim`` arguments including negative and out-of-range ones.

Every function takes hypothesis's ``draw`` (from ``st.data()``), so a table row composes them
freely and a failing example is printed draw by draw.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from oracle_compare import FLOATS, Arr

# Mostly small non-empty sides; a size-0 side now and then.
SIDES = st.sampled_from([1, 2, 3, 1, 2, 3, 0])
# Few distinct values, so ties (max, sort order, maximum) are common.
NICE = st.sampled_from([0.0, 1.0, -1.0, 2.0, 0.5, -2.0, 3.0])
# Magnitudes below 1e-3 (other than 0) would only test how gradient formulas underflow
# (-a / b**2 against -(a / b) / b): evaluation order, not semantics.
FINITE = st.one_of(NICE, st.floats(1e-3, 10), st.floats(-10, -1e-3))
SPECIAL = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan])
# Integers stay small: integer overflow (wrap-around width rules) is out of the oracle's scope.
INTS = st.integers(-4, 4)


def shape(draw, min_dims: int = 0, max_dims: int = 3, empty: bool = True) -> tuple[int, ...]:
    ndim = draw(st.integers(min_dims, max_dims))
    sides = SIDES if empty else st.integers(1, 3)
    return tuple(draw(sides) for _ in range(ndim))


def elements(draw, dtype: str, low: float | None = None, high: float | None = None,
             specials: bool | None = None) -> st.SearchStrategy:
    if dtype == "bool":
        return st.booleans()
    if dtype in FLOATS:
        finite = FINITE if low is None else st.floats(low, high, allow_nan=False, allow_subnormal=False)
        if specials is None:
            specials = draw(st.integers(0, 3)) == 0
        return st.one_of(finite, SPECIAL) if specials else finite
    return INTS if low is None else st.integers(int(low), int(high))


def array(draw, dtype: str, shape_: tuple[int, ...], **kw) -> np.ndarray:
    size = math.prod(shape_)
    values = draw(st.lists(elements(draw, dtype, **kw), min_size=size, max_size=size))
    return np.array(values, dtype=dtype).reshape(shape_)


def tensor(draw, dtypes, shape_: tuple[int, ...] | None = None, **kw) -> Arr:
    dtype = draw(st.sampled_from(dtypes))
    return Arr(array(draw, dtype, shape(draw) if shape_ is None else shape_, **kw))


def scalar(draw, dtypes) -> bool | int | float:
    """A Python scalar of a kind matching one of ``dtypes`` (any kind when floats are drawn)."""
    kinds = ["bool", "int", "float"] if len(dtypes) > 1 else ["int", "float"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":
        return draw(INTS)
    return draw(st.one_of(FINITE, SPECIAL))


def broadcast_partner(draw, shape_: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape_`` (fewer or more dimensions, some of size 1), or
    now and then one that does not (both libraries must then raise)."""
    clash = [i for i, n in enumerate(shape_) if n != 1]
    if clash and draw(st.integers(0, 9)) == 0:
        i = draw(st.sampled_from(clash))
        return shape_[:i] + (shape_[i] + 1 if shape_[i] else 2,) + shape_[i + 1:]
    dims = [draw(st.sampled_from([n, 1])) for n in shape_]
    dims = dims[draw(st.integers(0, len(dims))):]
    if draw(st.integers(0, 3)) == 0:
        dims.insert(0, draw(SIDES))
    return tuple(dims)


def smaller_partner(draw, shape_: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts TO ``shape_``: some sides 1, some leading dims dropped."""
    dims = [draw(st.sampled_from([n, 1])) for n in shape_]
    return tuple(dims[draw(st.integers(0, len(dims))):])


def operand(draw, dtypes, shape_: tuple[int, ...]) -> Arr | bool | int | float:
    """The second operand of a binary op: a tensor of a broadcasting shape, a 0-d tensor, or a
    Python scalar."""
    kind = draw(st.sampled_from(["tensor", "tensor", "0-d", "scalar"]))
    if kind == "scalar":
        return scalar(draw, dtypes)
    return tensor(draw, dtypes, () if kind == "0-d" else broadcast_partner(draw, shape_))


def dim(draw, ndim: int) -> int:
    """A dimension: valid ones (negative too) mostly, one out of range on either side now and then."""
    low, high = -max(ndim, 1), max(ndim, 1) - 1  # a 0-d tensor takes 0 and -1, as in PyTorch
    if draw(st.integers(0, 7)) == 0:
        return draw(st.sampled_from([low - 1, high + 1]))
    return draw(st.integers(low, high))


def dims(draw, ndim: int) -> tuple[int, ...]:
    """A tuple of dimensions (possibly empty; duplicates now and then, which PyTorch rejects)."""
    picked = [dim(draw, ndim) for _ in range(draw(st.integers(0, max(ndim, 1))))]
    return tuple(picked)


def reduce_dim(draw, ndim: int, tuples: bool = True) -> dict:
    """``dim``/``keepdim`` keywords of a reduction: none, an int, or (if allowed) a tuple."""
    choice = draw(st.sampled_from(["none", "int", "int", "tuple"] if tuples else ["none", "int"]))
    if choice == "none":
        return {}
    kw = {"dim": dim(draw, ndim) if choice == "int" else dims(draw, ndim)}
    if draw(st.booleans()):
        kw["keepdim"] = draw(st.booleans())
    return kw
