"""Losses and the stateless pieces of layers, composed from the engine's primitive ops."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..autograd import is_grad_enabled
from ..dtypes import promote_types
from ..errors import DtypeError, ShapeError
from ..functions import where
from ..generators import generator
from ..ops import NLLLoss
from ..summation import accumulation_dtype, cascaded_sum
from ..tensor import Tensor, _raw
from .normalization import layer_norm  # noqa: F401 - F.layer_norm, as PyTorch's

_REDUCTIONS = ("mean", "sum", "none")
#: The dtypes PyTorch takes class indices in (``Long or Byte``); narrower signed ones and bool
#: are refused there, so they are here: a target built with the wrong dtype is a bug upstream.
_CLASS_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


def _reduce(losses: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_scores(input: Tensor, op: str) -> None:  # noqa: A002
    if input.dtype.kind != "f":  # PyTorch: a NotImplementedError, which is a RuntimeError
        raise DtypeError(f"{op}: input must hold floating point scores, got dtype {input.dtype}; "
                         "convert it with .float()")


def _class_targets(input: Tensor, target: Any, ignore_index: int,  # noqa: A002
                   op: str) -> tuple[np.ndarray, np.ndarray]:
    """Check integer class targets against scores (C,), (N, C) or (N, C, d1, ...), the
    classes along dim 1 as PyTorch; return the targets and where they are not ignored."""
    target = np.asarray(_raw(target))
    if target.dtype not in _CLASS_INDEX_DTYPES:
        raise DtypeError(f"{op}: target must hold integer class indices as int64 (or uint8), got "
                         f"dtype {target.dtype}; convert it with .long()")
    _check_scores(input, op)
    if target.dtype == np.uint8 and input.ndim > 2:  # PyTorch's nll_loss2d takes int64 only
        raise DtypeError(f"{op}: uint8 class targets are taken only with input (C,) or (N, C), "
                         f"as PyTorch; for input {input.shape} convert the target with .long()")
    expected = (*input.shape[:1], *input.shape[2:]) if input.ndim >= 2 else ()
    if input.ndim == 0 or target.shape != expected:
        raise ShapeError(f"{op}: expected input (N, C) with target (N,), input (C,) with a 0-d "
                         f"target, or input (N, C, d1, ...) with target (N, d1, ...); got input "
                         f"{input.shape} and target {target.shape}")
    classes = input.shape[1 if input.ndim >= 2 else 0]
    valid = target != ignore_index
    if not target.size or target.min() >= 0 and target.max() < classes:  # all in range
        return target, valid
    bad = valid & ((target < 0) | (target >= classes))
    if bad.any():
        raise IndexError(f"{op}: target holds a class outside [0, {classes}) that is not "
                         f"ignore_index={ignore_index}: {target[bad].flat[0]}")
    return target, valid


def _weight_tensor(weight: Any, classes: int, op: str) -> Tensor:
    """``weight`` as a tensor (a list as ``mt.tensor`` reads it, an array in its own dtype),
    checked to hold one number per class."""
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    if weight.shape != (classes,):
        raise ShapeError(f"{op}: weight must be a floating tensor of shape ({classes},), one per "
                         f"class; got shape {weight.shape} and dtype {weight.dtype}")
    return weight


def _class_weights(weight: Any, classes: int, dtype: np.dtype, op: str) -> np.ndarray | None:
    """A manual rescaling weight per class, as a constant array (no gradient, as PyTorch).

    It must have the scores' dtype: PyTorch refuses a float64 weight for float32 scores
    ("expected scalar type Float but found Double") rather than promote or round it."""
    if weight is None:
        return None
    weight = _weight_tensor(weight, classes, op)
    if weight.requires_grad and is_grad_enabled():  # refused, not silently left without .grad
        raise RuntimeError(f"{op}: not differentiable with respect to weight, so the weight "
                           "cannot require grad (as in PyTorch); pass weight.detach()")
    weight = weight.data
    if weight.dtype != dtype:
        raise DtypeError(f"{op}: weight has dtype {weight.dtype} but the input {dtype}; class "
                         f"weights must have the input's dtype, as in PyTorch: pass "
                         f"weight.to(mt.{dtype})")
    return weight


def _classes_last(input: Tensor) -> Tensor:  # noqa: A002
    """(N, C, d1, ...) to (N, d1, ..., C): the classes last, where ``gather`` picks them."""
    if input.ndim <= 2:
        return input
    return input.permute(0, *range(2, input.ndim), 1)


def _weighted_mean(losses: Tensor, total: float) -> Tensor:
    """``losses.sum() / total``, both in the dtype sums accumulate in (float32 for float16)
    and rounded once, as PyTorch; nan when every target is ignored (0 / 0)."""
    loss_sum = losses.sum(dtype=accumulation_dtype(losses.dtype))
    return (loss_sum / total if total else loss_sum * float("nan")).to(losses.dtype)


def _total(weights: np.ndarray) -> float:
    """The total weight of the targets, added up without float16's rounding."""
    return float(cascaded_sum(weights, dtype=accumulation_dtype(weights.dtype)))


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer targets under log-probabilities ``input``, as
    PyTorch: ``loss_n = -weight[y_n] * input[n, y_n]``, 0 where ``y_n == ignore_index``.

    ``input`` is (N, C), (C,) with a 0-d target, or (N, C, d1, ...) with target (N, d1, ...).
    ``"mean"`` divides the sum by the total weight of the targets not ignored (their count
    without ``weight``), so padding does not dilute the loss; it is nan if all are ignored.
    As PyTorch requires, ``target`` is int64 (or uint8 for input (C,) or (N, C)) and
    ``weight`` (C,) has the input's dtype; other dtypes are a ``DtypeError`` (a ``RuntimeError``).

    >>> import microtensor as mt
    >>> logp = mt.tensor([[0.0, -2.0], [-1.0, -3.0]])
    >>> mt.nn.functional.nll_loss(logp, mt.tensor([1, 0])).item()
    1.5
    >>> mt.nn.functional.nll_loss(logp, mt.tensor([1, -100])).item()  # the second is padding
    2.0
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return _nll_loss(input, target, weight, ignore_index, reduction, "nll_loss")


