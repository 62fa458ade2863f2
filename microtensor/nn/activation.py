"""Activations as modules, ``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.GELU``, ``nn.Softmax``
and ``nn.LogSoftmax``, for ``Sequential``."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class ReLU(Module):
    """``max(x, 0)`` elementwise.

    >>> import microtensor as mt
    >>> mt.nn.ReLU()(mt.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.relu()


class Tanh(Module):
    """``tanh(x)`` elementwise.

    >>> import microtensor as mt
    >>> mt.nn.Tanh()(mt.zeros(2)).tolist()
    [0.0, 0.0]
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.tanh()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise.

    >>> import microtensor as mt
    >>> mt.nn.Sigmoid()(mt.zeros(2)).tolist()
    [0.5, 0.5]
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.sigmoid()


class GELU(Module):
    """``F.gelu`` as a module: ``x * Phi(x)``, or its tanh approximation with
    ``approximate="tanh"``.

    >>> import microtensor as mt
    >>> [round(v, 4) for v in mt.nn.GELU()(mt.tensor([-1.0, 1.0])).tolist()]
    [-0.1587, 0.8413]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """``F.softmax`` along ``dim`` as a module (``dim=None`` takes PyTorch's old implicit
    choice, with its warning).

    >>> import microtensor as mt
    >>> mt.nn.Softmax(dim=1)(mt.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``F.log_softmax`` along ``dim`` as a module.

    >>> import microtensor as mt
    >>> round(mt.nn.LogSoftmax(dim=0)(mt.zeros(4))[0].item(), 4)
    -1.3863
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
