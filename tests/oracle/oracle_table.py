"""The oracle's table: one row per public op (as OpInfo does in PyTorch's own test suite).

A row has a name, the call (``call(lib, *args, **kwargs)``, written once: ``lib.m`` is ``mt``
or ``torch`` and ``lib.F`` its ``nn.functional``), and ``sample(draw, dtypes)``, which draws
the call's arguments: tensors as ``Arr`` (built in each library from the same array),
Python scalars, dims and options. The forward test draws every dtype; the gradient test draws
float64 only, so each row's sample honours the ``dtypes`` it is given for its float operands.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from oracle_compare import DTYPES, Arr, DType
from oracle_strategies import (
    INTS,
    SIDES,
    array,
    broadcast_partner,
    dim,
    dims,
    operand,
    reduce_dim,
    scalar,
    shape,
    smaller_partner,
    tensor,
)


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable
    sample: Callable
    grad: bool = True        # outputs are differentiable: the gradient test runs this row
    values: bool = True      # False for random ops: compare shape and dtype only


ROWS: list[Row] = []


def row(name: str, call: Callable, sample: Callable, **kw) -> None:
    ROWS.append(Row(name, call, sample, **kw))


def one(draw, dtypes):
    return (tensor(draw, dtypes),), {}


# ------------------------------------------------------------------ arithmetic and comparisons
def binary(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, operand(draw, dtypes, x.array.shape)), {}


def reflected(draw, dtypes):
    return (scalar(draw, dtypes), tensor(draw, dtypes)), {}


def _integral(x) -> bool:
    return x.array.dtype.kind in "biu" if isinstance(x, Arr) else not isinstance(x, float)


def _non_negative(x):
    if isinstance(x, Arr):
        return Arr(np.asarray(np.abs(x.array)) if x.array.dtype.kind != "b" else x.array)
    return abs(x)


def power(sample):
    """Integer bases get non-negative integer exponents: an integer to a negative integer power
    is 0 or a division by zero in PyTorch (and an error for a Python-scalar exponent), integer
    arithmetic details that are out of the oracle's scope."""
    def draw_power(draw, dtypes):
        (base, exponent), kw = sample(draw, dtypes)
        if _integral(base) and _integral(exponent):
            exponent = _non_negative(exponent)
        return (base, exponent), kw
    return draw_power


BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "truediv": operator.truediv, "pow": operator.pow}
for _name, _op in BINARY.items():
    row(_name, lambda lib, x, y, op=_op: op(x, y), power(binary) if _name == "pow" else binary)
    row(f"r{_name}", lambda lib, s, x, op=_op: op(s, x),
        power(reflected) if _name == "pow" else reflected)
# The method spellings call the same op; one row each checks they exist and agree.
for _name in ("add", "sub", "mul", "div", "pow"):
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y),
        power(binary) if _name == "pow" else binary)


def matmul_pair(draw, dtypes):
    """Matrix-product operands of 1 to 3 dims whose inner sizes agree (or now and then not)."""
    # float16 matmul accumulates differently in PyTorch (float32) and numpy (float16): out of scope.
    dtypes = [d for d in dtypes if d != "float16"] or dtypes
    kinds = (draw(st.sampled_from(dtypes)), draw(st.sampled_from(dtypes)))
    # PyTorch rejects bool and mixed-dtype matmul only when there is something to multiply (its
    # empty case returns before the dtype check): a PyTorch quirk, so those get non-empty sizes.
    sides = st.integers(1, 3) if "bool" in kinds or kinds[0] != kinds[1] else SIDES
    n = draw(sides)
    left = draw(st.sampled_from([(n,), (draw(sides), n), (draw(sides), draw(sides), n)]))
    inner = n if draw(st.integers(0, 7)) else n + 1
    right = draw(st.sampled_from([(inner,), (inner, draw(sides)),
                                  (left[0] if len(left) == 3 else 1, inner, draw(sides))]))
    return (tensor(draw, kinds[:1], left), tensor(draw, kinds[1:], right)), {}


row("matmul", lambda lib, x, y: x @ y, matmul_pair)
row("mt.matmul", lambda lib, x, y: lib.m.matmul(x, y), matmul_pair)
row("matmul_scalar", lambda lib, x, s: x @ s, lambda d, t: ((tensor(d, t), scalar(d, t)), {}))
row("neg", lambda lib, x: -x, one)

COMPARISONS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
               "eq": operator.eq, "ne": operator.ne}
for _name, _op in COMPARISONS.items():
    row(_name, lambda lib, x, y, op=_op: op(x, y), binary, grad=False)
    row(f"r{_name}", lambda lib, s, x, op=_op: op(s, x), reflected, grad=False)


def logical(draw, dtypes):
    """Bitwise ops on bool and integer tensors (a float operand now and then: both must raise)."""
    kinds = ["bool", "bool", "int32", "int64", draw(st.sampled_from(dtypes))]
    x = tensor(draw, kinds)
    other = draw(st.sampled_from(["tensor", "scalar"]))
    if other == "scalar":
        return (x, draw(st.one_of(st.booleans(), INTS))), {}
    return (x, tensor(draw, kinds, broadcast_partner(draw, x.array.shape))), {}


row("and", lambda lib, x, y: x & y, logical, grad=False)
row("or", lambda lib, x, y: x | y, logical, grad=False)
row("invert", lambda lib, x: ~x, lambda d, t: ((logical(d, t)[0][0],), {}), grad=False)

# ------------------------------------------------------------------------------- unary math
for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"):
    row(_name, lambda lib, x, n=_name: getattr(x, n)(), one)
    row(f"mt.{_name}", lambda lib, x, n=_name: getattr(lib.m, n)(x), one)


def clamp_args(draw, dtypes):
    x = tensor(draw, dtypes)
    bounds = st.one_of(st.none(), INTS, st.floats(-5, 5, allow_nan=False))
    return (x,), {"min": draw(bounds), "max": draw(bounds)}


row("clamp", lambda lib, x, **kw: x.clamp(**kw), clamp_args)
row("mt.clamp", lambda lib, x, **kw: lib.m.clamp(x, **kw), clamp_args)


def clamp_tensor_args(draw, dtypes):
    """Bounds as tensors that broadcast to the input's shape (or None). Bounds that would
    broadcast the input up are not drawn: PyTorch 2.13's clamp backward then fails with an
    internal shape error (a PyTorch bug)."""
    x = tensor(draw, dtypes)

    def bound():
        none = draw(st.integers(0, 3)) == 0
        return None if none else tensor(draw, dtypes, smaller_partner(draw, x.array.shape))
    return (x,), {"min": bound(), "max": bound()}


row("clamp_tensors", lambda lib, x, **kw: x.clamp(**kw), clamp_tensor_args)


def tensor_pair(draw, dtypes):
    """Two tensors of broadcasting shapes (PyTorch's maximum/minimum take tensors only)."""
    x = tensor(draw, dtypes)
    return (x, tensor(draw, dtypes, broadcast_partner(draw, x.array.shape))), {}


for _name in ("maximum", "minimum"):
    row(f"mt.{_name}", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y), tensor_pair)
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y), tensor_pair)
    row(f"mt.{_name}_scalar", lambda lib, x, s, n=_name: getattr(lib.m, n)(x, s), binary)


def where_args(draw, dtypes):
    x = tensor(draw, dtypes)
    cond = tensor(draw, ["bool"], broadcast_partner(draw, x.array.shape))
    return (cond, x, operand(draw, dtypes, x.array.shape)), {}


row("mt.where", lambda lib, c, x, y: lib.m.where(c, x, y), where_args)
row("mt.where_scalars", lambda lib, c, x, y: lib.m.where(c, x, y),
    lambda d, t: ((tensor(d, ["bool"]), scalar(d, t), scalar(d, t)), {}), grad=False)


def storable(dtype: np.dtype, value):
    """``value`` with inf and nan replaced by 0 when it is written into an integer tensor:
    PyTorch raises for a Python scalar ("value cannot be converted to type int without
    overflow") and stores INT_MIN from a tensor, numpy warns; float-to-integer overflow is out
    of the oracle's scope."""
    if np.dtype(dtype).kind not in "iu":
        return value
    if isinstance(value, Arr):
        return Arr(np.where(np.isfinite(value.array), value.array, 0).astype(value.array.dtype)
                   if value.array.dtype.kind == "f" else value.array)
    return value if not isinstance(value, float) or math.isfinite(value) else 0.0


def masked_fill_args(draw, dtypes):
    x = tensor(draw, dtypes)
    mask = tensor(draw, ["bool"], broadcast_partner(draw, x.array.shape))
    value = tensor(draw, dtypes, ()) if draw(st.booleans()) else scalar(draw, dtypes)
    return (x, mask, storable(x.array.dtype, value)), {}


row("masked_fill", lambda lib, x, m, v: x.masked_fill(m, v), masked_fill_args)

# ------------------------------------------------------------------------------- reductions


def reduction(tuples: bool = True):
    def sample(draw, dtypes):
        x = tensor(draw, dtypes)
        return (x,), reduce_dim(draw, x.array.ndim, tuples)
    return sample


for _name in ("sum", "mean", "amax", "amin"):
    row(_name, lambda lib, x, n=_name, **kw: getattr(x, n)(**kw), reduction())
for _name in ("sum", "mean"):
    row(f"mt.{_name}", lambda lib, x, n=_name, **kw: getattr(lib.m, n)(x, **kw), reduction())


def with_dtype(draw, dtypes):
    """A reduction's ``dtype=``: the input is cast to it first, then reduced (PyTorch's mean
    refuses integer and bool ones). inf and nan become 0 when cast to an integer dtype:
    float-to-integer overflow is out of the oracle's scope (see ``storable``)."""
    (x,), kw = reduction()(draw, dtypes)
    dtype = draw(st.sampled_from(DTYPES))
    if dtype in ("int32", "int64") and x.array.dtype.kind == "f":
        x = Arr(np.where(np.isfinite(x.array), x.array, 0).astype(x.array.dtype))
    return (x,), {**kw, "dtype": DType(dtype)}


for _name in ("sum", "mean"):
    row(f"{_name}_dtype", lambda lib, x, n=_name, **kw: getattr(x, n)(**kw), with_dtype)
    row(f"mt.{_name}_dtype", lambda lib, x, n=_name, **kw: getattr(lib.m, n)(x, **kw), with_dtype)
for _name in ("max", "min"):
    # x.max() (all elements) and x.max(dim, keepdim) -> (values, indices)
    row(_name, lambda lib, x, n=_name, **kw: getattr(x, n)(**kw), reduction(tuples=False))
    row(f"mt.{_name}", lambda lib, x, n=_name, **kw: getattr(lib.m, n)(x, **kw), reduction(tuples=False))


def tensor_and_dim(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, dim(draw, x.array.ndim)), {}


def max_named(lib, x, d):
    """``max(dim=...)`` returns a named pair: ``.values`` and ``.indices``."""
    result = x.max(dim=d)
    return result.values, result.indices


