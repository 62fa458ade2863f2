"""NAdam: Adam with Nesterov momentum, its momentum warmed up by a decaying schedule."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_adam_options, lerp_, zero_buffers


class NAdam(Optimizer):
    """Adam's moments ``m`` and ``v`` with the momentum schedule
    ``mu_t = b1 * (1 - 0.5 * 0.96**(t * momentum_decay))`` (Dozat, 2016), then
    ``p -= lr * ((1 - mu_t) / (1 - prod(mu_1..mu_t)) * g
    + mu_{t+1} / (1 - prod(mu_1..mu_{t+1})) * m) / (sqrt(v / (1 - b2**t)) + eps)``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2), or with
    ``decoupled_weight_decay`` shrinks ``p`` by ``1 - lr * weight_decay`` before the step
    (as AdamW); ``maximize`` ascends. Same formulas, defaults, option checks and state
    (``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``) as ``torch.optim.NAdam``.
    As in PyTorch, the running product ``mu_product`` is a scalar of the default dtype
    (float32 unless ``mt.set_default_dtype(mt.float64)``), rounded to it at every step,
    and ``load_state_dict`` gives it the parameter's dtype. ``foreach``, ``capturable`` and
    ``differentiable`` are accepted only with PyTorch's defaults (``None``, ``False``,
    ``False``); any other value raises ``ValueError``.

    >>> import microtensor as mt
    >>> from microtensor.optim import NAdam
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> (w * 5).sum().backward()
    >>> NAdam([w], lr=0.1).step()
    >>> round(w.item(), 4)  # lr * sign(g), plus the look-ahead's mu_2 * m: a bit over lr
    0.8944
    """

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_adam_options("NAdam", group, "momentum_decay")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # PyTorch keeps the product in a scalar tensor of the default dtype, not the parameter's
        scalar = np.float64 if get_default_dtype() == np.float64 else np.float32
        return {"step": 0, "mu_product": scalar(1.0),
                **zero_buffers(param, "exp_avg", "exp_avg_sq")}

    def _restore_state(self, index: Any, p: Tensor, group: dict, saved: dict) -> dict:
        mu_product = saved.get("mu_product") if isinstance(saved, dict) else None
        if isinstance(mu_product, (np.ndarray, Tensor)) and np.ndim(mu_product) == 0:
            # a 0-d array (PyTorch's 0-d tensor, converted) is a scalar, not a buffer
            saved = {**saved, "mu_product": np.asarray(mu_product).item()}
        state = super()._restore_state(index, p, group, saved)
        if not isinstance(state["mu_product"], numbers.Real) or isinstance(state["mu_product"],
                                                                           bool):
            raise ValueError(f"NAdam.load_state_dict: state 'mu_product' of parameter {index} "
                             f"must be a number, got {state['mu_product']!r}")
        # PyTorch's load_state_dict casts every floating state but `step` to the parameter's
        # dtype, so a float64 parameter's product continues in float64
        state["mu_product"] = np.dtype(p.dtype).type(state["mu_product"])
        return state

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        step = state["step"]
        lr, momentum_decay = group["lr"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        bias_correction2 = 1 - beta2**step
        grad = self._decoupled_direction(param, grad, group)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product = state["mu_product"]
        # rounded to the product's own dtype, factor included, as PyTorch's `mu_product *= mu`
        mu_product = state["mu_product"] = mu_product * type(mu_product)(mu)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)  # PyTorch's rounding, not b1 * m + (1 - b1) * g
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        denom = exp_avg_sq / bias_correction2
        np.sqrt(denom, out=denom)
        denom += group["eps"]
        mu_product_next = float(mu_product) * mu_next
        # two addcdiv_ steps, each (value * t1) / t2 as PyTorch's kernel rounds it
        update = grad * (-lr * (1.0 - mu) / (1.0 - float(mu_product)))
        update /= denom
        param.add_(update)
        update = exp_avg * ((-lr * mu_next) / (1.0 - mu_product_next))
        update /= denom
        param.add_(update)
