"""Adamax: Adam with the infinity norm, a running maximum of ``|g|``, as the second moment."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, Params, check_fraction, check_non_negative

#: torch.optim's implementation switches, and the only value of each that microtensor runs:
#: its one implementation is PyTorch's single-tensor loop, without graph capture or autograd
#: through the step.
TORCH_SWITCHES = {"foreach": None, "capturable": False, "differentiable": False}


def check_torch_switches(optimizer: str, group: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless each of ``foreach``, ``capturable`` and ``differentiable``
    in ``group`` has PyTorch's default (the only behaviour microtensor implements).

    >>> check_torch_switches("Adamax", {"foreach": True, "capturable": False,
    ...                                 "differentiable": False})
    Traceback (most recent call last):
    ...
    ValueError: Adamax: foreach=True is not supported (only PyTorch's default, foreach=None)
    """
    for name, default in TORCH_SWITCHES.items():
        value = group[name]
        # `is`: 0 == False and None is not False, and neither should slip through
        if value is not default:
            raise ValueError(f"{optimizer}: {name}={value!r} is not supported (only PyTorch's "
                             f"default, {name}={default!r})")


def check_betas(optimizer: str, betas: Any) -> None:
    """Raise ``ValueError`` unless ``betas`` is a pair of decay rates in ``[0, 1)``.

    >>> check_betas("Adamax", (0.9, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: Adamax: beta2 must be in [0, 1), got 1.0
    """
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{optimizer}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_fraction(optimizer, "beta1", betas[0])
    check_fraction(optimizer, "beta2", betas[1])


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, rounded as PyTorch's ``lerp_``: from
    ``end`` backwards when ``weight >= 0.5``, so a weight near 1 stays exact.

    >>> m = np.array([1.0, 2.0])
    >>> lerp_(m, np.array([3.0, 2.0]), 0.25)
    >>> m.tolist()
    [1.5, 2.0]
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        diff = end - start
        diff *= 1 - weight
        np.subtract(end, diff, out=start)


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
        check_non_negative("Adamax", group, "lr", "eps", "weight_decay")
        check_betas("Adamax", group["betas"])
        check_torch_switches("Adamax", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(param.data),
                "exp_inf": np.zeros_like(param.data)}

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