row("max_named", max_named, tensor_and_dim)
for _name in ("argmax", "argmin", "all", "any"):
    row(_name, lambda lib, x, n=_name, **kw: getattr(x, n)(**kw), reduction(tuples=False), grad=False)


def required_dim(tuples: bool):
    """``dim`` given, as PyTorch requires for logsumexp and softmax. PyTorch's softmax of an
    empty integer tensor returns early where a non-empty one raises (a quirk): for softmax
    (``tuples=False``), integer and bool inputs get non-empty shapes."""
    def sample(draw, dtypes):
        dtype = draw(st.sampled_from(dtypes))
        x = tensor(draw, [dtype], shape(draw, empty=tuples or dtype in ("float16", "float32", "float64")))
        d = dims(draw, x.array.ndim) if tuples and draw(st.booleans()) else dim(draw, x.array.ndim)
        if d == ():
            # PyTorch 2.13's logsumexp(x, dim=()) fails with an internal "output with shape []
            # doesn't match the broadcast shape" unless keepdim=True: a PyTorch bug, not drawn.
            d = dim(draw, x.array.ndim)
        kw = {"keepdim": draw(st.booleans())} if tuples and draw(st.booleans()) else {}
        return (x, d), kw
    return sample


row("logsumexp", lambda lib, x, d, **kw: x.logsumexp(d, **kw), required_dim(True))
row("mt.logsumexp", lambda lib, x, d, **kw: lib.m.logsumexp(x, d, **kw), required_dim(True))
for _name in ("softmax", "log_softmax"):
    row(_name, lambda lib, x, d, n=_name: getattr(x, n)(d), required_dim(False))
    row(f"mt.{_name}", lambda lib, x, d, n=_name: getattr(lib.m, n)(x, dim=d), required_dim(False))
    row(f"F.{_name}", lambda lib, x, d, n=_name: getattr(lib.F, n)(x, dim=d), required_dim(False))

# ------------------------------------------------------------------------------------ shape


def new_shape(draw, shape_: tuple[int, ...]) -> tuple[int, ...]:
    """A shape with the same number of elements (one side -1 now and then), or a wrong one."""
    size = math.prod(shape_)
    sides = []
    rest = size
    for _ in range(draw(st.integers(0, 3))):
        side = draw(st.sampled_from([k for k in range(1, 4) if rest % k == 0] or [1]))
        sides.append(side)
        rest //= side
    sides.append(rest if size else 0)
    if size == 1 and draw(st.booleans()):
        sides = []  # to 0-d
    sides = draw(st.permutations(sides))
    if sides and draw(st.integers(0, 3)) == 0:
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    if draw(st.integers(0, 9)) == 0:
        sides = sides + [2]  # wrong element count (or an ambiguous -1 with size 0)
    return tuple(sides)


def reshape_args(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, new_shape(draw, x.array.shape)), {}


def view_args(draw, dtypes):
    """A possibly non-contiguous input (transposed first), where PyTorch's view may refuse."""
    x = tensor(draw, dtypes, shape(draw, min_dims=2))
    transposed = draw(st.booleans())
    src_shape = x.array.shape[::-1] if transposed else x.array.shape
    return (x, transposed, new_shape(draw, src_shape)), {}


# Size varargs (``x.reshape(2, 3)``); PyTorch needs the tuple spelling for a 0-d target.
row("reshape", lambda lib, x, s: x.reshape(*s) if s else x.reshape(s), reshape_args)
row("reshape_tuple", lambda lib, x, s: x.reshape(s), reshape_args)
row("mt.reshape", lambda lib, x, s: lib.m.reshape(x, s), reshape_args)
row("view", lambda lib, x, t, s: (x.transpose(0, -1) if t else x).view(*s or (s,)), view_args)


def flatten_args(draw, dtypes):
    x = tensor(draw, dtypes)
    kw = {}
    if draw(st.booleans()):
        kw["start_dim"] = dim(draw, x.array.ndim)
    if draw(st.booleans()):
        kw["end_dim"] = dim(draw, x.array.ndim)
    return (x,), kw


row("flatten", lambda lib, x, **kw: x.flatten(**kw), flatten_args)
row("mt.flatten", lambda lib, x, **kw: lib.m.flatten(x, **kw), flatten_args)


def two_dims(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, dim(draw, x.array.ndim), dim(draw, x.array.ndim)), {}


row("transpose", lambda lib, x, a, b: x.transpose(a, b), two_dims)
row("mt.transpose", lambda lib, x, a, b: lib.m.transpose(x, a, b), two_dims)


def permutation(draw, dtypes):
    x = tensor(draw, dtypes)
    n = x.array.ndim
    perm = list(draw(st.permutations(range(n))))
    perm = [p - n if draw(st.booleans()) else p for p in perm]  # negative spellings
    if draw(st.integers(0, 7)) == 0:
        perm = perm[:-1] if perm and draw(st.booleans()) else perm + [draw(st.integers(-n - 1, n))]
    return (x, tuple(perm)), {}


row("permute", lambda lib, x, p: x.permute(*p) if p else x.permute(p), permutation)
row("mt.permute", lambda lib, x, p: lib.m.permute(x, p), permutation)
row("T", lambda lib, x: x.T, one)
row("t", lambda lib, x: x.t(), one)


def squeeze_args(draw, dtypes):
    sides = st.sampled_from([1, 1, 2, 0])  # size-1 dims mostly: the ones squeeze drops
    x = tensor(draw, dtypes, tuple(draw(sides) for _ in range(draw(st.integers(0, 3)))))
    choice = draw(st.sampled_from(["none", "int", "tuple"]))
    if choice == "none":
        return (x,), {}
    return (x, dim(draw, x.array.ndim) if choice == "int" else tuple(set(dims(draw, x.array.ndim)))), {}


row("squeeze", lambda lib, x, *d: x.squeeze(*d), squeeze_args)
row("mt.squeeze", lambda lib, x, *d: lib.m.squeeze(x, *d), squeeze_args)


def unsqueeze_args(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, dim(draw, x.array.ndim + 1)), {}


row("unsqueeze", lambda lib, x, d: x.unsqueeze(d), unsqueeze_args)
row("mt.unsqueeze", lambda lib, x, d: lib.m.unsqueeze(x, d), unsqueeze_args)


def expand_args(draw, dtypes):
    x = tensor(draw, dtypes)
    sizes = [draw(st.sampled_from([-1, n] if n != 1 else [-1, 1, 3, 0])) for n in x.array.shape]
    sizes = [draw(SIDES) for _ in range(draw(st.integers(0, 2)))] + sizes
    if draw(st.integers(0, 7)) == 0:
        sizes = sizes[1:] if sizes else [-1]  # too few dims, or -1 for a new dim
    return (x, tuple(sizes)), {}


row("expand", lambda lib, x, s: x.expand(*s) if s else x.expand(s), expand_args)


def expand_as_args(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, broadcast_partner(draw, x.array.shape)), {}


row("expand_as", lambda lib, x, s: x.expand_as(lib.m.zeros(s)), expand_as_args)


def index(draw, dtypes, shape_: tuple[int, ...]) -> tuple:
    """An index mixing ints (negative, out of range), slices (steps, negative ones now and
    then), None, ``...``, integer arrays and boolean masks, as a tensor user writes them."""
    parts: list = []
    ndim = len(shape_)
    d = 0
    while d < ndim and len(parts) < 4 and draw(st.integers(0, 3)):
        n = shape_[d]
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "ellipsis", "ints", "mask"]))
        if kind == "int":
            parts.append(draw(st.integers(-n - 1, n)))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
            step = draw(st.sampled_from([None, 1, 2, 2, 3, -1]))
            parts.append(slice(draw(bound), draw(bound), step))
        elif kind == "none":
            parts.append(None)
            continue
        elif kind == "ellipsis":
            if Ellipsis not in parts:
                parts.append(Ellipsis)
                d = ndim - draw(st.integers(0, ndim - d))
            continue
        elif kind == "ints":
            size = draw(st.integers(0, 3))
            parts.append(Arr(np.array(draw(st.lists(st.integers(-n, max(n - 1, 0)), min_size=size,
                                                    max_size=size)), dtype=np.int64)))
        else:
            length = draw(st.integers(1, ndim - d))
            parts.append(Arr(array(draw, "bool", shape_[d:d + length])))
            d += length
            continue
        d += 1
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


def index_args(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, index(draw, dtypes, x.array.shape)), {}


row("getitem", lambda lib, x, i: x[i], index_args)


def setitem_args(draw, dtypes):
    x = tensor(draw, dtypes)
    i = index(draw, dtypes, x.array.shape)
    value = draw(st.sampled_from(["scalar", "0-d", "tensor"]))
    if value == "scalar":
        v = scalar(draw, dtypes)
    else:
        # The value's shape: the indexed region's, found with numpy (a too-wide one now and then).
        try:
            region = np.zeros(x.array.shape)[tuple(p.array if isinstance(p, Arr) else p for p in
                                                   (i if isinstance(i, tuple) else (i,)))].shape
        except (IndexError, ValueError):
            region = ()
        v = tensor(draw, dtypes, () if value == "0-d" else broadcast_partner(draw, region))
    return (x, i, v), {}


def setitem(lib, x, i, v):
    y = x.clone()  # a recorded copy: writing into it in place is legal in both libraries
    y[i] = v
    return y


row("setitem", setitem, setitem_args)


def gather_args(draw, dtypes):
    x = tensor(draw, dtypes, shape(draw, min_dims=1))
    d = dim(draw, x.array.ndim)
    axis = d % x.array.ndim if -x.array.ndim <= d < x.array.ndim else 0
    n = x.array.shape[axis]
    idx_shape = tuple(draw(st.integers(0, side)) if i != axis else draw(st.integers(0, 3))
                      for i, side in enumerate(x.array.shape))
    low = -1 if draw(st.integers(0, 7)) == 0 else 0   # negative: PyTorch raises
    high = n if draw(st.integers(0, 7)) == 0 else n - 1  # past the end: PyTorch raises
    idx = np.array(draw(st.lists(st.integers(low, max(high, low)), min_size=math.prod(idx_shape),
                                 max_size=math.prod(idx_shape))), dtype=np.int64).reshape(idx_shape)
    return (x, d, Arr(idx)), {}


row("gather", lambda lib, x, d, i: x.gather(d, i), gather_args)


def join_args(same_shape: bool):
    def sample(draw, dtypes):
        base = shape(draw, min_dims=0 if same_shape else 1)
        ndim = len(base) + (1 if same_shape else 0)
        d = dim(draw, ndim)
        axis = d % len(base) if not same_shape and -len(base) <= d < len(base) else None
        parts = []
        for _ in range(draw(st.integers(1, 3))):
            s = list(base)
            if axis is not None:
                s[axis] = draw(SIDES)
            if draw(st.integers(0, 9)) == 0 and s:
                s[-1] += 1  # a mismatched shape: both must raise
            parts.append(tensor(draw, dtypes, tuple(s)))
        return (parts, d), {}
    return sample


