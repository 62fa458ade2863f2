"""Adam and AdamW: steps scaled by bias-corrected running moments of the gradient."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_fraction, check_non_negative


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
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_fraction(name, "beta1", betas[0])
        check_fraction(name, "beta2", betas[1])

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": np.zeros_like(param.data),
                 "exp_avg_sq": np.zeros_like(param.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        return state

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        step = state["step"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if weight_decay and group["decoupled_weight_decay"]:
            param.mul_(1 - lr * weight_decay)  # AdamW: shrink the weight, not the gradient
            grad = -grad if group["maximize"] else grad
        else:
            grad = self._direction(param, grad, group)
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
