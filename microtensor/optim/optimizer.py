"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and checkpointing,
shared by every update rule in ``microtensor.optim``.

A subclass supplies three things: ``_check_options(group)`` (validate hyper-parameters),
``_init_state(param, group)`` (the per-parameter buffers) and
``_update(param, grad, state, group)`` (one step for one parameter, in numpy). The base
class runs the loop, under ``no_grad``, skipping parameters that have no gradient.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor

#: What an optimizer accepts: tensors, or dicts ``{"params": tensors, **options}``.
Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class of optimizers: holds ``param_groups`` and per-parameter ``state``.

    ``params`` is an iterable of tensors, or of dicts each with a ``"params"`` entry and
    any options that should differ from ``defaults`` for that group:

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> w, b = mt.ones(2, requires_grad=True), mt.zeros(1, requires_grad=True)
    >>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.5]
    """

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors or of "
                            "dicts, got a single Tensor; wrap it in a list")
        _check_ordered(params, type(self).__name__)
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v!r}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} params, {options}")
        return "\n".join(lines) + "\n)"

    # -------------------------------------------------------------- what subclasses write
    def _check_options(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming any invalid hyper-parameter in ``group``."""

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state a parameter starts with at its first step (arrays shaped like it)."""
        return {}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    @staticmethod
    def _direction(param: Tensor, grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
        """The gradient an update follows, as torch.optim forms it: negated with
        ``maximize``, plus ``weight_decay * param`` (L2) when weight decay is set."""
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.array
        return grad

    @staticmethod
    def _decoupled_direction(param: Tensor, grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
        """``_direction`` for the optimizers with a ``decoupled_weight_decay`` option (Adam,
        NAdam, RAdam): with it set (AdamW), ``param`` shrinks in place by
        ``1 - lr * weight_decay`` and the gradient is only negated with ``maximize``; without,
        the weight decay is L2, added to the gradient."""
        if group["weight_decay"] and group["decoupled_weight_decay"]:
            param.mul_(1 - group["lr"] * group["weight_decay"])  # shrink the weight, not the gradient
            return -grad if group["maximize"] else grad
        return Optimizer._direction(param, grad, group)

    # ------------------------------------------------------------------------ the API
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with options that override ``defaults``.

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> opt = SGD([mt.ones(2, requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": mt.zeros(3, requires_grad=True), "momentum": 0.9})
        >>> opt.param_groups[1]["lr"], opt.param_groups[1]["momentum"]
        (0.1, 0.9)
        """
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, "
                            f"got {type(param_group).__name__}")
        params = param_group["params"]
        _check_ordered(params, name)
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params must be Tensors, got {type(p).__name__} "
                                f"at position {i}")
            if p.grad_fn is not None:
                raise ValueError(f"{name}: cannot optimize a non-leaf tensor (position {i}, "
                                 f"shape {p.shape}); optimize the leaves it was computed from")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating point tensors, got dtype "
                                f"{p.dtype} at position {i}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group lists the same tensor more than once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self._check_options(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: drop them (the default, as PyTorch), or fill them with zeros.

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> w = mt.ones(2, requires_grad=True)
        >>> w.sum().backward()
        >>> SGD([w]).zero_grad()
        >>> w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()`` if one is given.

        ``closure`` re-evaluates the model and returns the loss (it runs with the graph
        recorded, before the update).

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> w = mt.tensor([1.0, 2.0], requires_grad=True)
        >>> (w * w).sum().backward()
        >>> SGD([w], lr=0.25).step()
        >>> w.tolist()
        [0.5, 1.0]
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for p, group in self._params_with_grad():
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p, group)
                self._update(p, p.grad.array, state, group)
        return loss

    def _params_with_grad(self) -> list[tuple[Tensor, dict[str, Any]]]:
        """(parameter, its group) for each parameter with a gradient, all checked before any
        is updated, so a bad gradient leaves no parameter half-stepped."""
        found = [(p, group) for group in self.param_groups for p in group["params"]
                 if p.grad is not None]
        for p, _ in found:
            if p.grad.shape != p.shape:
                raise ValueError(f"{type(self).__name__}.step: a parameter of shape {p.shape} "
                                 f"has a gradient of shape {p.grad.shape}")
        return found

    # ------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copies) of the state and options, with parameters named by position.

        Shaped as PyTorch's: ``{"state": {index: {name: value}}, "param_groups":
        [{**options, "params": [index, ...]}]}``, indices counting through the groups in
        order. Save it with ``mt.save``.

        >>> import microtensor as mt
        >>> from microtensor.optim import Adam
        >>> w = mt.ones(2, requires_grad=True)
        >>> opt = Adam([w])
        >>> w.sum().backward(); opt.step()
        >>> sd = opt.state_dict()
        >>> sorted(sd["state"][0]), sd["param_groups"][0]["params"]
        (['exp_avg', 'exp_avg_sq', 'step'], [0])
        """
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**group, "params": [index[id(p)] for p in group["params"]]})
        state = {index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v
                                for k, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (possibly via ``mt.save``/``mt.load``).

        Everything is checked before anything changes: the number of groups and of
        parameters in each, the options, and that each saved buffer has its parameter's
        shape. Buffers are copied in, cast to the parameter's dtype.

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> opt = SGD([mt.ones(2, requires_grad=True)], lr=0.1)
        >>> sd = opt.state_dict()
        >>> sd["param_groups"][0]["lr"] = 0.01
        >>> opt.load_state_dict(sd)
        >>> opt.param_groups[0]["lr"]
        0.01
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups' (from state_dict()), got {_describe(state_dict)}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups but the optimizer has {len(self.param_groups)}")
        by_index: dict[Any, tuple[Tensor, dict]] = {}
        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ValueError(f"{name}.load_state_dict: parameter group {i} must be a dict "
                                 f"with a 'params' entry, got {_describe(saved)}")
            indices = list(saved["params"])
            if len(indices) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(indices)} "
                                 f"parameters in the state dict but {len(group['params'])} "
                                 "in the optimizer")
            new_group = {**group, **saved, "params": group["params"]}
            self._check_options(new_group)
            groups.append(new_group)
            by_index.update((k, (p, new_group)) for k, p in zip(indices, group["params"]))
        if not isinstance(state_dict["state"], dict):
            raise ValueError(f"{name}.load_state_dict: 'state' must be a dict from parameter "
                             f"index to its state, got {_describe(state_dict['state'])}")
        state = {}
        for index, saved_state in state_dict["state"].items():
            if index not in by_index:
                raise ValueError(f"{name}.load_state_dict: the state dict holds state for "
                                 f"parameter {index!r}, which no parameter group lists")
            p, group = by_index[index]
            state[p] = self._restore_state(index, p, group, saved_state)
        self.param_groups, self.state = groups, state

    def _restore_state(self, index: Any, p: Tensor, group: dict, saved: dict) -> dict:
        """Check one parameter's saved state against a fresh one, and copy it in."""
        name = type(self).__name__
        if not isinstance(saved, dict):
            raise ValueError(f"{name}.load_state_dict: the state of parameter {index} must be a "
                             f"dict, got {_describe(saved)}")
        expected = self._init_state(p, group).keys()
        if set(saved) != set(expected):
            raise ValueError(
                f"{name}.load_state_dict: the state of parameter {index} has "
                f"entries {sorted(saved)}, but with these options it should have "
                f"{sorted(expected)} (is it another optimizer's state dict?)")
        state = {}
        for key, value in saved.items():
            if isinstance(value, (np.ndarray, Tensor)):
                value = np.asarray(value)
                if value.shape != p.shape:
                    raise ValueError(
                        f"{name}.load_state_dict: state '{key}' of parameter "
                        f"{index} has shape {value.shape}, but the parameter has shape {p.shape}")
                value = np.array(value, dtype=p.dtype)  # a copy: the caller's dict stays intact
            state[key] = value
        return state


