"""Losses and the stateless pieces of layers, composed from the engine's primitive ops."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function, is_grad_enabled, no_grad
from ..creation import as_tensor, from_numpy
from ..dtypes import can_cast, promote_types
from ..errors import DtypeError, ShapeError
from ..functions import cat, where
from ..generators import generator
from ..ops import NLLLoss
from ..summation import accumulation_dtype, cascaded_sum, widened
from ..tensor import Tensor, _raw
from .normalization import layer_norm

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "embedding", "gelu", "huber_loss", "kl_div", "l1_loss", "layer_norm", "linear",
    "log_softmax", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "relu",
    "scaled_dot_product_attention", "sigmoid", "smooth_l1_loss", "softmax", "tanh",
]

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
    weight = as_tensor(weight)
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
    weight = weight.array
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
        if not log_probs.array.size:  # no rows: PyTorch's mean is nan, not 0
            return losses.sum() * float("nan")
        return losses.sum() / (log_probs.array.size // classes)
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
    return from_numpy((classes[..., None] == np.arange(num_classes)).astype(np.int64))


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by integer ``input``; repeated indices add their gradients.

    As PyTorch: the row ``padding_idx`` (if given; negative counts from the end) is looked up
    as any other but receives no gradient, so padding never trains its embedding. With
    ``max_norm``, each row that ``input`` picks and whose ``norm_type``-norm exceeds it is
    first scaled *in place in weight* (outside autograd) to norm ``max_norm`` (precisely
    ``max_norm / (norm + 1e-7)``). ``scale_grad_by_freq`` divides each lookup's gradient by
    how often its index occurs in ``input``. ``sparse=True`` (sparse gradients) is refused.

    >>> import microtensor as mt
    >>> w = mt.eye(3, requires_grad=True)
    >>> mt.nn.functional.embedding(mt.tensor([2, 2, 0]), w, padding_idx=0).sum().backward()
    >>> w.grad.tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]
    >>> w = mt.tensor([[3.0, 4.0], [0.3, 0.4]])
    >>> mt.nn.functional.embedding(mt.tensor([0, 1]), w, max_norm=1.0).tolist() == w.tolist()
    True
    >>> [round(v, 4) for v in w[0].tolist()]  # row 0 had norm 5: renormalised in place
    [0.6, 0.8]
    """
    if sparse:
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported: "
                                  "microtensor has no sparse tensors; use sparse=False")
    indices = np.asarray(_raw(input))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(f"embedding: index out of range for {weight.shape[0]} rows")
    if max_norm is not None:
        _renorm_rows(weight, indices, max_norm, norm_type)
    rows = weight[indices]
    if scale_grad_by_freq and indices.size:
        _, inverse, counts = np.unique(indices, return_inverse=True, return_counts=True)
        scale = (1.0 / counts[inverse.reshape(indices.shape)])[..., None]
        rows = _ScaleGrad.apply(rows, from_numpy(scale.astype(rows.dtype)))
    if padding_idx is None:
        return rows
    padding_idx = _padding_row(padding_idx, weight.shape[0], "embedding")
    padded = indices == padding_idx
    if not padded.any():
        return rows
    # The padding row's value, detached, where the index is padding_idx: ``Where`` sends
    # those positions' gradient to the detached side, so the weight's row gets none.
    return where(from_numpy(padded[..., None]), weight.detach()[padding_idx], rows)


def _renorm_rows(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: each distinct row of ``indices`` whose norm exceeds
    ``max_norm`` times ``max_norm / (norm + 1e-7)``, in place and outside autograd. The norm
    is taken in the weight's dtype (float16's in float32, as PyTorch accumulates it), the
    scale in float64, the product in the weight's compute dtype."""
    unique = np.unique(indices)
    if unique.size and weight.dtype.kind != "f":  # PyTorch's norm() refuses the rest
        raise DtypeError(f"embedding: max_norm takes the norm of rows, which needs a floating "
                         f"point weight, got dtype {weight.dtype}")
    with np.errstate(over="ignore"):
        norms = np.linalg.norm(widened(weight.array[unique]), ord=float(norm_type), axis=1)
    norms = norms.astype(weight.dtype).astype(np.float64)
    over = norms > max_norm
    if not over.any():
        return
    rows = unique[over]
    scale = max_norm / (norms[over] + 1e-7)
    wide = widened(weight.array[rows])
    scaled = (wide * scale.astype(wide.dtype)[:, None]).astype(weight.dtype)
    with no_grad():  # bumps the version, so a graph that saved these values cannot backward
        weight[from_numpy(rows)] = from_numpy(scaled)