row("mt.cat", lambda lib, ts, d: lib.m.cat(ts, dim=d), join_args(same_shape=False))
row("mt.stack", lambda lib, ts, d: lib.m.stack(ts, dim=d), join_args(same_shape=True))


def split_args(draw, dtypes):
    x = tensor(draw, dtypes, shape(draw, min_dims=1))
    d = dim(draw, x.array.ndim)
    n = x.array.shape[d] if -x.array.ndim <= d < x.array.ndim else 2
    if draw(st.booleans()):
        size = draw(st.integers(0, 4))
    else:
        size = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
        if draw(st.integers(0, 4)):
            size[-1] = max(n - sum(size[:-1]), 0)
    return (x, size, d), {}


row("split", lambda lib, x, s, d: x.split(s, dim=d), split_args)
row("mt.split", lambda lib, x, s, d: lib.m.split(x, s, dim=d), split_args)


def chunk_args(draw, dtypes):
    x = tensor(draw, dtypes, shape(draw, min_dims=1))
    return (x, draw(st.integers(0, 4)), dim(draw, x.array.ndim)), {}


row("chunk", lambda lib, x, c, d: x.chunk(c, dim=d), chunk_args)
row("mt.chunk", lambda lib, x, c, d: lib.m.chunk(x, c, dim=d), chunk_args)

# ------------------------------------------------------------------------------ in place
# On a recorded copy (``x.clone()``), so the gradient test may write into it; the drawn dtypes
# check PyTorch's casting rule (the result must cast to the tensor's dtype: int += float raises).


def inplace(method: str):
    def call(lib, x, *args, **kw):
        y = x.clone()
        getattr(y, method)(*args, **kw)
        return y
    return call


def inplace_binary(draw, dtypes):
    (x, y), _ = binary(draw, dtypes)
    return (x, storable(x.array.dtype, y)), {}


for _name in ("add_", "sub_", "mul_", "div_", "copy_"):
    row(f"Tensor.{_name}", inplace(_name), inplace_binary)
row("Tensor.add__alpha", inplace("add_"), lambda d, t: (inplace_binary(d, t)[0], {"alpha": d(INTS)}))
row("Tensor.fill_", inplace("fill_"),
    lambda d, t: ((x := tensor(d, t), storable(x.array.dtype, scalar(d, t))), {}))
row("Tensor.zero_", inplace("zero_"), one)


def augmented(symbol: str):
    def call(lib, x, other):
        namespace = {"y": x.clone(), "other": other}
        exec(f"y {symbol} other", namespace)  # noqa: S102 - the augmented assignment under test
        return namespace["y"]
    return call


for _symbol in ("+=", "-=", "*=", "/="):
    row(f"Tensor.{_symbol}", augmented(_symbol), inplace_binary)

# ---------------------------------------------------------------------------- autograd API


def grad_fn(lib):
    return lib.m.grad if lib.name == "mt" else lib.m.autograd.grad


def grad_twice(lib, x):
    """``mt.grad`` with the same input twice: both entries hold the gradient."""
    return grad_fn(lib)((x * x).sum(), [x, x])


def grad_unused(lib, x, y):
    """An input the output does not depend on: an error unless ``allow_unused``."""
    return grad_fn(lib)((x * x).sum(), [x, y])


def backward_twice(lib, x):
    """``retain_graph=True`` keeps the graph; the second backward adds to ``.grad``."""
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


def hooked(lib, x):
    """A hook on an intermediate tensor replaces the gradient flowing through it."""
    h = x * 3
    h.register_hook(lambda g: g * 2)
    h.tanh().sum().backward()
    return x.grad


def retained(lib, x):
    """``retain_grad()`` then an in-place op: the retained gradient is the tensor's latest value's."""
    h = x * 1
    h.retain_grad()
    h.mul_(3)
    (h * h).sum().backward()
    return x.grad, h.grad


# These need inputs that require grad: the forward test only checks that both refuse without;
# the gradient test (float64 inputs that require grad) compares the gradients they return.
for _fn in (grad_twice, backward_twice, hooked, retained):
    row(_fn.__name__, _fn, one)
row("grad_unused", grad_unused, lambda d, t: ((tensor(d, t), tensor(d, t)), {}))
row("no_grad", lambda lib, x: _in_no_grad(lib, x), one)


def _in_no_grad(lib, x):
    with lib.m.no_grad():
        y = x * 2
    return y, (x * 2)


# --------------------------------------------------------------------- copies and attributes
row("clone", lambda lib, x: x.clone(), one)
row("detach", lambda lib, x: x.detach(), one)
row("to_dtype", lambda lib, x, t: x.to(t),
    lambda d, t: ((tensor(d, t), DType(d(st.sampled_from(DTYPES)))), {}))
row("float", lambda lib, x: x.float(), one)
row("double", lambda lib, x: x.double(), one)
row("long", lambda lib, x: x.long(), one, grad=False)
row("int", lambda lib, x: x.int(), one, grad=False)
row("half", lambda lib, x: x.half(), one)
row("bool", lambda lib, x: x.bool(), one, grad=False)
row("dtype aliases", lambda lib, x: [x.to(getattr(lib.m, n)) for n in
                                     ("float", "double", "half", "long", "int", "short")],
    one, grad=False)
row("to_cpu", lambda lib, x: x.to("cpu"), one)
row("device", lambda lib, x: str(x.device), one, grad=False)
row("attributes", lambda lib, x: (tuple(x.shape), x.ndim, x.dim(), x.numel(), tuple(x.size()),
                                  x.requires_grad, x.is_leaf), one, grad=False)
row("size_dim", lambda lib, x, d: x.size(d), tensor_and_dim, grad=False)


def one_element(draw, dtypes):
    """Mostly a single element (0-d or all sides 1), the input these conversions are for."""
    if draw(st.integers(0, 3)) == 0:
        return one(draw, dtypes)
    return (tensor(draw, dtypes, (1,) * draw(st.integers(0, 3))),), {}


row("item", lambda lib, x: x.item(), one_element, grad=False)
row("tolist", lambda lib, x: x.tolist(), one, grad=False)
row("numpy", lambda lib, x: (str(x.numpy().dtype), x.numpy().tolist()), one, grad=False)
row("np.asarray", lambda lib, x: (str(np.asarray(x).dtype), np.asarray(x).tolist()), one, grad=False)
row("mt.from_numpy", lambda lib, a: lib.m.from_numpy(a.copy()),
    lambda d, t: ((tensor(d, t).array,), {}), grad=False)
row("len", lambda lib, x: len(x), one, grad=False)
row("python_numbers", lambda lib, x: (bool(x), float(x), int(x)), one_element, grad=False)

# ------------------------------------------------------------------------------- creation


def creation_shape(draw, dtypes):
    kw = {"dtype": DType(draw(st.sampled_from(dtypes)))} if draw(st.booleans()) else {}
    return (shape(draw),), kw


for _name in ("zeros", "ones"):
    row(f"mt.{_name}", lambda lib, s, n=_name, **kw: getattr(lib.m, n)(*s or (s,), **kw),
        creation_shape, grad=False)
    row(f"mt.{_name}_like", lambda lib, x, n=_name, **kw: getattr(lib.m, f"{n}_like")(x, **kw),
        lambda d, t: ((tensor(d, t),), creation_shape(d, t)[1]))


def full_args(draw, dtypes):
    (size,), kw = creation_shape(draw, dtypes)
    value = scalar(draw, dtypes)
    return (size, storable(kw["dtype"].name, value) if "dtype" in kw else value), kw


row("mt.full", lambda lib, s, v, **kw: lib.m.full(s, v, **kw), full_args, grad=False)


def arange_args(draw, dtypes):
    """start/end/step as ints or floats, with or without a dtype. Float arguments with an integer
    dtype are not drawn: PyTorch casts them inconsistently (``arange(0.5, dtype=int64)`` is empty,
    ``arange(0.5, dtype=int32)`` is ``[0]``), a PyTorch quirk out of the oracle's scope."""
    kw = creation_shape(draw, dtypes)[1]
    integral = "dtype" in kw and kw["dtype"].name not in ("float16", "float32", "float64")
    number = INTS if integral else st.one_of(INTS, st.sampled_from([0.5, 2.5, -1.5]))
    args = draw(st.lists(number, min_size=1, max_size=3).filter(lambda a: len(a) < 3 or a[2] != 0))
    return tuple(args), kw


row("mt.arange", lambda lib, *a, **kw: lib.m.arange(*a, **kw), arange_args, grad=False)
row("mt.eye", lambda lib, *a, **kw: lib.m.eye(*a, **kw),
    lambda d, t: (tuple(d(st.lists(st.integers(0, 3), min_size=1, max_size=2))), creation_shape(d, t)[1]),
    grad=False)
row("mt.tensor", lambda lib, data, **kw: lib.m.tensor(data, **kw),
    lambda d, t: ((d(st.lists(st.one_of(st.booleans(), INTS, st.floats(-5, 5)), max_size=3)),),
                  creation_shape(d, t)[1]),
    grad=False)


def random_shape(draw, dtypes):
    """PyTorch rejects non-float random tensors only when they have elements (an empty one returns
    before the dtype check, a quirk): those get non-empty shapes."""
    (size,), kw = creation_shape(draw, dtypes)
    if "dtype" in kw and kw["dtype"].name not in ("float16", "float32", "float64"):
        size = shape(draw, empty=False)
    return (size,), kw


row("mt.randn", lambda lib, s, **kw: lib.m.randn(*s or (s,), **kw), random_shape, grad=False,
    values=False)
row("mt.rand", lambda lib, s, **kw: lib.m.rand(*s or (s,), **kw), random_shape, grad=False,
    values=False)
row("mt.randint", lambda lib, s: lib.m.randint(0, 5, s), lambda d, t: ((shape(d),), {}), grad=False,
    values=False)
row("mt.empty", lambda lib, s, **kw: lib.m.empty(*s or (s,), **kw), creation_shape, grad=False,
    values=False)
row("mt.empty_like", lambda lib, x, **kw: lib.m.empty_like(x, **kw),
    lambda d, t: ((tensor(d, t),), creation_shape(d, t)[1]), grad=False, values=False)
row("mt.full_like", lambda lib, x, v, **kw: lib.m.full_like(x, v, **kw),
    lambda d, t: ((tensor(d, t), d(st.sampled_from([0, 1, -2, 2.5, -0.5]))), {}), grad=False)
for _name in ("rand_like", "randn_like"):
    row(f"mt.{_name}", lambda lib, x, n=_name: getattr(lib.m, n)(x),
        lambda d, t: ((tensor(d, ("float16", "float32", "float64")),), {}), grad=False,
        values=False)
