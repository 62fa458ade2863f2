"""Ops that move, select or join elements without arithmetic."""

import numpy as np

from ..autograd import Function, SparseGrad


class Reshape(Function):
    is_view = True

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Permute(Function):
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad):
        return grad.transpose(np.argsort(self.dims))


class Expand(Function):
    """Broadcast to a larger shape (a read-only view); the engine sums the gradient back."""

    is_view = True

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad


def _is_advanced(index) -> bool:
    """Whether numpy indexing with ``index`` copies (integer arrays, masks) instead of viewing."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class Index(Function):
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        self.advanced = _is_advanced(index)
        self.is_view = not self.advanced
        return x[index]

    def backward(self, grad):
        # Not a full-size array: T steps each reading x[t] would cost T full-size
        # zeros and sums. The engine adds these values into one buffer instead.
        return SparseGrad(self.shape, self.index, grad, self.advanced)


class Gather(Function):
    """PyTorch's ``gather``: ``out[..., j, ...] = x[..., index[..., j, ...], ...]`` along ``dim``."""

    def forward(self, x, index, dim):
        dim = dim % x.ndim
        if index.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(index.shape, x.shape))
                                       if d != dim):
            raise ValueError(f"gather: index of shape {index.shape} does not fit input of shape "
                             f"{x.shape} along dims other than {dim}")
        self.shape, self.index, self.dim = x.shape, index, dim
        # The output has the index's shape, as torch.gather: cut the other dims down to it.
        window = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))
        return np.take_along_axis(x[window], index, axis=dim)

    def backward(self, grad):
        full = np.zeros(self.shape, dtype=grad.dtype)
        where = list(np.ix_(*(np.arange(n) for n in self.index.shape)))
        where[self.dim] = self.index
        np.add.at(full, tuple(where), grad)
        return full


class SetItem(Function):
    """``x[index] = value`` as a new tensor (the differentiable form of ``__setitem__``)."""

    def forward(self, x, value, index):
        self.index = index
        out = x.copy()
        out[index] = value
        return out

    def backward(self, grad):
        grad_x = grad.copy()
        grad_x[self.index] = 0
        return grad_x, grad[self.index]


class Cat(Function):
    def forward(self, *xs, dim=0):
        self.dim = dim
        self.ends = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    def backward(self, grad):
        return np.split(grad, self.ends, axis=self.dim)


class Stack(Function):
    def forward(self, *xs, dim=0):
        self.dim = dim
        return np.stack(xs, axis=dim)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.dim, 0))
