"""The losses as modules (``nn.CrossEntropyLoss``, ``nn.NLLLoss``, ``nn.MSELoss``, ``nn.L1Loss``,
``nn.SmoothL1Loss``, ``nn.HuberLoss``, ``nn.BCELoss``, ``nn.BCEWithLogitsLoss``,
``nn.KLDivLoss``): the functions of ``nn.functional`` with their options fixed at
construction, as PyTorch.

Options after ``weight`` are keyword-only: PyTorch's second positional parameter is the
long-deprecated ``size_average``, so a positional call could not mean the same here.
"""

from __future__ import annotations

from typing import Any

from ..creation import as_tensor
from ..tensor import Tensor
from . import functional as F
from .module import Module


class CrossEntropyLoss(Module):
    """``F.cross_entropy`` as a module; ``weight`` is kept as a buffer (in ``state_dict``).

    >>> import microtensor as mt
    >>> loss = mt.nn.CrossEntropyLoss(ignore_index=0)
    >>> round(loss(mt.zeros(3, 4), mt.tensor([0, 1, 2])).item(), 4)  # the 0 is ignored
    1.3863
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", None if weight is None else as_tensor(weight))
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(Module):
    """``F.nll_loss`` as a module; ``weight`` is kept as a buffer.

    >>> import microtensor as mt
    >>> mt.nn.NLLLoss(reduction="sum")(mt.tensor([[-1.0, -2.0]]), mt.tensor([1])).item()
    2.0
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.register_buffer("weight", None if weight is None else as_tensor(weight))
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    """``F.mse_loss`` as a module.

    >>> import microtensor as mt
    >>> mt.nn.MSELoss()(mt.tensor([1.0, 3.0]), mt.tensor([0.0, 0.0])).item()
    5.0
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


def _optional_buffer(module: Module, name: str, value: Any) -> None:
    module.register_buffer(name, None if value is None else as_tensor(value))


class L1Loss(Module):
    """``F.l1_loss`` as a module.

    >>> import microtensor as mt
    >>> mt.nn.L1Loss()(mt.tensor([1.0, -3.0]), mt.tensor([0.0, 0.0])).item()
    2.0
    """

    def __init__(self, *, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(Module):
    """``F.smooth_l1_loss`` as a module.

    >>> import microtensor as mt
    >>> mt.nn.SmoothL1Loss(beta=2.0)(mt.tensor([1.0]), mt.tensor([0.0])).item()
    0.25
    """

    def __init__(self, *, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(Module):
    """``F.huber_loss`` as a module (PyTorch's ``HuberLoss`` has no deprecated arguments, so
    ``reduction`` and ``delta`` may be positional here too).

    >>> import microtensor as mt
    >>> mt.nn.HuberLoss(delta=2.0)(mt.tensor([3.0]), mt.tensor([0.0])).item()
    4.0
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        self.reduction, self.delta = reduction, delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(Module):
    """``F.binary_cross_entropy`` as a module; ``weight`` is kept as a buffer.

    >>> import microtensor as mt
    >>> round(mt.nn.BCELoss()(mt.tensor([0.5]), mt.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight: Any = None, *, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        _optional_buffer(self, "weight", weight)
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """``F.binary_cross_entropy_with_logits`` as a module; ``weight`` and ``pos_weight`` are
    kept as buffers.

    >>> import microtensor as mt
    >>> loss = mt.nn.BCEWithLogitsLoss(pos_weight=mt.tensor([2.0]))
    >>> round(loss(mt.tensor([0.0]), mt.tensor([1.0])).item(), 4)
    1.3863
    """

    def __init__(self, weight: Any = None, *, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__()
        _optional_buffer(self, "weight", weight)
        _optional_buffer(self, "pos_weight", pos_weight)
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(Module):
    """``F.kl_div`` as a module (``reduction="batchmean"`` is the mathematical KL).

    >>> import microtensor as mt
    >>> loss = mt.nn.KLDivLoss(reduction="batchmean", log_target=True)
    >>> loss(mt.zeros(2, 3), mt.zeros(2, 3)).item()
    0.0
    """

    def __init__(self, *, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