row("mt.linspace", lambda lib, *a, **kw: lib.m.linspace(*a, **kw),
    lambda d, t: ((d(st.sampled_from([0, -1.5, 2])), d(st.sampled_from([1, 3.5, -4])),
                   d(st.integers(0, 6))), creation_shape(d, ("float32", "float64"))[1]),
    grad=False)
row("mt.as_tensor", lambda lib, data, **kw: lib.m.as_tensor(data, **kw),
    lambda d, t: ((d(st.lists(st.one_of(INTS, st.floats(-5, 5)), max_size=3)),),
                  creation_shape(d, t)[1]),
    grad=False)
row("mt.numel", lambda lib, x: lib.m.numel(x), one, grad=False)
row("mt.is_tensor", lambda lib, x: (lib.m.is_tensor(x), lib.m.is_tensor([1.0])), one, grad=False)

# ----------------------------------------------------------------------- nn.functional


def class_scores(draw, dtypes):
    """Scores (N, C) or (C,) with integer targets (in range mostly; out of range now and then)."""
    c = draw(st.integers(1, 4))
    batched = draw(st.integers(0, 3)) > 0
    n = draw(SIDES) if batched else None
    x = tensor(draw, dtypes, (n, c) if batched else (c,))
    high = c if draw(st.integers(0, 9)) == 0 else c - 1
    target_shape = (n,) if batched else ()
    target = array(draw, "int64", target_shape, low=0, high=high)
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))} if draw(st.booleans()) else {}
    return (x, Arr(target)), kw


row("F.cross_entropy", lambda lib, x, t, **kw: lib.F.cross_entropy(x, t, **kw), class_scores)
row("F.nll_loss", lambda lib, x, t, **kw: lib.F.nll_loss(x, t, **kw), class_scores)


def mse_args(draw, dtypes):
    x = tensor(draw, dtypes)
    same = draw(st.integers(0, 7)) > 0
    y = tensor(draw, dtypes, x.array.shape if same else broadcast_partner(draw, x.array.shape))
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))} if draw(st.booleans()) else {}
    return (x, y), kw


row("F.mse_loss", lambda lib, x, y, **kw: lib.F.mse_loss(x, y, **kw), mse_args)


def one_hot_args(draw, dtypes):
    classes = array(draw, draw(st.sampled_from(["int64", "int64", "int32"])), shape(draw), low=0, high=3)
    kw = {"num_classes": draw(st.integers(-1, 4))} if draw(st.booleans()) else {}
    return (Arr(classes),), kw


row("F.one_hot", lambda lib, x, **kw: lib.F.one_hot(x, **kw), one_hot_args, grad=False)


def embedding_args(draw, dtypes):
    rows = draw(st.integers(1, 4))
    weight = tensor(draw, dtypes, (rows, draw(st.integers(1, 3))))
    high = rows if draw(st.integers(0, 9)) == 0 else rows - 1
    kw = draw(st.fixed_dictionaries({}, optional={
        "padding_idx": st.integers(-rows, rows - 1), "scale_grad_by_freq": st.booleans(),
        "max_norm": st.floats(0.25, 2.0), "norm_type": st.sampled_from([1.0, 2.0, math.inf])}))
    return (Arr(array(draw, "int64", shape(draw), low=0, high=high)), weight), kw


row("F.embedding", lambda lib, i, w, **kw: lib.F.embedding(i, w, **kw), embedding_args)


def dropout_args(draw, dtypes):
    """Only the deterministic settings (p=0, p=1, evaluation); the random mask differs by design."""
    x = tensor(draw, dtypes)
    return (x,), draw(st.sampled_from([{"p": 0.0}, {"p": 1.0}, {"p": 0.5, "training": False}]))


row("F.dropout", lambda lib, x, **kw: lib.F.dropout(x, **kw), dropout_args)

# ------------------------------------------------------------------------------------ erf
row("erf", lambda lib, x: x.erf(), one)
row("mt.erf", lambda lib, x: lib.m.erf(x), one)

# ---------------------------------------------------------------- nn.functional, issue 19


def linear_args(draw, dtypes):
    """Input (..., in) with weight (out, in) or (in,) and maybe a bias; now and then a wrong
    inner size. float16 is left out as for matmul (PyTorch accumulates it in float32)."""
    dtypes = [d for d in dtypes if d != "float16"] or dtypes
    dtype = draw(st.sampled_from(dtypes))
    # PyTorch's empty bool product returns before its dtype check (as for matmul): non-empty.
    sides = st.integers(1, 3) if dtype == "bool" else SIDES
    n_in = draw(sides)
    x = tensor(draw, [dtype], (*shape(draw, max_dims=2, empty=dtype != "bool"), n_in))
    inner = n_in if draw(st.integers(0, 7)) else n_in + 1
    one_output = draw(st.integers(0, 4)) == 0
    out = draw(sides)
    w = tensor(draw, [dtype], (inner,) if one_output else (out, inner))
    if draw(st.booleans()):
        return (x, w), {}
    return (x, w, tensor(draw, [dtype], () if one_output else (out,))), {}


row("F.linear", lambda lib, *a: lib.F.linear(*a), linear_args)
for _name in ("relu", "tanh", "sigmoid"):
    row(f"F.{_name}", lambda lib, x, n=_name: getattr(lib.F, n)(x), one)
def gelu_args(draw, dtypes):
    """PyTorch 2.13's vectorised float32 erf kernel gives gelu(+inf) = nan (float16 and float64
    give inf, as the formula): that kernel's quirk is not drawn."""
    x = tensor(draw, dtypes)
    if x.array.dtype == np.float32:
        x = Arr(np.where(x.array == np.inf, np.float32(10), x.array))
    return (x,), draw(st.sampled_from([{}, {"approximate": "none"}, {"approximate": "tanh"}]))


row("F.gelu", lambda lib, x, **kw: lib.F.gelu(x, **kw), gelu_args)


def with_reduction(draw, kw: dict | None = None, extra: tuple[str, ...] = ()) -> dict:
    kw = dict(kw or {})
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none", *extra]))
    return kw


def pointwise_loss(**options):
    """``mse_args``' input and target, a reduction, and each option drawn from its list."""
    def sample(draw, dtypes):
        (x, y), _ = mse_args(draw, dtypes)
        kw = {k: draw(st.sampled_from(v)) for k, v in options.items() if draw(st.booleans())}
        return (x, y), with_reduction(draw, kw)
    return sample


row("F.l1_loss", lambda lib, x, y, **kw: lib.F.l1_loss(x, y, **kw), pointwise_loss())
row("F.smooth_l1_loss", lambda lib, x, y, **kw: lib.F.smooth_l1_loss(x, y, **kw),
    pointwise_loss(beta=[0.0, 0.5, 1.0, 2.0, -1.0]))
row("F.huber_loss", lambda lib, x, y, **kw: lib.F.huber_loss(x, y, **kw),
    pointwise_loss(delta=[0.5, 1.0, 2.0, 0.0]))


def bce_args(draw, dtypes):
    """Probabilities in [0, 1] (and now and then an inf or nan: both must refuse), a target of
    the same shape and dtype (another shape now and then), and maybe a weight that broadcasts."""
    dtype = draw(st.sampled_from(dtypes))
    shape_ = shape(draw)
    x = Arr(array(draw, dtype, shape_, low=0, high=1)) if dtype in FLOAT_NAMES else \
        tensor(draw, [dtype], shape_)
    target_shape = shape_ if draw(st.integers(0, 7)) else broadcast_partner(draw, shape_)
    target = Arr(array(draw, dtype, target_shape, low=0, high=1, specials=False)) \
        if dtype in FLOAT_NAMES else tensor(draw, [dtype], target_shape)
    kw = with_reduction(draw)
    if draw(st.integers(0, 3)) == 0:
        kw["weight"] = tensor(draw, [dtype], smaller_partner(draw, shape_))
    return (x, target), kw


FLOAT_NAMES = ("float16", "float32", "float64")
row("F.binary_cross_entropy", lambda lib, x, y, **kw: lib.F.binary_cross_entropy(x, y, **kw),
    bce_args)


def bce_logits_args(draw, dtypes):
    """Scores, a target of the same shape (another now and then), maybe ``weight`` and
    ``pos_weight`` that broadcast to the scores."""
    x = tensor(draw, dtypes)
    shape_ = x.array.shape
    target_shape = shape_ if draw(st.integers(0, 7)) else broadcast_partner(draw, shape_)
    kw = with_reduction(draw)
    dtype = [str(x.array.dtype)]
    for name in ("weight", "pos_weight"):
        if draw(st.integers(0, 2)) == 0:
            kw[name] = tensor(draw, dtype, smaller_partner(draw, shape_), low=0, high=3)
    return (x, tensor(draw, dtype, target_shape, low=0, high=1)), kw


row("F.binary_cross_entropy_with_logits",
    lambda lib, x, y, **kw: lib.F.binary_cross_entropy_with_logits(x, y, **kw), bce_logits_args)


def kl_args(draw, dtypes):
    """The target has the input's dtype: with float32 and float64 mixed, exp(float32 target)
    (an ulp apart in numpy and PyTorch) would be held to float64's tolerance."""
    x = tensor(draw, dtypes)
    same = draw(st.integers(0, 7)) > 0
    target = tensor(draw, [str(x.array.dtype)],
                    x.array.shape if same else broadcast_partner(draw, x.array.shape))
    kw = with_reduction(draw, extra=("batchmean",))
    if draw(st.booleans()):
        kw["log_target"] = draw(st.booleans())
    return (x, target), kw


row("F.kl_div", lambda lib, x, y, **kw: lib.F.kl_div(x, y, **kw), kl_args)


def pad_args(draw, dtypes):
    """Amounts from -2 to 2 (negative ones crop) for up to all dims, an odd count or one pair
    too many now and then; ``value`` as None, an int or a float."""
    x = tensor(draw, dtypes)
    pairs = draw(st.integers(0, x.array.ndim + (1 if draw(st.integers(0, 7)) == 0 else 0)))
    amounts = draw(st.lists(st.integers(-2, 2), min_size=2 * pairs, max_size=2 * pairs))
    if amounts and draw(st.integers(0, 9)) == 0:
        amounts = amounts[:-1]
    kw = {}
    if draw(st.booleans()):
        kw["value"] = storable(x.array.dtype, draw(st.sampled_from([None, 0, 2, -1.5, 0.5])))
    return (x, tuple(amounts)), kw


row("F.pad", lambda lib, x, p, **kw: lib.F.pad(x, p, **kw), pad_args)


def normalize_args(draw, dtypes):
    """p of 0.5, 1, 1.5, 2, 3 or inf (microtensor refuses p <= 0), a dim (out of range now and then),
    and maybe an eps."""
    x = tensor(draw, dtypes)
    kw = {"dim": dim(draw, x.array.ndim)}
    if draw(st.booleans()):
        kw["p"] = draw(st.sampled_from([0.5, 1, 1.5, 2.0, 3, math.inf]))
    if draw(st.booleans()):
        kw["eps"] = draw(st.sampled_from([1e-12, 0.5, 2.0]))
    return (x,), kw


