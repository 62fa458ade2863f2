"""Reductions over long axes (10^4 to 2*10^5 elements), in float16 and float32, along every axis.

The table's tensors have at most a few dozen elements, where any summation order is as good as
another. Here one axis (any of them) is long and the others are small, and each op reduces
along any axis, the long one included: ``sum`` and ``mean`` (one dim, a tuple, all), ``softmax``,
``log_softmax``, ``logsumexp``, ``F.cross_entropy`` (classes on dim 1, the long axis being
the batch, the classes or the extra dim), and the sums that broadcasting's backward does
(a bias added to, or a scale multiplying, the long tensor, the output then reduced or not).
Forward values and every gradient are compared with PyTorch within a tolerance derived from
how accurately a cascaded sum adds (see ``Bound``); PyTorch's forward values are held to the
same tolerance against the float64 answer, so a tolerance too tight to be met fails as such.

Only the structure is drawn (op, dtype, sides, axes, a fill: a constant, or uniform values from
a seed); numpy builds the arrays, so an example costs what the ops cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt

# Unit roundoffs: half of the spacing of floats just above 1 (``eps / 2``).
ROUNDOFF = {"float16": 2.0**-11, "float32": 2.0**-24, "float64": 2.0**-53}
# The spacing of the dtype's subnormals: the absolute error of rounding a tiny value.
TINY = {"float16": 2.0**-24, "float32": 2.0**-149}
# PyTorch sums float16 in float32 (``acc_type``), float32 in float32.
ACCUMULATION_ROUNDOFF = 2.0**-24


@dataclass(frozen=True)
class Case:
    op: str
    dtype: str
    shape: tuple[int, ...]
    dim: int | tuple[int, ...] | None
    fill: str            # "constant" or "uniform"
    value: float         # the constant, or the uniform range's low end (the high end: value + width)
    width: float
    seed: int
    variant: str = ""    # an op's own option (reduction, what follows a broadcast, keepdim)

    def __repr__(self) -> str:
        fill = (f"full {self.value!r}" if self.fill == "constant"
                else f"uniform [{self.value!r}, {self.value + self.width!r}) from seed {self.seed}")
        return (f"{self.op}(x: {self.dtype} {self.shape}, {fill}; dim={self.dim!r}"
                + (f", {self.variant}" if self.variant else "") + ")")

    def array(self, shape: tuple[int, ...] | None = None, offset: int = 0) -> np.ndarray:
        shape = self.shape if shape is None else shape
        if self.fill == "constant":
            return np.full(shape, self.value, dtype=self.dtype)
        rng = np.random.default_rng(self.seed + offset)
        return (self.value + self.width * rng.random(shape)).astype(self.dtype)


class Bound:
    """The most two correct implementations may differ by, element by element.

    A cascaded (pairwise) sum of n terms is off by at most ``u * log2(n) * sum|terms|``, a sum
    that adds one term at a time by ``u * n * sum|terms|`` (Higham, "Accuracy and Stability of
    Numerical Algorithms", 4.2), u the accumulator's unit roundoff: float32's for float32 and
    for float16, which PyTorch accumulates in float32 (so a float16 sum is as accurate as a
    float32 one until its result is rounded). PyTorch cascades ``sum``, ``mean``, ``logsumexp``,
    the sums of broadcasting's backward and ``nll_loss``'s sum over samples (measured on these
    inputs: within a third of the cascaded bound; numpy's row-at-a-time sums along a leading
    axis exceed it 100 to 2000 times at 0.1 filled, float16 accumulation stops at 2048). Its
    ``softmax`` and ``log_softmax`` (forward and backward) add along ``dim`` one row at a time
    (in vector lanes along the last dim): up to 120 times the cascaded bound, measured, so for
    them the tolerance is the one-at-a-time bound (``sequential``), which still puts float16
    accumulation 8192 times out. Two implementations each within a bound differ by at most
    twice it. Then each rounds to the output dtype (``rounded``): within a unit roundoff of the
    magnitude of what it rounds (the result, unless the last step cancels: an op passes that
    magnitude), plus the subnormal spacing for tiny values; twice again, and once more for
    each further rounding an op does in the output dtype.
    """

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.bound: np.ndarray | float = 0.0

    def _add(self, amount) -> Bound:
        self.bound = self.bound + np.asarray(amount, dtype=np.float64)
        return self

    def cascaded(self, n: int, magnitude) -> Bound:
        """A sum of n terms whose absolute values add up to ``magnitude`` (for a result whose
        error is relative to a sum of positive terms: the result's magnitude)."""
        return self._add(2 * ACCUMULATION_ROUNDOFF * math.log2(max(n, 2)) * np.asarray(magnitude))

    def reduction(self, shape: tuple[int, ...], axes: tuple[int, ...], magnitude) -> Bound:
        """PyTorch's ``sum`` over ``axes`` of a contiguous tensor: cascaded along the innermost
        run of adjacent reduced axes (sides of 1 do not count), and the rows of any reduced
        axes outside it added one at a time (measured: summing (10^5, 2, 2) over (0, 2) is off
        by 600 times the cascaded bound). Both parts' bounds add."""
        sides = [a for a in range(len(shape)) if shape[a] != 1]
        run = [a for a in sides if a in axes]
        while len(run) > 1 and sides.index(run[0]) != sides.index(run[-1]) - len(run) + 1:
            run = run[1:]
        inner = math.prod(shape[a] for a in run)
        outer = math.prod(shape[a] for a in axes) // inner
        self.cascaded(inner, magnitude)
        return self.sequential(outer, magnitude) if outer > 1 else self

    def sequential(self, n: int, magnitude, roundoff: float = ACCUMULATION_ROUNDOFF) -> Bound:
        return self._add(2 * roundoff * n * np.asarray(magnitude))

    def rounded(self, magnitude, times: int = 1) -> Bound:
        u = ROUNDOFF[self.dtype]
        return self._add(2 * times * (u * np.abs(magnitude) + TINY[self.dtype]))

    def terms_rounded(self, n: int, magnitude, times: int = 1) -> Bound:
        """A sum of n terms each rounded ``times`` times before it is added: their absolute
        values add up to ``magnitude``, and a tiny term is off by up to the subnormal spacing
        (float16's mean over 10^5 elements sends back 1e-5, a subnormal, to each)."""
        u = ROUNDOFF[self.dtype]
        return self._add(2 * times * (u * np.abs(magnitude) + n * TINY[self.dtype]))

    def propagated(self, amount) -> Bound:
        """An error carried in from an input that the two libraries computed differently."""
        return self._add(amount)


@dataclass
class Outputs:
    """What one library computed: the forward result and the gradients, by name."""

    forward: object
    grads: dict


@dataclass(frozen=True)
class LongOp:
    """``draw(draw, dtype, shape)`` picks the dim and options; ``run(lib, case, upstream_seed)``
    computes forward and backward in ``lib`` (float64 for the reference); ``bounds(case,
    reference)`` gives a ``Bound`` for the forward result and for each gradient."""

    name: str
    draw: Callable
    run: Callable
    bounds: Callable


def reduced(shape: tuple[int, ...], dim) -> tuple[tuple[int, ...], int]:
    """The reduced axes (non-negative) and how many elements each output element sums."""
    axes = tuple(range(len(shape))) if dim is None else tuple(
        d % len(shape) for d in ((dim,) if isinstance(dim, int) else dim))
    return axes, math.prod(shape[a] for a in axes)


def tensor(lib, array: np.ndarray, dtype: str | None = None, requires_grad: bool = False):
    array = np.asarray(array, dtype=dtype)  # 0-d results come back from numpy as scalars
    if lib is mt:
        return mt.tensor(array, requires_grad=requires_grad)
    return torch.from_numpy(array.copy()).requires_grad_(requires_grad)


def upstream(case: Case, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The gradient sent back: ones (every term of a backward sum alike) or uniform in [-1, 1)."""
    if case.seed % 2 == 0:
        return np.ones(shape, dtype=dtype)
    return (2 * np.random.default_rng(case.seed + 1).random(shape) - 1).astype(dtype)


def backward(lib, out, case: Case, dtype: str | None) -> None:
    out.backward(tensor(lib, upstream(case, tuple(out.shape), case.dtype), dtype))


def grad_of(t) -> np.ndarray | None:
    if t.grad is None:
        return None
    return t.grad.numpy() if isinstance(t.grad, torch.Tensor) else np.asarray(t.grad.array)


def values(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.array)


# ------------------------------------------------------------------------------ the ops


def draw_one_dim(draw, shape: tuple[int, ...]) -> int:
    """The long axis mostly (where summation order matters), any other now and then; negative
    spellings too."""
    ndim = len(shape)
    d = int(np.argmax(shape)) if draw(st.integers(0, 2)) else draw(st.integers(0, ndim - 1))
    return d - ndim if draw(st.booleans()) else d


def draw_reduce_dim(draw, shape: tuple[int, ...]):
    """One dim, a tuple of them, or None (all)."""
    kind = draw(st.sampled_from(["one", "one", "one", "tuple", "all"]))
    if kind == "all":
        return None
    if kind == "tuple":
        return tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape)))))
    return draw_one_dim(draw, shape)


def sum_like(method: str) -> LongOp:
    def draw_args(draw, dtype, shape):
        return draw_reduce_dim(draw, shape), draw(st.sampled_from(["", "keepdim"]))

    def run(lib, case: Case, dtype: str | None = None) -> Outputs:
        x = tensor(lib, case.array(), dtype, requires_grad=True)
        keepdim = case.variant == "keepdim"
        out = getattr(x, method)() if case.dim is None else getattr(x, method)(case.dim, keepdim=keepdim)
        backward(lib, out, case, dtype)
        return Outputs(out, {"x": grad_of(x)})

    def bounds(case: Case, ref: Outputs) -> dict:
        """mean rounds twice (the sum, then the quotient). Backward spreads the upstream
        gradient unchanged (sum: compared exactly) or divided by n (mean: one rounding)."""
        x = np.abs(case.array().astype(np.float64))
        axes, n = reduced(case.shape, case.dim)
        keepdim = case.variant == "keepdim" and case.dim is not None
        mean = method == "mean"
        magnitude = x.sum(axis=axes, keepdims=keepdim) / (n if mean else 1)
        forward = (Bound(case.dtype).reduction(case.shape, axes, magnitude)
                   .rounded(values(ref.forward), times=1 + mean))
        return {"forward": forward,
                "x": Bound(case.dtype).rounded(ref.grads["x"]) if mean else Bound(case.dtype)}

    return LongOp(method, draw_args, run, bounds)


def one_dim(draw, dtype, shape):
    return draw_one_dim(draw, shape), ""


def run_normalizing(method: str):
    def run(lib, case: Case, dtype: str | None = None) -> Outputs:
        x = tensor(lib, case.array(), dtype, requires_grad=True)
        out = getattr(x, method)(case.dim)
        backward(lib, out, case, dtype)
        return Outputs(out, {"x": grad_of(x)})
    return run


def softmax_of(x: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def softmax_bounds(case: Case, ref: Outputs) -> dict:
    """``exp(x - max) / sum``: the sum's relative error, exp's and the quotient's roundings.
    Backward ``y * (g - s)``, ``s = sum(g * y)``: the sum's error, the forward's difference
    in ``y`` carried through both factors, the difference's and the product's roundings."""
    n = case.shape[case.dim]
    y = values(ref.forward)
    forward = Bound(case.dtype).sequential(n, y).rounded(y, times=2)
    g = upstream(case, case.shape, case.dtype).astype(np.float64)
    s = (g * y).sum(axis=case.dim, keepdims=True)
    gy = np.abs(g * y).sum(axis=case.dim, keepdims=True)
    dy = forward.bound
    grad = (Bound(case.dtype).sequential(n, np.abs(y) * gy)
            .propagated(np.abs(g - s) * dy + np.abs(y) * (np.abs(g) * dy).sum(axis=case.dim, keepdims=True))
            .rounded(np.abs(y) * (np.abs(g) + np.abs(s)), times=2))
    return {"forward": forward, "x": grad}


def log_softmax_bounds(case: Case, ref: Outputs) -> dict:
    """``(x - max) - log(sum)``: log turns the sum's relative error into an absolute one, and
    its rounding too (PyTorch keeps the float16 sum in float16 along the last dim, see
    ``cases``); the log and the difference round. Backward ``g - exp(out) * sum(g)``: the sum's error, the
    forward's difference in ``out`` (relative in ``exp(out)``), and three roundings (exp, the
    product, the difference, which may cancel: relative to both terms)."""
    n = case.shape[case.dim]
    out = values(ref.forward)
    forward = Bound(case.dtype).sequential(n, 1.0).rounded(1.0).rounded(out, times=2)
    p = np.exp(out)
    g = upstream(case, case.shape, case.dtype).astype(np.float64)
    total = g.sum(axis=case.dim, keepdims=True)
    grad = (Bound(case.dtype).sequential(n, p * np.abs(g).sum(axis=case.dim, keepdims=True))
            .propagated(p * np.abs(total) * forward.bound)
            .rounded(np.abs(g) + p * np.abs(total), times=3))
    return {"forward": forward, "x": grad}


def logsumexp_bounds(case: Case, ref: Outputs) -> dict:
    """``max + log(sum)``: the sum's relative error and rounding (PyTorch keeps a float16 sum
    in float16), absolute after the log; log and the sum with ``max`` round (relative to both
    terms: a negative max cancels). Backward ``g * exp(x - out)``: the forward's difference,
    relative, and two roundings."""
    n = case.shape[case.dim]
    x = case.array().astype(np.float64)
    top = x.max(axis=case.dim)
    out = values(ref.forward)
    forward = (Bound(case.dtype).cascaded(n, 1.0).rounded(1.0)
               .rounded(np.abs(top) + np.abs(out - top), times=2))
    grad = ref.grads["x"]
    spread = np.expand_dims(forward.bound, case.dim % x.ndim)
    return {"forward": forward,
            "x": Bound(case.dtype).propagated(np.abs(grad) * spread).rounded(grad, times=2)}


def cross_entropy_shape(draw, dtype, shape):
    """Classes on dim 1 of (N, C) or (N, C, L); the long side is any of them."""
    return 1, draw(st.sampled_from(["mean", "mean", "sum", "none"]))


def targets(case: Case) -> np.ndarray:
    shape = (case.shape[0],) + case.shape[2:]
    return np.random.default_rng(case.seed + 2).integers(0, case.shape[1], shape)


def run_cross_entropy(lib, case: Case, dtype: str | None = None) -> Outputs:
    x = tensor(lib, case.array(), dtype, requires_grad=True)
    out = lib.nn.functional.cross_entropy(x, tensor(lib, targets(case)), reduction=case.variant)
    backward(lib, out, case, dtype)
    return Outputs(out, {"x": grad_of(x)})


def cross_entropy_bounds(case: Case, ref: Outputs) -> dict:
    """``log_softmax`` over the classes (``log_softmax_bounds``), the target's entry negated,
    then summed or averaged over the samples (cascaded; the sum's and the quotient's roundings;
    the samples' own differences added up). Backward ``(exp(logp) - onehot) * w``, ``w`` the
    upstream gradient (over the sample count for mean): the classes' sum has one nonzero
    term, so no sum error; the forward's difference in ``logp`` and three roundings."""
    x = case.array().astype(np.float64)
    classes, samples = case.shape[1], math.prod(case.shape) // case.shape[1]
    logp = x - x.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    per_element = Bound(case.dtype).sequential(classes, 1.0).rounded(1.0).rounded(logp, times=2).bound
    target = targets(case)[:, None]
    loss = -np.take_along_axis(logp, target, axis=1)[:, 0]
    per_sample = np.take_along_axis(np.broadcast_to(per_element, x.shape), target, axis=1)[:, 0]
    g = upstream(case, tuple(ref.forward.shape), case.dtype).astype(np.float64)
    if case.variant == "none":
        forward, w = Bound(case.dtype).propagated(per_sample), np.abs(g)[:, None]
    else:
        scale = 1 / samples if case.variant == "mean" else 1
        # float16 samples are added in float16 (see ``cases``), one at a time.
        forward = (Bound(case.dtype).cascaded(samples, np.abs(loss).sum() * scale)
                   .sequential(samples, np.abs(loss).sum() * scale,
                               roundoff=ROUNDOFF[case.dtype] if case.dtype == "float16" else 0.0)
                   .propagated(per_sample.sum() * scale).rounded(values(ref.forward), times=2))
        w = np.abs(g) * scale
    onehot = np.zeros(x.shape)
    np.put_along_axis(onehot, target, 1.0, axis=1)
    p = np.exp(logp)
    grad = Bound(case.dtype).propagated(p * w * per_element).rounded((p + onehot) * w, times=3)
    return {"forward": forward, "x": grad}


def broadcast_shape(draw, dtype, shape):
    """What the long tensor meets (a bias added, a scale multiplied) and what then reduces the
    output (nothing, sum, mean) before backward."""
    return None, draw(st.sampled_from(["add", "mul"])) + "," + draw(st.sampled_from(["", "sum", "mean"]))


def partner_shape(case: Case) -> tuple[int, ...]:
    """Size 1 along the long axis and some others, leading ones now and then dropped, so that
    backward sums the output's gradient over them."""
    long_axis = int(np.argmax(case.shape))
    rng = np.random.default_rng(case.seed + 3)
    sides = [1 if a == long_axis or rng.random() < 0.3 else n for a, n in enumerate(case.shape)]
    while sides and sides[0] == 1 and rng.random() < 0.5:
        sides = sides[1:]
    return tuple(sides)


def run_broadcast(lib, case: Case, dtype: str | None = None) -> Outputs:
    op, then = case.variant.split(",")
    x = tensor(lib, case.array(), dtype, requires_grad=True)
    other = tensor(lib, case.array(partner_shape(case), offset=4), dtype, requires_grad=True)
    out = x + other if op == "add" else x * other
    out.retain_grad()
    reduced_out = getattr(out, then)() if then else out
    backward(lib, reduced_out, case, dtype)
    return Outputs(out, {"x": grad_of(x), "other": grad_of(other), "out": grad_of(out)})


def broadcast_bounds(case: Case, ref: Outputs) -> dict:
    """One rounding forward. The output's gradient is the upstream one (exact), spread by sum
    (exact) or by mean (divided: one rounding); ``x``'s is that (times ``other`` for mul: one
    more); ``other``'s sums it (times ``x``) over the broadcast sides as PyTorch's ``sum``
    does (``Bound.reduction``), each term within its roundings, the total rounded."""
    op, then = case.variant.split(",")
    shape = partner_shape(case)
    lead = len(case.shape) - len(shape)
    padded = (1,) * lead + shape
    axes = tuple(a for a, (n, m) in enumerate(zip(case.shape, padded)) if m == 1 and (n != 1 or a < lead))
    n = math.prod(case.shape[a] for a in axes)
    terms = np.abs(ref.grads["out"])
    if op == "mul":
        terms = terms * np.abs(case.array().astype(np.float64))
    magnitude = terms.sum(axis=axes).reshape(shape)
    term_roundings = (then == "mean") + (op == "mul")
    out_grad = Bound(case.dtype).rounded(ref.grads["out"]) if then == "mean" else Bound(case.dtype)
    return {"forward": Bound(case.dtype).rounded(values(ref.forward)),
            "out": out_grad,
            "x": Bound(case.dtype).rounded(ref.grads["x"], times=term_roundings) if term_roundings
            else Bound(case.dtype),
            "other": Bound(case.dtype).reduction(case.shape, axes, magnitude)
            .terms_rounded(n, magnitude, term_roundings)
            .rounded(ref.grads["other"])}


OPS = [
    sum_like("sum"),
    sum_like("mean"),
    LongOp("softmax", one_dim, run_normalizing("softmax"), softmax_bounds),
    LongOp("log_softmax", one_dim, run_normalizing("log_softmax"), log_softmax_bounds),
    LongOp("logsumexp", one_dim, run_normalizing("logsumexp"), logsumexp_bounds),
    LongOp("F.cross_entropy", cross_entropy_shape, run_cross_entropy, cross_entropy_bounds),
    LongOp("broadcast", broadcast_shape, run_broadcast, broadcast_bounds),
]


@st.composite
def cases(draw, op: LongOp) -> Case:
    dtype = draw(st.sampled_from(["float16", "float32"]))
    ndim = draw(st.integers(2, 3)) if op.name == "F.cross_entropy" else draw(st.integers(1, 3))
    long_axis = draw(st.integers(0, ndim - 1))
    # Log-uniform long side: 10^4 to 2 * 10^5. The other sides small, at most 4 elements in all.
    # PyTorch 2.13 keeps the sum of exponentials in float16 before the log in float16
    # logsumexp, and in float16 log_softmax along the last dim (cross_entropy's classes of an
    # (N, C) input too), so past 65504 terms of at most 1 it overflows to inf (a PyTorch quirk):
    # there the long side stays below that.
    # PyTorch's float16 nll_loss sums the samples in float16 and counts them in float16 (the
    # mean of 70000 is 0): in float16 cross_entropy, the long side is the classes'.
    if op.name == "F.cross_entropy" and dtype == "float16":
        long_axis = 1
    quirk = dtype == "float16" and (op.name == "logsumexp" or (
        op.name in ("log_softmax", "F.cross_entropy") and long_axis == ndim - 1))
    long_side = int(10 ** draw(st.floats(4, math.log10(6e4 if quirk else 2e5))))
    others = [draw(st.integers(1, 3)) for _ in range(ndim - 1)]
    while math.prod(others) > 4:
        others[others.index(max(others))] -= 1
    shape = tuple(others[:long_axis] + [long_side] + others[long_axis:])
    dim, variant = op.draw(draw, dtype, shape)
    # Constants make every rounding error of a one-at-a-time sum pull the same way; 1 and 0
    # add up exactly (but overflow float16, and make softmax's terms exact).
    fill = draw(st.sampled_from(["constant", "uniform"]))
    if fill == "constant":
        value, width = draw(st.sampled_from([0.1, -0.3, 0.7, 1.0, 0.0])), 0.0
    else:
        value, width = draw(st.sampled_from([(0.0, 1.0), (-1.0, 2.0), (0.5, 1.0), (-3.0, 6.0)]))
    seed = draw(st.integers(0, 2**32 - 1))
    return Case(op.name, dtype, shape, dim, fill, value, width, seed, variant)


def assert_within(actual, expected, bound: Bound, what: str) -> None:
    """``|actual - expected| <= bound`` where ``expected`` is finite; equal (inf, nan) elsewhere."""
    assert (actual is None) == (expected is None), f"{what}: microtensor {actual}, PyTorch {expected}"
    if expected is None:
        return
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, PyTorch {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, PyTorch {expected.dtype}"
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(e)
    assert np.array_equal(a[~finite], e[~finite], equal_nan=True), \
        f"{what}: where PyTorch gives inf or nan, microtensor gives {a[~finite][:5]}"
    error = np.abs(a - e)
    limit = np.broadcast_to(np.asarray(bound.bound, dtype=np.float64), e.shape)
    bad = finite & ~(error <= limit)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {e.size} elements off by more than the tolerance; "
            f"at {i}: {a[i]!r}, expected {e[i]!r} (off by {error[i]:.3g}, tolerance "
            f"{limit[i]:.3g})")


# Each example sums up to 8 * 10^5 numbers in three passes (microtensor, PyTorch, float64),
# about 10 ms each: the profile's examples per op cost a few seconds in all.
@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@given(data=st.data())
def test_long_reductions(op: LongOp, data) -> None:
    case = data.draw(cases(op), label="case")
    theirs = op.run(torch, case)
    reference = op.run(torch, case, "float64")
    bounds = op.bounds(case, reference)
    # The tolerance is one PyTorch meets: its forward result against the float64 answer.
    exact = values(reference.forward).astype(case.dtype)  # overflow to inf as the dtype does
    assert_within(values(theirs.forward), exact, bounds["forward"],
                  f"{case!r}: PyTorch's forward against the float64 answer (the tolerance is too tight)")
    mine = op.run(mt, case)
    assert_within(values(mine.forward), values(theirs.forward), bounds["forward"], f"{case!r}: forward")
    for name, expected in theirs.grads.items():
        assert_within(mine.grads[name], expected, bounds[name], f"{case!r}: gradient of {name}")
