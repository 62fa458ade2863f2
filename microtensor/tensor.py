"""``Tensor``: a numpy array plus what autograd needs (``grad``, ``requires_grad``,
``grad_fn``), with PyTorch's names. Every differentiable method calls one
primitive ``Function`` from ``microtensor.ops`` or composes a few of them."""

from __future__ import annotations

import math
import numbers
import warnings
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import autograd, numpy_dispatch, printing, versions
from . import ops as F
from .devices import CPU, check_device, device, is_device
from .dims import broadcasts_to, wrap_dim, wrap_dims
from .dtypes import as_dtype, get_default_dtype, promote_types, result_type, scalar_dtype
from .errors import DtypeError, ShapeError
from .hooks import RemovableHandle
from .summation import accumulation_dtype

Scalar = int | float | bool

#: What ``max(dim=...)`` and ``min(dim=...)`` return, as ``torch.return_types.max`` does.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def as_shape(size: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)



def as_operand(x: Any) -> Any:
    """The other side of a binary op: tensors as they are; scalars stay Python scalars so
    the tensor's dtype wins (``float32_tensor * 2.0`` stays float32)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):  # numpy scalars act as Python scalars, as in PyTorch
        return x.item()
    if isinstance(x, numbers.Number):
        return x
    if isinstance(x, (np.ndarray, list, tuple)):
        return Tensor._wrap(to_array(x, None))
    raise TypeError(f"unsupported operand of type {type(x).__name__} for a tensor op")


def _raw_index(index: Any) -> Any:
    """Turn tensors inside an index into arrays, so numpy indexing rules apply."""
    if type(index) is tuple:
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _refuse_negative_steps(index: Any) -> tuple:
    """The parts of ``index``, after checking that no slice steps backwards (PyTorch has none)."""
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        if type(part) is slice and part.step is not None and part.step <= 0:
            raise ValueError("step must be greater than zero (PyTorch has no negative steps; "
                             "index with a reversed array instead)")
    return parts


def _index_put(parts: tuple, value: Tensor) -> bool:
    """Whether PyTorch writes ``t[parts] = value`` with ``index_put``, which casts nothing:
    any index array, except one boolean mask with a one-element value (``masked_fill``).
    Slices and integers alone copy, casting as ``copy_`` does."""
    arrays = [p for p in parts if type(p) is np.ndarray]
    if len(arrays) == 1 and arrays[0].dtype == np.bool_ and value.array.size == 1:
        return False
    return bool(arrays)


def _select_first(index: Any) -> tuple[Any, Any] | None:
    """Split an index that mixes integers with index arrays into (the integers, the rest).

    PyTorch applies integers first, as selections, and only then the arrays; numpy counts
    integers among the arrays, which moves dimensions: ``x[0, :, idx]`` on a (3, 2, 5)
    tensor is (2, 4) in PyTorch and (4, 2) in numpy. None when numpy's order is PyTorch's.
    """
    if type(index) is not tuple or np.ndarray not in map(type, index):
        return None
    if not any(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index):
        return None
    first, rest = [], []
    for i in index:
        is_int = isinstance(i, (int, np.integer)) and not isinstance(i, bool)
        if is_int or i is None or i is Ellipsis:
            first.append(i)
        else:  # a slice keeps its dim; a k-dim boolean mask consumes k of them
            first.extend([slice(None)] * (i.ndim if getattr(i, "dtype", None) == np.bool_ else 1))
        if not is_int:
            rest.append(slice(None) if i is None else i)
    return tuple(first), tuple(rest)


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    >>> import microtensor as mt
    >>> x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
    """

    __slots__ = ("array", "_grad", "requires_grad", "grad_fn", "_name", "_hooks", "__weakref__")
    # Make numpy defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_priority__ = 1000

    def __new__(cls, *args: Any, device: Any = None) -> Tensor:
        """PyTorch's legacy constructor (``legacy.py``): ``Tensor([1, 2])`` in the default float
        dtype, ``Tensor(2, 3)`` by sizes, ``Tensor(other)`` an alias. New code calls
        ``mt.tensor``, ``mt.zeros`` or ``mt.from_numpy``.

        >>> import microtensor as mt
        >>> mt.Tensor([0]).tolist(), mt.Tensor(1, 5).shape
        ([0.0], (1, 5))
        """
        check_device(device)
        return legacy.construct(args, get_default_dtype(), "Tensor", alias_any_dtype=True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Wrap an op's result without copying or converting (the per-op fast path); called on
        a subclass (``nn.Parameter``), one of that class."""
        t = object.__new__(cls)
        t.array = array if type(array) is np.ndarray else np.asarray(array)
        t._grad = t.grad_fn = t._name = t._hooks = None
        t.requires_grad = False
        return t

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's ``_version``),
        shared with its views and ``detach()``: see ``versions.py``."""
        return versions.version(self.array)

    # ------------------------------------------------------------ attributes
    # ``array`` (a slot) is the numpy array holding the values: what the ops compute on.

    @property
    def data(self) -> Tensor:
        """The same values as a tensor outside autograd (shared memory), as PyTorch's ``.data``:
        the legacy way to update a parameter by hand. Prefer ``detach()`` or ``mt.no_grad()``.

        >>> import microtensor as mt
        >>> w = mt.ones(2, requires_grad=True)
        >>> _ = w.data.add_(mt.tensor([1.0, 2.0]), alpha=-0.5)  # outside autograd
        >>> w.tolist(), w.requires_grad, w.data.requires_grad
        ([0.5, 0.0], True, False)
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f".data has to be set to a tensor, got {type(value).__name__}")
        if self.requires_grad and value.dtype.kind != "f":
            raise RuntimeError(f".data of a tensor that requires grad must be set to a floating "
                               f"point tensor, got dtype {value.dtype}")
        self.array = value.array

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

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
    def device(self) -> device:
        """Where the data lives: always the CPU (``mt.device("cpu")``), as microtensor runs on numpy.

        >>> import microtensor as mt
        >>> mt.ones(2).device
        device(type='cpu')
        """
        return CPU

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters)."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return F.Permute.apply(self, dims=tuple(range(self.ndim - 1, -1, -1)))

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[wrap_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self.array.size

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), like ``torch.Tensor.numpy``."""
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad; call .detach().numpy()")
        return self.array

    def item(self) -> Scalar:
        if self.array.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.array.item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self.requires_grad:  # its gradient would be lost: PyTorch refuses too
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy's ufuncs on tensors: the engine's ops in a recorded backward pass, else as
        before (operators are the tensor's; see ``numpy_dispatch.py``)."""
        return numpy_dispatch.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        """numpy's functions on tensors: the engine's ops in a recorded backward pass, else
        numpy on the arrays (see ``numpy_dispatch.py``)."""
        return numpy_dispatch.function(func, args, kwargs)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """A one-element integer (or bool) tensor as a Python index: ``"abc"[mt.tensor(1)]``.

        >>> import microtensor as mt
        >>> "abc"[mt.tensor(1)]
        'b'
        """
        if self.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            f"index; got one of shape {self.shape} and dtype {self.dtype}")
        return int(self.array.reshape(()))

    __hash__ = object.__hash__  # == is elementwise, so identity is the hash (as in PyTorch)

    def __repr__(self) -> str:
        return printing.format_tensor(self)  # PyTorch's text (str() too): see printing.py

    # --------------------------------------------------------------- autograd
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (with ``inputs``, into
        those tensors' ``.grad`` only: see ``mt.autograd.backward``). With ``create_graph``
        the pass is recorded, so ``.grad`` can be differentiated again (``mt.grad`` does the
        same without touching ``.grad``); ``retain_graph`` defaults to ``create_graph``.

        ``gradient`` (the upstream gradient, same shape as ``self``) may be left
        out only for a single-element tensor.

        >>> import microtensor as mt
        >>> x = mt.tensor([1.0, -2.0], requires_grad=True)
        >>> (x * 3).backward(mt.tensor([1.0, 10.0]))
        >>> x.grad.tolist()
        [3.0, 30.0]
        """
        if inputs is not None or create_graph:
            autograd.backward([self], [gradient], retain_graph, create_graph, inputs)
            return
        root_grad = autograd.root_gradient(self, gradient, "backward")  # the common path, short
        autograd.run_backward([self], [root_grad], retain_graph=bool(retain_graph))

    def detach(self) -> Tensor:
        """The same data (shared memory and version counter), cut off from the graph.

        >>> import microtensor as mt
        >>> mt.ones(2, requires_grad=True).detach().requires_grad
        False
        """
        return Tensor._wrap(self.array)

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward()`` accumulated here (None until one arrives). It may be
        assigned a tensor of this tensor's shape and dtype, or None, as in PyTorch.

        >>> import microtensor as mt
        >>> x = mt.ones(3, requires_grad=True)
        >>> x.grad = mt.zeros(2)
        Traceback (most recent call last):
        ...
        microtensor.errors.ShapeError: attempting to assign a gradient of shape (2,) to a tensor
        of shape (3,); they must be the same
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.shape != self.shape:
                raise ShapeError(f"attempting to assign a gradient of shape {value.shape} to a "
                                 f"tensor of shape {self.shape}; they must be the same")
            if value.dtype != self.dtype:
                raise DtypeError(f"attempting to assign a gradient of dtype {value.dtype} to a "
                                 f"tensor of dtype {self.dtype}; convert it with .to()")
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only; floating point only)."""
        if requires_grad and self.array.dtype.kind not in "fc":
            raise DtypeError(f"only floating point tensors can require gradients, "
                            f"got dtype {self.array.dtype}")
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

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient (same shape and dtype). Returns a handle whose ``remove()``
        takes the hook out.

        >>> import microtensor as mt
        >>> x = mt.ones(2, requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 2)
        >>> x.sum().backward()
        >>> x.grad.tolist()
        [2.0, 2.0]
        >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        hooks = self._hook_list()
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

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
        return F.Add.apply(self, as_operand(other))

    def __radd__(self, other: Tensor | float) -> Tensor:
        return F.Add.apply(as_operand(other), self)

    def __sub__(self, other: Tensor | float) -> Tensor:
        return F.Sub.apply(self, as_operand(other))

    def __rsub__(self, other: Tensor | float) -> Tensor:
        return F.Sub.apply(as_operand(other), self)

    def __mul__(self, other: Tensor | float) -> Tensor:
        return F.Mul.apply(self, as_operand(other))

    def __rmul__(self, other: Tensor | float) -> Tensor:
        return F.Mul.apply(as_operand(other), self)

    def __truediv__(self, other: Tensor | float) -> Tensor:
        return F.Div.apply(self, as_operand(other))

    def __rtruediv__(self, other: Tensor | float) -> Tensor:
        return F.Div.apply(as_operand(other), self)

    def __pow__(self, exponent: Tensor | float) -> Tensor:
        exponent = as_operand(exponent)
        if self.dtype.kind in "iu" and isinstance(exponent, numbers.Integral) and exponent < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return F.Pow.apply(*_no_bool_pow(self, exponent),
                           number_exponent=not isinstance(exponent, Tensor))

    def __rpow__(self, base: Tensor | float) -> Tensor:
        return F.Pow.apply(*_no_bool_pow(as_operand(base), self))

    # A number has no matrix product: Python then raises "unsupported operand type(s) for @".
    def __matmul__(self, other: Tensor | np.ndarray) -> Tensor:
        if isinstance(other, numbers.Number):
            return NotImplemented
        return F.MatMul.apply(self, as_operand(other))

    def __rmatmul__(self, other: Tensor | np.ndarray) -> Tensor:
        if isinstance(other, numbers.Number):
            return NotImplemented
        return F.MatMul.apply(as_operand(other), self)

    def __neg__(self) -> Tensor:
        return self.neg()

    def __pos__(self) -> Tensor:
        if self.dtype == np.bool_:  # as PyTorch, and as -x
            raise DtypeError("The `+` operator, on a bool tensor is not supported")
        return self

    def matmul(self, other: Tensor | float) -> Tensor:
        return self @ other

    mul, pow = __mul__, __pow__  # add, sub, div (PyTorch's options): composed/arithmetic.py

    # Comparisons give boolean tensors that carry no gradient; both sides are first brought
    # to their common dtype, as PyTorch (float16 against a float32 scalar compares in float16).
    def __lt__(self, other: Tensor | float) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self, other: Tensor | float) -> Tensor:
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Tensor | float) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self, other: Tensor | float) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, other)

    # Logic on boolean tensors (masks), also without gradient.
    def __and__(self, other: Tensor | bool) -> Tensor:
        return _compare(np.bitwise_and, self, other)

    def __or__(self, other: Tensor | bool) -> Tensor:
        return _compare(np.bitwise_or, self, other)

    def __xor__(self, other: Tensor | bool) -> Tensor:
        return _compare(np.bitwise_xor, self, other)

    def __invert__(self) -> Tensor:
        return Tensor._wrap(~self.array)

    def all(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Whether every element (along ``dim``) is nonzero, as a bool tensor."""
        return Tensor._wrap(np.asarray(self.array.all(axis=wrap_dims(dim, self.ndim),
                                                     keepdims=keepdim)))

    def any(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """Whether any element (along ``dim``) is nonzero, as a bool tensor."""
        return Tensor._wrap(np.asarray(self.array.any(axis=wrap_dims(dim, self.ndim),
                                                     keepdims=keepdim)))

    # ------------------------------------------------------------ unary math
    # exp, log, sqrt, abs, neg, tanh, sigmoid, relu: made from ops.METHODS below the class.

    def clamp(self, min: float | Tensor | None = None,  # noqa: A002
              max: float | Tensor | None = None) -> Tensor:  # noqa: A002
        """Limit values to ``[min, max]`` (numbers or tensors); each element's gradient goes to
        the input where it is inside, else to the bound it was clamped to.

        >>> import microtensor as mt
        >>> mt.tensor([-2.0, 0.5, 3.0]).clamp(-1, 1).tolist()
        [-1.0, 0.5, 1.0]
        """
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        return F.Clamp.apply(self, min, max)

    clip = clamp

    def masked_fill(self, mask: Tensor, value: float) -> Tensor:
        """``value`` where the boolean ``mask`` holds (broadcast), ``self`` elsewhere; the
        filled places get no gradient. The result keeps ``self``'s dtype, as PyTorch.

        >>> import microtensor as mt
        >>> mt.tensor([1.0, 2.0, 3.0]).masked_fill(mt.tensor([True, False, True]), 0.0).tolist()
        [0.0, 2.0, 0.0]
        """
        mask = np.asarray(_raw(mask))
        if mask.dtype != np.bool_:
            raise DtypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                               f"one with {value.ndim} dimension(s)")
        fill = value.to(self.dtype) if isinstance(value, Tensor) else np.asarray(value).astype(self.dtype)
        return F.Where.apply(fill, self, condition=mask)

    def maximum(self, other: Tensor) -> Tensor:
        """The elementwise larger of two tensors; ties share the gradient."""
        return F.Maximum.apply(self, tensor_operand(other, "maximum"))

    def minimum(self, other: Tensor) -> Tensor:
        """The elementwise smaller of two tensors; ties share the gradient."""
        return F.Minimum.apply(self, tensor_operand(other, "minimum"))

    # ------------------------------------------------------------- reductions
    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False, *,
            dtype: Any = None) -> Tensor:
        """Sum over ``dim`` (an int, a tuple, or None for all), in ``dtype`` if given (the
        input is cast to it first). Integers and bools sum to int64. As PyTorch, the sum is
        cascaded along every axis and float16 is accumulated in float32 (``summation.py``).

        >>> import microtensor as mt
        >>> mt.ones(2, 3).sum(dim=1).tolist()
        [3.0, 3.0]
        >>> mt.ones(3000, dtype=mt.float16).sum().item()  # float16 alone stops at 2048
        3000.0
        """
        if dtype is not None:
            dtype = as_dtype(dtype)
            if dtype.kind not in "fc" and self.requires_grad and autograd.is_grad_enabled():
                raise DtypeError(f"sum(dtype={dtype}): autograd does not support dtype {dtype}, "
                                 "and this tensor requires grad; detach() it first, as in "
                                 "PyTorch")
        return F.Sum.apply(self, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False, *,
             dtype: Any = None) -> Tensor:
        """Mean over ``dim``, in ``dtype`` if given; composed as ``sum / count``, both in the
        dtype sums accumulate in (float32 for float16, which cannot even hold a count of
        70,000), then rounded once.

        >>> import microtensor as mt
        >>> mt.arange(4.0).mean().item()
        1.5
        >>> round(mt.full((70000,), 0.1, dtype=mt.float16).mean().item(), 4)
        0.1
        """
        out_dtype = self.dtype if dtype is None else as_dtype(dtype)
        if out_dtype.kind not in "fc":
            raise DtypeError(f"mean(): could not infer output dtype: the input must be floating "
                             f"point, got {out_dtype}; convert it with .float() or pass dtype=")
        axes = wrap_dims(dim, self.ndim)
        count = self.array.size if axes is None else math.prod(self.shape[a] for a in axes)
        acc = accumulation_dtype(out_dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is nan, as PyTorch
            mean = self.to(out_dtype).sum(dim, keepdim, dtype=acc) / count
        return mean.to(out_dtype)

    def max(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """The largest value; with ``dim``, ``(values, indices)`` along it, as PyTorch; with a
        tensor, ``maximum(self, other)``.

        >>> import microtensor as mt
        >>> mt.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices.tolist()
        [1, 0]
        """
        if isinstance(dim, Tensor):  # PyTorch's max(other) overload
            return self.maximum(dim)
        if dim is None:
            return F.Extremum.apply(self, reduce=np.max, nan_shares=True)
        return self._select_along(np.argmax, dim, keepdim)

    def min(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """The smallest value; with ``dim``, ``(values, indices)`` along it; with a tensor,
        ``minimum(self, other)``."""
        if isinstance(dim, Tensor):  # PyTorch's min(other) overload
            return self.minimum(dim)
        if dim is None:
            return F.Extremum.apply(self, reduce=np.min, nan_shares=True)
        return self._select_along(np.argmin, dim, keepdim)

    def amax(self, dim: int | tuple[int, ...] = (), keepdim: bool = False) -> Tensor:
        """The largest values over ``dim`` (all dims when empty, as PyTorch); ties share the
        gradient."""
        return F.Extremum.apply(self, reduce=np.max, dim=dim, keepdim=keepdim)

    def amin(self, dim: int | tuple[int, ...] = (), keepdim: bool = False) -> Tensor:
        """The smallest values over ``dim`` (all dims when empty); ties share the gradient."""
        return F.Extremum.apply(self, reduce=np.min, dim=dim, keepdim=keepdim)

    def _select_along(self, arg: Callable, dim: int, keepdim: bool) -> ValuesIndices:
        indices = self._arg(arg, dim, keepdim=True)
        values = self.gather(dim, indices) if self.ndim else self.clone()
        if not keepdim and self.ndim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, indices)

    def _arg(self, arg: Callable, dim: int | None, keepdim: bool) -> Tensor:
        """Positions of the extremes (``argmax``/``argmin``), with PyTorch's dim and empty rules."""
        name = arg.__name__
        if dim is None:
            if self.array.size == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                                 "input.numel() == 0")
            found = arg(self.array)
            return Tensor._wrap(np.full((1,) * self.ndim if keepdim else (), found, np.int64))
        dim = wrap_dim(dim, self.ndim)
        if not self.ndim:
            return Tensor._wrap(np.zeros((), np.int64))
        if self.shape[dim] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size")
        return Tensor._wrap(arg(self.array, axis=dim, keepdims=keepdim).astype(np.int64))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Where the largest value is (the first, on ties), over all elements or along ``dim``.

        >>> import microtensor as mt
        >>> mt.tensor([[1.0, 5.0], [7.0, 2.0]]).argmax(dim=1).tolist()
        [1, 0]
        """
        _refuse_bool_arg(self, "argmax")
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Where the smallest value is (the first, on ties)."""
        _refuse_bool_arg(self, "argmin")
        return self._arg(np.argmin, dim, keepdim)

    def logsumexp(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """``log(sum(exp(x)))`` over ``dim``, computed without overflow.

        >>> import microtensor as mt
        >>> round(mt.tensor([1000.0, 1000.0], dtype=mt.float64).logsumexp(0).item(), 4)
        1000.6931
        """
        return F.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """Exponentiate and normalise along ``dim``.

        >>> import microtensor as mt
        >>> mt.zeros(4).softmax(0).tolist()
        [0.25, 0.25, 0.25, 0.25]
        """
        x = self if dtype is None else self.to(dtype)
        return F.Softmax.apply(x, dim=dim)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """``log(softmax(x))``, computed stably (the input of ``nll_loss``)."""
        x = self if dtype is None else self.to(dtype)
        return F.LogSoftmax.apply(x, dim=dim)

    # ------------------------------------------------------------------- shape
    def reshape(self, *shape: int) -> Tensor:
        """Same data, new shape; one dimension may be -1. A view of the same memory when the
        layout allows, else a copy (as PyTorch).

        >>> import microtensor as mt
        >>> mt.arange(6).reshape(2, -1).shape
        (2, 3)
        """
        return F.Reshape.apply(self, shape=as_shape(shape))

    def view(self, *shape: int) -> Tensor:
        """Same memory, new shape; an error (not a silent copy) when the layout does not allow
        it, e.g. after a transpose: use ``reshape`` there.

        >>> import microtensor as mt
        >>> mt.arange(6).view(3, 2).shape
        (3, 2)
        """
        return F.Reshape.apply(self, shape=as_shape(shape), view=True)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim`` to ``end_dim`` into one (a 0-d tensor becomes shape (1,))."""
        start, end = wrap_dim(start_dim, self.ndim), wrap_dim(end_dim, self.ndim)
        if not self.ndim:
            return self.reshape(1)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        merged = math.prod(self.shape[start:end + 1])  # not -1: numpy cannot infer it when empty
        return self.reshape(*self.shape[:start], merged, *self.shape[end + 1:])

    def permute(self, *dims: int) -> Tensor:
        """Reorder the dimensions (a view).

        >>> import microtensor as mt
        >>> mt.zeros(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        return F.Permute.apply(self, dims=as_shape(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dimensions (a view)."""
        dims = list(range(self.ndim))
        dim0, dim1 = wrap_dim(dim0, self.ndim), wrap_dim(dim1, self.ndim)
        if self.ndim:
            dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def t(self) -> Tensor:
        """Transpose a tensor of at most 2 dimensions (0-d and 1-d come back as they are).

        >>> import microtensor as mt
        >>> mt.zeros(2, 3).t().shape
        (3, 2)
        """
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self.transpose(0, -1) if self.ndim == 2 else self.permute(*range(self.ndim))

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Drop size-1 dimensions (all, or just ``dim``; a ``dim`` of another size is kept)."""
        if dim is None:
            shape = [n for n in self.shape if n != 1]
        else:
            drop = set(wrap_dims(dim, self.ndim) or ())  # () drops nothing
            shape = [n for i, n in enumerate(self.shape) if not (i in drop and n == 1)]
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dimension at ``dim`` (negative counts from the end of the result)."""
        dim = wrap_dim(dim, self.ndim + 1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def expand(self, *sizes: int) -> Tensor:
        """Broadcast to ``sizes`` without copying; -1 keeps a dimension."""
        sizes = as_shape(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be at "
                               f"least the number of dimensions of the tensor ({self.ndim})")
        if -1 in sizes[:lead]:
            raise RuntimeError("expand: -1 is not allowed for a new leading dimension")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return F.Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def __getitem__(self, index: Any) -> Tensor:
        if type(index) is int:  # x[t], the common case, needs none of the rules below
            return F.Index.apply(self, index=index)
        index = _raw_index(index)
        _refuse_negative_steps(index)
        split = _select_first(index)
        if split is not None:
            return F.Index.apply(F.Index.apply(self, index=split[0]), index=split[1])
        return F.Index.apply(self, index=index)

    def gather(self, dim: int, index: Any) -> Tensor:
        """Pick ``self[..., index[...], ...]`` along ``dim`` (PyTorch's gather)."""
        index = np.asarray(_raw_index(index))
        if index.dtype.kind not in "iu":
            raise DtypeError(f"gather: index must be integers, got {index.dtype}")
        return F.Gather.apply(self, index=index, dim=dim)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Split into pieces of one size (the last may be smaller) or of the listed sizes.

        >>> import microtensor as mt
        >>> [p.shape for p in mt.arange(5).split([2, 3])]
        [(2,), (3,)]
        """
        dim = wrap_dim(dim, self.ndim)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections < 0 or (split_size_or_sections == 0 and n):
                raise ShapeError(f"split: size must be positive, got {split_size_or_sections}")
            split_size_or_sections = max(split_size_or_sections, 1)
            sizes = [min(split_size_or_sections, n - s)
                     for s in range(0, n, split_size_or_sections)] or [0]  # empty: one empty piece
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ShapeError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
        lead = (slice(None),) * dim
        starts = np.cumsum([0, *sizes[:-1]])
        return tuple(self[(*lead, slice(s, s + k))] for s, k in zip(starts, sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Split into ``chunks`` nearly equal pieces, as ``torch.chunk``."""
        if chunks <= 0:
            raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[wrap_dim(dim, self.ndim)]
        if n == 0:  # as PyTorch: ``chunks`` empty pieces
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    # ------------------------------------------------------------------ copies
    def clone(self) -> Tensor:
        return F.Clone.apply(self)

    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """A copy in another dtype (differentiable between floating dtypes), or ``self`` when
        nothing changes. Takes PyTorch's forms: ``to(dtype)``, ``to("cpu")``, ``to("cpu",
        dtype)``, ``to(other_tensor)``, ``to(device=..., dtype=...)``; CPU is the only device.

        >>> import microtensor as mt
        >>> x = mt.ones(2)
        >>> x.to(mt.float64).dtype, x.to("cpu") is x
        (dtype('float64'), True)
        """
        dtype = target_dtype(args, dtype, device)
        if dtype is None or as_dtype(dtype) == self.dtype:
            return F.Clone.apply(self) if copy else self
        return F.Cast.apply(self, dtype=as_dtype(dtype))

    def cpu(self) -> Tensor:
        """``self``: the data is always on the CPU."""
        return self

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        """``to(mt.int32)``, PyTorch's ``int`` (not Python's ``int(t)``, which is ``__int__``).

        >>> import microtensor as mt
        >>> mt.tensor([1.7, -1.7]).int().tolist()
        [1, -1]
        """
        return self.to(np.int32)

    def half(self) -> Tensor:
        return self.to(np.float16)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    # ----------------------------------------------------------------- in place
    # Each writes this tensor's memory (seen by its base and views) and, while the graph is
    # recorded, moves the op into the graph: the rule is stated once, in inplace.py.
    def add_(self, other: Tensor | float, alpha: Scalar = 1) -> Tensor:
        """``self += alpha * other`` in place.

        >>> import microtensor as mt
        >>> mt.zeros(2).add_(mt.ones(2), alpha=3).tolist()
        [3.0, 3.0]
        """
        other, alpha = legacy_alpha_first("add_", other, alpha)
        other = scaled_by_alpha(self, as_operand(other), alpha)
        return inplace.modify(self, "add_", lambda t: t + other, other)

    def sub_(self, other: Tensor | float, alpha: Scalar = 1) -> Tensor:
        """``self -= alpha * other`` in place."""
        other, alpha = legacy_alpha_first("sub_", other, alpha)
        other = scaled_by_alpha(self, as_operand(other), alpha)
        return inplace.modify(self, "sub_", lambda t: t - other, other)

    def mul_(self, other: Tensor | float) -> Tensor:
        """``self *= other`` in place."""
        other = as_operand(other)
        return inplace.modify(self, "mul_", lambda t: t * other, other)

    def div_(self, other: Tensor | float) -> Tensor:
        """``self /= other`` in place (an integer tensor cannot hold the quotient: an error)."""
        other = as_operand(other)
        return inplace.modify(self, "div_", lambda t: t / other, other)

    def fill_(self, value: Scalar | Tensor) -> Tensor:
        """Set every element to ``value`` (a number or a 0-d tensor), in place.

        >>> import microtensor as mt
        >>> mt.zeros(3).fill_(2.5).tolist()
        [2.5, 2.5, 2.5]
        """
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"fill_ only supports a 0-dimension value tensor, but got one "
                               f"with {value.ndim} dimension(s)")
        return self.copy_(value)

    def zero_(self) -> Tensor:
        """Set every element to zero, in place."""
        return self.fill_(0)

    def copy_(self, src: Tensor | float) -> Tensor:
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor.

        >>> import microtensor as mt
        >>> mt.zeros(2, 2).copy_(mt.tensor([1.0, 2.0])).tolist()
        [[1.0, 2.0], [1.0, 2.0]]
        """
        src = as_operand(src)
        shape = np.shape(_raw(src))
        if not broadcasts_to(shape, self.shape):
            raise ShapeError(f"copy_: a source of shape {shape} does not broadcast to the "
                             f"tensor's shape {self.shape}")
        return inplace.modify(self, "copy_", lambda t: F.SetItem.apply(t, src, index=...), src)

    def __setitem__(self, index: Any, value: Tensor | float) -> None:
        index, value = _raw_index(index), as_operand(value)
        parts = _refuse_negative_steps(index)
        if isinstance(value, Tensor) and value.dtype != self.dtype and _index_put(parts, value):
            raise DtypeError(f"Index put requires the source and destination dtypes match, got "
                            f"{self.dtype} for the destination and {value.dtype} for the source")
        inplace.modify(self, "__setitem__", lambda t: F.SetItem.apply(t, value, index=index),
                       value)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


def _method(name: str, op: type) -> Callable[[Tensor], Tensor]:
    """``x.NAME()``: the op of ``ops.METHODS`` applied to ``x``."""
    def method(self: Tensor) -> Tensor:
        return op.apply(self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"``{name}`` of each element (the ``{op.__name__}`` op).\n\n"
                      f"    >>> import microtensor as mt\n"
                      f"    >>> mt.ones(2).{name}().shape\n    (2,)\n")
    return method


for _name, _op in F.METHODS.items():
    setattr(Tensor, _name, _method(_name, _op))




def target_dtype(args: tuple, dtype: Any = None, device: Any = None) -> Any:
    """The dtype a ``.to(...)`` call asks for (None for none), once the device it names is
    checked to be the CPU. PyTorch's forms, for tensors and modules alike: ``to(dtype)``,
    ``to("cpu")``, ``to("cpu", dtype)``, ``to(other_tensor)`` (its dtype), and keywords.

    >>> import microtensor as mt
    >>> target_dtype(("cpu", mt.float64)), target_dtype((mt.ones(1, dtype=mt.float16),))
    (dtype('float64'), dtype('float16'))
    """
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif is_device(arg):
            device = arg
        else:
            dtype = arg
    check_device(device)
    return dtype


def _raw(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else x


def legacy_alpha_first(op: str, other: Any, alpha: Any) -> tuple[Any, Any]:
    """``(other, alpha)``, also from old code's ``p.add_(-lr, grad)``: PyTorch still takes that
    order (a number, then the tensor), with a deprecation warning, and so does microtensor."""
    if isinstance(alpha, Tensor) and not isinstance(other, Tensor):
        warnings.warn(f"this overload of {op} is deprecated: {op}(Number alpha, Tensor other); "
                      f"use {op}(other, alpha=alpha)", UserWarning, stacklevel=3)
        return alpha, other
    return other, alpha


def scaled_by_alpha(tensor: Tensor, other: Any, alpha: Scalar) -> Any:
    """``alpha * other`` in the dtype ``tensor + other`` computes in, as PyTorch's ``alpha``
    (not in ``other``'s own dtype, which may be narrower)."""
    dtype = result_type(tensor, other)
    if isinstance(alpha, bool) and dtype.kind != "b":
        raise DtypeError("Boolean alpha only supported for Boolean results.")
    if alpha == 1:
        return other
    if dtype.kind in "iub" and isinstance(alpha, float):
        raise DtypeError("For integral input tensors, argument alpha must not be a floating point "
                        "number.")
    if dtype.kind == "b":
        alpha = bool(alpha)
        return other * alpha if isinstance(other, Tensor) else bool(other) and alpha
    return (other.to(dtype) if isinstance(other, Tensor) else other) * alpha


def _refuse_bool_arg(x: Tensor, op: str) -> None:
    if x.dtype == np.bool_:
        raise DtypeError(f"{op}(): does not support bool input")


def tensor_operand(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'other' must be a Tensor, not {type(x).__name__}")
    return x


def _no_bool_pow(base: Any, exponent: Any) -> tuple[Any, Any]:
    """PyTorch has no pow kernel for bool exponent tensors (a bool tensor to a Python bool works)."""
    if (isinstance(exponent, Tensor) and exponent.dtype == np.bool_
            and (isinstance(base, bool) or isinstance(base, Tensor) and base.dtype == np.bool_)):
        raise DtypeError("pow is not supported between two bool tensors")
    return base, exponent


def _compare(op: Callable, a: Tensor, b: Any) -> Tensor:
    left, right = autograd.promote([a.array, _raw(as_operand(b))], "common")
    return Tensor._wrap(np.asarray(op(left, right)))


def to_array(data: Any, dtype: Any) -> np.ndarray:
    """PyTorch's conversion rules: Python floats become the default dtype, arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        dtype = as_dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)):  # numpy arrays and scalars keep their dtype
        array = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    else:
        if isinstance(data, (list, tuple)) and _holds_tensors(data):
            data, inferred = _numbers_in(data)
            dtype = dtype or inferred
        try:
            array = np.array(data, dtype=dtype)
        except (OverflowError, ValueError, TypeError) as err:
            if isinstance(err, OverflowError) or "convert float" in str(err):  # 300, nan -> int
                raise RuntimeError(f"value cannot be converted to type {dtype} without "
                                   "overflow") from None
            raise TypeError(f"cannot make a tensor from {type(data).__name__} data: {err}") from None
        if dtype is None and array.dtype == np.float64:
            array = array.astype(get_default_dtype())
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensors hold numbers; got data of dtype {array.dtype} "
                        f"from {type(data).__name__}")
    return array


def _holds_tensors(data: list | tuple) -> bool:
    return any(isinstance(x, Tensor) or isinstance(x, (list, tuple)) and _holds_tensors(x)
               for x in data)


def _numbers_in(data: list | tuple) -> tuple[list, np.dtype]:
    """``torch.tensor``'s rule for tensors inside a list: each holds one element and stands
    for a number of its dtype; the list's dtype is every number's dtype promoted together
    (Python floats counting as the default dtype, ints as int64)."""
    dtype = None

    def number(x: Any) -> Any:
        nonlocal dtype
        if isinstance(x, (list, tuple)):
            return [number(v) for v in x]
        if isinstance(x, Tensor):
            if x.array.size != 1:
                raise ValueError(f"tensor(): a tensor inside a list stands for one number, but "
                                 f"this one has shape {x.shape}; join tensors with mt.stack")
            kind, x = x.dtype, x.array.item()
        else:
            kind = scalar_dtype(x)
        dtype = kind if dtype is None else promote_types(dtype, kind)
        return x

    return number(data), dtype


# Last: inplace.py subclasses Tensor (its views), and composed/ binds its methods to it, so
# both need the class defined first.
from . import composed, inplace, legacy  # noqa: E402, F401