row("F.normalize", lambda lib, x, **kw: lib.F.normalize(x, **kw), normalize_args)


def detached_weights(fn_name: str):
    """The call with ``weight``/``pos_weight`` detached: neither is differentiable in PyTorch
    (a weight that requires grad is refused), so the gradient test reaches the weighted
    gradients of the input and target only this way."""
    def call(lib, x, y, **kw):
        kw = {k: v.detach() if k in ("weight", "pos_weight") else v for k, v in kw.items()}
        return getattr(lib.F, fn_name)(x, y, **kw)
    return call


row("F.binary_cross_entropy_detached_weight", detached_weights("binary_cross_entropy"), bce_args)
row("F.binary_cross_entropy_with_logits_detached_weights",
    detached_weights("binary_cross_entropy_with_logits"), bce_logits_args)

# ------------------------------------------------------------------- composed/'s methods
for _name in ("gt", "ge", "lt", "le", "eq", "ne"):
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y), binary, grad=False)
    row(f"mt.{_name}", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y), binary, grad=False)


def dim_and_position(draw, dtypes):
    """A tensor with at least one dim, one of its dims (out of range now and then), and a
    position along it (out of range now and then)."""
    x = tensor(draw, dtypes, shape(draw, min_dims=1))
    d = dim(draw, x.array.ndim)
    size = x.array.shape[d] if -x.array.ndim <= d < x.array.ndim else 1
    return (x, d, draw(st.integers(-size - 1, size))), {}


def narrow_args(draw, dtypes):
    (x, d, start), _ = dim_and_position(draw, dtypes)
    return (x, d, start, draw(st.integers(0, 3))), {}


row("Tensor.narrow", lambda lib, x, d, s, n: x.narrow(d, s, n), narrow_args)
row("Tensor.select", lambda lib, x, d, i: x.select(d, i), dim_and_position)
row("Tensor.unbind", lambda lib, x, d, i: x.unbind(d), dim_and_position)
row("Tensor.contiguous", lambda lib, x: (x.t() if x.ndim == 2 else x).contiguous().is_contiguous(),
    one, grad=False)
row("Tensor.type_as", lambda lib, x, y: x.type_as(y), lambda d, t: ((tensor(d, t), tensor(d, t)), {}))
row("Tensor.new_zeros", lambda lib, x, s, **kw: x.new_zeros(s, **kw),
    lambda d, t: ((tensor(d, t), shape(d)), creation_shape(d, t)[1]), grad=False)
row("Tensor.new_ones", lambda lib, x, s, **kw: x.new_ones(s, **kw),
    lambda d, t: ((tensor(d, t), shape(d)), creation_shape(d, t)[1]), grad=False)
row("Tensor.new_full", lambda lib, x, s, v: x.new_full(s, v),
    lambda d, t: ((tensor(d, t), shape(d), d(st.sampled_from([0, 1, 2]))), {}), grad=False)
row("Tensor.new_tensor", lambda lib, x, data: x.new_tensor(data),
    lambda d, t: ((tensor(d, t), d(st.lists(INTS, max_size=3))), {}), grad=False)


# ------------------------------------------------- sorting, indexing, shape methods, in place
def sort_args(draw, dtypes):
    x = tensor(draw, dtypes)
    kw = {"dim": dim(draw, x.array.ndim), "descending": draw(st.booleans())}
    if draw(st.booleans()):
        kw["stable"] = draw(st.booleans())
    return (x,), kw


def named_pair(result):
    return result.values, result.indices


row("Tensor.sort", lambda lib, x, **kw: named_pair(x.sort(**kw)), sort_args)
row("mt.sort", lambda lib, x, **kw: named_pair(lib.m.sort(x, **kw)), sort_args)
row("Tensor.argsort", lambda lib, x, **kw: x.argsort(**kw), sort_args, grad=False)
row("mt.argsort", lambda lib, x, **kw: lib.m.argsort(x, **kw), sort_args, grad=False)


def topk_args(draw, dtypes, x=None):
    x = x or tensor(draw, dtypes)
    d = dim(draw, x.array.ndim)
    size = x.array.shape[d] if x.array.ndim and -x.array.ndim <= d < x.array.ndim else 1
    return (x, draw(st.integers(0, size + 1 if draw(st.integers(0, 7)) == 0 else size))), {
        "dim": d, "largest": draw(st.booleans())}


def distinct_topk_args(draw, dtypes):
    """Distinct values (a nan among them now and then): which of tied entries topk picks is
    PyTorch's choice, so indices and gradients are compared without ties."""
    dtypes = [t for t in dtypes if t != "bool"]
    dtype, shape_ = draw(st.sampled_from(dtypes)), shape(draw)
    values = np.array(draw(st.permutations(range(math.prod(shape_)))), dtype=np.float64) - 3
    if values.size and dtype in ("float32", "float64") and draw(st.booleans()):
        values[draw(st.integers(0, values.size - 1))] = math.nan
    return topk_args(draw, dtypes, Arr(values.astype(dtype).reshape(shape_)))


def topk_values(lib, x, k, **kw):
    """Ties allowed: the values, and the entries the indices point at, must agree."""
    values, indices = x.topk(k, **kw)
    return values, (x.gather(kw["dim"], indices) if x.ndim else x)


row("Tensor.topk", lambda lib, x, k, **kw: named_pair(x.topk(k, **kw)), distinct_topk_args)
row("mt.topk", lambda lib, x, k, **kw: named_pair(lib.m.topk(x, k, **kw)), distinct_topk_args)
row("Tensor.topk_ties", topk_values, topk_args, grad=False)


def flip_args(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, dims(draw, x.array.ndim)), {}


row("Tensor.flip", lambda lib, x, ds: x.flip(ds), flip_args)
row("mt.flip", lambda lib, x, ds: lib.m.flip(x, ds), flip_args)


def roll_args(draw, dtypes):
    x = tensor(draw, dtypes)
    if draw(st.booleans()):
        return (x, draw(INTS)), {}
    ds = dims(draw, x.array.ndim)
    n = len(ds) if draw(st.integers(0, 7)) else len(ds) + 1  # mismatched lengths: both raise
    return (x, tuple(draw(INTS) for _ in range(n))), {"dims": ds}


row("Tensor.roll", lambda lib, x, s, **kw: x.roll(s, **kw), roll_args)
row("mt.roll", lambda lib, x, s, **kw: lib.m.roll(x, s, **kw), roll_args)


def diagonal_args(draw, dtypes):
    return (tensor(draw, dtypes), draw(st.integers(-3, 3))), {}


for _name in ("tril", "triu"):
    row(f"Tensor.{_name}", lambda lib, x, k, n=_name: getattr(x, n)(k), diagonal_args)
    row(f"mt.{_name}", lambda lib, x, k, n=_name: getattr(lib.m, n)(x, diagonal=k), diagonal_args)


def index_vector(draw, size: int) -> Arr:
    """A vector of indices into ``size`` entries (repeats; one out of range now and then), now
    and then 0-d or int32."""
    high = size if draw(st.integers(0, 7)) == 0 else size - 1
    low = -1 if draw(st.integers(0, 9)) == 0 else 0
    n = draw(st.integers(0, 4))
    values = np.array(draw(st.lists(st.integers(low, max(low, high)), min_size=n, max_size=n)),
                      dtype=draw(st.sampled_from([np.int64, np.int64, np.int32])))
    if values.size == 1 and draw(st.booleans()):
        values = values.reshape(())
    return Arr(values)


def index_select_args(draw, dtypes):
    x = tensor(draw, dtypes)
    d = dim(draw, x.array.ndim)
    size = x.array.shape[d] if x.array.ndim and -x.array.ndim <= d < x.array.ndim else 1
    return (x, d, index_vector(draw, size)), {}


row("Tensor.index_select", lambda lib, x, d, i: x.index_select(d, i), index_select_args)
row("mt.index_select", lambda lib, x, d, i: lib.m.index_select(x, d, i), index_select_args)


def repeat_interleave_args(draw, dtypes):
    x = tensor(draw, dtypes)
    kw = {} if draw(st.booleans()) else {"dim": dim(draw, x.array.ndim)}
    if "dim" in kw and x.array.ndim and -x.array.ndim <= kw["dim"] < x.array.ndim:
        n = x.array.shape[kw["dim"]]
    else:
        n = x.array.size if "dim" not in kw else 1
    kind = draw(st.sampled_from(["int", "vector", "one"]))
    if kind == "int":
        repeats = draw(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3))
    else:
        size = 1 if kind == "one" else n if draw(st.integers(0, 7)) else n + 1
        repeats = Arr(np.array(draw(st.lists(st.integers(0, 3), min_size=size, max_size=size)),
                               dtype=np.int64))
    return (x, repeats), kw


row("Tensor.repeat_interleave", lambda lib, x, r, **kw: x.repeat_interleave(r, **kw),
    repeat_interleave_args)
row("mt.repeat_interleave", lambda lib, x, r, **kw: lib.m.repeat_interleave(x, r, **kw),
    repeat_interleave_args)


def repeat_args(draw, dtypes):
    x = tensor(draw, dtypes)
    n = x.array.ndim + draw(st.integers(-1 if x.array.ndim else 0, 2))
    return (x, tuple(draw(st.integers(0, 3)) for _ in range(n))), {}


row("Tensor.repeat", lambda lib, x, s: x.repeat(*s), repeat_args)


def scatter_args(draw, dtypes, value: bool = False):
    """``x``, ``dim``, an int64 index that fits (sizes, bounds: not always) and a source. A
    source larger than the index is drawn only for the forward test: PyTorch's backward then
    fails (its src gradient has the index's shape), where microtensor's gives zeros."""
    x = tensor(draw, dtypes)
    d = dim(draw, x.array.ndim)
    nd = x.array.ndim
    axis = d % nd if nd and -nd <= d < nd else 0
    size = x.array.shape[axis] if nd else 1
    idx_shape = tuple(draw(st.integers(0, 3)) if i == axis else draw(st.integers(0, side))
                      for i, side in enumerate(x.array.shape))
    low = -1 if draw(st.integers(0, 9)) == 0 else 0
    high = size if draw(st.integers(0, 9)) == 0 else size - 1
    idx = Arr(np.array(draw(st.lists(st.integers(low, max(low, high)),
                                     min_size=math.prod(idx_shape), max_size=math.prod(idx_shape))),
                       dtype=np.int64).reshape(idx_shape))
    if value:
        return (x, d, idx, storable(x.array.dtype, scalar(draw, dtypes))), {}
    grow = len(dtypes) > 1 and draw(st.integers(0, 3)) == 0
    src_shape = tuple(n + (draw(st.integers(0, 1)) if grow else 0) for n in idx_shape)
    src_dtype = [str(x.array.dtype)] if draw(st.integers(0, 9)) else dtypes
    return (x, d, idx, tensor(draw, src_dtype, src_shape)), {}


