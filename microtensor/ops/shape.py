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
        return np.transpose(grad, np.argsort(self.dims))


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


class Embed(Function):
    """``values`` placed at ``index`` in zeros of ``shape`` (added up where an advanced index
    repeats a place): what ``Index`` sends back, as an op of its own when the backward pass is
    recorded (``create_graph``). Its own gradient reads the index again."""

    def forward(self, values, shape, index, advanced):
        self.index = index
        out = np.zeros(shape, values.dtype)
        if advanced:
            np.add.at(out, index, values)
        else:
            out[index] = values
        return out

    def backward(self, grad):
        return grad[self.index]


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
        # Added up into zeros by the engine (an Embed when recorded), as Index's gradient.
        return SparseGrad(self.shape, _along(self.index, self.dim), grad, True)


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
        # numpy reads one element as a scalar: with a trailing ellipsis, a 0-d array (or tensor).
        self.read = index if type(target) is np.ndarray else (
            (*index, ...) if type(index) is tuple else (index, ...))
        return out

    def backward(self, grad):
        grad_x = np.copy(grad)
        grad_x[self.index] = 0
        grad_value = grad[self.read]
        extra = len(self.value_shape) - grad_value.ndim
        if extra > 0:  # the leading 1s forward dropped
            grad_value = grad_value.reshape((1,) * extra + grad_value.shape)
        return grad_x, grad_value


class Cat(Function):
    promote = "common"

    def forward(self, *xs, dim=0):
        # PyTorch's legacy rule: a 1-D empty tensor among tensors of other shapes is skipped
        # (``cat([tensor([]), x])``); it still counts in the result's dtype.
        self.skipped = [x.shape == (0,) for x in xs]
        if all(self.skipped):  # nothing but legacy empties: PyTorch checks no dim either
            self.dim, self.ends, self.skipped = 0, np.zeros(len(xs) - 1, int), None
            return np.concatenate(xs)
        if not any(self.skipped):
            self.skipped = None
        else:
            xs = [x for x, skip in zip(xs, self.skipped) if not skip]
        self.dim = dim = wrap_dim(dim, xs[0].ndim)
        self.ends = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    def backward(self, grad):
        pieces = np.split(grad, self.ends, axis=self.dim)
        if self.skipped is None:
            return pieces
        kept = iter(pieces)
        return [np.zeros(0, grad.dtype) if skip else next(kept) for skip in self.skipped]


class Stack(Function):
    promote = "common"

    def forward(self, *xs, dim=0):
        self.dim = dim = wrap_dim(dim, xs[0].ndim + 1)
        return np.stack(xs, axis=dim)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.dim, 0))


# --- sorting and indexing ops with their own gradient (flip, roll, scatter, index_add) ---
def _as_dims(dims, ndim: int, op: str) -> tuple[int, ...]:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    wrapped = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"{op}: dims has duplicates, original flip dims size={len(dims)}, "
                           f"but unique flip dims size={len(set(wrapped))}")
    return wrapped


class Flip(Function):
    """The order of the entries reversed along ``dims``: a copy, as PyTorch's ``flip`` (numpy's
    negative-stride view would alias memory that the engine treats as the output's own)."""

    def forward(self, x, dims):
        dims = _as_dims(dims, x.ndim, "flip")
        self.dims = dims if x.ndim else ()
        return np.flip(x, self.dims).copy()

    def backward(self, grad):
        return np.flip(grad, self.dims)


class Roll(Function):
    """Entries shifted cyclically by ``shifts`` along ``dims`` (the flattened tensor when
    ``dims`` is None, the shape kept)."""

    def forward(self, x, shifts, dims):
        if not shifts:
            raise RuntimeError("roll: `shifts` required")
        if not dims:  # None or (): the flattened tensor, as PyTorch
            if len(shifts) != 1:
                raise RuntimeError(f"roll: shifts and dimensions must align. shifts: "
                                   f"{len(shifts)}, dims: 0")
            self.shifts, self.dims = shifts[0], None
        else:
            if len(shifts) != len(dims):
                raise RuntimeError(f"roll: shifts and dimensions must align. shifts: "
                                   f"{len(shifts)}, dims: {len(dims)}")
            self.shifts = shifts
            if not x.size:  # PyTorch returns an empty tensor before it checks the dims
                self.shifts, self.dims = 0, None
                return x.copy()
            self.dims = tuple(wrap_dim(d, x.ndim) for d in dims) if x.ndim else dims
        if not x.ndim:
            if self.dims:
                raise IndexError(f"roll: Dimension specified as {self.dims[0]} but tensor has "
                                 "no dimensions")
            return x.copy()
        return np.roll(x, self.shifts, axis=self.dims)

    def backward(self, grad):
        if not grad.ndim:
            return grad
        back = -self.shifts if self.dims is None else tuple(-s for s in self.shifts)
        return np.roll(grad, back, axis=self.dims)


def _along(index: np.ndarray, dim: int) -> tuple:
    """The coordinates ``index`` addresses along ``dim`` (its own position elsewhere), as
    scatter and gather read them: numpy's index arrays, broadcast against each other."""
    where = list(np.ix_(*(np.arange(n) for n in index.shape)))
    where[dim] = index
    return tuple(where)


