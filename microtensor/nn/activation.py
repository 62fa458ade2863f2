"""Activations as modules, ``nn.ReLU``, ``nn.Tanh`` and ``nn.Sigmoid``, for ``Sequential``."""

from __future__ import annotations

from ..tensor import Tensor
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
