"""Reductions and the normalising ops built on them (logsumexp, softmax).

Every ``dim`` goes through ``wrap_dims``/``wrap_dim``: PyTorch's range checks, negative
dims, and 0-d tensors (whose dims 0 and -1 name no numpy axis, so reduce nothing). Every sum
goes through ``cascaded_sum``, and the ops that sum inside compute float16 in float32
(``widened``), rounding once at the end: PyTorch's accuracy (see ``summation.py``).
"""

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..dims import wrap_dim, wrap_dims
from ..errors import DtypeError, ShapeError
from ..lazy import SparseGrad
from ..summation import cascaded_sum, widened


def _keep(grad, dim, keepdim):
    """Put back the reduced axes as size 1, so ``grad`` broadcasts against the input."""
    if keepdim or dim is None:
        return grad
    return np.expand_dims(grad, dim)


def _count(mask, dim):
    """How many entries of ``mask`` are set along ``dim`` (kept as size 1): an array, also for a
    mask tensor of a recorded pass (numpy's ufunc method on it; a mask is a constant there)."""
    return np.add.reduce(mask, axis=dim, keepdims=True)


def _as_dtype(x, dtype):
    """``x`` in ``dtype`` (itself if it is): ``np.astype``, which a tensor answers too."""
    return x if x.dtype == dtype else np.astype(x, dtype)


def _refuse_integers(op, x):
    if x.dtype.kind not in "fc":
        raise DtypeError(f"{op} needs a floating point tensor, got dtype {x.dtype}; "
                        "convert it with .float() or .to(dtype)")


class Sum(Function):
    def forward(self, x, dim=None, keepdim=False, dtype=None):
        dim = wrap_dims(dim, x.ndim)
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        if dtype is None and x.dtype.kind not in "fc":
            dtype = np.int64  # as PyTorch: integers and bools sum to int64
        return cascaded_sum(x, dim, keepdim, dtype)

    def backward(self, grad):
        return np.broadcast_to(_keep(grad, self.dim, self.keepdim), self.shape)


class Extremum(Function):
    """``max``/``min`` over ``dim``; ties share the gradient evenly. Where a NaN wins, PyTorch's
    ``max()`` sends it the gradient (``nan_shares``) and its ``amax`` a NaN gradient everywhere;
    a NaN upstream gradient reaches only the winners in ``max()``, every entry in ``amax``."""

    def forward(self, x, reduce, dim=None, keepdim=False, nan_shares=False):
        dim = wrap_dims(dim, x.ndim)
        if x.size == 0 and (dim is None or any(x.shape[d] == 0 for d in dim)):
            raise IndexError(f"{reduce.__name__}(): Expected reduction dim to be specified for "
                             "input.numel() == 0" if dim is None else
                             f"{reduce.__name__}(): Expected reduction dim {dim[0]} to have "
                             "non-zero size")
        out = reduce(x, axis=dim, keepdims=True)
        out = out if keepdim else np.squeeze(out, axis=dim)
        self.save_for_backward(x, out)  # the output itself: a recorded backward joins it
        self.dim, self.keepdim, self.nan_shares = dim, keepdim, nan_shares
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        out = _keep(out, self.dim, self.keepdim)
        hit = x == out
        if self.nan_shares:
            hit |= np.isnan(x) & np.isnan(out)
        with np.errstate(invalid="ignore"):
            share = _keep(grad, self.dim, self.keepdim) / _count(hit, self.dim)
        if self.nan_shares:  # PyTorch's max() fills the hits: a nan share reaches no other entry
            return np.where(hit, share, 0)
        return share * hit  # amax's: share times the mask, so a nan share is nan everywhere


class LogSumExp(Function):
    promote = "float"

    def forward(self, x, dim, keepdim=False):
        dim = wrap_dims(dim, x.ndim)
        # initial=-inf: an empty reduction is log(0) = -inf, as PyTorch, not an error.
        wide = widened(x)
        shift = np.max(wide, axis=dim, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(shift), shift, 0)  # rows of -inf stay -inf, not nan
        with np.errstate(divide="ignore"):
            out = np.log(cascaded_sum(np.exp(wide - shift), dim, keepdims=True)) + shift
        out = out.astype(x.dtype, copy=False)
        out = out if keepdim else np.squeeze(out, axis=dim)
        self.save_for_backward(x, out)
        self.dim, self.keepdim = dim, keepdim
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        out = _keep(out, self.dim, self.keepdim)
        return _keep(grad, self.dim, self.keepdim) * np.exp(widened(x) - out)


