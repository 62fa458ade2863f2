"""``mt.X(tensor, ...)`` spellings of the tensor methods, and the ops that take several tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops as F
from .errors import DtypeError, ShapeError
from .tensor import Tensor, _operand


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension.

    >>> import microtensor as mt
    >>> mt.cat([mt.zeros(2, 3), mt.ones(1, 3)]).shape
    (3, 3)
    """
    if not tensors:
        raise ShapeError("cat: expected a non-empty sequence of tensors")
    return F.Cat.apply(*[_as_tensor(t) for t in tensors], dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension.

    >>> import microtensor as mt
    >>> mt.stack([mt.zeros(3), mt.ones(3)], dim=1).shape
    (3, 2)
    """
    if not tensors:
        raise ShapeError("stack: expected a non-empty sequence of tensors")
    return F.Stack.apply(*[_as_tensor(t) for t in tensors], dim=dim)


def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise choice: ``input`` where ``condition`` holds, else ``other``.

    >>> import microtensor as mt
    >>> x = mt.tensor([-1.0, 2.0])
    >>> mt.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    mask = np.asarray(_as_tensor(condition).array)
    if mask.dtype != np.bool_:
        raise DtypeError(f"where: condition must be a bool tensor, got dtype {mask.dtype}")
    return F.Where.apply(_operand(input), _operand(other), condition=mask)


def maximum(input: Tensor, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise maximum; ties share the gradient.

    >>> import microtensor as mt
    >>> mt.maximum(mt.tensor([1.0, 5.0]), mt.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]
    """
    return _as_tensor(input).maximum(other)


def minimum(input: Tensor, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise minimum; ties share the gradient.

    >>> import microtensor as mt
    >>> mt.minimum(mt.tensor([1.0, 5.0]), mt.tensor(2.0)).tolist()
    [1.0, 2.0]
    """
    return _as_tensor(input).minimum(other)


#: Tensor methods that are also functions, ``mt.NAME(x, ...)``. Every op of
#: ``ops.METHODS`` is one without being listed here; each becomes one entry of ``mt.__all__``.
METHOD_FUNCTIONS = (
    *F.METHODS, "clamp", "softmax", "log_softmax", "logsumexp", "sum", "mean", "max", "min",
    "amax", "amin", "argmax", "argmin", "reshape", "flatten", "transpose", "permute", "squeeze",
    "unsqueeze", "split", "chunk", "matmul", "gather", "masked_fill", "t",
    # composed.py's
    "narrow", "select", "unbind", "gt", "ge", "lt", "le", "eq", "ne",
)


def _function(name: str) -> Any:
    method = getattr(Tensor, name)

    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return method(_as_tensor(input), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``mt.{name}(x, ...)`` is ``x.{name}(...)``.\n\n"
                        f"    >>> import microtensor as mt\n"
                        f"    >>> mt.{name} is not None\n    True\n")
    return function


globals().update({name: _function(name) for name in METHOD_FUNCTIONS})
__all__ = ["cat", "maximum", "minimum", "stack", "where", *METHOD_FUNCTIONS]
