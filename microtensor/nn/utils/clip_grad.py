"""Gradient clipping: keep one bad batch (an exploding RNN gradient) from wrecking training.

Both functions work on ``.grad`` in place, after ``backward()`` and before ``step()``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from ...tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` of each parameter that has one; a single tensor counts as a list of one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over every gradient as if concatenated into one vector; when it
    exceeds ``max_norm`` each gradient is multiplied by ``max_norm / (norm + 1e-6)``
    (PyTorch's formula). ``norm_type`` may be ``float('inf')`` (the largest magnitude).
    Returns the norm before clipping, as a 0-d tensor.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils import clip_grad_norm_
    >>> w = mt.zeros(2, requires_grad=True)
    >>> (w * mt.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    # Per-gradient norms, then the norm of those: the same number as the norm of the
    # concatenation, without building it.
    norms = np.array([np.linalg.norm(g.data.ravel(), norm_type) for g in grads])
    # An array, not numpy's scalar: Tensor() would turn a float64 scalar into float32.
    total = np.asarray(np.linalg.norm(norms, norm_type))  # the gradients' dtype, as PyTorch
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped; pass error_if_nonfinite=False to scale "
            "them by it anyway")
    scale = min(max_norm / (float(total) + 1e-6), 1.0)
    if scale != 1.0:  # also true for a nan norm: nan spreads to the gradients, as in PyTorch
        for g in grads:
            g.mul_(scale)
    return Tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

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
