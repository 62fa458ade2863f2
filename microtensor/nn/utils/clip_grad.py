"""Gradient clipping: keep one bad batch (an exploding RNN gradient) from wrecking training.

Both functions work on ``.grad`` in place, after ``backward()`` and before ``step()``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from ...creation import from_numpy
from ...dtypes import get_default_dtype
from ...summation import accumulation_dtype, widened
from ...tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` of each parameter that has one; a single tensor counts as a list of one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(values: np.ndarray, norm_type: float) -> np.ndarray:
    """``torch.linalg.vector_norm``: the norm of ``values`` accumulated in float32 for float16
    (its squares overflow half past 256 and underflow it below 2.4e-4), returned as a 0-d
    array of ``values``' dtype, so a norm past half's range is inf, as in PyTorch.

    Any order, as PyTorch: 0 counts the nonzeros, a negative p is (sum |x|^p)^(1/p) (0 if
    an element is 0), -inf the smallest magnitude. The inf and negative orders of no
    values are refused, as PyTorch refuses them (a min has no identity); the others are 0."""
    if values.size == 0:
        if norm_type < 0 or norm_type == math.inf:
            raise RuntimeError(f"clip_grad_norm_: cannot compute the norm of order {norm_type} "
                               "of a gradient with no elements (as PyTorch: that reduction has "
                               "no identity)")
        return np.zeros((), dtype=values.dtype)
    # inf and 0 are the answers on overflow, underflow and 1/0 (an element 0, norm_type < 0)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        norm = np.linalg.norm(widened(values).ravel(), norm_type)
        return np.asarray(norm).astype(values.dtype)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over every gradient as if concatenated into one vector; when it
    exceeds ``max_norm`` each gradient is multiplied by ``max_norm / (norm + 1e-6)``
    (PyTorch's formula). ``norm_type`` may be ``float('inf')`` (the largest magnitude) and,
    as in PyTorch, 0 (the number of nonzeros), negative or ``-inf`` (the smallest magnitude).
    Returns the norm before clipping, as a 0-d tensor.

    As PyTorch: each gradient's norm is accumulated in float32 for float16 gradients (so
    ``[300, 400]`` in half has norm 500, not inf) and rounded to the gradient's dtype; the
    norms of gradients of different dtypes are promoted together (float16 and float32 give
    a float32 norm), and the result has that dtype (the default dtype if no parameter has a
    gradient). The scaling runs in float32 for float16 gradients and each gradient keeps its
    dtype. With ``error_if_nonfinite``, a nan or infinite total norm raises ``RuntimeError``
    and leaves the gradients alone. ``foreach`` is accepted, any value: numpy has one path.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils import clip_grad_norm_
    >>> w = mt.zeros(2, requires_grad=True)
    >>> (w * mt.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    >>> h = mt.zeros(2, dtype=mt.float16, requires_grad=True)
    >>> h.grad = mt.tensor([300.0, 400.0], dtype=mt.float16)
    >>> clip_grad_norm_(h, max_norm=1.0)
    tensor(500., dtype=float16)
    """
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = _grads(parameters)
    if not grads:
        return from_numpy(np.zeros((), dtype=get_default_dtype()))
    # Per-gradient norms, then the norm of those: the same number as the norm of the
    # concatenation, without building it. Each norm keeps its gradient's dtype and they
    # are promoted when stacked (torch.stack), so a half norm that overflowed stays inf.
    dtype = np.result_type(*(g.dtype for g in grads))
    norms = np.stack([_vector_norm(g.array, norm_type) for g in grads]).astype(dtype)
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped; pass error_if_nonfinite=False to scale "
            "them by it anyway")
    # PyTorch's arithmetic step by step, each rounded to the norm's dtype (computed in
    # float32 for half): max_norm / (total + 1e-6) is reciprocal(total + 1e-6) * max_norm.
    wide = accumulation_dtype(dtype).type
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        denominator = (total.astype(wide) + wide(1e-6)).astype(dtype)
        reciprocal = (wide(1) / denominator.astype(wide)).astype(dtype)
        coef = np.minimum((reciprocal.astype(wide) * wide(max_norm)).astype(dtype), 1)
        if coef != 1:  # also true for a nan norm: nan spreads to the gradients, as in PyTorch
            for g in grads:
                # The coefficient meets each gradient in the gradient's compute dtype.
                wide = accumulation_dtype(g.dtype).type
                g.copy_((g.array.astype(wide) * wide(coef)).astype(g.dtype))
    return from_numpy(np.asarray(total))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place (``foreach``
    is accepted, any value, as in ``clip_grad_norm_``).

    >>> import microtensor as mt
    >>> from microtensor.nn.utils import clip_grad_value_
    >>> w = mt.zeros(3, requires_grad=True)
    >>> (w * mt.tensor([-5.0, 0.5, 2.0])).sum().backward()
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    if not (isinstance(clip_value, numbers.Real) and clip_value >= 0):
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0, got {clip_value!r}")
    for g in _grads(parameters):
        g.copy_(g.clamp(-clip_value, clip_value))
