"""numpy's functions and ufuncs called on tensors: the engine's ops inside a recorded backward
pass, numpy on arrays everywhere else.

Ops write their gradients with numpy (``np.where(mask, grad, 0)``, ``np.exp(x)``). A recorded
backward pass (``create_graph``, see ``higher_order.py``) hands them tensors instead, and numpy
passes each call to ``Tensor.__array_ufunc__`` / ``Tensor.__array_function__``, which look the
function up here: ``UFUNCS`` and ``FUNCTIONS`` map it to the engine's op with numpy's meaning
(``axis``, ``keepdims``, numpy's argument order). A function not in the tables is an error
when a tensor that requires grad takes part (its gradient would be lost), and numpy on the
plain arrays when none does (masks, counts, shapes).

Outside a recorded pass nothing changes: an operator between an array and a tensor is the
tensor's operator, and other numpy calls see the tensors' arrays, as before. Turning a tensor
that requires grad into an array raises, as in PyTorch.

A formula that should record uses numpy's functions where numpy's and the tensor's methods
differ (``np.sum(g, axis=...)``, ``np.transpose(g, axes)``, ``np.astype(g, dtype)``): methods
that mean the same on both (``reshape``, ``T``, indexing, ``shape``) are fine as methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import tensor as tensors  # tensor.py imports this module: read at call time
from .autograd import _state


def _to_arrays(value: Any) -> Any:
    """``value`` with every tensor in it (also inside lists and tuples) as its array."""
    if isinstance(value, tensors.Tensor):
        return np.asarray(value)  # __array__: refuses a tensor that requires grad
    if isinstance(value, (list, tuple)):
        return type(value)(_to_arrays(v) for v in value)
    return value


def _requires_grad(value: Any) -> bool:
    if isinstance(value, tensors.Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(_requires_grad(v) for v in value)
    return False


#: ufuncs that are Python operators, as (method, reflected method): an array and a tensor give
#: the tensor's operator, as before ``__array_ufunc__`` existed (numpy deferred to the tensor's
#: reflected operator then).
_OPERATORS: dict[str, tuple[str, str]] = {
    "add": ("__add__", "__radd__"), "subtract": ("__sub__", "__rsub__"),
    "multiply": ("__mul__", "__rmul__"), "divide": ("__truediv__", "__rtruediv__"),
    "floor_divide": ("__floordiv__", "__rfloordiv__"), "remainder": ("__mod__", "__rmod__"),
    "power": ("__pow__", "__rpow__"), "matmul": ("__matmul__", "__rmatmul__"),
    "equal": ("__eq__", "__eq__"), "not_equal": ("__ne__", "__ne__"),
    "less": ("__lt__", "__gt__"), "less_equal": ("__le__", "__ge__"),
    "greater": ("__gt__", "__lt__"), "greater_equal": ("__ge__", "__le__"),
    "bitwise_and": ("__and__", "__and__"), "bitwise_or": ("__or__", "__or__"),
    "bitwise_xor": ("__xor__", "__xor__"),
    "negative": ("__neg__", ""), "positive": ("__pos__", ""), "invert": ("__invert__", ""),
}


def _operator(name: str, inputs: tuple) -> Any:
    """The tensor operator for ufunc ``name``: the first operand's, or the second's reflected."""
    method, reflected = _OPERATORS[name]
    if isinstance(inputs[0], tensors.Tensor):
        return getattr(inputs[0], method)(*inputs[1:])
    return getattr(inputs[1], reflected)(inputs[0])


def _mt() -> Any:
    import microtensor

    return microtensor


def _linalg() -> Any:
    from .ops import linalg

    return linalg


def _as_tensor(x: Any) -> Any:
    return x if isinstance(x, tensors.Tensor) else _mt().as_tensor(np.asarray(x))


def _to_dtypes(values: tuple) -> list:
    return [v.dtype if isinstance(v, tensors.Tensor) else v for v in values]


def _pair(a: Any, b: Any) -> tuple:
    """Two operands as tensors, a number (or array) taking the other's dtype, as numpy's
    ufuncs treat Python numbers."""
    if not isinstance(a, tensors.Tensor):
        a = _mt().as_tensor(np.asarray(a, dtype=b.dtype))
    if not isinstance(b, tensors.Tensor):
        b = _mt().as_tensor(np.asarray(b, dtype=a.dtype))
    return a, b


def _method(name: str) -> Callable:
    """The ufunc as the method ``name`` of its (first) operand, made a tensor."""
    return lambda x, *rest: getattr(_as_tensor(x), name)(*rest)


#: The other ufuncs the engine has ops for, inside a recorded pass.
UFUNCS: dict[str, Callable] = {
    **{name: lambda *inputs, name=name: _operator(name, inputs) for name in _OPERATORS},
    "absolute": _method("abs"),
    "exp": _method("exp"), "log": _method("log"), "sqrt": _method("sqrt"),
    "sign": _method("sign"), "sin": _method("sin"), "cos": _method("cos"),
    "tanh": _method("tanh"), "log1p": _method("log1p"), "expm1": _method("expm1"),
    "floor": _method("floor"), "ceil": _method("ceil"),
    "trunc": lambda x: _trunc(_as_tensor(x)),
    "reciprocal": _method("reciprocal"), "fmod": _method("fmod"),
    "maximum": lambda a, b: _mt().maximum(*_pair(a, b)),
    "minimum": lambda a, b: _mt().minimum(*_pair(a, b)),
    "square": lambda x: x * x,
    "isnan": _method("isnan"), "isinf": _method("isinf"), "isfinite": _method("isfinite"),
    "logical_not": lambda x: ~_as_tensor(x).bool(),
    "logical_and": lambda a, b: _as_tensor(a).bool() & _as_tensor(b).bool(),
    "logical_or": lambda a, b: _as_tensor(a).bool() | _as_tensor(b).bool(),
}


def _trunc(x: Any) -> Any:
    """Toward zero: ceil below zero, floor above (the engine has no trunc op)."""
    return _mt().where(x < 0, x.ceil(), x.floor())


def _sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    a = _as_tensor(a)
    if axis is None:
        axis = tuple(range(a.ndim))
    return a.sum(dim=axis, keepdim=keepdims, dtype=dtype)


def _transpose(a: Any, axes: Any = None) -> Any:
    a = _as_tensor(a)
    return a.permute(*(reversed(range(a.ndim)) if axes is None else (int(d) for d in axes)))


def _expand_dims(a: Any, axis: Any) -> Any:
    a = _as_tensor(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = a.ndim + len(axes)
    for d in sorted(d % ndim for d in axes):
        a = a.unsqueeze(d)
    return a


def _squeeze(a: Any, axis: Any = None) -> Any:
    return _as_tensor(a).squeeze(axis)


def _moveaxis(a: Any, source: Any, destination: Any) -> Any:
    a = _as_tensor(a)
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    source = [s % a.ndim for s in source]
    destination = [d % a.ndim for d in destination]
    order = [d for d in range(a.ndim) if d not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return a.permute(*order)


def _split(a: Any, indices_or_sections: Any, axis: int = 0) -> list:
    a = _as_tensor(a)
    n = a.shape[axis]
    if isinstance(indices_or_sections, int):
        size = n // indices_or_sections
        ends = [size * k for k in range(1, indices_or_sections)]
    else:
        ends = [min(int(e), n) for e in indices_or_sections]
    bounds = [0, *ends, n]
    return [a.narrow(axis, start, max(stop - start, 0))
            for start, stop in zip(bounds, bounds[1:])]


def _astype(a: Any, dtype: Any, copy: bool = True) -> Any:
    a = _as_tensor(a)
    return a if np.dtype(dtype) == a.dtype and not copy else a.to(np.dtype(dtype))


def _cum(name: str) -> Callable:
    def scan(a: Any, axis: Any = None, dtype: Any = None) -> Any:
        a = _as_tensor(a)
        if axis is None:
            a, axis = a.reshape(-1), 0
        return getattr(a, name)(axis, dtype=dtype)
    return scan


#: numpy's functions (by the function object numpy dispatches) that the engine has ops for.
FUNCTIONS: dict[Callable, Callable] = {
    np.where: lambda c, a, b: _mt().where(c, a, b),
    np.sum: _sum,
    np.zeros_like: lambda a, dtype=None: _mt().zeros_like(_as_tensor(a), dtype=dtype),
    np.ones_like: lambda a, dtype=None: _mt().ones_like(_as_tensor(a), dtype=dtype),
    np.broadcast_to: lambda a, shape: _as_tensor(a).expand(*shape),
    np.expand_dims: _expand_dims,
    np.squeeze: _squeeze,
    np.reshape: lambda a, shape, **_: _as_tensor(a).reshape(shape),
    np.transpose: _transpose,
    np.swapaxes: lambda a, x, y: _as_tensor(a).transpose(x, y),
    np.moveaxis: _moveaxis,
    np.flip: lambda a, axis=None: _as_tensor(a).flip(
        tuple(range(np.ndim(a))) if axis is None else axis),
    np.roll: lambda a, shift, axis=None: _as_tensor(a).roll(shift, axis),
    np.split: _split,
    np.concatenate: lambda arrays, axis=0: _mt().cat([_as_tensor(a) for a in arrays], axis),
    np.stack: lambda arrays, axis=0: _mt().stack([_as_tensor(a) for a in arrays], axis),
    np.cumsum: _cum("cumsum"),
    np.cumprod: _cum("cumprod"),
    np.astype: _astype,
    np.copy: lambda a: _as_tensor(a).clone(),
    np.einsum: lambda *args: _linalg().einsum_sublists(*args),
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.result_type: lambda *args: np.result_type(*_to_dtypes(args)),
    np.size: lambda a, axis=None: a.numel() if axis is None else a.shape[axis],
    np.prod: lambda a, axis=None, keepdims=False: (
        _as_tensor(a).prod() if axis is None else _as_tensor(a).prod(int(axis), keepdims)),
}


def ufunc(function: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """What ``Tensor.__array_ufunc__`` returns (see the module's docstring)."""
    name = function.__name__
    if method == "__call__" and not kwargs:
        if _state.recording_backward:
            engine = UFUNCS.get(name)
            if engine is not None:
                return engine(*inputs)
        elif name in _OPERATORS:
            return _operator(name, inputs)
    if _state.recording_backward and _requires_grad(inputs):
        return NotImplemented  # numpy raises "operand type(s) all returned NotImplemented"
    return _numpy(function, method, inputs, kwargs)


def _numpy(function: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    kwargs = {k: _to_arrays(v) for k, v in kwargs.items()}
    return getattr(function, method)(*_to_arrays(inputs), **kwargs)


def function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """What ``Tensor.__array_function__`` returns (see the module's docstring)."""
    if _state.recording_backward:
        engine = FUNCTIONS.get(func)
        if engine is not None:
            return engine(*args, **kwargs)
        if _requires_grad(args) or _requires_grad(tuple(kwargs.values())):
            return NotImplemented  # numpy raises "no implementation found for 'numpy.NAME'"
    return func(*_to_arrays(args), **{k: _to_arrays(v) for k, v in kwargs.items()})
