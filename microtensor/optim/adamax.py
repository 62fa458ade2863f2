"""Adamax: Adam with the infinity norm, a running maximum of ``|g|``, as the second moment."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_adam_options, lerp_, zero_buffers


class Adamax(Optimizer):
    """``m = b1 * m + (1 - b1) * g``, ``u = max(b2 * u, |g| + eps)``, then
    ``p -= lr / (1 - b1**t) * m / u`` (Kingma & Ba, section 7.1).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2); ``maximize`` ascends.
    Same formulas, defaults, option checks and state (``step``, ``exp_avg``, ``exp_inf``)
    as ``torch.optim.Adamax``. ``foreach``, ``capturable`` and ``differentiable`` are
    accepted only with PyTorch's defaults (``None``, ``False``, ``False``); any other
    value raises ``ValueError``.

    >>> import microtensor as mt
    >>> from microtensor.optim import Adamax
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 4).sum().backward()
    >>> Adamax([w], lr=0.1).step()
    >>> round(w.item(), 6)  # m = 0.4, u = 4: 1 - 0.1 / 0.1 * 0.4 / 4
    0.9
    """

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_adam_options("Adamax", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, **zero_buffers(param, "exp_avg", "exp_inf")}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        beta1, beta2 = group["betas"]
        grad = self._direction(param, grad, group)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, grad, 1 - beta1)  # PyTorch's rounding, not b1 * m + (1 - b1) * g
        exp_inf *= beta2
        np.maximum(exp_inf, np.abs(grad) + group["eps"], out=exp_inf)
        clr = group["lr"] / (1 - beta1 ** state["step"])
        step = exp_avg * -clr  # (value * m) / u, the order PyTorch's addcdiv_ rounds in
        step /= exp_inf
        param.add_(step)
