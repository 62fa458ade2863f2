"""Making tensors: from data, filled, ranges, and random (``generators.py``). Each takes
PyTorch's ``device=``, which must name the CPU (``devices.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import generators
from .devices import check_device
from .dtypes import as_dtype, get_default_dtype
from .generators import Generator, manual_seed  # noqa: F401 - mt.manual_seed, as before
from .tensor import Tensor, as_shape, to_array


def _new(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A leaf tensor holding ``array`` itself (each factory has made or converted it already)."""
    t = Tensor._wrap(array)
    return t.requires_grad_() if requires_grad else t


def _float_dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None
           ) -> Tensor:
    """A tensor from a list, a number or an array (always a copy, as ``torch.tensor``).

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 2.0]).dtype, mt.tensor([1, 2]).dtype
    (dtype('float32'), dtype('int64'))
    """
    check_device(device)
    if isinstance(data, np.ndarray):
        data = data.copy()
    return _new(to_array(data, dtype), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (dtype kept).

    >>> import numpy as np, microtensor as mt
    >>> mt.from_numpy(np.zeros(2)).dtype
    dtype('float64')
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy array, got {type(array).__name__}")
    return _new(array)


def _filled(size: tuple, value: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    return _new(np.full(as_shape(size), value, dtype=_float_dtype(dtype)),
                  requires_grad)


def zeros(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` both work.

    >>> import microtensor as mt
    >>> mt.zeros(2, 3).shape
    (2, 3)
    """
    return _filled(size, 0, dtype, requires_grad, device)


def ones(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None
         ) -> Tensor:
    """A tensor of ones.

    >>> import microtensor as mt
    >>> mt.ones(2).tolist()
    [1.0, 1.0]
    """
    return _filled(size, 1, dtype, requires_grad, device)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
               ) -> Tensor:
    """Zeros with ``t``'s shape and dtype."""
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
              ) -> Tensor:
    """Ones with ``t``'s shape and dtype."""
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)


def empty(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """A tensor whose values are not to be read before written: zeros here (PyTorch leaves
    memory uninitialised; numpy's ``empty`` would too, and a bug reading it would then vary).

    >>> import microtensor as mt
    >>> mt.empty(2, 3).shape
    (2, 3)
    """
    return _filled(size, 0, dtype, requires_grad, device)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
               ) -> Tensor:
    """``empty`` with ``t``'s shape and dtype."""
    return empty(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)


def full_like(t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """``t``'s shape filled with ``fill_value``, in ``t``'s dtype (not the value's, unlike
    ``full``), as PyTorch.

    >>> import microtensor as mt
    >>> mt.full_like(mt.ones(2, dtype=mt.int64), 2.7).tolist()
    [2, 2]
    """
    return _filled((t.shape,), fill_value, dtype or t.dtype, requires_grad, device)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None,
              generator: Generator | None = None) -> Tensor:
    """``rand`` with ``t``'s shape and (floating) dtype."""
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device,
                generator=generator)


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None,
               generator: Generator | None = None) -> Tensor:
    """``randn`` with ``t``'s shape and (floating) dtype."""
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device,
                 generator=generator)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (the default
    float dtype unless ``dtype``; an integer dtype truncates toward zero, as PyTorch).

    >>> import microtensor as mt
    >>> mt.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    check_device(device)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: number of steps must be a non-negative int, got {steps!r}")
    values = np.linspace(start, end, steps)
    return _new(np.trunc(values).astype(as_dtype(dtype)) if dtype is not None and
                  as_dtype(dtype).kind in "iub" else values.astype(_float_dtype(dtype)),
                  requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor without copying where it can be: a tensor of that dtype is returned
    as it is, and a numpy array of that dtype is shared (writes show in both), as PyTorch.

    >>> import numpy as np, microtensor as mt
    >>> array = np.zeros(2)
    >>> mt.as_tensor(array)[0] = 5.0
    >>> array.tolist()
    [5.0, 0.0]
    """
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or as_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return _new(to_array(data, dtype))


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a tensor (``nn.Parameter`` included).

    >>> import microtensor as mt
    >>> mt.is_tensor(mt.ones(1)), mt.is_tensor([1.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    """The number of elements of ``t``.

    >>> import microtensor as mt
    >>> mt.numel(mt.ones(2, 3))
    6
    """
    return t.numel()


def full(size: tuple[int, ...], fill_value: float, dtype: Any = None,
         requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor filled with one value; its dtype follows the value, as ``torch.full``.

    >>> import microtensor as mt
    >>> mt.full((2,), 7).dtype, mt.full((2,), 0.5).dtype
    (dtype('int64'), dtype('float32'))
    """
    if dtype is None and not isinstance(fill_value, float):
        dtype = np.asarray(fill_value).dtype
    return _filled((size,), fill_value, dtype, requires_grad, device)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, end)``; integers unless an argument is a float.

    >>> import microtensor as mt
    >>> mt.arange(3).tolist(), mt.arange(0, 1, 0.5).tolist()
    ([0, 1, 2], [0.0, 0.5])
    """
    check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0 or (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start {start}, end {end}, step {step})")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if floats else np.int64
    dtype = as_dtype(dtype)
    if dtype.kind == "b":
        raise TypeError("arange: bool is not a dtype for a range (PyTorch has no bool arange)")
    if dtype.kind in "iu":  # as PyTorch: integer ranges truncate their bounds first
        start, end, step = int(start), int(end), int(step) or 1
    return _new(np.arange(start, end, step, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The identity matrix (``n`` by ``m``).

    >>> import microtensor as mt
    >>> mt.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_device(device)
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _draw(sample: Any, size: tuple, dtype: Any) -> np.ndarray:
    """Samples in a float dtype; numpy draws float32 and float64 only, so float16 is cast."""
    dtype = _float_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random floats need a floating point dtype, got {dtype}")
    drawn = np.float32 if dtype.itemsize < 4 else dtype
    return sample(as_shape(size), dtype=drawn).astype(dtype, copy=False)


def randn(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None,
          generator: Generator | None = None) -> Tensor:
    """Standard normal samples from ``generator`` (default: the one ``manual_seed`` seeds).

    >>> import microtensor as mt
    >>> mt.randn(2, 3).shape
    (2, 3)
    """
    check_device(device)
    return _new(_draw(generators.generator(generator).standard_normal, size, dtype),
                  requires_grad)


def rand(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None,
         generator: Generator | None = None) -> Tensor:
    """Uniform samples in ``[0, 1)`` from ``generator`` (default: the seeded one).

    >>> import microtensor as mt
    >>> bool(((mt.rand(5) >= 0) & (mt.rand(5) < 1)).all())
    True
    """
    check_device(device)
    return _new(_draw(generators.generator(generator).random, size, dtype), requires_grad)


def randint(low: int, high: int, size: tuple[int, ...], device: Any = None,
            generator: Generator | None = None) -> Tensor:
    """Integers in ``[low, high)`` (int64), from ``generator`` (default: the seeded one).

    >>> import microtensor as mt
    >>> mt.randint(0, 3, (4,)).dtype
    dtype('int64')
    """
    check_device(device)
    return _new(generators.generator(generator).integers(low, high, size=size, dtype=np.int64))


def randperm(n: int, generator: Generator | None = None, dtype: Any = np.int64,
             device: Any = None) -> Tensor:
    """A random order of ``0 .. n-1`` (int64), from ``generator`` (default: the seeded one).

    >>> import microtensor as mt
    >>> sorted(mt.randperm(4).tolist())
    [0, 1, 2, 3]
    """
    check_device(device)
    # numpy's permutation(-1) is empty and a bool "order" is meaningless: PyTorch refuses both.
    if n < 0:
        raise RuntimeError(f"randperm(): n must be non-negative, got {n}")
    if as_dtype(dtype) == np.bool_:
        raise TypeError("randperm(): not implemented for bool, as in PyTorch")
    return _new(generators.generator(generator).permutation(n).astype(as_dtype(dtype)))