class _ScaleGrad(Function):
    """The identity, whose backward multiplies the gradient by ``scale`` (a constant that
    broadcasts against the rows): ``scale_grad_by_freq``'s 1 / count per lookup.

    >>> import numpy as np, microtensor as mt
    >>> x = mt.ones(2, 1, requires_grad=True)
    >>> _ScaleGrad.apply(x, mt.tensor([[0.5], [1.0]])).sum().backward()
    >>> x.grad.tolist()
    [[0.5], [1.0]]
    """

    def forward(self, rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
        self.save_for_backward(scale)
        return rows.copy()  # a new tensor, not a view: the lookup's result is the caller's

    def backward(self, grad: np.ndarray) -> tuple:
        (scale,) = self.saved_tensors
        if isinstance(grad, Tensor):  # a recorded pass: PyTorch's double backward, below
            return _ScaledGrad.apply(grad, scale), None
        return grad * scale, None


class _ScaledGrad(Function):
    """``grad * scale`` whose own gradient is not scaled: PyTorch's double backward of
    ``scale_grad_by_freq`` (``embedding_dense_double_backward``), which leaves the scaling to
    the first backward. Scaling again would count it twice, since ``_ScaleGrad`` sits in the
    graph being differentiated too.

    >>> import microtensor as mt
    >>> g = mt.ones(2, 1, requires_grad=True)
    >>> _ScaledGrad.apply(g, mt.tensor([[0.5], [1.0]])).sum().backward()
    >>> g.grad.tolist()
    [[1.0], [1.0]]
    """

    def forward(self, grad: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return grad * scale

    def backward(self, grad: np.ndarray) -> tuple:
        return grad, None


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


# ------------------------------------------------------------------ layers and activations
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``); ``weight`` is
    (out_features, in_features), or (in_features,) for one output without its dimension.

    >>> import microtensor as mt
    >>> mt.nn.functional.linear(mt.ones(2, 3), mt.ones(4, 3), mt.ones(4)).tolist()[0]
    [4.0, 4.0, 4.0, 4.0]
    """
    if weight.ndim == 1 and bias is not None and (
            input.ndim == 2 or input.ndim == 3 and bias.ndim == 1):
        # PyTorch sends these through addmm, which needs a matrix (its other paths do not).
        raise ShapeError(f"linear: a 1-d weight {weight.shape} with a bias needs an input of "
                         f"1 or more than 2 dims here (as PyTorch's addmm), got {input.shape}")
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """``max(x, 0)`` elementwise; ``inplace=True`` writes the result into ``input`` (recorded
    as an in-place write, as PyTorch's ``relu_``).

    >>> import microtensor as mt
    >>> mt.nn.functional.relu(mt.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return input.copy_(input.relu()) if inplace else input.relu()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """``tanh(x)`` elementwise (integers give the default float dtype).

    >>> import microtensor as mt
    >>> mt.nn.functional.tanh(mt.zeros(2)).tolist()
    [0.0, 0.0]
    """
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """``1 / (1 + exp(-x))`` elementwise.

    >>> import microtensor as mt
    >>> mt.nn.functional.sigmoid(mt.zeros(2)).tolist()
    [0.5, 0.5]
    """
    return input.sigmoid()


_SQRT_HALF = 0.70710678118654752440
_SQRT_TWO_OVER_PI = 0.79788456080286535588


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Gaussian error linear unit: ``x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2)))``, or with
    ``approximate="tanh"`` ``x / 2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``.

    >>> import microtensor as mt
    >>> [round(v, 4) for v in mt.nn.functional.gelu(mt.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got "
                         f"{approximate!r}")
    _check_floating(input, "gelu")
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_TWO_OVER_PI
        return input * 0.5 * (inner.tanh() + 1)
    return input * 0.5 * ((input * _SQRT_HALF).erf() + 1)


def _check_floating(input: Tensor, op: str) -> None:  # noqa: A002
    """PyTorch has no integer kernel for these ops (a NotImplementedError, a RuntimeError)."""
    if input.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating point input, got dtype {input.dtype}; "
                         "convert it with .float()")


