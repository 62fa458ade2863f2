"""RAdam: Adam whose adaptive step is switched on, and rectified, once its variance is known."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_adam_options, lerp_, zero_buffers


class RAdam(Optimizer):
    """Adam's moments ``m`` and ``v``, and the length of the approximated simple moving
    average ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)`` with ``rho_inf = 2 / (1 - b2) - 1``
    (Liu et al., 2019). While ``rho_t <= 5`` the step is momentum SGD,
    ``p -= lr * m / (1 - b1**t)``; after, Adam's step times the rectification
    ``r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))``:
    ``p -= lr * m / (1 - b1**t) * sqrt(1 - b2**t) / (sqrt(v) + eps) * r``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2), or with
    ``decoupled_weight_decay`` shrinks ``p`` by ``1 - lr * weight_decay`` before the step
    (as AdamW); ``maximize`` ascends. Same formulas, defaults, option checks and state
    (``step``, ``exp_avg``, ``exp_avg_sq``) as ``torch.optim.RAdam``. ``foreach``,
    ``capturable`` and ``differentiable`` are accepted only with PyTorch's defaults
    (``None``, ``False``, ``False``); any other value raises ``ValueError``.

    >>> import microtensor as mt
    >>> from microtensor.optim import RAdam
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 5).sum().backward()
    >>> RAdam([w], lr=0.1).step()
    >>> round(w.item(), 6)  # rho_1 = 1 <= 5: the first steps are SGD on m / (1 - b1) = g
    0.5
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_adam_options("RAdam", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, **zero_buffers(param, "exp_avg", "exp_avg_sq")}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        step = state["step"]
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        grad = self._decoupled_direction(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)  # PyTorch's rounding, not b1 * m + (1 - b1) * g
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        update = exp_avg / bias_correction1
        update *= lr
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        # rho_t <= 5: too few steps for a variance estimate worth dividing by, so no v
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = np.sqrt(exp_avg_sq)
            adaptive += group["eps"]
            # 1 / x, then times the scalar: how PyTorch evaluates `scalar / tensor`
            np.reciprocal(adaptive, out=adaptive)
            adaptive *= bias_correction2**0.5
            update *= adaptive
            update *= rect
        param.sub_(update)