def _nll_loss(input: Tensor, target: Any, weight: Any, ignore_index: int,  # noqa: A002
              reduction: str, op: str) -> Tensor:
    """``nll_loss``, its errors naming ``op`` (``cross_entropy`` calls it too)."""
    target, valid = _class_targets(input, target, ignore_index, op)
    classes = input.shape[1 if input.ndim >= 2 else 0]
    weight = _class_weights(weight, classes, input.dtype, op)
    if weight is None and input.ndim <= 2 and valid.all():  # the common case: one op picks
        rows = (np.arange(len(target)), target) if input.ndim == 2 else target
        if reduction == "none":
            return -input[rows]
        return NLLLoss.apply(input, index=rows, reduction=reduction)
    safe = np.where(valid, target, 0)  # an ignored target picks class 0, then weighs nothing
    picked = _classes_last(input).gather(-1, safe[..., None])[..., 0]
    per_target = valid if weight is None else np.where(valid, weight[safe], 0)
    per_target = np.asarray(per_target, dtype=input.dtype)
    losses = -picked * per_target
    if reduction == "mean":
        return _weighted_mean(losses, _total(per_target))
    return _reduce(losses, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of raw scores ``input`` against integer classes or class
    probabilities, exactly as PyTorch defines it.

    Shapes as ``nll_loss``: the classes along dim 1 of (N, C, ...), or the only dim of (C,).
    With integer targets, ``weight`` and ``ignore_index`` act as in ``nll_loss``, and
    ``label_smoothing`` ``e`` mixes in the loss against the uniform distribution:
    ``(1 - e) * nll + e / C * sum_c -weight[c] * log_softmax(input)[c]``, averaged with the same
    denominator. Class indices are int64 (or uint8 for input (C,) or (N, C)), and ``weight``
    has the input's dtype, as PyTorch requires (other dtypes are a ``DtypeError``).

    A floating ``target`` of the input's shape holds probabilities instead (smoothed the same
    way); ``"mean"`` then divides by the number of rows (nan for none), ``weight`` is
    multiplied in with type promotion (and gets a gradient), and ``ignore_index`` must be
    negative: PyTorch refuses one that could name a class.

    >>> import microtensor as mt
    >>> logits = mt.zeros(2, 4, requires_grad=True)
    >>> round(mt.nn.functional.cross_entropy(logits, mt.tensor([0, 3])).item(), 4)
    1.3863
    >>> logits = mt.tensor([[4.0, 0.0], [0.0, 0.0]])
    >>> round(mt.nn.functional.cross_entropy(logits, mt.tensor([0, 1]), label_smoothing=0.2).item(), 4)
    0.5556
    """
    op = "cross_entropy"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    _check_scores(input, op)
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    target_dtype = np.asarray(_raw(target)).dtype
    if tuple(np.shape(_raw(target))) == input.shape and target_dtype.kind != "f":
        # PyTorch tells the two kinds of target apart by shape, then checks the dtype.
        raise DtypeError(f"{op}: a target of the input's shape {input.shape} holds class "
                         f"probabilities and must be floating point, got dtype {target_dtype}; "
                         f"class indices have no class dimension")
    log_probs = input.log_softmax(class_dim)
    if target_dtype.kind == "f":
        if ignore_index >= 0:
            raise DtypeError(f"{op}: ignore_index={ignore_index} is not supported for a floating "
                             f"point (probability) target, as in PyTorch; leave it at -100, or "
                             f"pass class indices as int64")
        return _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing)
    if label_smoothing == 0.0:
        return _nll_loss(log_probs, target, weight, ignore_index, reduction, op)
    nll = _nll_loss(log_probs, target, weight, ignore_index, reduction, op)
    target, valid = _class_targets(input, target, ignore_index, op)
    weights = _class_weights(weight, classes, input.dtype, op)
    if weights is not None:
        log_probs = log_probs * weights.reshape(classes, *[1] * (input.ndim - class_dim - 1))
    smooth = -log_probs.sum(class_dim) * valid.astype(input.dtype)
    if reduction == "mean":
        total = valid.sum() if weights is None else _total(weights[target[valid]])
        smooth = _weighted_mean(smooth, float(total))
    else:
        smooth = _reduce(smooth, reduction, op)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / classes)


def _soft_cross_entropy(log_probs: Tensor, target: Any, weight: Any, reduction: str,
                        label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities (a floating target shaped like the input)."""
    op = "cross_entropy"
    if tuple(np.shape(_raw(target))) != log_probs.shape:
        raise ShapeError(f"{op}: a floating target holds class probabilities and must have the "
                         f"input's shape {log_probs.shape}, got {np.shape(_raw(target))} (class "
                         f"indices must be int64)")
    class_dim = 1 if log_probs.ndim >= 2 else 0
    classes = log_probs.shape[class_dim]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:  # a factor like any other here: promoted with the input, as PyTorch
        weight = _weight_tensor(weight, classes, op)
        log_probs = log_probs * weight.reshape(classes, *[1] * (log_probs.ndim - class_dim - 1))
    losses = -(log_probs * target).sum(class_dim)
    if reduction == "mean":
        if not log_probs.data.size:  # no rows: PyTorch's mean is nan, not 0
            return losses.sum() * float("nan")
        return losses.sum() / (log_probs.data.size // classes)
    return _reduce(losses, reduction, op)


def _implicit_dim(input: Tensor, op: str) -> int:  # noqa: A002
    """PyTorch's old default for a missing ``dim``, with its warning: say ``dim`` instead."""
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """``exp(x) / sum(exp(x))`` along ``dim`` (``torch.nn.functional.softmax``).

    >>> import microtensor as mt
    >>> mt.nn.functional.softmax(mt.zeros(2, 2), dim=1).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    return input.softmax(_implicit_dim(input, "softmax") if dim is None else dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """``log(softmax(x))`` along ``dim``, computed stably (``torch.nn.functional.log_softmax``).

    >>> import microtensor as mt
    >>> round(mt.nn.functional.log_softmax(mt.zeros(4), dim=0)[0].item(), 4)
    -1.3863
    """
    return input.log_softmax(_implicit_dim(input, "log_softmax") if dim is None else dim,
                             dtype=dtype)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error. Shapes that differ are broadcast with a warning, as PyTorch does
    (usually a bug: a (N,) target against (N, 1) predictions compares every pair).

    >>> import microtensor as mt
    >>> mt.nn.functional.mse_loss(mt.tensor([1.0, 3.0]), mt.tensor([0.0, 0.0])).item()
    5.0
    """
    target_shape = tuple(np.shape(_raw(target)))
    if target_shape != input.shape:
        warnings.warn(f"mse_loss: using a target size {target_shape} that is different to the "
                      f"input size {input.shape}; they will be broadcast, which is likely not "
                      "what you want", UserWarning, stacklevel=2)
    # Broadcast first, as PyTorch: both sides count as tensors with dims in the promotion.
    common = promote_types(input.dtype, np.asarray(_raw(target)).dtype)
    if common.kind != "f":
        raise TypeError(f"mse_loss: needs floating point input or target, got {input.dtype} and "
                        f"{np.asarray(_raw(target)).dtype}")
    diff = input.to(common) - (target.to(common) if isinstance(target, Tensor) else target)
    return _reduce(diff * diff, reduction, "mse_loss")


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer classes to one-hot rows (int64, as PyTorch; ``.float()`` for a network input).

    >>> import microtensor as mt
    >>> mt.nn.functional.one_hot(mt.tensor([2, 0]), 3).tolist()
    [[0, 0, 1], [1, 0, 0]]
    """
    classes = np.asarray(_raw(tensor))
    if classes.dtype != np.int64:
        raise TypeError(f"one_hot: expected int64 class indices (PyTorch's LongTensor), got "
                        f"dtype {classes.dtype}; convert with .long()")
    if num_classes <= 0 and not classes.size:
        raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; "
                         "pass num_classes")
    if num_classes < 0:
        num_classes = int(classes.max()) + 1 if classes.size else 0
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise IndexError(f"one_hot: classes must lie in [0, {num_classes})")
    return Tensor((classes[..., None] == np.arange(num_classes)).astype(np.int64))


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` picked by integer ``input``; repeated indices add their gradients.

    The row ``padding_idx`` (if given; negative counts from the end) is looked up as any
    other but receives no gradient, as PyTorch: padding never trains its embedding.

    >>> import microtensor as mt
    >>> w = mt.eye(3, requires_grad=True)
    >>> mt.nn.functional.embedding(mt.tensor([2, 2, 0]), w, padding_idx=0).sum().backward()
    >>> w.grad.tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]
    """
    indices = np.asarray(_raw(input))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(f"embedding: index out of range for {weight.shape[0]} rows")
    rows = weight[indices]
    if padding_idx is None:
        return rows
    padding_idx = _padding_row(padding_idx, weight.shape[0], "embedding")
    padded = indices == padding_idx
    if not padded.any():
        return rows
    # The padding row's value, detached, where the index is padding_idx: ``Where`` sends
    # those positions' gradient to the detached side, so the weight's row gets none.
    return where(Tensor(padded[..., None]), weight.detach()[padding_idx], rows)


def _padding_row(padding_idx: int, rows: int, op: str) -> int:
    """``padding_idx`` as a row number in [0, rows), after checking it (PyTorch's rule)."""
    if not isinstance(padding_idx, (int, np.integer)) or not -rows <= padding_idx < rows:
        raise ValueError(f"{op}: padding_idx must be an integer in [-{rows}, {rows}) for "
                         f"{rows} rows, got {padding_idx!r}")
    return int(padding_idx) % rows


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
        return input * np.zeros((), input.dtype)  # keeps the dtype, bool included
    keep = generator().random(input.shape) >= p
    return input * (keep / (1 - p)).astype(input.dtype)
