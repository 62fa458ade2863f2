"""``mt.X(tensor, ...)`` spellings of the tensor methods, and the ops that take several tensors."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops as F
from .creation import arange, as_tensor, tensor
from .dtypes import result_type
from .errors import DtypeError, ShapeError
from .tensor import Tensor, as_operand


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension.

    >>> import microtensor as mt
    >>> mt.cat([mt.zeros(2, 3), mt.ones(1, 3)]).shape
    (3, 3)
    """
    if not tensors:
        raise ShapeError("cat: expected a non-empty sequence of tensors")
    return F.Cat.apply(*[as_tensor(t) for t in tensors], dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension.

    >>> import microtensor as mt
    >>> mt.stack([mt.zeros(3), mt.ones(3)], dim=1).shape
    (3, 2)
    """
    if not tensors:
        raise ShapeError("stack: expected a non-empty sequence of tensors")
    return F.Stack.apply(*[as_tensor(t) for t in tensors], dim=dim)


def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise choice: ``input`` where ``condition`` holds, else ``other``.

    >>> import microtensor as mt
    >>> x = mt.tensor([-1.0, 2.0])
    >>> mt.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    mask = np.asarray(as_tensor(condition).array)
    if mask.dtype != np.bool_:
        raise DtypeError(f"where: condition must be a bool tensor, got dtype {mask.dtype}")
    return F.Where.apply(as_operand(input), as_operand(other), condition=mask)


def maximum(input: Tensor, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise maximum; ties share the gradient.

    >>> import microtensor as mt
    >>> mt.maximum(mt.tensor([1.0, 5.0]), mt.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]
    """
    return as_tensor(input).maximum(other)


def minimum(input: Tensor, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise minimum; ties share the gradient.

    >>> import microtensor as mt
    >>> mt.minimum(mt.tensor([1.0, 5.0]), mt.tensor(2.0)).tolist()
    [1.0, 2.0]
    """
    return as_tensor(input).minimum(other)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums of products named by subscripts, as ``torch.einsum``: ``"ij,jk->ik"`` is a matrix
    product; ``...`` stands for broadcast dims, a letter repeated in one operand reads its
    diagonal, and without ``->`` the output is the letters used once, alphabetically. The
    operands may also come as one list. Bool tensors are refused.

    >>> import microtensor as mt
    >>> a, b = mt.ones(2, 3), mt.ones(3, 4)
    >>> mt.einsum("ij,jk->ik", a, b).shape, mt.einsum("ii", mt.eye(3)).item()
    ((2, 4), 3.0)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected a tensor as operand {i}, got {type(t).__name__}")
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    return F.Einsum.apply(*operands, equation=equation)


#: Tensor methods that are also functions, ``mt.NAME(x, ...)``. Every op of
#: ``ops.METHODS`` is one without being listed here; each becomes one entry of ``mt.__all__``.
METHOD_FUNCTIONS = (
    *F.METHODS, "clamp", "softmax", "log_softmax", "logsumexp", "sum", "mean", "max", "min",
    "amax", "amin", "argmax", "argmin", "reshape", "flatten", "transpose", "permute", "squeeze",
    "unsqueeze", "split", "chunk", "matmul", "gather", "masked_fill", "t",
    # composed/'s
    "narrow", "select", "unbind", "gt", "ge", "lt", "le", "eq", "ne",
    "sort", "argsort", "topk", "flip", "roll", "tril", "triu", "index_select",
    "scatter", "scatter_add", "index_add",
    "mm", "bmm", "dot", "mv", "outer", "inner", "prod", "cumsum", "cumprod", "var", "std", "norm",
    "square", "round", "isnan", "isinf", "isfinite", "logical_not", "logical_and", "logical_or",
    "logical_xor", "isclose", "allclose", "equal", "clip", "add", "sub", "mul", "div",
    "true_divide", "pow", "remainder", "fmod", "floor_divide",
)


def _function(name: str) -> Any:
    method = getattr(Tensor, name)

    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return method(as_tensor(input), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``mt.{name}(x, ...)`` is ``x.{name}(...)``.\n\n"
                        f"    >>> import microtensor as mt\n"
                        f"    >>> mt.{name} is not None\n    True\n")
    return function


globals().update({name: _function(name) for name in METHOD_FUNCTIONS})


def _number_first(name: str) -> Any:
    """``mt.NAME(input, other, ...)`` where PyTorch also takes a Python number as ``input``
    (``torch.pow(2, x)``): the number becomes a tensor of the dtype it takes beside ``other``
    (weak, as a number on the right), not one of its own dtype. ``remainder(2.0, x)`` is
    ``2.0 % x``, which PyTorch does not differentiate."""
    function = globals()[name]

    def number_first(input: Any, other: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        if isinstance(input, numbers.Number) and isinstance(other, Tensor):
            if name == "remainder":
                return other.__rmod__(input)
            # A bool stays one: below every other kind, it cannot change the result's dtype.
            dtype = bool if isinstance(input, bool) else result_type(other, input)
            input = tensor(input, dtype=dtype)  # noqa: A001
        return function(input, other, *args, **kwargs)

    number_first.__name__ = number_first.__qualname__ = name
    number_first.__doc__ = function.__doc__
    return number_first


globals().update({name: _number_first(name) for name in (
    "add", "sub", "mul", "div", "true_divide", "pow", "remainder", "floor_divide")})


def repeat_interleave(input: Tensor | None = None, repeats: int | Tensor | None = None,  # noqa: A002
                      dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """``x.repeat_interleave(repeats, dim)``; given only a 1-d int32 or int64 tensor of counts,
    the indices ``0, 1, ...`` each repeated as often as its count says (PyTorch's one-argument
    form, which ``x.repeat_interleave()`` has not), in the counts' dtype.

    >>> import microtensor as mt
    >>> mt.repeat_interleave(mt.tensor([1, 2, 3])).tolist()
    [0, 1, 1, 2, 2, 2]
    """
    if input is not None and repeats is not None:
        return as_tensor(input).repeat_interleave(repeats, dim, output_size=output_size)
    counts = repeats if input is None else input
    if not isinstance(counts, Tensor):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be Tensor, not "
                        f"{type(counts).__name__}")
    if dim is not None:
        raise TypeError("repeat_interleave(repeats, dim): the one-argument form takes no dim, "
                        "as PyTorch's")
    if counts.dtype not in (np.int32, np.int64):
        raise DtypeError(f"repeat_interleave(repeats): repeats must be int32 or int64, got "
                         f"{counts.dtype}, as PyTorch's")
    if counts.ndim != 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    # The indices 0, 1, ... as entries: the method then repeats (and checks) them.
    return arange(counts.shape[0], dtype=counts.dtype).repeat_interleave(
        counts, output_size=output_size)


__all__ = ["cat", "einsum", "maximum", "minimum", "repeat_interleave", "stack", "where",
           *METHOD_FUNCTIONS]