def _check_scatter(op: str, x, index, src, dim: int) -> None:
    """PyTorch's checks of ``scatter``'s index: its dims, its sizes, its bounds."""
    if index.ndim != x.ndim:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"self tensor")
    if src is not None and np.ndim(src) != x.ndim:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"src tensor")
    if not index.size:
        return
    if any(i > n for d, (i, n) in enumerate(zip(index.shape, x.shape)) if d != dim) or (
            src is not None and any(i > n for i, n in zip(index.shape, np.shape(src)))):
        raise RuntimeError(f"{op}(): Expected index {list(index.shape)} to be no larger than self "
                           f"{list(x.shape)} apart from dimension {dim}"
                           + ("" if src is None else
                              f" and to be no larger size than src {list(np.shape(src))}"))
    size = x.shape[dim]
    bad = index[(index < 0) | (index >= size)]
    if bad.size:
        raise RuntimeError(f"{op}(): index {bad.flat[0]} is out of bounds for dimension {dim} "
                           f"with size {size}")


class Scatter(Function):
    """PyTorch's ``scatter`` (``accumulate=False``: each indexed place takes its ``src`` entry,
    the last one for repeated places) and ``scatter_add`` (``accumulate=True``: they add up).
    ``src`` is an array or a number (``value=``). Gradients as PyTorch's derivatives.yaml: the
    input's where nothing was written (all of it for ``scatter_add``), ``src``'s gathered from
    the places its entries went (zero for entries the index does not reach)."""

    def forward(self, x, src, index, dim, accumulate=False, is_value=False):
        op = "scatter_add" if accumulate else "scatter"
        tensor_src = not is_value
        if x.ndim == 0 and index.ndim == 0 and np.ndim(src) == 0:  # as one-element vectors
            out = self.forward(x.reshape(1), src if is_value else np.reshape(src, 1),
                               index.reshape(1), wrap_dim(dim, 0), accumulate, is_value)
            self.zero_d = True
            return out.reshape(())
        self.zero_d = False
        dim = wrap_dim(dim, x.ndim)
        _check_scatter(op, x, index, src if tensor_src else None, dim)
        self.where, self.src_shape = _along(index, dim), np.shape(src) if tensor_src else None
        self.window = tuple(slice(0, n) for n in index.shape)
        out = x.copy()
        values = src[self.window] if tensor_src else src
        if accumulate:
            np.add.at(out, self.where, values)
        else:
            out[self.where] = values
        self.accumulate = accumulate
        return out

    def backward(self, grad):
        shape = grad.shape
        if self.zero_d:
            grad = grad.reshape(1)
        grad_x = grad
        if not self.accumulate:
            grad_x = np.copy(grad)
            grad_x[self.where] = 0
        grad_src = None
        if self.src_shape is not None:
            grad_src = grad[self.where]
            if self.zero_d:
                grad_src = grad_src.reshape(())
            elif grad_src.shape != self.src_shape:  # src larger than the index: zero beyond
                # its window, placed into zeros by the engine (an Embed when recorded)
                grad_src = SparseGrad(self.src_shape, self.window, grad_src, False)
        return grad_x.reshape(shape), grad_src


class IndexAdd(Function):
    """PyTorch's ``index_add``: ``alpha * source`` added into the entries ``index`` picks along
    ``dim`` (repeated indices add up). Gradients: the input's passes through; ``source``'s is
    ``alpha`` times the gradient at the picked entries."""

    def forward(self, x, source, index, dim, alpha=1):
        shape = x.shape
        if x.ndim == 0:  # 0-d: as the one-element vector
            x, source = x.reshape(1), np.reshape(source, (1,) * max(np.ndim(source), 1))
        dim = wrap_dim(dim, x.ndim)
        index = index.reshape(-1)
        if np.ndim(source) != x.ndim and np.ndim(source) != 0 or np.ndim(source) and (
                np.shape(source)[dim] != index.size
                or any(s != n for d, (s, n) in enumerate(zip(np.shape(source), x.shape)) if d != dim)):
            raise RuntimeError(f"index_add_(): source of shape {list(np.shape(source))} does not "
                               f"fit self of shape {list(x.shape)} with {index.size} indices "
                               f"along dim {dim}")
        bad = index[(index < 0) | (index >= x.shape[dim])]
        if bad.size and (x.size or x.ndim == 1):  # PyTorch: an empty matrix takes any index
            raise IndexError(f"index_add_(): index {bad[0]} is out of bounds for dimension {dim} "
                             f"with size {x.shape[dim]}")
        self.where = (slice(None),) * dim + (index,)
        self.alpha, self.source_shape = alpha, np.shape(source)
        # An empty matrix took an index out of range; PyTorch's backward for source refuses it.
        self.out_of_range = (f"index_add backward: index {bad[0]} is out of bounds for dimension "
                             f"{dim} with size {x.shape[dim]}") if bad.size else None
        out = x.copy()
        if bad.size:
            return out.reshape(shape)
        np.add.at(out, self.where, source if alpha == 1 else
                  source * np.asarray(alpha).astype(x.dtype))
        return out.reshape(shape)

    def backward(self, grad):
        if self.out_of_range and self.needs_input_grad[1]:
            raise RuntimeError(self.out_of_range)
        flat = grad.reshape(1) if grad.ndim == 0 else grad
        grad_source = flat[self.where]
        if self.alpha != 1:
            grad_source = grad_source * self.alpha
        return grad, grad_source.reshape(self.source_shape)
