"""Adagrad: per-coordinate step sizes that shrink with the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_non_negative


class Adagrad(Optimizer):
    """``sum += g * g``, then ``p -= clr * g / (sqrt(sum) + eps)`` with the decayed rate
    ``clr = lr / (1 + (step - 1) * lr_decay)``. Same formulas and defaults as
    ``torch.optim.Adagrad``.

    >>> import microtensor as mt
    >>> from microtensor.optim import Adagrad
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 3).sum().backward()
    >>> Adagrad([w], lr=0.5).step()
    >>> round(w.item(), 6)  # 1 - 0.5 * 3 / sqrt(9)
    0.5
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_non_negative("Adagrad", group, "lr", "lr_decay", "weight_decay",
                           "initial_accumulator_value", "eps")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0,
                "sum": np.full_like(param.array, group["initial_accumulator_value"])}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        grad = self._direction(param, grad, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad
        step = np.sqrt(total)
        step += group["eps"]
        np.divide(grad, step, out=step)
        step *= -clr
        param.add_(step)
