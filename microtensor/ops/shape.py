"""Ops that move, select or join elements without arithmetic."""

import functools

import numpy as np

from ..autograd import Function
from ..dims import broadcasts_to, wrap_dim
from ..errors import ShapeError
from ..lazy import OuterGrad, SparseGrad


class Reshape(Function):
    """A new shape for the same elements: a view when the memory layout allows it, else a
    copy (``reshape``); with ``view=True`` a copy is an error instead (``view``), as PyTorch."""

    def forward(self, x, shape, view=False):
        self.shape = x.shape
        try:
            out = np.reshape(x, shape, copy=False if view else None)
        except ValueError as err:
            if not view or "copy" not in str(err):
                raise
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{x.shape} cannot be viewed as {shape} without a copy); use .reshape(...) "
                "instead") from None
        # numpy's view names the array that owns the memory as its base; an empty tensor's
        # reshape is a view too, as in PyTorch, though it shares no bytes.
        self.is_view = out.base is not None and (out.base is x or out.base is x.base)
        return out

    def backward(self, grad):
        return grad.reshape(self.shape)


@functools.lru_cache(maxsize=64)  # a layer transposes the same few shapes at every step
def _is_permutation(dims: tuple, ndim: int) -> bool:
    return sorted(dims) == list(range(ndim))


class Permute(Function):
    is_view = True
    # ``W.T`` in ``x @ W.T`` receives an OuterGrad and hands its transpose on to ``W``, which
    # then sums those of every step in one matmul.
    passes_lazy = (OuterGrad,)

    def forward(self, x, dims):
        if not _is_permutation(dims, x.ndim):  # else: negative dims, or not a permutation
            if len(dims) != x.ndim:
                raise RuntimeError(f"permute: number of dims ({len(dims)}) does not match the "
                                   f"tensor's ({x.ndim})")
            dims = tuple(wrap_dim(d, x.ndim) for d in dims)
            if sorted(dims) != list(range(x.ndim)):
                raise RuntimeError(f"permute: dims {dims} are not a permutation of {x.ndim} dims")
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad):
        if type(grad) is OuterGrad:  # 2-D, so dims are (1, 0) or (0, 1)
            return grad.transpose() if self.dims == (1, 0) else grad
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
    if type(index) is int or type(index) is slice:
        return False
    return np.ndarray in map(type, index if type(index) is tuple else (index,))


class Index(Function):
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        self.advanced = _is_advanced(index)
        self.is_view = not self.advanced
        out = x[index]
        if type(out) is not np.ndarray:  # x[0] of a vector: a 0-d view, not numpy's scalar copy
            out = x[(*index, ...) if type(index) is tuple else (index, ...)]
        return out

    def backward(self, grad):
        # Not a full-size array: T steps each reading x[t] would cost T full-size
        # zeros and sums. The engine adds these values into one buffer instead.
        return SparseGrad(self.shape, self.index, grad, self.advanced)


class Gather(Function):
    """PyTorch's ``gather``: ``out[..., j, ...] = x[..., index[..., j, ...], ...]`` along ``dim``."""

    def forward(self, x, index, dim):
        dim = wrap_dim(dim, x.ndim)
        if index.size and (index.min() < 0 or index.max() >= max(x.shape[dim] if x.ndim else 1, 1)):
            bad = index.min() if index.min() < 0 else index.max()
            raise IndexError(f"gather: index {bad} is out of bounds for dimension {dim} with "
                             f"size {x.shape[dim] if x.ndim else 1}")
        if index.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(index.shape, x.shape))
                                       if d != dim):
            raise ShapeError(f"gather: index of shape {index.shape} does not fit input of shape "
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
        self.index, self.value_shape = index, np.shape(value)
        out = x.copy()
        target = out[index]
        extra = np.ndim(value) - np.ndim(target)
        if extra > 0 and np.shape(value)[:extra] == (1,) * extra:
            value = np.reshape(value, np.shape(value)[extra:])  # leading 1s drop, as PyTorch
        if not broadcasts_to(np.shape(value), target.shape):  # numpy lets empty shapes through
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(value))} cannot "
                               f"be broadcast to indexing result of shape {list(target.shape)}")
        out[index] = value
        return out

    def backward(self, grad):
        grad_x = grad.copy()
        grad_x[self.index] = 0
        grad_value = np.asarray(grad[self.index])
        extra = len(self.value_shape) - grad_value.ndim
        if extra > 0:  # the leading 1s forward dropped
            grad_value = grad_value.reshape((1,) * extra + grad_value.shape)
        return grad_x, grad_value


class Cat(Function):
    promote = "common"

    def forward(self, *xs, dim=0):
        self.dim = dim = wrap_dim(dim, xs[0].ndim)
        self.ends = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    def backward(self, grad):
        return np.split(grad, self.ends, axis=self.dim)


class Stack(Function):
    promote = "common"

    def forward(self, *xs, dim=0):
        self.dim = dim = wrap_dim(dim, xs[0].ndim + 1)
        return np.stack(xs, axis=dim)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.dim, 0))
