"""Adam and AdamW: steps scaled by bias-corrected running moments of the gradient."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_betas, check_non_negative, zero_buffers


class Adam(Optimizer):
    """``m = b1 * m + (1 - b1) * g``, ``v = b2 * v + (1 - b2) * g * g``, then
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.

    ``amsgrad`` uses the running maximum of ``v`` instead of ``v``. ``weight_decay`` adds
    ``weight_decay * p`` to the gradient (L2), or with ``decoupled_weight_decay`` (AdamW)
    shrinks ``p`` by ``1 - lr * weight_decay`` before the step. Same formulas and defaults
    as ``torch.optim.Adam``.

    >>> import microtensor as mt
    >>> from microtensor.optim import Adam
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 5).sum().backward()
    >>> Adam([w], lr=0.1).step()
    >>> round(w.item(), 6)  # the first step is about lr * sign(g)
    0.9
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check_options(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_non_negative(name, group, "lr", "eps", "weight_decay")
        check_betas(name, group["betas"])

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, **zero_buffers(param, "exp_avg", "exp_avg_sq")}
        if group["amsgrad"]:
            state.update(zero_buffers(param, "max_exp_avg_sq"))
        return state

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        step = state["step"]
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        grad = self._decoupled_direction(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            second_moment = state["max_exp_avg_sq"]
            np.maximum(second_moment, exp_avg_sq, out=second_moment)
        else:
            second_moment = exp_avg_sq
        denom = np.sqrt(second_moment)
        denom /= math.sqrt(1 - beta2**step)
        denom += group["eps"]
        np.divide(exp_avg, denom, out=denom)  # denom now holds the step direction
        denom *= -lr / (1 - beta1**step)
        param.add_(denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before each Adam step, instead of adding ``weight_decay * p`` to the gradient. Same
    formulas and defaults as ``torch.optim.AdamW`` (note ``weight_decay=1e-2``).

    >>> import microtensor as mt
    >>> from microtensor.optim import AdamW
    >>> w = mt.tensor([2.0], requires_grad=True)
    >>> (w * 0).sum().backward()  # a zero gradient: only the decay moves w
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step()
    >>> round(w.item(), 6)  # 2 * (1 - 0.1 * 0.5)
    1.9
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
