"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_non_negative


class SGD(Optimizer):
    """``p -= lr * g``, where with momentum ``g`` is the running ``buf = momentum * buf +
    (1 - dampening) * grad`` (``buf = grad`` at the first step), or with Nesterov
    ``grad + momentum * buf``. ``weight_decay`` adds ``weight_decay * p`` to the gradient.
    Same formulas and defaults as ``torch.optim.SGD``.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> w = mt.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     w.sum().backward()  # the gradient is always 1
    ...     opt.step()
    >>> round(w.item(), 6)  # 1 - 0.1 * 1 - 0.1 * (0.9 * 1 + 1)
    0.71
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_options(self, group: dict[str, Any]) -> None:
        check_non_negative("SGD", group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # The buffer starts as a copy of the first gradient, so it is made in _update.
        return {"momentum_buffer": None} if group["momentum"] else {}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        grad = self._direction(param, grad, group)
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.add_(grad * -group["lr"])