row("Tensor.scatter", lambda lib, x, d, i, s: x.scatter(d, i, s), scatter_args)
row("mt.scatter", lambda lib, x, d, i, s: lib.m.scatter(x, d, i, s), scatter_args)
row("Tensor.scatter_value", lambda lib, x, d, i, v: x.scatter(d, i, v),
    lambda dr, t: scatter_args(dr, t, value=True))
row("Tensor.scatter_add", lambda lib, x, d, i, s: x.scatter_add(d, i, s), scatter_args)
row("mt.scatter_add", lambda lib, x, d, i, s: lib.m.scatter_add(x, d, i, s), scatter_args)


def index_add_args(draw, dtypes):
    (x, d, index), _ = index_select_args(draw, dtypes)
    nd = x.array.ndim
    src_shape = list(x.array.shape)
    if nd and -nd <= d < nd:
        src_shape[d] = index.array.size if draw(st.integers(0, 9)) else index.array.size + 1
    src_dtype = [str(x.array.dtype)] if draw(st.integers(0, 9)) else dtypes
    kw = {"alpha": draw(st.sampled_from([1, 2, -1, 0.5]))} if draw(st.booleans()) else {}
    return (x, d, index, tensor(draw, src_dtype, tuple(src_shape))), kw


row("Tensor.index_add", lambda lib, x, d, i, s, **kw: x.index_add(d, i, s, **kw), index_add_args)
row("mt.index_add", lambda lib, x, d, i, s, **kw: lib.m.index_add(x, d, i, s, **kw), index_add_args)
row("Tensor.mT", lambda lib, x: x.mT, one)
row("mt.cat_legacy_empty", lambda lib, e, x, d: lib.m.cat([e, x, e], dim=d),
    lambda dr, t: ((tensor(dr, t, (0,)), x := tensor(dr, t), dim(dr, x.array.ndim)), {}))

# In place, on a recorded copy as above; ``_version`` ticks as PyTorch's.


def inplace_version(method: str):
    def call(lib, x, *args, **kw):
        y = x.clone()
        out = getattr(y, method)(*args, **kw)
        return out is y, y, y._version
    return call


row("Tensor.masked_fill_", inplace_version("masked_fill_"), masked_fill_args)
row("Tensor.clamp_", inplace_version("clamp_"), clamp_args)
row("Tensor.clip_", inplace_version("clip_"), clamp_args)
row("Tensor.clamp_tensors_", inplace_version("clamp_"), clamp_tensor_args)
row("Tensor.index_add_", inplace_version("index_add_"), index_add_args)
row("Tensor.scatter_", inplace_version("scatter_"), scatter_args)
row("Tensor.scatter_value_", inplace_version("scatter_"), lambda dr, t: scatter_args(dr, t, value=True))
row("Tensor.scatter_add_", inplace_version("scatter_add_"), scatter_args)
row("Tensor.unsqueeze_", inplace_version("unsqueeze_"),
    lambda dr, t: ((x := tensor(dr, t), dim(dr, x.array.ndim + 1)), {}))
row("Tensor.squeeze_", inplace_version("squeeze_"), lambda dr, t: (one(dr, t)[0], reduce_dim(dr, 3)))
row("Tensor.t_", inplace_version("t_"), one)
row("Tensor.transpose_", inplace_version("transpose_"),
    lambda dr, t: ((x := tensor(dr, t), dim(dr, x.array.ndim), dim(dr, x.array.ndim)), {}))


def leaf_in_place(lib, x, d):
    """On the input itself: a leaf that requires grad (the gradient test's) refuses."""
    x.unsqueeze_(d)
    return x


row("Tensor.unsqueeze_leaf", leaf_in_place,
    lambda dr, t: ((x := tensor(dr, t), dim(dr, x.array.ndim + 1)), {}))


def detach_in_place(lib, x):
    y = (x * 2).detach_()
    return y, y.requires_grad, y.is_leaf, y.grad_fn is None


row("Tensor.detach_", detach_in_place, one)

# ------------------------------------------------------ linear algebra and reductions (more)
NO_HALF = ("bool", "int32", "int64", "float32", "float64")


def strict_pair(shapes):
    """Operands of ``shapes(draw)`` (a pair of shapes, wrong now and then) in one dtype mostly,
    two now and then (PyTorch refuses mixed dtypes here). float16 is left out as for matmul
    (PyTorch accumulates it in float32); bool or mixed operands, non-empty (PyTorch's empty
    product returns before its dtype checks, as for matmul)."""
    def sample(draw, dtypes):
        dtypes = [d for d in dtypes if d != "float16"] or dtypes
        first = draw(st.sampled_from(dtypes))
        second = first if draw(st.integers(0, 5)) else draw(st.sampled_from(dtypes))
        left, right = shapes(draw)
        if "bool" in (first, second) or first != second:
            left, right = (tuple(max(n, 1) for n in s) for s in (left, right))
        return (tensor(draw, [first], left), tensor(draw, [second], right)), {}
    return sample


def _sides(draw, n):
    return [draw(SIDES) for _ in range(n)]


def _maybe_wrong(draw, shape_):
    """``shape_``, or (now and then) one side one larger, or one dim more or less."""
    choice = draw(st.integers(0, 9))
    if choice == 0 and shape_:
        i = draw(st.integers(0, len(shape_) - 1))
        return shape_[:i] + (shape_[i] + 1,) + shape_[i + 1:]
    if choice == 1:
        return shape_[1:] if shape_ and draw(st.booleans()) else (1, *shape_)
    return shape_


def mm_shapes(draw):
    n, k, m = _sides(draw, 3)
    return _maybe_wrong(draw, (n, k)), _maybe_wrong(draw, (k, m))


def bmm_shapes(draw):
    b, n, k, m = _sides(draw, 4)
    return _maybe_wrong(draw, (b, n, k)), _maybe_wrong(draw, (b, k, m))


def dot_shapes(draw):
    (k,) = _sides(draw, 1)
    return _maybe_wrong(draw, (k,)), _maybe_wrong(draw, (k,))


def mv_shapes(draw):
    n, k = _sides(draw, 2)
    return _maybe_wrong(draw, (n, k)), _maybe_wrong(draw, (k,))


def outer_shapes(draw):
    n, m = _sides(draw, 2)
    return _maybe_wrong(draw, (n,)), _maybe_wrong(draw, (m,))


def inner_shapes(draw):
    k = draw(SIDES)
    lead = [tuple(_sides(draw, draw(st.integers(0, 2)))) for _ in range(2)]
    left = () if draw(st.integers(0, 9)) == 0 else (*lead[0], k)
    return left, _maybe_wrong(draw, (*lead[1], k))


for _name, _shapes in (("mm", mm_shapes), ("bmm", bmm_shapes), ("dot", dot_shapes),
                       ("mv", mv_shapes), ("inner", inner_shapes)):
    row(f"mt.{_name}", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y), strict_pair(_shapes))
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y), strict_pair(_shapes))


def outer_args(draw, dtypes):
    """Any two dtypes: outer promotes, as ``*``."""
    left, right = outer_shapes(draw)
    return (tensor(draw, dtypes, left), tensor(draw, dtypes, right)), {}


row("mt.outer", lambda lib, x, y: lib.m.outer(x, y), outer_args)
row("Tensor.outer", lambda lib, x, y: x.outer(y), outer_args)

EINSUMS = (
    # (equation, operand shapes as letters' sizes: a letter's size is drawn once)
    ("ij,jk->ik", "ij,jk"), ("ij,jk", "ij,jk"), ("bij,bjk->bik", "bij,bjk"), ("i,i->", "i,i"),
    ("i,j->ij", "i,j"), ("ij->ji", "ij"), ("ij->", "ij"), ("ii->i", "ii"), ("ii", "ii"),
    ("iij->j", "iij"), ("ij,ij->ij", "ij,ij"), ("ijk,ik->j", "ijk,ik"), ("ba", "ba"),
    ("...ij,...jk->...ik", "xij,yjk"), ("i...->...", "ixy"), ("...,...", "x,y"),
    ("ij,jk,kl->il", "ij,jk,kl"), ("ij, jk -> ik", "ij,jk"), ("Ab,bC->AC", "Ab,bC"),
    ("bn,anm,bm->ba", "bn,anm,bm"), ("i,i->i", "i,i"), ("ij->i", "ij"),
)


def einsum_args(draw, dtypes):
    """An equation from ``EINSUMS``, its operands with drawn sizes (x, y: the ellipsis, 0 to 2
    dims each, size 1 now and then to broadcast); now and then a size or rank that does not
    fit. Bool operands are refused by microtensor (documented), float16 left out as matmul;
    values finite: where an inf meets a 0 the answer depends on the order of contraction."""
    dtypes = [d for d in dtypes if d not in ("float16", "bool")] or ["float64"]
    equation, layout = draw(st.sampled_from(EINSUMS))
    sizes = {c: draw(SIDES) for c in set(layout) - {"x", "y", ","}}
    dots = [draw(st.sampled_from([1, 2, 3])) for _ in range(2)]
    ellipsis = {c: tuple(draw(st.sampled_from([1, n])) for n in dots[:draw(st.integers(0, 2))])
                for c in "xy"}
    dtype = draw(st.sampled_from(dtypes))
    operands = []
    for term in layout.split(","):
        shape_: tuple = ()
        for c in term:
            shape_ += ellipsis[c][::-1] if c in ellipsis else (sizes[c],)
        if draw(st.integers(0, 11)) == 0:
            shape_ = _maybe_wrong(draw, shape_) if shape_ else (2,)
        operands.append(tensor(draw, [dtype], shape_, specials=False))
    return (equation, *operands), {}


row("mt.einsum", lambda lib, eq, *ops: lib.m.einsum(eq, *ops), einsum_args)
row("mt.einsum_list", lambda lib, eq, *ops: lib.m.einsum(eq, list(ops)), einsum_args)