# ------------------------------------------------------------- option checks for subclasses
def check_non_negative(optimizer: str, group: dict[str, Any], *names: str) -> None:
    """Raise ``ValueError`` unless each named option is a real number >= 0.

    >>> check_non_negative("SGD", {"lr": -0.1}, "lr")
    Traceback (most recent call last):
    ...
    ValueError: SGD: lr must be a number >= 0, got -0.1
    """
    for name in names:
        value = group[name]
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
            raise ValueError(f"{optimizer}: {name} must be a number >= 0, got {value!r}")


def check_fraction(optimizer: str, name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a real number in ``[0, 1)`` (a decay rate).

    >>> check_fraction("Adam", "beta1", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: Adam: beta1 must be in [0, 1), got 1.0
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{optimizer}: {name} must be in [0, 1), got {value!r}")


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


def check_adam_options(optimizer: str, group: dict[str, Any], *non_negative: str) -> None:
    """Raise ``ValueError`` unless ``group`` holds valid options for one of the Adam variants
    that take torch.optim's implementation switches (NAdam, RAdam, Adamax): ``lr``, ``eps``,
    ``weight_decay`` and the ``non_negative`` options numbers >= 0, ``betas`` a pair of decay
    rates, and ``foreach``, ``capturable`` and ``differentiable`` at PyTorch's defaults.
    Checked in that order, so the first bad option is the one named.

    >>> check_adam_options("NAdam", {"lr": 2e-3, "eps": 1e-8, "weight_decay": 0,
    ...                              "momentum_decay": -1, "betas": (0.9, 0.999),
    ...                              **TORCH_SWITCHES}, "momentum_decay")
    Traceback (most recent call last):
    ...
    ValueError: NAdam: momentum_decay must be a number >= 0, got -1
    """
    check_non_negative(optimizer, group, "lr", "eps", "weight_decay", *non_negative)
    check_betas(optimizer, group["betas"])
    check_torch_switches(optimizer, group)


def zero_buffers(param: Tensor, *names: str) -> dict[str, np.ndarray]:
    """A buffer of zeros shaped and typed like ``param`` for each name, in the order given
    (the order PyTorch's state lists them in): the running averages a state starts with.

    >>> import microtensor as mt
    >>> buffers = zero_buffers(mt.ones(2), "exp_avg", "exp_avg_sq")
    >>> list(buffers), buffers["exp_avg"].dtype, buffers["exp_avg_sq"].tolist()
    (['exp_avg', 'exp_avg_sq'], dtype('float32'), [0.0, 0.0])
    """
    return {name: np.zeros_like(param.array) for name in names}


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


def _check_ordered(params: Any, optimizer: str) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{optimizer}: params must be an ordered collection (a list), not a set: "
                        "the order decides the indices in state_dict()")


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        return f"a dict with keys {sorted(map(str, obj))}"
    return f"a {type(obj).__name__}"
