"""``Tensor``: a numpy array plus what autograd needs (``grad``, ``requires_grad``,
``grad_fn``), with PyTorch's names. Every differentiable method calls one
primitive ``Function`` from ``microtensor.ops`` or composes a few of them."""

from __future__ import annotations

import numbers
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import autograd
from . import ops as F
from .autograd import _state
from .dtypes import as_dtype, get_default_dtype

Scalar = int | float | bool

#: What ``max(dim=...)`` and ``min(dim=...)`` return, as ``torch.return_types.max`` does.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _shape(size: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)



def _operand(x: Any) -> Any:
    """The other side of a binary op: tensors as they are; scalars stay Python scalars so
    the tensor's dtype wins (``float32_tensor * 2.0`` stays float32)."""
    if isinstance(x, np.generic):  # numpy scalars act as Python scalars, as in PyTorch
        return x.item()
    if isinstance(x, (Tensor, numbers.Number)):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    if isinstance(x, (list, tuple)):
        return Tensor(x)
    raise TypeError(f"unsupported operand of type {type(x).__name__} for a tensor op")


def _raw_index(index: Any) -> Any:
    """Turn tensors inside an index into arrays, so numpy indexing rules apply."""
    if type(index) is tuple:
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    >>> import microtensor as mt
    >>> x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_name", "_counter", "_hooks",
                 "__weakref__")
    # Make numpy defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn: autograd.Function | None = None
        self._name = name
        self._counter: np.ndarray | None = None  # see version_counter()
        self._hooks: list | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(array: np.ndarray) -> Tensor:
        """Wrap an op's result without copying or converting (the per-op fast path)."""
        t = object.__new__(Tensor)
        t.data = array if type(array) is np.ndarray else np.asarray(array)
        t.grad = t.grad_fn = t._name = t._hooks = t._counter = None
        t.requires_grad = False
        return t

    def version_counter(self) -> np.ndarray:
        """This tensor's version counter: bumped by every in-place write, shared with its
        views, and checked by backward against the value an op saw when it saved the tensor.

        Made on first use (most tensors are never saved, viewed or modified). A one-slot
        numpy array rather than a list, because the cyclic garbage collector does not track
        numpy arrays, and a large graph keeps many counters alive.
        """
        if self._counter is None:
            self._counter = np.zeros(1, dtype=np.int64)
        return self._counter

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's ``_version``)."""
        return 0 if self._counter is None else int(self._counter[0])

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def name(self) -> str | None:
        """An optional label (``"h"``, ``"lstm.weight_hh_l0"``) that the graph renderer shows.

        Naming a computed tensor also labels the graph node that produced it.
        """
        return self._name

    @name.setter
    def name(self, name: str | None) -> None:
        self._name = name
        if self.grad_fn is not None:
            self.grad_fn.name = name

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters)."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), like ``torch.Tensor.numpy``."""
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad; call .detach().numpy()")
        return self.data

    def item(self) -> Scalar:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__  # == is elementwise, so identity is the hash (as in PyTorch)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != get_default_dtype() and self.dtype.kind == "f" or self.data.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    # --------------------------------------------------------------- autograd
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` (the upstream gradient, same shape as ``self``) may be left
        out only for a single-element tensor.

        >>> import microtensor as mt
        >>> x = mt.tensor([1.0, -2.0], requires_grad=True)
        >>> (x * 3).backward(mt.tensor([1.0, 10.0]))
        >>> x.grad.tolist()
        [3.0, 30.0]
        """
        root_grad = autograd.root_gradient(self, gradient, "backward")
        autograd.run_backward([self], [root_grad], retain_graph=retain_graph)

    def detach(self) -> Tensor:
        """The same data (shared memory and version counter), cut off from the graph.

        >>> import microtensor as mt
        >>> mt.ones(2, requires_grad=True).detach().requires_grad
        False
        """
        t = Tensor._wrap(self.data)
        t._counter = self.version_counter()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only; floating point only)."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, "
                            f"got dtype {self.data.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad() on a tensor that does not require grad")
            return
        # Weakly: a node must not own its output tensor (that would be a reference cycle).
        self.grad_fn.retained = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a function that removes the hook.

        >>> import microtensor as mt
        >>> x = mt.ones(2, requires_grad=True)
        >>> remove = x.register_hook(lambda g: g * 2)
        >>> x.sum().backward()
        >>> x.grad.tolist()
        [2.0, 2.0]
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        hooks = self._hook_list()
        hooks.append(hook)
        return lambda: hooks.remove(hook) if hook in hooks else None

    def _hook_list(self) -> list:
        if self.grad_fn is not None:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            return self.grad_fn.hooks
        if self._hooks is None:
            self._hooks = []
        return self._hooks

    # -------------------------------------------------------------- arithmetic
    def __add__(self, other: Tensor | float) -> Tensor:
        return F.Add.apply(self, _operand(other))

    def __radd__(self, other: Tensor | float) -> Tensor:
        return F.Add.apply(_operand(other), self)

    def __sub__(self, other: Tensor | float) -> Tensor:
        return F.Sub.apply(self, _operand(other))

    def __rsub__(self, other: Tensor | float) -> Tensor:
        return F.Sub.apply(_operand(other), self)

    def __mul__(self, other: Tensor | float) -> Tensor:
        return F.Mul.apply(self, _operand(other))

    def __rmul__(self, other: Tensor | float) -> Tensor:
        return F.Mul.apply(_operand(other), self)

    def __truediv__(self, other: Tensor | float) -> Tensor:
        return F.Div.apply(self, _operand(other))

    def __rtruediv__(self, other: Tensor | float) -> Tensor:
        return F.Div.apply(_operand(other), self)

    def __pow__(self, exponent: Tensor | float) -> Tensor:
        return F.Pow.apply(self, _operand(exponent))

    def __rpow__(self, base: Tensor | float) -> Tensor:
        return F.Pow.apply(_operand(base), self)

    def __matmul__(self, other: Tensor | float) -> Tensor:
        return F.MatMul.apply(self, _operand(other))

    def __rmatmul__(self, other: Tensor | float) -> Tensor:
        return F.MatMul.apply(_operand(other), self)

    def __neg__(self) -> Tensor:
        return F.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def matmul(self, other: Tensor | float) -> Tensor:
        return self @ other

    add, sub, mul, div, pow = __add__, __sub__, __mul__, __truediv__, __pow__

    # Comparisons give boolean tensors that carry no gradient.
    def __lt__(self, other: Tensor | float) -> Tensor:
        return Tensor._wrap(self.data < _raw(other))

    def __le__(self, other: Tensor | float) -> Tensor:
        return Tensor._wrap(self.data <= _raw(other))

    def __gt__(self, other: Tensor | float) -> Tensor:
        return Tensor._wrap(self.data > _raw(other))

    def __ge__(self, other: Tensor | float) -> Tensor:
        return Tensor._wrap(self.data >= _raw(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == _raw(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != _raw(other))

    # Logic on boolean tensors (masks), also without gradient.
    def __and__(self, other: Tensor | bool) -> Tensor:
        return Tensor._wrap(self.data & _raw(other))

    def __or__(self, other: Tensor | bool) -> Tensor:
        return Tensor._wrap(self.data | _raw(other))

    def __invert__(self) -> Tensor:
        return Tensor._wrap(~self.data)

    def all(self, dim: int | None = None) -> Tensor:
        return Tensor._wrap(self.data.all(axis=dim))

    def any(self, dim: int | None = None) -> Tensor:
        return Tensor._wrap(self.data.any(axis=dim))

    # ------------------------------------------------------------ unary math
    def exp(self) -> Tensor:
        return F.Exp.apply(self)

    def log(self) -> Tensor:
        return F.Log.apply(self)

    def sqrt(self) -> Tensor:
        return F.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return F.Abs.apply(self)

    def tanh(self) -> Tensor:
        return F.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return F.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return F.Relu.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Limit values to ``[min, max]``; the gradient passes only where the input is inside.

        >>> import microtensor as mt
        >>> mt.tensor([-2.0, 0.5, 3.0]).clamp(-1, 1).tolist()
        [-1.0, 0.5, 1.0]
        """
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        return F.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def masked_fill(self, mask: Tensor, value: float) -> Tensor:
        """``value`` where the boolean ``mask`` holds (broadcast), ``self`` elsewhere; the
        filled places get no gradient. The result keeps ``self``'s dtype, as PyTorch.

        >>> import microtensor as mt
        >>> mt.tensor([1.0, 2.0, 3.0]).masked_fill(mt.tensor([True, False, True]), 0.0).tolist()
        [0.0, 2.0, 0.0]
        """
        mask = _raw(mask)
        if np.asarray(mask).dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {np.asarray(mask).dtype}")
        fill = np.asarray(_raw(value)).astype(self.dtype)
        return F.Where.apply(Tensor._wrap(np.asarray(mask)), fill, self)

    def maximum(self, other: Tensor | float) -> Tensor:
        return F.Maximum.apply(self, _operand(other))

    def minimum(self, other: Tensor | float) -> Tensor:
        return F.Minimum.apply(self, _operand(other))

    # ------------------------------------------------------------- reductions
    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over ``dim`` (an int, a tuple, or None for all).

        >>> import microtensor as mt
        >>> mt.ones(2, 3).sum(dim=1).tolist()
        [3.0, 3.0]
        """
        return F.Sum.apply(self, dim=_axis(dim), keepdim=keepdim)

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over ``dim``; composed as ``sum / count``.

        >>> import microtensor as mt
        >>> mt.arange(4.0).mean().item()
        1.5
        """
        axis = _axis(dim)
        reduced = self.data.shape if axis is None else [
            self.data.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,))]
        return self.sum(axis, keepdim) / max(int(np.prod(reduced)), 1)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """The largest value; with ``dim``, ``(values, indices)`` along it, as PyTorch.

        >>> import microtensor as mt
        >>> mt.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices.tolist()
        [1, 0]
        """
        if dim is None:
            return F.Extremum.apply(self, reduce=np.max)
        return self._select_along(np.argmax, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """The smallest value; with ``dim``, ``(values, indices)`` along it."""
        if dim is None:
            return F.Extremum.apply(self, reduce=np.min)
        return self._select_along(np.argmin, dim, keepdim)

    def amax(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return F.Extremum.apply(self, reduce=np.max, dim=_axis(dim), keepdim=keepdim)

    def amin(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return F.Extremum.apply(self, reduce=np.min, dim=_axis(dim), keepdim=keepdim)

    def _select_along(self, arg: Callable, dim: int, keepdim: bool) -> ValuesIndices:
        indices = np.expand_dims(arg(self.data, axis=dim), dim)
        values = self.gather(dim, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), np.squeeze(indices, dim)
        return ValuesIndices(values, Tensor._wrap(indices))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.argmax(self.data, axis=dim, keepdims=keepdim))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.argmin(self.data, axis=dim, keepdims=keepdim))

    def logsumexp(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """``log(sum(exp(x)))`` over ``dim``, computed without overflow.

        >>> import microtensor as mt
        >>> round(mt.tensor([1000.0, 1000.0], dtype=mt.float64).logsumexp(0).item(), 4)
        1000.6931
        """
        return F.LogSumExp.apply(self, dim=_axis(dim), keepdim=keepdim)

    def softmax(self, dim: int = -1) -> Tensor:
        """Exponentiate and normalise along ``dim``.

        >>> import microtensor as mt
        >>> mt.zeros(4).softmax(0).tolist()
        [0.25, 0.25, 0.25, 0.25]
        """
        return F.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        """``log(softmax(x))``, computed stably (the input of ``nll_loss``)."""
        return F.LogSoftmax.apply(self, dim=dim)

    # ------------------------------------------------------------------- shape
    def reshape(self, *shape: int) -> Tensor:
        """Same data, new shape; one dimension may be -1.

        >>> import microtensor as mt
        >>> mt.arange(6).reshape(2, -1).shape
        (2, 3)
        """
        return F.Reshape.apply(self, shape=_shape(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self.shape
        start, end = start_dim % max(self.ndim, 1), end_dim % max(self.ndim, 1)
        return self.reshape(*shape[:start], -1, *shape[end + 1:]) if self.ndim else self.reshape(1)

    def permute(self, *dims: int) -> Tensor:
        dims = _shape(dims)
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of {self.ndim} dims")
        return F.Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Drop size-1 dimensions (all, or just ``dim``; a ``dim`` of another size is kept)."""
        if dim is None:
            shape = [n for n in self.shape if n != 1]
        else:
            drop = {d % self.ndim for d in (dim if isinstance(dim, tuple) else (dim,))}
            shape = [n for i, n in enumerate(self.shape) if not (i in drop and n == 1)]
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dimension at ``dim`` (negative counts from the end of the result)."""
        dim = dim % (self.ndim + 1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def expand(self, *sizes: int) -> Tensor:
        """Broadcast to ``sizes`` without copying; -1 keeps a dimension."""
        sizes = _shape(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return F.Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def __getitem__(self, index: Any) -> Tensor:
        return F.Index.apply(self, index=_raw_index(index))

    def gather(self, dim: int, index: Any) -> Tensor:
        """Pick ``self[..., index[...], ...]`` along ``dim`` (PyTorch's gather)."""
        index = _raw_index(index)
        if not np.issubdtype(np.asarray(index).dtype, np.integer):
            raise TypeError(f"gather: index must be integers, got {np.asarray(index).dtype}")
        return F.Gather.apply(self, index=np.asarray(index), dim=dim)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Split into pieces of one size (the last may be smaller) or of the listed sizes.

        >>> import microtensor as mt
        >>> [p.shape for p in mt.arange(5).split([2, 3])]
        [(2,), (3,)]
        """
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - s) for s in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
        lead = (slice(None),) * (dim % self.ndim)
        starts = np.cumsum([0, *sizes[:-1]])
        return tuple(self[(*lead, slice(s, s + k))] for s, k in zip(starts, sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Split into ``chunks`` nearly equal pieces, as ``torch.chunk``."""
        return self.split(-(-self.shape[dim] // chunks), dim)

    # ------------------------------------------------------------------ copies
    def clone(self) -> Tensor:
        return F.Clone.apply(self)

    def to(self, dtype: Any) -> Tensor:
        """A copy in ``dtype`` (differentiable between floating dtypes)."""
        dtype = as_dtype(dtype)
        return self if dtype == self.dtype else F.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    # ----------------------------------------------------------------- in place
    def _modify(self, op: str, result: Callable[[], Tensor], write: Callable[[np.ndarray], None],
                *others: Any) -> Tensor:
        """Shared path of every in-place method.

        While a graph is recorded the op is recorded too, and the tensor is
        rebound to the result: saved arrays stay intact, so the gradient stays
        right. Otherwise memory is written in place (what optimizers need) and
        the version counter is bumped, so a backward that saved the old values
        fails loudly instead of computing a wrong gradient.
        """
        recording = _state.grad_enabled and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))
        if recording:
            if self.grad_fn is None and self.requires_grad:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad cannot be modified in place while "
                    "the graph is recorded; do it inside `with mt.no_grad():` (as optimizers do)")
            out = result()
            if out.shape != self.shape:
                raise ValueError(f"{op}: the result has shape {out.shape} but the tensor being "
                                 f"modified in place has shape {self.shape}")
            self.data, self.grad_fn, self.requires_grad = out.data, out.grad_fn, True
            self._counter = np.array([self._version + 1], dtype=np.int64)
            return self
        try:
            write(self.data)
        except ValueError as err:
            shapes = ", ".join(str(np.shape(_raw(o))) for o in others)
            raise ValueError(f"{op}: cannot write into a tensor of shape {self.shape} "
                             f"from shape(s) {shapes}: {err}") from None
        except TypeError as err:  # e.g. int tensor += float: numpy refuses the cast
            raise TypeError(f"{op}: {err}") from None
        self.version_counter()[0] += 1
        return self

    def add_(self, other: Tensor | float, alpha: Scalar = 1) -> Tensor:
        """``self += alpha * other`` in place.

        >>> import microtensor as mt
        >>> mt.zeros(2).add_(mt.ones(2), alpha=3).tolist()
        [3.0, 3.0]
        """
        scaled = other if alpha == 1 else _operand(other) * alpha
        return self._modify("add_", lambda: self + scaled,
                            lambda a: np.add(a, _raw(scaled), out=a, casting="same_kind"), other)

    def sub_(self, other: Tensor | float, alpha: Scalar = 1) -> Tensor:
        return self.add_(other, alpha=-alpha)

    def mul_(self, other: Tensor | float) -> Tensor:
        return self._modify("mul_", lambda: self * other,
                            lambda a: np.multiply(a, _raw(other), out=a, casting="same_kind"), other)

    def div_(self, other: Tensor | float) -> Tensor:
        return self._modify("div_", lambda: self / other,
                            lambda a: np.divide(a, _raw(other), out=a, casting="same_kind"), other)

    def fill_(self, value: Scalar) -> Tensor:
        return self._modify("fill_", lambda: self * 0 + value, lambda a: a.fill(value))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def copy_(self, src: Tensor | float) -> Tensor:
        return self._modify("copy_", lambda: self * 0 + src,
                            lambda a: np.copyto(a, _raw(src), casting="same_kind"), src)

    def __setitem__(self, index: Any, value: Tensor | float) -> None:
        index = _raw_index(index)
        value = _operand(value)

        def write(a: np.ndarray) -> None:
            a[index] = _raw(value)

        self._modify("__setitem__", lambda: F.SetItem.apply(self, value, index=index),
                     write, value)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _axis(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """PyTorch's conversion rules: Python floats become the default dtype, arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = as_dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)):  # numpy arrays and scalars keep their dtype
        array = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    else:
        try:
            array = np.array(data, dtype=dtype)
        except (ValueError, TypeError) as err:
            raise TypeError(f"cannot make a tensor from {type(data).__name__} data: {err}") from None
        if dtype is None and array.dtype == np.float64:
            array = array.astype(get_default_dtype())
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensors hold numbers; got data of dtype {array.dtype} "
                        f"from {type(data).__name__}")
    return array