def single_dim(draw, dtypes):
    """A reduction along one dim (or all, without one), ``keepdim`` now and then, and
    ``dtype=`` now and then (cast first: inf and nan become 0 for integer dtypes). Not
    float16: there the gradient's own steps round, and each library's order is an ulp apart."""
    x = tensor(draw, dtypes)
    kw = {}
    if draw(st.integers(0, 3)):
        kw["dim"] = dim(draw, x.array.ndim)
        if draw(st.booleans()):
            kw["keepdim"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        # The gradient test (float64 only) keeps its float64: a float32 step rounds too.
        dtype = draw(st.sampled_from([d for d in NO_HALF if d != "float32" or len(dtypes) > 1]))
        if dtype in ("int32", "int64", "bool") and x.array.dtype.kind == "f":
            x = Arr(np.where(np.isfinite(x.array), x.array, 0).astype(x.array.dtype))
        kw["dtype"] = DType(dtype)
    return (x,), kw


row("Tensor.prod", lambda lib, x, **kw: x.prod(**kw), single_dim)
row("mt.prod", lambda lib, x, **kw: lib.m.prod(x, **kw), single_dim)


def zeros_often(draw, dtypes):
    """Floats with zeros (none, one, several) among few other values: prod's gradient cases."""
    x = Arr(array(draw, "float64" if dtypes == ("float64",) else draw(st.sampled_from(dtypes)),
                  shape(draw), low=-3, high=3))
    if x.array.dtype.kind == "f" and x.array.size:
        mask = np.array(draw(st.lists(st.booleans(), min_size=x.array.size,
                                      max_size=x.array.size))).reshape(x.array.shape)
        x = Arr(np.where(mask, 0, x.array).astype(x.array.dtype))
    kw = {"dim": dim(draw, x.array.ndim)} if draw(st.booleans()) else {}
    return (x,), kw


row("Tensor.prod_zeros", lambda lib, x, **kw: x.prod(**kw), zeros_often)


def cumulative(draw, dtypes):
    x = tensor(draw, dtypes)
    kw = {"dtype": DType(draw(st.sampled_from(NO_HALF)))} if draw(st.integers(0, 3)) == 0 else {}
    if "dtype" in kw and kw["dtype"].name in ("int32", "int64", "bool") and x.array.dtype.kind == "f":
        x = Arr(np.where(np.isfinite(x.array), x.array, 0).astype(x.array.dtype))
    return (x, dim(draw, x.array.ndim)), kw


row("Tensor.cumsum", lambda lib, x, d, **kw: x.cumsum(d, **kw), cumulative)
row("mt.cumsum", lambda lib, x, d, **kw: lib.m.cumsum(x, d, **kw), cumulative)


def on_grid(x: Arr) -> Arr:
    """Float values rounded to quarters, whose sums and means are exact: where a row is
    constant, its std is then exactly 0 in both libraries. Otherwise each's own rounding of
    the mean decides between 0 and a tiny std, and 1/std blows that rounding up."""
    if x.array.dtype.kind != "f":
        return x
    return Arr(np.asarray(np.round(x.array * 4) / 4, dtype=x.array.dtype))


def variance_args(draw, dtypes):
    """dim (none, an int, a tuple), and one of PyTorch's spellings of the correction: none,
    ``unbiased`` (by keyword or position), ``correction=`` (0, 1, 2, 0.5)."""
    (x,), kw = reduction()(draw, dtypes)
    x = on_grid(x)
    if kw.get("dim") == ():
        kw.pop("dim")  # dim=() is read differently by PyTorch's overloads: not drawn
    spelling = draw(st.sampled_from(["none", "unbiased", "correction", "positional"]))
    if spelling == "unbiased":
        kw["unbiased"] = draw(st.booleans())
    elif spelling == "correction":
        kw["correction"] = draw(st.sampled_from([0, 1, 2, 0.5]))
    elif spelling == "positional" and "dim" not in kw:
        return (x, draw(st.booleans())), {}
    if "unbiased" in kw and "dim" not in kw:
        kw.pop("keepdim", None)  # PyTorch's var(unbiased) overload takes no keepdim
    return (x,), kw


for _name in ("var", "std"):
    row(f"Tensor.{_name}", lambda lib, x, *a, n=_name, **kw: getattr(x, n)(*a, **kw), variance_args)
    row(f"mt.{_name}", lambda lib, x, *a, n=_name, **kw: getattr(lib.m, n)(x, *a, **kw),
        variance_args)


def constant_rows(draw, dtypes):
    """Zero variance: every entry the same, so std's gradient is PyTorch's 0 there."""
    x = tensor(draw, dtypes, shape(draw, min_dims=1, empty=False))
    value = x.array.reshape(-1)[0] if x.array.dtype.kind == "f" else 1
    return (on_grid(Arr(np.full_like(x.array, value))),), {"dim": dim(draw, x.array.ndim)}


row("Tensor.std_constant", lambda lib, x, **kw: x.std(**kw), constant_rows)


def norm_args(draw, dtypes):
    """p (numbers, inf, -inf, 0, "fro"), dim (none, an int, a tuple), keepdim, dtype (a
    narrowing or integer one now and then: both refuse); zero vectors now and then."""
    x = tensor(draw, dtypes)
    if x.array.dtype.kind == "f" and draw(st.integers(0, 3)) == 0:
        x = Arr(np.zeros_like(x.array))
    kw = reduce_dim(draw, x.array.ndim)
    if kw.get("dim") == ():
        kw.pop("dim")  # PyTorch 2.13 reads dim=() as no dims in some paths: not drawn
    if draw(st.integers(0, 4)):
        kw["p"] = draw(st.sampled_from([2, 1, 3, 0.5, 1.5, 0, -1, math.inf, -math.inf, "fro"]))
    if draw(st.integers(0, 5)) == 0:
        kw["dtype"] = DType(draw(st.sampled_from(DTYPES)))
    return (x,), kw


row("Tensor.norm", lambda lib, x, **kw: x.norm(**kw), norm_args)
row("mt.norm", lambda lib, x, **kw: lib.m.norm(x, **kw), norm_args)
for _name in ("max", "min"):
    row(f"Tensor.{_name}_other", lambda lib, x, y, n=_name: getattr(x, n)(y), tensor_pair)
    row(f"mt.{_name}_other", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y), tensor_pair)


# ----------------------------------- more elementwise math, predicates, division and arithmetic
for _name in ("sign", "floor", "ceil", "log1p", "expm1", "sin", "cos", "square", "rsqrt",
              "reciprocal"):
    row(f"Tensor.{_name}", lambda lib, x, n=_name: getattr(x, n)(), one)
    row(f"mt.{_name}", lambda lib, x, n=_name: getattr(lib.m, n)(x), one)


def round_args(draw, dtypes):
    """Halves (0.5, 2.5, 0.125) are common among the drawn values: ties go to even."""
    x = tensor(draw, dtypes)
    decimals = draw(st.sampled_from([None, 0, 1, 2, -1, 3]))
    return (x,), {} if decimals is None else {"decimals": decimals}


row("Tensor.round", lambda lib, x, **kw: x.round(**kw), round_args)
row("mt.round", lambda lib, x, **kw: lib.m.round(x, **kw), round_args)

for _name in ("isnan", "isinf", "isfinite", "logical_not"):
    row(f"Tensor.{_name}", lambda lib, x, n=_name: getattr(x, n)(), one, grad=False)
    row(f"mt.{_name}", lambda lib, x, n=_name: getattr(lib.m, n)(x), one, grad=False)
for _name in ("logical_and", "logical_or", "logical_xor"):
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y), tensor_pair, grad=False)
    row(f"mt.{_name}", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y), tensor_pair, grad=False)


def near_pair(draw, dtypes):
    """A tensor and one of a broadcasting shape, of its dtype (now and then another: both
    refuse), often ``x`` itself nudged by a relative 1e-7 to 0.1; tolerances and ``equal_nan``."""
    x = tensor(draw, dtypes)
    if draw(st.booleans()):
        nudge = draw(st.sampled_from([0.0, 1e-7, 1e-5, 1e-3, 0.1]))
        other = Arr(np.asarray(x.array + x.array * nudge if x.array.dtype.kind == "f" else x.array))
    else:
        kinds = [x.array.dtype.name] * 7 + [draw(st.sampled_from(dtypes))]
        other = tensor(draw, kinds, broadcast_partner(draw, x.array.shape))
    kw = {}
    for name in ("rtol", "atol"):
        if draw(st.booleans()):
            kw[name] = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0, -1.0]))
    if draw(st.booleans()):
        kw["equal_nan"] = draw(st.booleans())
    return (x, other), kw


row("Tensor.isclose", lambda lib, x, y, **kw: x.isclose(y, **kw), near_pair, grad=False)
row("mt.isclose", lambda lib, x, y, **kw: lib.m.isclose(x, y, **kw), near_pair, grad=False)
row("Tensor.allclose", lambda lib, x, y, **kw: x.allclose(y, **kw), near_pair, grad=False)
row("mt.allclose", lambda lib, x, y, **kw: lib.m.allclose(x, y, **kw), near_pair, grad=False)


def maybe_equal_pair(draw, dtypes):
    """Two tensors, half the time of one value (in another dtype now and then)."""
    x = tensor(draw, dtypes)
    if draw(st.booleans()):
        return (x, Arr(x.array.astype(draw(st.sampled_from(dtypes))))), {}
    return tensor_pair(draw, dtypes)


row("Tensor.equal", lambda lib, x, y: x.equal(y), maybe_equal_pair, grad=False)
row("mt.equal", lambda lib, x, y: lib.m.equal(x, y), maybe_equal_pair, grad=False)
row("Tensor.clip", lambda lib, x, **kw: x.clip(**kw), clamp_args)
row("mt.clip", lambda lib, x, **kw: lib.m.clip(x, **kw), clamp_args)


def with_alpha(draw, dtypes):
    """``binary``'s operands and an ``alpha`` (integers, floats and bools: PyTorch refuses a
    float alpha for integer results and a bool one for non-bool results)."""
    (x, y), _ = binary(draw, dtypes)
    kw = {"alpha": draw(st.sampled_from([1, 2, -1, 0.5, True, False]))} if draw(st.integers(0, 3)) else {}
    return (x, y), kw


for _name in ("add", "sub"):
    row(f"Tensor.{_name}_alpha", lambda lib, x, y, n=_name, **kw: getattr(x, n)(y, **kw), with_alpha)
    row(f"mt.{_name}", lambda lib, x, y, n=_name, **kw: getattr(lib.m, n)(x, y, **kw), with_alpha)


def half_operands(sample):
    """A float16 tensor meets a number or a wider 0-d tensor whose value float16 holds exactly.
    PyTorch's floor division (``//``, ``div(rounding_mode=...)``) computes float16 in float32
    with such an operand's unrounded value, where its ``%`` and microtensor round it to float16
    first; at exact multiples the two differ by one (a difference docs/engine/differences.md states)."""
    def draw_half(draw, dtypes):
        args, kw = sample(draw, dtypes)
        if not any(isinstance(a, Arr) and a.array.dtype == np.float16 for a in args):
            return args, kw
        def held(a):
            if isinstance(a, float):
                return float(np.float16(a))
            if isinstance(a, Arr) and a.array.ndim == 0 and a.array.dtype in (np.float32, np.float64):
                return Arr(a.array.astype(np.float16).astype(a.array.dtype))
            return a
        return tuple(held(a) for a in args), kw
    return draw_half


@half_operands
def rounding(draw, dtypes):
    (x, y), _ = binary(draw, dtypes)
    return (x, y), {"rounding_mode": draw(st.sampled_from([None, "trunc", "floor"]))}


row("Tensor.div_rounding", lambda lib, x, y, **kw: x.div(y, **kw), rounding)
row("mt.div", lambda lib, x, y, **kw: lib.m.div(x, y, **kw), rounding)
for _name in ("mul", "true_divide", "remainder", "fmod", "floor_divide"):
    row(f"mt.{_name}", lambda lib, x, y, n=_name: getattr(lib.m, n)(x, y),
        half_operands(binary) if _name == "floor_divide" else binary)
