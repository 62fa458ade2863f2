"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_non_negative


class RMSprop(Optimizer):
    """``v = alpha * v + (1 - alpha) * g * g``, then ``p -= lr * g / (sqrt(v) + eps)``.

    ``centered`` subtracts the squared running mean of the gradient from ``v`` (an
    estimate of its variance); ``momentum`` accumulates ``g / (sqrt(v) + eps)`` in a buffer
    and steps by that. Same formulas and defaults as ``torch.optim.RMSprop``.

    >>> import microtensor as mt
    >>> from microtensor.optim import RMSprop
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 2).sum().backward()
    >>> RMSprop([w], lr=0.1, alpha=0.75).step()
    >>> round(w.item(), 6)  # 1 - 0.1 * 2 / sqrt(0.25 * 4)
    0.8
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_non_negative("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "square_avg": np.zeros_like(param.array)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param.array)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param.array)
        return state

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        grad = self._direction(param, grad, group)
        alpha = group["alpha"]
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denom = square_avg - grad_avg * grad_avg
            np.sqrt(denom, out=denom)
        else:
            denom = np.sqrt(square_avg)
        denom += group["eps"]
        np.divide(grad, denom, out=denom)  # denom now holds the normalised gradient
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += denom
            param.add_(buf * -group["lr"])
        else:
            denom *= -group["lr"]
            param.add_(denom)