class Softmax(Function):
    def forward(self, x, dim):
        self.dim = dim = wrap_dims(dim, x.ndim)
        _refuse_integers("softmax", x)
        wide = widened(x)
        e = np.exp(wide - np.max(wide, axis=dim, keepdims=True, initial=-np.inf))
        out = (e / cascaded_sum(e, dim, keepdims=True)).astype(x.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        out, grad = widened(out), widened(grad)
        return out * (grad - cascaded_sum(grad * out, self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim):
        self.dim = dim = wrap_dims(dim, x.ndim)
        _refuse_integers("log_softmax", x)
        wide = widened(x)
        shifted = wide - np.max(wide, axis=dim, keepdims=True, initial=-np.inf)
        out = shifted - np.log(cascaded_sum(np.exp(shifted), dim, keepdims=True))
        out = out.astype(x.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        grad = widened(grad)
        # grad - softmax * grad.sum(), in one temporary: numpy multiplies into exp's (for large
        # arrays), and the sum adds in place. Not exp's result itself in place: exp keeps it
        # for its own gradient in a recorded pass.
        d = np.exp(widened(out)) * -cascaded_sum(grad, self.dim, keepdims=True)
        d += grad
        return d


class NLLLoss(Function):
    """``-x[index]`` summed (``reduction="sum"``) or averaged (``"mean"``): the negative
    log-likelihood of one picked class per row, as one node, as PyTorch's ``nll_loss`` is.
    The picked entries are distinct, so the gradient is written into them, not added: a
    ``SparseGrad``, which a recorded pass makes an op of its own (``Embed``)."""

    def forward(self, x, index, reduction):
        picked = x[index]
        self.shape, self.index = x.shape, index
        self.scale = 1.0  # "sum"; "mean" of no rows is nan, as PyTorch's
        if reduction == "mean":
            self.scale = 1.0 / picked.size if picked.size else np.nan
        return np.asarray(-cascaded_sum(widened(picked)) * self.scale, dtype=x.dtype)

    def backward(self, grad):
        return SparseGrad(self.shape, self.index, -widened(grad) * self.scale, advanced=False)


# ------------------------------------------------- prod, cumsum, var/std, vector norm
def _int64_unless_float(x: np.ndarray) -> np.ndarray:
    """As PyTorch's prod and cumsum without ``dtype=``: integers and bools compute in int64."""
    return x if x.dtype.kind in "fc" else x.astype(np.int64)


def _exclusive_products(x: np.ndarray, axis: int) -> np.ndarray:
    """The product of every entry along ``axis`` but each one, from a product of the entries
    before it and one of those after it (no division, so zeros are no trouble): PyTorch's
    ``prod_safe_zeros_backward``, which also decides where an inf times a zero is nan."""
    lead, n = (slice(None),) * axis, x.shape[axis]
    ones = np.ones_like(x[(*lead, slice(0, 1))])
    before = np.cumprod(np.concatenate([ones, x[(*lead, slice(0, n - 1))]], axis), axis)
    after = np.flip(np.cumprod(np.concatenate(
        [ones, np.flip(x[(*lead, slice(1, n))], axis)], axis), axis), axis)
    return before * after


class Prod(Function):
    """The product over one dim or all. Its gradient is ``out / x`` while no entry is zero,
    else (as PyTorch) the product of the others, computed without dividing; over all entries,
    two zeros or more make it zero everywhere, as PyTorch's shortcut does (not while grad mode
    is on, in a recorded pass: the gradient's own gradient is not zero there)."""

    def forward(self, x, dim=None, keepdim=False, keep_dtype=False):
        x = x if keep_dtype else _int64_unless_float(x)
        self.dim = None if dim is None else wrap_dims(dim, x.ndim)
        axis = self.dim or None if x.ndim else ()
        out = np.asarray(np.prod(widened(x), axis=axis, keepdims=True)).astype(x.dtype)
        out = out if keepdim or axis == () else np.squeeze(out, axis=axis)
        self.save_for_backward(x, out)
        self.keepdim = keepdim
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        if x.ndim == 0:
            return grad
        grad = _keep(grad, self.dim, self.keepdim)
        zeros = int(np.count_nonzero(x == 0))
        if zeros == 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                return grad * (_keep(out, self.dim, self.keepdim) / x)
        if self.dim is None:
            if zeros > 1 and not is_grad_enabled():
                return np.zeros_like(x)
            return grad * _exclusive_products(x.reshape(-1), 0).reshape(x.shape)
        with np.errstate(invalid="ignore"):
            return grad * _exclusive_products(x, self.dim[0])


def _accumulated(x: np.ndarray) -> np.ndarray:
    """``x`` in the dtype PyTorch's CPU kernels run a scan in (``acc_type``): float16 as float32,
    float32 as float64; so ``[1e30, 1e30, 1e-30]``'s running product in float32 ends at 1e30, not
    at inf, as PyTorch's."""
    return np.astype(x, np.float64) if x.dtype == np.float32 else widened(x)


def _reversed_cumsum(x: np.ndarray, axis: int) -> np.ndarray:
    """The running sums from the far end of ``axis`` (accumulated as PyTorch's cumsum)."""
    return _as_dtype(np.flip(np.cumsum(_accumulated(np.flip(x, axis)), axis), axis), x.dtype)


class CumSum(Function):
    """Running sums along ``dim`` (integers and bools in int64; float16 summed in float32 and
    float32 in float64, as PyTorch's CPU kernel);
    the gradient is the running sum of the gradient from the other end."""

    def forward(self, x, dim, dtype=None):
        (self.dim,) = wrap_dims(dim, x.ndim) or (None,)
        self.in_dtype = x.dtype
        if dtype == np.bool_ and x.ndim and x.size:  # as PyTorch's kernel
            raise DtypeError("cumsum is not implemented for bool tensors")
        # dtype= casts here, not before: the gradient then runs back in the input's dtype
        # (a float64 input's stays float64 with dtype=float32), as PyTorch's.
        x = _int64_unless_float(x) if dtype is None else x.astype(dtype)
        if self.dim is None:  # a 0-d tensor: its one entry
            return x.copy()
        with np.errstate(over="ignore"):  # a float32 sum past float32's range is inf, silently
            return np.cumsum(_accumulated(x), axis=self.dim).astype(x.dtype, copy=False)

    def backward(self, grad):
        grad = _as_dtype(grad, self.in_dtype)
        return grad if self.dim is None else _reversed_cumsum(grad, self.dim)


class CumProd(Function):
    """Running products along ``dim`` (integers and bools in int64, as PyTorch's). The gradient
    is PyTorch's ``cumprod_backward``: ``reversed_cumsum(out * grad) / x`` where no entry is
    zero; else, along each slice, that formula before the first zero, zero after it, and at the
    first zero the product of the entries before it times ``sum(grad[j] * prod(x[z1+1 .. j]))``
    over ``j`` from the first zero to the second, all without dividing by a zero. That is not
    differentiable again where a zero is, so while grad mode is on (a recorded pass) the
    gradient at each ``k`` is ``sum(grad[j] * prod(x[l] for l <= j, l != k))`` over ``j >= k``,
    PyTorch's O(n^2) formula for its double backward."""

    def forward(self, x, dim, dtype=None):
        self.dim = wrap_dim(dim, x.ndim)
        self.in_dtype = x.dtype
        if dtype == np.bool_ and x.ndim and x.size:  # as PyTorch's kernel
            raise DtypeError("cumprod is not implemented for bool tensors")
        # dtype= casts here; the gradient runs back in the input's dtype, from the input as it
        # was (PyTorch's cumprod_backward(grad.to(self's dtype), self, dim, result)).
        cast = _int64_unless_float(x) if dtype is None else x.astype(dtype)
        if x.ndim == 0:  # its one entry
            out = cast.copy()
        else:  # silent on overflow and inf * 0, as PyTorch
            with np.errstate(over="ignore", invalid="ignore"):
                out = np.cumprod(_accumulated(cast), axis=self.dim).astype(cast.dtype, copy=False)
        self.save_for_backward(x, out)
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        grad = _as_dtype(grad, self.in_dtype)
        if np.size(x) <= 1 or x.shape[self.dim] == 1:  # PyTorch's shortcut: no 0 / 0 at a zero
            return grad
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf and nan: as PyTorch
            return _as_dtype(self._input_grad(x, out, grad), self.in_dtype)

    def _input_grad(self, x, out, grad):
        axis, w = self.dim, out * grad
        zero = x == 0
        if not zero.any():
            return _reversed_cumsum(w, axis) / x
        if is_grad_enabled():
            return self._differentiable_grad(x, grad)
        zeros_so_far = np.cumsum(zero, axis)
        before = zeros_so_far == 0  # the entries before the slice's first zero
        result = np.where(before, _reversed_cumsum(np.where(before, w, 0), axis) / x, 0)
        first = zero & (zeros_so_far == 1)
        after_first = (zeros_so_far == 1) & ~zero  # strictly between the first zero and the second
        products = np.cumprod(_accumulated(np.where(after_first, x, 1)), axis).astype(x.dtype)
        owed = cascaded_sum(products * np.where(zeros_so_far == 1, grad, 0), axis, keepdims=True)
        # out shifted one along axis (1 in front): at the first zero, the product before it
        ones = np.ones_like(np.take(out, [0], axis=axis))
        prefix = np.concatenate([ones, np.delete(out, -1, axis=axis)], axis)
        return np.where(first, owed * prefix, result)

    def _differentiable_grad(self, x, grad):
        lead, n = (slice(None),) * self.dim, x.shape[self.dim]
        axis = self.dim
        parts = []
        for k in range(n):
            # omitted[j] = prod(x[l] for l <= j, l != k), for j >= k: the product before k
            # (of x, as PyTorch's: not out, which dtype= may have rounded and whose gradient
            # would meet the entries after k), times the running product of those after k
            omitted = (np.prod(x[(*lead, slice(0, k))], axis=axis, keepdims=True) if k
                       else np.ones_like(x[(*lead, slice(0, 1))]))
            if k < n - 1:
                after = np.cumprod(x[(*lead, slice(k + 1, n))], axis)
                omitted = np.concatenate([omitted, omitted * after], axis)
            parts.append(np.sum(grad[(*lead, slice(k, n))] * omitted, axis=axis, keepdims=True))
        return np.concatenate(parts, axis)


class Var(Function):
    """Variance over ``dim`` with PyTorch's ``correction`` (the sum of squared deviations over
    ``max(0, n - correction)``), or its square root (``root``). Both sums are cascaded and
    float16 is computed in float32, rounded once. The standard deviation's gradient is zero
    where it is zero (a constant input), as PyTorch's, not ``0 / 0``."""

    def forward(self, x, dim=None, correction=1, keepdim=False, root=False):
        if x.dtype.kind not in "fc":
            raise DtypeError("std and var only support floating point and complex dtypes")
        self.dim = axis = wrap_dims(dim, x.ndim)
        wide = widened(x)
        n = wide.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        if wide.size:  # shifted by a first entry: a constant input deviates by exactly 0, as
            # PyTorch's (Welford's) does, so std's gradient there is its 0, not a rounding's
            first = wide[tuple(slice(0, 1) if axis is None or a in axis else slice(None)
                               for a in range(wide.ndim))]
            wide = wide - np.where(np.isfinite(first), first, 0)  # inf - inf would hide an inf
        with np.errstate(invalid="ignore", divide="ignore"):
            deviation = wide - cascaded_sum(wide, axis, keepdims=True) / n
            out = cascaded_sum(deviation * deviation, axis, keepdims=True) / max(0, n - correction)
            if root:
                out = np.sqrt(out)
        out = out.astype(x.dtype, copy=False)
        self.kept = out.shape  # keepdim's: the gradient's shape, as it broadcasts against x
        out = out if keepdim else out.reshape(np.squeeze(out, axis=axis).shape)
        self.save_for_backward(x, out)  # the deviation is recomputed: a recorded pass reaches x
        if n - correction <= 0 and not self.dim:  # backward's nan-or-inf, as PyTorch decides it
            with np.errstate(invalid="ignore"):
                self.at_mean = widened(x) == np.mean(widened(x))
        self.n, self.correction, self.root = n, correction, root
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        out, grad = out.reshape(self.kept), widened(grad).reshape(self.kept)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.root:  # d sqrt(v) = dv / (2 sqrt(v)), taken as 0 where sqrt(v) is 0
                grad = np.where(out == 0, 0, grad / (2 * widened(out)))
            dof = self.n - self.correction
            if dof <= 0 and not self.dim:  # PyTorch's: 2/0 times 0 is nan, times more inf
                return grad * np.where(self.at_mean, np.nan, np.inf)
            wide = widened(x)  # PyTorch's var_backward: 2 / dof * grad * (x - x.mean(dim))
            deviation = wide - cascaded_sum(wide, self.dim, keepdims=True) / self.n
            return np.divide(2.0, dof) * grad * deviation


class VectorNorm(Function):
    """``sum(|x|**p) ** (1/p)`` over ``dim``, with its limits (``p`` = inf, -inf: the largest or
    smallest magnitude; 0: the count of nonzero entries). The gradient is PyTorch's at zero:
    0 where the norm is 0 (p >= 1) or where an entry is 0 (p < 1), not ``0 / 0``."""

    def forward(self, x, ord=2.0, dim=None, keepdim=False):  # noqa: A002 - PyTorch's name
        self.dim = wrap_dims(dim, x.ndim)
        reduced = x.size == 0 and (self.dim is None or any(x.shape[d] == 0 for d in self.dim))
        if reduced and (ord < 0 or np.isinf(ord)):
            raise ShapeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty "
                             "tensor because the operation does not have an identity")
        magnitude = np.abs(widened(x))
        axis = self.dim
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if ord == np.inf:
                out = np.max(magnitude, axis=axis, keepdims=True)
            elif ord == -np.inf:
                out = np.min(magnitude, axis=axis, keepdims=True)
            elif ord == 0:
                out = cascaded_sum((magnitude != 0).astype(magnitude.dtype), axis, keepdims=True)
            elif ord == 1:
                out = cascaded_sum(magnitude, axis, keepdims=True)
            elif ord == 2:
                out = np.sqrt(cascaded_sum(magnitude * magnitude, axis, keepdims=True))
            else:
                out = cascaded_sum(magnitude ** ord, axis, keepdims=True) ** (1.0 / ord)
        out = np.asarray(out).astype(x.dtype, copy=False)
        self.kept = out.shape  # keepdim's: the gradient's shape, as it broadcasts against x
        if not keepdim:
            out = out.reshape(np.squeeze(out, axis=axis).shape) if axis else out.reshape(())
        self.save_for_backward(x, out)  # the output itself: a recorded backward joins it
        self.ord = ord
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        x, out, p = widened(x), widened(out).reshape(self.kept), self.ord
        grad = widened(grad).reshape(self.kept)
        sign = np.where(np.isnan(x), 0, np.sign(x))  # PyTorch's sgn: 0 for nan
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 0:
                return np.zeros_like(x)
            if p == 1:
                return sign * grad
            if np.isinf(p):  # ties share it; a nan entry takes its share too
                hit = (np.abs(x) == out) | np.isnan(x)
                return sign * (grad / _count(hit, self.dim)) * hit
            if p == 2:
                return grad * np.where(out == 0, 0, x / out)
            if p < 1:
                scaled = np.where(x == 0, 0, sign * np.abs(x) ** (p - 1))
                return scaled * grad * out ** (1 - p)
            zero = out == 0  # divided off zero: the branch where() drops must stay finite
            scale = np.where(zero, 0, grad / np.where(zero, 1, out) ** (p - 1))
            if p < 2:  # |x|**(p - 2) is inf at 0 here; PyTorch's order keeps it finite
                return sign * np.abs(x) ** (p - 1) * scale
            return x * np.abs(x) ** (p - 2) * scale
