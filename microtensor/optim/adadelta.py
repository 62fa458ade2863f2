"""Adadelta: steps whose size is the ratio of running RMS values of past steps and gradients."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_non_negative, check_torch_switches, zero_buffers


class Adadelta(Optimizer):
    """``v = rho * v + (1 - rho) * g * g``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho * u + (1 - rho) * d * d``, then ``p -= lr * d`` (Zeiler, 2012; ``lr`` scales
    the step, 1 in the paper).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2); ``maximize`` ascends.
    Same formulas, defaults, option checks (``rho`` in ``[0, 1]``, 1 included) and state
    (``step``, ``square_avg``, ``acc_delta``) as ``torch.optim.Adadelta``. ``foreach``,
    ``capturable`` and ``differentiable`` are accepted only with PyTorch's defaults
    (``None``, ``False``, ``False``); any other value raises ``ValueError``.

    >>> import microtensor as mt
    >>> from microtensor.optim import Adadelta
    >>> w = mt.tensor([1.5], dtype=mt.float64, requires_grad=True)
    >>> (w * 2).sum().backward()
    >>> Adadelta([w], rho=0.75, eps=1 / 3).step()
    >>> round(w.item(), 6)  # v = 0.25 * 4 = 1: 1.5 - sqrt(1/3) / sqrt(1 + 1/3) * 2
    0.5
    """

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable, foreach=foreach,
                                      differentiable=differentiable))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_non_negative("Adadelta", group, "lr", "eps", "weight_decay")
        rho = group["rho"]
        # [0, 1], not [0, 1) as Adam's betas: PyTorch allows rho = 1 (nothing is forgotten)
        if not isinstance(rho, numbers.Real) or isinstance(rho, bool) or not 0 <= rho <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho!r}")
        check_torch_switches("Adadelta", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, **zero_buffers(param, "square_avg", "acc_delta")}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        state["step"] += 1
        grad = self._direction(param, grad, group)
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = square_avg + eps
        np.sqrt(std, out=std)
        delta = acc_delta + eps
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        delta *= -group["lr"]
        param.add_(delta)
