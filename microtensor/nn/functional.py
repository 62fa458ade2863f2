"""Losses and the stateless pieces of layers, composed from the engine's primitive ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..creation import generator
from ..tensor import Tensor, _raw

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_targets(input: Tensor, target: Any, op: str) -> np.ndarray:  # noqa: A002
    """Check integer class targets against (N, C) or (C,) scores; return them as an array."""
    target = np.asarray(_raw(target))
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    if input.ndim not in (1, 2) or target.shape != input.shape[:-1]:
        raise ValueError(f"{op}: expected input (N, C) with target (N,), or input (C,) with a "
                         f"0-d target; got input {input.shape} and target {target.shape}")
    classes = input.shape[-1]
    if target.size and (target.min() < 0 or target.max() >= classes):
        raise IndexError(f"{op}: target holds a class outside [0, {classes}): "
                         f"{target.min()}..{target.max()}")
    return target


def nll_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Negative log-likelihood of integer targets under log-probabilities ``input`` (N, C).

    >>> import microtensor as mt
    >>> logp = mt.tensor([[0.0, -2.0]])
    >>> mt.nn.functional.nll_loss(logp, mt.tensor([1])).item()
    2.0
    """
    target = _class_targets(input, target, "nll_loss")
    picked = input.gather(-1, target[..., None])[..., 0]
    return _reduce(-picked, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Softmax cross-entropy of raw scores ``input`` (N, C) against integer classes (N,).

    >>> import microtensor as mt
    >>> logits = mt.zeros(2, 4, requires_grad=True)
    >>> round(mt.nn.functional.cross_entropy(logits, mt.tensor([0, 3])).item(), 4)
    1.3863
    """
    _class_targets(input, target, "cross_entropy")
    return nll_loss(input.log_softmax(-1), target, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error (shapes must match, as PyTorch warns they should).

    >>> import microtensor as mt
    >>> mt.nn.functional.mse_loss(mt.tensor([1.0, 3.0]), mt.tensor([0.0, 0.0])).item()
    5.0
    """
    if tuple(np.shape(_raw(target))) != input.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape "
                         f"{np.shape(_raw(target))} differ")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer classes to one-hot rows (int64, as PyTorch; ``.float()`` for a network input).

    >>> import microtensor as mt
    >>> mt.nn.functional.one_hot(mt.tensor([2, 0]), 3).tolist()
    [[0, 0, 1], [1, 0, 0]]
    """
    classes = np.asarray(_raw(tensor))
    if classes.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer classes, got dtype {classes.dtype}")
    if num_classes < 0:
        num_classes = int(classes.max()) + 1 if classes.size else 0
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise IndexError(f"one_hot: classes must lie in [0, {num_classes})")
    return Tensor((classes[..., None] == np.arange(num_classes)).astype(np.int64))


def embedding(input: Any, weight: Tensor) -> Tensor:  # noqa: A002
    """Rows of ``weight`` picked by integer ``input``; repeated indices add their gradients.

    >>> import microtensor as mt
    >>> w = mt.eye(3, requires_grad=True)
    >>> mt.nn.functional.embedding(mt.tensor([2, 2]), w).sum().backward()
    >>> w.grad.tolist()[2]
    [2.0, 2.0, 2.0]
    """
    indices = np.asarray(_raw(input))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(f"embedding: index out of range for {weight.shape[0]} rows")
    return weight[indices]


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only).

    >>> import microtensor as mt
    >>> x = mt.ones(1000)
    >>> kept = mt.nn.functional.dropout(x, 0.5)
    >>> sorted(set(kept.tolist()))
    [0.0, 2.0]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = generator().random(input.shape) >= p
    return input * (keep / (1 - p)).astype(input.dtype)