for _name in ("true_divide", "remainder", "fmod", "floor_divide"):
    row(f"Tensor.{_name}", lambda lib, x, y, n=_name: getattr(x, n)(y),
        half_operands(binary) if _name == "floor_divide" else binary)
row("mt.pow", lambda lib, x, y: lib.m.pow(x, y), power(binary))
row("mod", lambda lib, x, y: x % y, binary)
row("floordiv", lambda lib, x, y: x // y, half_operands(binary))
row("rmod", lambda lib, s, x: s % x, reflected)
row("rfloordiv", lambda lib, s, x: s // x, half_operands(reflected))
# PyTorch's functions take a Python number first too, typed as a Python scalar is.
for _name in ("add", "sub", "mul", "div", "true_divide", "remainder", "floor_divide"):
    row(f"mt.{_name}_number_first", lambda lib, s, x, n=_name: getattr(lib.m, n)(s, x),
        half_operands(reflected) if _name == "floor_divide" else reflected)
row("mt.pow_number_first", lambda lib, s, x: lib.m.pow(s, x), power(reflected))


def in_place(op):
    """``x op= y`` on a copy of ``x`` (the result must fit ``x``'s dtype: else both refuse)."""
    def call(lib, x, y):
        x = x.clone()
        return op(x, y)
    return call


row("imod", in_place(operator.imod), binary)
row("ifloordiv", in_place(operator.ifloordiv), binary)


# ------------------------------------------------------- F.scaled_dot_product_attention (helper D)
def sdpa_args(draw, dtypes):
    """query (..., L, E), key (..., S, E), value (..., S, Ev), batch dims broadcast (now and
    then not), and a bool mask, a float one (with -inf: rows with no key to attend), a causal
    flag or a scale. Finite values: an inf score is not a mask. float16 is left out (PyTorch
    computes it in float32 on the CPU); a dtype or shape that does not fit makes both raise.
    No size-0 side: PyTorch returns an empty result before checking shapes and dtypes."""
    dtypes = [d for d in dtypes if d != "float16"] or dtypes
    dtype = draw(st.sampled_from(dtypes))
    batch = shape(draw, max_dims=2, empty=False)
    sides = st.integers(1, 3)
    length, source, size = draw(sides), draw(sides), draw(sides)
    value_dtype = dtype if draw(st.integers(0, 9)) else draw(st.sampled_from(dtypes))

    def operand_(rows, cols, kind=dtype):
        side = batch if draw(st.integers(0, 9)) else broadcast_partner(draw, batch)
        side = batch if 0 in side else side  # no size-0 side (see above)
        return tensor(draw, [kind], (*side, rows, cols), low=-3, high=3, specials=False)

    args = (operand_(length, size), operand_(source, size),
            operand_(source, draw(sides), value_dtype))
    kind = draw(st.sampled_from(["none", "bool", "float", "causal", "scale"]))
    if kind == "causal":
        return args, {"is_causal": True}
    if kind == "scale":
        return args, {"scale": draw(st.sampled_from([0.5, 2.0]))}
    mask_shape = (*batch, length, source)[draw(st.integers(0, len(batch))):]
    if kind == "bool":
        return args, {"attn_mask": Arr(array(draw, "bool", mask_shape))}
    if kind == "float":
        bias = tensor(draw, [dtype], mask_shape, low=-3, high=3, specials=False).array
        blocked = array(draw, "bool", mask_shape)
        return args, {"attn_mask": Arr(np.where(blocked, -np.inf, bias).astype(bias.dtype))}
    return args, {}


row("F.scaled_dot_product_attention",
    lambda lib, q, k, v, **kw: lib.F.scaled_dot_product_attention(q, k, v, **kw), sdpa_args)


# ------------------------------------------- rows test_oracle_coverage.py asked for (helper J)
for _name in ("amax", "amin"):
    row(f"mt.{_name}", lambda lib, x, n=_name, **kw: getattr(lib.m, n)(x, **kw), reduction())
for _name in ("argmax", "argmin"):
    row(f"mt.{_name}", lambda lib, x, n=_name, **kw: getattr(lib.m, n)(x, **kw),
        reduction(tuples=False), grad=False)
row("mt.gather", lambda lib, x, d, i: lib.m.gather(x, d, i), gather_args)
row("mt.masked_fill", lambda lib, x, m, v: lib.m.masked_fill(x, m, v), masked_fill_args)
row("mt.narrow", lambda lib, x, d, s, n: lib.m.narrow(x, d, s, n), narrow_args)
row("mt.select", lambda lib, x, d, i: lib.m.select(x, d, i), dim_and_position)
row("mt.unbind", lambda lib, x, d, i: lib.m.unbind(x, d), dim_and_position)
row("mt.t", lambda lib, x: lib.m.t(x), one)
row("mt.neg", lambda lib, x: lib.m.neg(x), one)
row("Tensor.neg", lambda lib, x: x.neg(), one)
row("pos", lambda lib, x: +x, one)
row("xor", lambda lib, x, y: x ^ y, logical, grad=False)
row("rmatmul", lambda lib, s, x: s @ x, reflected)
row("index", lambda lib, x: operator.index(x), one_element, grad=False)
row("Tensor.cpu", lambda lib, x: x.cpu(), one)
row("Tensor.dim", lambda lib, x: x.dim(), one, grad=False)
row("Tensor.numel", lambda lib, x: x.numel(), one, grad=False)
for _name in ("floor_divide_", "fmod_", "remainder_"):
    row(f"Tensor.{_name}", inplace(_name),
        half_operands(inplace_binary) if _name == "floor_divide_" else inplace_binary)


def randperm_args(draw, dtypes):
    kw = {"dtype": DType(draw(st.sampled_from(dtypes)))} if draw(st.booleans()) else {}
    return (draw(st.integers(-1, 6)),), kw  # -1: both refuse


# The order is random: its sorted values (0 .. n-1) and dtype must agree.
row("mt.randperm", lambda lib, n, **kw: lib.m.randperm(n, **kw).sort().values, randperm_args,
    grad=False)


def views(draw, dtypes):
    x = tensor(draw, dtypes)
    return (x, draw(st.sampled_from(["self", "transpose", "step", "expand"]))), {}


def view_of(lib, x, how: str):
    """``x`` itself, transposed, every other entry along dim 0, or broadcast to a new dim."""
    if how == "transpose" and x.ndim:
        return x.transpose(0, -1)
    if how == "step" and x.ndim:
        return x[::2]
    if how == "expand":
        return x.expand(2, *x.shape)
    return x


row("Tensor.is_contiguous", lambda lib, x, how: view_of(lib, x, how).is_contiguous(), views,
    grad=False)

LEGACY_TYPES = ("torch.FloatTensor", "torch.DoubleTensor", "torch.LongTensor", "torch.IntTensor",
                "torch.BoolTensor", "torch.HalfTensor", "torch.ShortTensor", "torch.ByteTensor")


def type_args(draw, dtypes):
    """No argument (the legacy type's name), a dtype, or a legacy type's name."""
    x = tensor(draw, dtypes)
    to = draw(st.sampled_from(["none", "dtype", "name"]))
    if to == "none":
        return (x,), {}
    target = DType(draw(st.sampled_from(DTYPES))) if to == "dtype" else \
        draw(st.sampled_from(LEGACY_TYPES))
    to_float = str(target) in FLOAT_NAMES or str(target) in LEGACY_TYPES[:2] + LEGACY_TYPES[5:6]
    if not to_float and x.array.dtype.kind == "f":
        x = Arr(np.where(np.isfinite(x.array), x.array, 0).astype(x.array.dtype))  # see storable
    return (x, target), {}


row("Tensor.type", lambda lib, x, *t: x.type(*t), type_args)


def layer_norm_args(draw, dtypes):
    """Input (..., *normalized_shape), normalized_shape the trailing 1 to 3 sides as a tuple or
    a list (a wrong one now and then), weight and bias of that shape or None, an eps; values on
    a grid (see ``on_grid``: a constant row's variance is exactly 0 in both)."""
    x = on_grid(tensor(draw, dtypes, shape(draw, min_dims=1)))
    k = draw(st.integers(1, x.array.ndim))
    normalized = x.array.shape[x.array.ndim - k:]
    normalized = _maybe_wrong(draw, normalized)
    # An int (nn.LayerNorm's spelling) now and then: F.layer_norm refuses it, in both.
    spell = draw(st.sampled_from([list, tuple, tuple, lambda sides: sides[-1] if sides else 1]))
    size = spell(normalized)
    params = [tensor(draw, [str(x.array.dtype)], tuple(normalized), specials=False)
              if draw(st.booleans()) else None for _ in range(2)]
    kw = {"eps": draw(st.sampled_from([1e-5, 0.1, 1.0]))} if draw(st.booleans()) else {}
    return (x, size, *params), kw


row("F.layer_norm", lambda lib, x, s, w, b, **kw: lib.F.layer_norm(x, s, w, b, **kw),
    layer_norm_args)


# ------------------------------------------------------------------ cumprod, repeat_interleave(counts)
def cumulative_zeros(draw, dtypes):
    """``cumulative``'s draws (``dtype=`` now and then) with entries zeroed often (none, one,
    several in a slice, at either end): where cumprod's gradient leaves ``out / x``."""
    (x, d), kw = cumulative(draw, dtypes)
    if x.array.size and draw(st.integers(0, 3)):
        mask = np.array(draw(st.lists(st.booleans(), min_size=x.array.size,
                                      max_size=x.array.size))).reshape(x.array.shape)
        x = Arr(np.where(mask, 0, x.array).astype(x.array.dtype))
    return (x, d), kw


row("Tensor.cumprod", lambda lib, x, d, **kw: x.cumprod(d, **kw), cumulative_zeros)
row("mt.cumprod", lambda lib, x, d, **kw: lib.m.cumprod(x, d, **kw), cumulative_zeros)


def repeat_counts(draw, dtypes):
    """A vector of counts alone (int64 or int32 mostly; now and then another dtype, 0-d or 2-d,
    a negative count), with ``output_size`` (right or wrong) now and then."""
    dtype = draw(st.sampled_from(["int64", "int64", "int32", *dtypes]))
    shape_ = draw(st.sampled_from([(draw(st.integers(0, 4)),)] * 6 + [(), (1, 2)]))
    low = -1 if draw(st.integers(0, 9)) == 0 else 0
    counts = Arr(array(draw, dtype, shape_, low=low, high=3))
    kw = {}
    if draw(st.integers(0, 3)) == 0:
        total = int(np.clip(counts.array, 0, None).sum()) if counts.array.dtype.kind in "iu" else 0
        kw["output_size"] = total + draw(st.sampled_from([0, 0, 0, 1]))
    return (counts,), kw


row("mt.repeat_interleave_counts", lambda lib, r, **kw: lib.m.repeat_interleave(r, **kw),
    repeat_counts, grad=False)
