"""The losses as modules, ``nn.CrossEntropyLoss``, ``nn.NLLLoss`` and ``nn.MSELoss``: the
functions of ``nn.functional`` with their options fixed at construction, as PyTorch.

Options after ``weight`` are keyword-only: PyTorch's second positional parameter is the
long-deprecated ``size_average``, so a positional call could not mean the same here.
"""

from __future__ import annotations

from typing import Any

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
        self.register_buffer("weight", None if weight is None else Tensor(weight))
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
        self.register_buffer("weight", None if weight is None else Tensor(weight))
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
