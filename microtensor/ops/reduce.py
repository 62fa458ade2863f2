"""Reductions and the normalising ops built on them (logsumexp, softmax)."""

import numpy as np

from ..autograd import Function


def _keep(grad, dim, keepdim):
    """Put back the reduced axes as size 1, so ``grad`` broadcasts against the input."""
    if keepdim or dim is None:
        return grad
    return np.expand_dims(grad, dim)


class Sum(Function):
    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        return x.sum(axis=dim, keepdims=keepdim)

    def backward(self, grad):
        return np.broadcast_to(_keep(grad, self.dim, self.keepdim), self.shape)


class Extremum(Function):
    """``max``/``min`` over ``dim``; ties share the gradient evenly (as PyTorch's amax)."""

    def forward(self, x, reduce, dim=None, keepdim=False):
        out = reduce(x, axis=dim, keepdims=True)
        self.save_for_backward(x, out)
        self.dim, self.keepdim = dim, keepdim
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, grad):
        x, out = self.saved_tensors
        hit = x == out
        return _keep(grad, self.dim, self.keepdim) * hit / hit.sum(axis=self.dim, keepdims=True)


class LogSumExp(Function):
    def forward(self, x, dim=None, keepdim=False):
        shift = np.max(x, axis=dim, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0)  # rows of -inf stay -inf, not nan
        out = np.log(np.exp(x - shift).sum(axis=dim, keepdims=True)) + shift
        self.save_for_backward(x, out)
        self.dim, self.keepdim = dim, keepdim
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, grad):
        x, out = self.saved_tensors
        return _keep(grad, self.dim, self.keepdim) * np.exp(x - out)


class Softmax(Function):
    def forward(self, x, dim):
        e = np.exp(x - np.max(x, axis=dim, keepdims=True))
        out = e / e.sum(axis=dim, keepdims=True)
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return out * (grad - (grad * out).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim):
        shifted = x - np.max(x, axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad - np.exp(out) * grad.sum(axis=self.dim, keepdims=True)
