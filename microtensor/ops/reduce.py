"""Reductions and the normalising ops built on them (logsumexp, softmax).

Every ``dim`` goes through ``wrap_dims``/``wrap_dim``: PyTorch's range checks, negative
dims, and 0-d tensors (whose dims 0 and -1 name no numpy axis, so reduce nothing). Every sum
goes through ``cascaded_sum``, and the ops that sum inside compute float16 in float32
(``widened``), rounding once at the end: PyTorch's accuracy (see ``summation.py``).
"""

import numpy as np

from ..autograd import Function
from ..dims import wrap_dims
from ..errors import DtypeError
from ..summation import cascaded_sum, widened


def _keep(grad, dim, keepdim):
    """Put back the reduced axes as size 1, so ``grad`` broadcasts against the input."""
    if keepdim or dim is None:
        return grad
    return np.expand_dims(grad, dim)


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
    ``max()`` sends it the gradient (``nan_shares``) and its ``amax`` a NaN gradient everywhere."""

    def forward(self, x, reduce, dim=None, keepdim=False, nan_shares=False):
        dim = wrap_dims(dim, x.ndim)
        if x.size == 0 and (dim is None or any(x.shape[d] == 0 for d in dim)):
            raise IndexError(f"{reduce.__name__}(): Expected reduction dim to be specified for "
                             "input.numel() == 0" if dim is None else
                             f"{reduce.__name__}(): Expected reduction dim {dim[0]} to have "
                             "non-zero size")
        out = reduce(x, axis=dim, keepdims=True)
        self.save_for_backward(x, out)
        self.dim, self.keepdim, self.nan_shares = dim, keepdim, nan_shares
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, grad):
        x, out = self.saved_tensors
        hit = x == out
        if self.nan_shares:
            hit |= np.isnan(x) & np.isnan(out)
        with np.errstate(invalid="ignore"):
            return _keep(grad, self.dim, self.keepdim) * hit / hit.sum(axis=self.dim, keepdims=True)


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
        self.save_for_backward(x, out)
        self.dim, self.keepdim = dim, keepdim
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, grad):
        x, out = self.saved_tensors
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
        d = np.exp(widened(out))  # grad - softmax * grad.sum(), in one temporary
        d *= -cascaded_sum(grad, self.dim, keepdims=True)
        d += grad
        return d


class NLLLoss(Function):
    """``-x[index]`` summed (``reduction="sum"``) or averaged (``"mean"``): the negative
    log-likelihood of one picked class per row, as one node, as PyTorch's ``nll_loss`` is.
    The picked entries are distinct, so the gradient is written into them, not added."""

    def forward(self, x, index, reduction):
        picked = x[index]
        self.shape, self.index = x.shape, index
        self.scale = 1.0  # "sum"; "mean" of no rows is nan, as PyTorch's
        if reduction == "mean":
            self.scale = 1.0 / picked.size if picked.size else np.nan
        return np.asarray(-cascaded_sum(widened(picked)) * self.scale, dtype=x.dtype)

    def backward(self, grad):
        out = np.zeros(self.shape, grad.dtype)
        out[self.index] = -widened(grad) * self.scale
        return out