# ---------------------------------------------------------------------------------- losses
def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, turned into a ``reduction`` with
    PyTorch's warning (either given overrides ``reduction``, as there)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", UserWarning, stacklevel=3)
    return result


def _check_reduction(reduction: str, op: str, extra: tuple[str, ...] = ()) -> None:
    if reduction not in _REDUCTIONS + extra:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS + extra}, got "
                         f"{reduction!r}")


def _no_weight(weight: Any, op: str) -> None:
    if weight is not None:  # PyTorch 2.13's newest argument: refused rather than ignored
        raise NotImplementedError(f"{op}: weight= is not implemented in microtensor; multiply "
                                  "the unreduced loss (reduction='none') by it instead")


def _broadcast_warning(input: Tensor, target: Any, op: str) -> None:  # noqa: A002
    target_shape = tuple(np.shape(_raw(target)))
    if target_shape != input.shape:
        warnings.warn(f"{op}: using a target size {target_shape} that is different to the "
                      f"input size {input.shape}; they will be broadcast, which is likely not "
                      "what you want", UserWarning, stacklevel=3)


def l1_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
            reduce: bool | None = None, reduction: str = "mean", weight: Any = None) -> Tensor:
    """Mean absolute error ``|input - target|``; shapes that differ are broadcast with a warning,
    as PyTorch. ``weight`` (new in PyTorch 2.13) is not implemented and refused.

    >>> import microtensor as mt
    >>> mt.nn.functional.l1_loss(mt.tensor([1.0, -3.0]), mt.tensor([0.0, 0.0])).item()
    2.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    _no_weight(weight, "l1_loss")
    _broadcast_warning(input, target, "l1_loss")
    return _reduce(_broadcast_difference(input, target).abs(), reduction, "l1_loss")


def _broadcast_difference(input: Tensor, target: Any) -> Tensor:  # noqa: A002
    """``input - target`` as PyTorch's composite losses take it: the two are broadcast first, so
    both count as tensors with dimensions in the promotion (a float32 0-d target lifts a
    float16 input); a bool side is left for the subtraction to refuse, as there."""
    target = as_tensor(target)
    if np.bool_ in (input.dtype, target.dtype):
        return input - target
    common = promote_types(input.dtype, target.dtype)
    return input.to(common) - target.to(common)


def _promoted_difference(input: Tensor, target: Any, op: str) -> Tensor:  # noqa: A002
    """``input - target`` after both are brought to their common dtype (both count as tensors
    with dimensions, as PyTorch's kernel sees them), which must be floating: bools take part."""
    target = as_tensor(target)
    common = promote_types(input.dtype, target.dtype)
    if common.kind != "f":  # PyTorch: a NotImplementedError, which is a RuntimeError
        raise DtypeError(f"{op}: expected floating point input or target, got dtypes "
                         f"{input.dtype} and {target.dtype}; convert with .float()")
    return input.to(common) - target.to(common)


def smooth_l1_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``);
    ``beta=0`` is ``l1_loss``.

    >>> import microtensor as mt
    >>> mt.nn.functional.smooth_l1_loss(mt.tensor([0.5, 3.0]), mt.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    _broadcast_warning(input, target, "smooth_l1_loss")
    if beta == 0:  # PyTorch calls l1_loss then: bools refused, integers kept
        return _reduce(_broadcast_difference(input, target).abs(), reduction, "smooth_l1_loss")
    diff = _promoted_difference(input, target, "smooth_l1_loss")
    distance = diff.abs()
    near = diff.clamp(-beta, beta)  # the quadratic side, finite where unused (inf * 0 is nan)
    losses = where(distance < beta, near * near * (0.5 / beta), distance - 0.5 * beta)
    return _reduce(losses, reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Any, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0, weight: Any = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (``d = input -
    target``): ``delta`` times ``smooth_l1_loss`` with ``beta=delta``. As PyTorch, the loss has
    the input's dtype (a float16 input with a float32 target gives float16). ``weight`` (new in
    PyTorch 2.13) is not implemented and refused.

    >>> import microtensor as mt
    >>> mt.nn.functional.huber_loss(mt.tensor([0.5, 3.0]), mt.zeros(2), delta=2.0, reduction="none").tolist()
    [0.125, 4.0]
    """
    _check_reduction(reduction, "huber_loss")
    _no_weight(weight, "huber_loss")
    if not delta > 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    _broadcast_warning(input, target, "huber_loss")
    diff = _promoted_difference(input, target, "huber_loss")
    if not can_cast(diff.dtype, input.dtype):  # PyTorch writes the loss in the input's dtype
        raise DtypeError(f"huber_loss: result type {diff.dtype} can't be cast to the desired "
                         f"output type {input.dtype}")
    distance = diff.abs()
    near = diff.clamp(-delta, delta)  # the quadratic side, finite where unused (inf * 0 is nan)
    losses = where(distance < delta, near * near * 0.5, (distance - 0.5 * delta) * delta)
    return _reduce(losses.to(input.dtype), reduction, "huber_loss")


def _loss_weight(weight: Any, input: Tensor, op: str) -> Tensor | None:  # noqa: A002
    """A per-element rescaling weight: broadcast to the input's shape (not beyond it), and
    not differentiable, as PyTorch (which refuses one that requires grad)."""
    if weight is None:
        return None
    weight = as_tensor(weight)
    if weight.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: not differentiable with respect to weight, so the weight "
                           "cannot require grad (as in PyTorch); pass weight.detach()")
    if np.broadcast_shapes(weight.shape, input.shape) != input.shape:
        raise ShapeError(f"{op}: weight of shape {weight.shape} must broadcast to the input's "
                         f"shape {input.shape}")
    return weight


#: PyTorch's floor on x (1 - x) in the gradient: 1e-12 stored as a float32, as there.
_BCE_EPSILON = float(np.float32(1e-12))


class _BinaryCrossEntropy(Function):
    """``-w (t log x + (1 - t) log(1 - x))`` per element, each log clamped at -100, with
    PyTorch's gradients: for ``x``, ``w (x - t) / max(x (1 - x), eps)`` (finite at 0 and 1,
    where differentiating the clamped logs would give nan); for ``t``, ``w (log(1 - x) -
    log x)`` (unclamped: infinite at 0 and 1, as PyTorch). ``w`` (a constant) may be None."""

    def forward(self, x, t, w):
        self.save_for_backward(x, t, w)
        with np.errstate(divide="ignore"):
            log_x, log_1mx = np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)
        losses = -(t * log_x + (1 - t) * log_1mx)
        return losses if w is None else losses * w

    def backward(self, grad):
        x, t, w = self.saved_tensors
        scale = grad if w is None else grad * w
        grad_x = grad_t = None
        if self.needs_input_grad[0]:
            grad_x = (_BinaryCrossEntropyGrad.apply(grad, x, t, w) if isinstance(grad, Tensor)
                      else _bce_input_grad(scale, x, t))  # recorded: PyTorch's double backward
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                grad_t = scale * (np.log1p(-x) - np.log(x))
        return grad_x, grad_t, None


def _bce_input_grad(scale: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Binary cross-entropy's gradient for ``x``, ``scale (x - t) / max(x (1 - x), eps)``
    (inf and nan where PyTorch's are)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return scale * (x - t) / np.maximum((1 - x) * x, _BCE_EPSILON)


#: The eps of PyTorch's binary cross-entropy double backward (a double there, not a float).
_BCE_DOUBLE_EPSILON = 1e-12


class _BinaryCrossEntropyGrad(Function):
    """Binary cross-entropy's gradient for ``x`` as an op of ``grad``, ``x`` and ``t`` (``w``
    a constant or None), with PyTorch's double backward (``binary_cross_entropy_double_backward``
    and its ``_target`` and ``_grad_output`` siblings in ``FunctionsManual.cpp``). Those are not
    the derivatives of the clamped formula: the ones for ``x`` and ``grad`` put ``eps`` in each
    factor, ``(x + eps)(1 - x + eps)``, so they stay finite at 0 and 1.

    >>> import microtensor as mt
    >>> x = mt.tensor([0.25], dtype=mt.float64, requires_grad=True)
    >>> g = _BinaryCrossEntropyGrad.apply(mt.ones(1, dtype=mt.float64), x, mt.ones(1, dtype=mt.float64), None)
    >>> g.backward()
    >>> [round(g.item(), 6), round(x.grad.item(), 6)]  # -1 / x and its derivative 1 / x^2
    [-4.0, 16.0]
    """

    def forward(self, grad, x, t, w):
        self.save_for_backward(grad, x, t, w)
        return _bce_input_grad(grad if w is None else grad * w, x, t)

    def backward(self, gg):
        grad, x, t, w = self.saved_tensors
        eps = _BCE_DOUBLE_EPSILON
        scaled = gg if w is None else gg * w
        need_grad, need_x, need_t, _ = self.needs_input_grad
        d_grad = d_x = d_t = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if need_grad:
                d_grad = scaled * (x - t) / ((x + eps) * (1 - x + eps))
            if need_x:
                d_x = (scaled * grad * (x * x - 2 * x * t + t)
                       / ((x + eps) * (x + eps) * (1 - x + eps) * (1 - x + eps)))
            if need_t:
                product = (1 - x) * x
                d_t = -scaled * grad / np.where(product < eps, eps, product)  # a clamp at eps
        return d_grad, d_x, d_t, None


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` (each in [0, 1]) against ``target`` of
    the same shape and dtype: ``-w (t log x + (1 - t) log(1 - x))``, each log clamped at -100
    as PyTorch (so ``x = 0`` costs 100, not inf). ``weight`` broadcasts to the input's shape.

    >>> import microtensor as mt
    >>> round(mt.nn.functional.binary_cross_entropy(mt.tensor([0.5, 0.9]), mt.tensor([1.0, 1.0])).item(), 4)
    0.3993
    """
    op = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    target = as_tensor(target)
    if target.shape != input.shape:
        raise ValueError(f"{op}: using a target size {target.shape} that is different to the "
                         f"input size {input.shape} is not supported; make them the same size")
    _check_floating(input, op)
    if target.dtype != input.dtype:
        raise DtypeError(f"{op}: target has dtype {target.dtype} but the input {input.dtype}; "
                         "they must match, as in PyTorch")
    if not ((input.data >= 0) & (input.data <= 1)).all():  # nan fails too, as in PyTorch
        raise RuntimeError(f"{op}: all elements of input should be between 0 and 1")
    weight = _loss_weight(weight, input, op)
    if weight is not None and weight.dtype != input.dtype:
        raise DtypeError(f"{op}: weight has dtype {weight.dtype} but the input {input.dtype}; "
                         "they must match, as in PyTorch")
    losses = _BinaryCrossEntropy.apply(input, target, weight)
    return _reduce(losses, reduction, op)


def binary_cross_entropy_with_logits(input: Tensor, target: Any,  # noqa: A002
                                     weight: Any = None, size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of raw scores ``input`` (sigmoid inside), computed stably as
    PyTorch: ``(1 - t) x + (1 + (pos_weight - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))``, times
    ``weight``. ``pos_weight`` weighs the positive term (one per class, broadcast along the
    last dimension); neither weight may require grad, as in PyTorch.

    >>> import microtensor as mt
    >>> x = mt.tensor([0.0, 100.0, -100.0])
    >>> [round(v, 4) for v in mt.nn.functional.binary_cross_entropy_with_logits(
    ...     x, mt.tensor([1.0, 1.0, 0.0]), reduction="none").tolist()]
    [0.6931, 0.0, 0.0]
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    if tuple(np.shape(_raw(target))) != input.shape:
        raise ValueError(f"{op}: target size {tuple(np.shape(_raw(target)))} must be the same "
                         f"as input size {input.shape}")
    _check_floating(input, op)
    weight = _loss_weight(weight, input, op)
    pos_weight = _loss_weight(pos_weight, input, f"{op} (pos_weight)")
    target = as_tensor(target)
    losses = _BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    return _reduce(losses if weight is None else losses * weight.array, reduction, op)


class _BinaryCrossEntropyWithLogits(Function):
    """PyTorch's per-element ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)`` and its gradients,
    written out: composed, the gradients at x = +-inf would meet inf * 0 (nan) where PyTorch's
    formulas are finite or infinite. For x: ``(1 + (pw - 1) t) sigmoid(x) - pw t``; for t:
    ``-x`` (``pw softplus(-x) - softplus(x)`` with ``pos_weight``)."""

    promote = "common"

    def forward(self, x, t, pos_weight=None):
        self.save_for_backward(x, t, pos_weight)
        with np.errstate(invalid="ignore", over="ignore"):
            softplus = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
            scale = 1 if pos_weight is None else (pos_weight - 1) * t + 1
            return ((1 - t) * x + scale * softplus).astype(np.result_type(x, t), copy=False)

    def backward(self, grad):
        x, t, pw = self.saved_tensors
        with np.errstate(invalid="ignore", over="ignore"):
            sigmoid = 0.5 + 0.5 * np.tanh(0.5 * x)
            if pw is None:
                grad_x, grad_t = sigmoid - t, -x
            else:
                weighted = pw * t  # PyTorch's order of operations (it decides inf - inf cases)
                grad_x = (weighted + 1 - t) * sigmoid - weighted
                tail = np.log1p(np.exp(-np.abs(x)))  # softplus(+-x) = tail + max(+-x, 0)
                grad_t = pw * (tail + np.maximum(-x, 0)) - (tail + np.maximum(x, 0))
            return grad * grad_x, grad * grad_t, None


class _TLogT(Function):
    """``xlogy(t, t)``: ``t log t``, 0 at ``t = 0``. Its gradient ``log t + 1`` is nan at ``t = 0``
    (PyTorch's xlogy backward divides 0 by 0 there) and for ``t < 0`` unless the incoming
    gradient is 0 (PyTorch's ``xlogy(grad, t)``); log 0 raises no warning."""

    promote = "float"

    def forward(self, t):
        self.save_for_backward(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 0, 0, t * np.log(t)).astype(t.dtype, copy=False)

    def backward(self, grad):
        (t,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            # PyTorch's xlogy backward, both arguments being t: xlogy(grad, t) (0 where grad is
            # 0 and t not nan, and where t is 0), plus grad * t / t (nan at t = 0).
            log_part = np.where((grad == 0) & ~np.isnan(t) | (t == 0), 0, grad * np.log(t))
            return log_part + grad * t / t


def kl_div(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``, pointwise
    ``t (log t - input)`` (0 where ``t = 0``), or ``exp(t) (t - input)`` with ``log_target``.
    ``"batchmean"`` divides the sum by the batch size (the definition of KL); ``"mean"`` by
    the number of elements, with PyTorch's warning.

    >>> import microtensor as mt
    >>> logp = mt.tensor([[0.5, 0.5]]).log()
    >>> round(mt.nn.functional.kl_div(logp, mt.tensor([[1.0, 0.0]]), reduction="batchmean").item(), 4)
    0.6931
    """
    op = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op, ("batchmean",))
    target = as_tensor(target)
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise DtypeError(f"{op}: integral inputs are not supported, got dtypes {input.dtype} "
                         f"and {target.dtype}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    losses = (target.exp() * (target - input) if log_target
              else _TLogT.apply(target) - target * input)
    if reduction == "batchmean":
        return losses.sum() / input.shape[0] if input.ndim else losses.sum()
    return _reduce(losses, reduction, op)


# ------------------------------------------------------------------------- shape and norms
def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",  # noqa: A002
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions, last first: ``pad = (left, right, top,
    bottom, ...)``; negative amounts crop. Only ``mode="constant"`` (filled with ``value``,
    0 by default) is implemented; other modes are refused.

    >>> import microtensor as mt
    >>> mt.nn.functional.pad(mt.ones(1, 2), (1, 0), value=5.0).tolist()
    [[5.0, 1.0, 1.0]]
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented in microtensor; only "
                                  "'constant' is")
    amounts = [int(p) for p in pad]
    if len(amounts) % 2:
        raise ShapeError(f"pad: padding length must be divisible by 2, got {len(amounts)}")
    if len(amounts) > 2 * input.ndim:
        raise ShapeError(f"pad: padding length should be less than or equal to two times the "
                         f"input dimension but got padding length {len(amounts)} and input of "
                         f"dimension {input.ndim}")
    out = input
    for i in range(len(amounts) // 2):
        axis, before, after = input.ndim - 1 - i, amounts[2 * i], amounts[2 * i + 1]
        size = out.shape[axis]
        if size + min(before, 0) + min(after, 0) < 0:
            raise ShapeError(f"pad: the input size {size}, plus negative padding {before} and "
                             f"{after}, gives a negative output size in dimension {axis}")
        crop = [slice(None)] * input.ndim
        crop[axis] = slice(max(-before, 0), size - max(-after, 0))
        out = out[tuple(crop)]
        parts = []
        for amount in (before, after):
            side = list(out.shape)
            side[axis] = max(amount, 0)
            parts.append(from_numpy(np.full(side, 0 if value is None else value).astype(input.dtype)))
        out = cat([parts[0], out, parts[1]], dim=axis)
    return out if out is not input else input.clone()


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,  # noqa: A002
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``, as PyTorch (``p`` > 0 or inf; a zero
    vector comes out as zeros with gradient ``1 / eps``).

    >>> import microtensor as mt
    >>> mt.nn.functional.normalize(mt.tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    if out is not None:
        raise NotImplementedError("normalize: out= is not implemented in microtensor")
    if input.dtype.kind != "f":
        raise DtypeError(f"normalize: expected a floating point input, got dtype {input.dtype}")
    p = float(p)
    if not p > 0:
        raise NotImplementedError(f"normalize: p must be positive or inf here, got {p} (p=0 and "
                                  "negative orders are not implemented)")
    # PyTorch's definition, so its derivatives to every order are PyTorch's too (the norm's
    # gradient at a zero vector is 0, its second derivative there nan, as PyTorch's).
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


# ------------------------------------------------------------------------------- attention
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two dims, the others
    broadcast as batch dims (``torch.nn.functional.scaled_dot_product_attention``).

    ``query`` (..., L, E), ``key`` (..., S, E) and ``value`` (..., S, Ev) give (..., L, Ev);
    ``scale`` defaults to ``1 / sqrt(E)``. A bool ``attn_mask`` (broadcast to (..., L, S)) is
    True where a query may attend to a key; a float one (the query's dtype or float32) is added
    to the scores, and gets a gradient. ``is_causal`` lets query ``i`` see keys ``0..i``
    (top-left aligned, as PyTorch), and excludes ``attn_mask``. A query that may attend to no
    key gets zeros and no gradient, as PyTorch's CPU kernels give. ``dropout_p`` drops attention
    weights (drawn from the default generator) on every call: the function has no training
    flag, as PyTorch's. With ``enable_gqa``, ``key`` and ``value`` may have fewer heads (dim -3)
    than ``query``, each shared by a group of query heads.

    >>> import microtensor as mt
    >>> q = k = mt.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> F = mt.nn.functional
    >>> out = F.scaled_dot_product_attention(q, k, mt.tensor([[1.0], [3.0]]), is_causal=True)
    >>> [round(v, 4) for v in out.flatten().tolist()]  # row 0 sees key 0 only
    [1.0, 2.3395]
    >>> mask = mt.tensor([[False, False], [True, True]])
    >>> F.scaled_dot_product_attention(q, k, mt.ones(2, 1), attn_mask=mask).tolist()
    [[0.0], [1.0]]
    """
    op = "scaled_dot_product_attention"
    query, key, value = _attention_inputs(query, key, value, op)
    if not 0 <= dropout_p <= 1:
        raise RuntimeError(f"{op}: dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa:
        key, value = (_repeat_heads(x, query, name, op) for x, name in ((key, "key"),
                                                                         (value, "value")))
    _broadcast(op, query.shape[:-2], key.shape[:-2], value.shape[:-2])
    length, source = query.shape[-2], key.shape[-2]
    if scale is None:  # with E = 0 every score is 0, whatever the scale (1/sqrt(0) is not)
        scale = 1 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    dead = ~np.tril(np.ones((length, source), dtype=bool)) if is_causal else None
    bias = None
    if attn_mask is not None:
        mask = as_tensor(attn_mask)
        scores_shape = (*np.broadcast_shapes(query.shape[:-2], key.shape[:-2]), length, source)
        if _broadcast(op, mask.shape, scores_shape) != scores_shape:
            raise ShapeError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to the "
                             f"scores' shape {scores_shape} (..., L, S)")
        if mask.dtype == np.bool_:
            dead = ~mask.array
        elif mask.dtype in (np.dtype(np.float32), query.dtype):
            dead = np.isneginf(mask.array)
            # -inf is added as the lowest finite value (below), so no inf enters the graph
            # (anomaly mode stops at the first one) and the mask's gradient there is 0.
            bias = mask.masked_fill(dead, 0.0) if dead.any() else mask
            bias = bias if bias.dtype == query.dtype else bias.to(query.dtype)
        else:
            raise DtypeError(f"{op}: expected attn_mask dtype to be bool or float or to match "
                             f"query dtype, but got attn_mask.dtype: {mask.dtype} and "
                             f"query.dtype: {query.dtype}")
    return _attend(query, key, value, bias, dead, scale, dropout_p, "zero")[0]


def _attend(query: Tensor, key: Tensor, value: Tensor, bias: Tensor | None,
            dead: np.ndarray | None, scale: float, dropout_p: float, empty_rows: str
            ) -> tuple[Tensor, Tensor]:
    """The output and the (dropped out) weights of attention with a finite additive ``bias``
    and the positions ``dead`` that may not be attended (both broadcast to the scores)."""
    scores = (query @ key.transpose(-2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    scores.name = "scores"
    weights = _masked_softmax(scores, dead, empty_rows)
    if dropout_p:
        weights = dropout(weights, dropout_p)
    weights.name = "weights"
    return weights @ value, weights


def _broadcast(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(f"{op}: shapes {', '.join(map(str, shapes))} do not broadcast") from None


def _attention_inputs(query: Any, key: Any, value: Any, op: str) -> tuple[Tensor, Tensor, Tensor]:
    """Check query (..., L, E), key (..., S, E) and value (..., S, Ev): tensors of one
    floating dtype, with at least 2 dims."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(tensor).__name__}")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ShapeError(f"{op}: expected query, key, and value to all be at least 2 dimensional, "
                         f"but got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
                         f"{value.ndim} instead")
    if not query.dtype == key.dtype == value.dtype:
        raise DtypeError(f"{op}: expected query, key, and value to have the same dtype, but got "
                         f"query.dtype: {query.dtype} key.dtype: {key.dtype} and value.dtype: "
                         f"{value.dtype} instead")
    if query.dtype.kind != "f":
        raise DtypeError(f"{op}: expected floating point query, key and value, got dtype "
                         f"{query.dtype}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got {query.shape}, {key.shape} and {value.shape}")
    return query, key, value


def _repeat_heads(x: Tensor, query: Tensor, name: str, op: str) -> Tensor:
    """``x`` (..., H, S, E) with each head repeated so that there are as many as the query's
    (PyTorch's ``repeat_interleave`` on dim -3: heads 0, 0, 1, 1, ...)."""
    heads = query.shape[-3] if query.ndim >= 3 else None
    if heads is None or x.ndim < 3 or x.shape[-3] == 0 or heads % x.shape[-3]:
        raise ShapeError(f"{op}: with enable_gqa, the number of heads (dim -3) of {name} must "
                         f"divide the query's, got {name} {x.shape} and query {query.shape}")
    groups = heads // x.shape[-3]
    if groups == 1:
        return x
    *batch, kv_heads, length, size = x.shape
    return (x.unsqueeze(-3).expand(*batch, kv_heads, groups, length, size)
            .reshape(*batch, heads, length, size))


def _masked_softmax(scores: Tensor, dead: np.ndarray | None, empty_rows: str) -> Tensor:
    """Softmax over the last dim, 0 exactly where ``dead`` (broadcast to the scores) is True.

    A row with every position dead is all zeros (no gradient) with ``empty_rows="zero"``, as
    PyTorch's scaled_dot_product_attention; all nan with ``"nan"``, as PyTorch's
    MultiheadAttention when it returns weights (a softmax of -infs). Dead positions are filled
    with the lowest finite value, not -inf: no inf enters the graph."""
    if dead is None or not dead.any():
        return scores.softmax(-1)
    full = dead.all(axis=-1, keepdims=True)
    scores = scores.masked_fill(dead & ~full, float(np.finfo(scores.dtype).min))
    if empty_rows == "nan" and full.any():  # added, so the gradient is nan there too
        scores = scores + np.where(full, np.nan, 0).astype(scores.dtype)
    weights = scores.softmax(-1)
    return weights.masked_fill(dead if empty_rows == "zero" else dead & ~full, 0.0)
