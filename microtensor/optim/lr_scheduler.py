"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: each scheduler rewrites
``group["lr"]`` of its optimizer's parameter groups once per ``step()``.

Call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per batch, if the
schedule counts batches). Construction already applies the value for epoch 0. The formulas,
including PyTorch's recursive ("chainable") forms, are PyTorch 2.13's, so the curves agree
with it to rounding (``tests/optim/test_lr_scheduler.py`` and ``test_lr_scheduler_more.py``
check them against PyTorch's own). ``OneCycleLR`` and ``CyclicLR`` also cycle each group's
momentum (``betas[0]`` for Adam-like optimizers); ``ReduceLROnPlateau`` steps on a metric,
``scheduler.step(val_loss)``.

``state_dict()`` holds everything but the optimizer, as plain numbers (``mt.save`` writes
it); restore the optimizer and the scheduler from one checkpoint and the run continues on
the same curve. One deliberate difference: no warning when ``scheduler.step()`` runs before
``optimizer.step()`` (PyTorch wraps ``optimizer.step`` to detect it).

>>> import microtensor as mt
>>> from microtensor.optim import SGD
>>> from microtensor.optim.lr_scheduler import StepLR
>>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
>>> scheduler = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     lrs.append(opt.param_groups[0]["lr"])
...     opt.step()
...     scheduler.step()
>>> lrs
[1.0, 1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .optimizer import Optimizer

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR",
           "MultiplicativeLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR",
           "StepLR"]


def _check_number(scheduler: str, name: str, value: Any, low: float | None = None,
                  high: float | None = None, positive: bool = False) -> None:
    """Reject an option that is not a real number in its range, naming the scheduler."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and low is not None:
        ok = value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = "> 0" if positive else f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{scheduler}: {name} must be a number {bounds}, got {value!r}")


def _check_count(scheduler: str, name: str, value: Any, low: int | None = None) -> None:
    """Reject an option that is not a whole number: a positive one, or ``>= low`` if given."""
    least, wanted = (1, "a positive integer") if low is None else (low, f"an integer >= {low}")
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{scheduler}: {name} must be {wanted}, got {value!r}")


def _check_optimizer(scheduler: str, optimizer: Any) -> None:
    """Reject anything but an ``Optimizer``, before a scheduler reads its parameter groups."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: {type(optimizer).__name__} is not an Optimizer")


def _warn_epoch_argument() -> None:
    """PyTorch's deprecation warning for ``step(epoch)``, pointed at the caller of ``step``."""
    warnings.warn("The epoch parameter in scheduler.step() is deprecated, as in PyTorch; "
                  "call step() once per epoch instead.", UserWarning, stacklevel=3)


def _callable_state(fn: Any) -> dict[str, Any] | None:
    """What ``state_dict`` keeps of a user function, as PyTorch: None for a plain function
    (code cannot be saved), the attributes of a callable object.

    >>> class Halve:
    ...     factor = 0.5
    ...     def __call__(self, epoch):
    ...         return self.factor
    >>> fn = Halve(); fn.factor = 0.25
    >>> _callable_state(lambda epoch: 1.0), _callable_state(fn)
    (None, {'factor': 0.25})
    """
    return None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)


def _load_callable_state(fn: Any, saved: dict[str, Any] | None) -> None:
    """Put back into ``fn`` the attributes ``_callable_state`` kept (nothing for None)."""
    if fn is not None and saved is not None:
        fn.__dict__.update(saved)


class LRScheduler:
    """Base class: remembers each group's starting rate (``group["initial_lr"]``, kept in
    ``base_lrs``) and the epoch (``last_epoch``); a subclass writes ``get_lr()``, the rates
    for ``last_epoch``, and may write ``_get_closed_form_lr()``.

    ``last_epoch=-1`` starts a schedule; another value resumes one whose optimizer already
    holds ``initial_lr`` (from its ``state_dict``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        if not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param_groups[{i}] has no 'initial_lr', which resuming "
                                   f"with last_epoch={last_epoch} needs; load the optimizer's "
                                   "state_dict first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._initial_step()

    def _initial_step(self) -> None:
        """Count steps from zero and apply the rates of the first epoch."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch`` (called by ``step``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr")

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` set, one per parameter group.

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> ExponentialLR(SGD([mt.zeros(1, requires_grad=True)], lr=0.1), gamma=0.5).get_last_lr()
        [0.1]
        """
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Move to the next epoch and set its rates. ``epoch`` (deprecated, as in PyTorch)
        jumps to that epoch instead, using the closed form where there is one."""
        self._step_count += 1
        if epoch is not None:
            _warn_epoch_argument()
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        self._apply(values)

    def _apply(self, values: Iterable[float]) -> None:
        """Set each group's rate and remember the rates (``get_last_lr``)."""
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current()

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (plain numbers, lists and flags).

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> sorted(StepLR(SGD([mt.zeros(1, requires_grad=True)]), 3).state_dict())[:3]
        ['_is_initial', '_last_lr', '_step_count']
        """
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (after the optimizer's own ``load_state_dict``).

        >>> import microtensor as mt
        >>> from microtensor.optim import SGD
        >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = StepLR(opt, 1, gamma=0.5)
        >>> scheduler.load_state_dict({**scheduler.state_dict(), "last_epoch": 4})
        >>> scheduler.last_epoch
        4
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got "
                            f"{type(state_dict).__name__}")
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys {unknown} "
                             "(is it another scheduler's state?)")
        self.__dict__.update(state_dict)

    def _state_dict_replacing(self, key: str, value: Any) -> dict[str, Any]:
        """``state_dict()`` with the attribute ``key``, which cannot be saved as it is (user
        functions, other schedulers), stored as ``value`` instead, last, as PyTorch orders it."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", key)}
        state[key] = value
        return state

    def _load_state_dict_but(self, key: str, state_dict: dict[str, Any], default: Any) -> Any:
        """Load all of ``state_dict`` but ``key`` (``default`` if it is missing), and return
        that entry for the caller to restore. The base class's load, named: the caller is the
        subclass's own ``load_state_dict``."""
        state = dict(state_dict)  # the caller's dict stays as it was
        saved = state.pop(key, default)
        LRScheduler.load_state_dict(self, state)
        return saved

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: ``base * gamma ** (epoch //
    step_size)``.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=0.1)
    >>> scheduler = StepLR(opt, step_size=3)
    >>> for _ in range(3):
    ...     scheduler.step()
    >>> round(opt.param_groups[0]["lr"], 6)
    0.01
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_count("StepLR", "step_size", step_size)
        _check_number("StepLR", "gamma", gamma, low=0)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``base * gamma ** epoch``.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = ExponentialLR(opt, gamma=0.5)
    >>> scheduler.step(); scheduler.step()
    >>> scheduler.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_number("ExponentialLR", "gamma", gamma, low=0)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base rate down to ``eta_min`` over ``T_max`` epochs:
    ``eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2`` (and back up after
    ``T_max``, as PyTorch; SGDR without restarts).

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.8682, 0.55, 0.2318, 0.1]
    """

    def __init__(self, optimizer: Optimizer, T_max: float, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        # PyTorch takes a float T_max too (the half period, in epochs, need not be whole)
        ok = isinstance(T_max, numbers.Real) and not isinstance(T_max, bool)
        if not (ok and math.isfinite(T_max) and T_max > 0):
            raise ValueError("CosineAnnealingLR: T_max must be a positive integer or float, "
                             f"got {T_max!r}")
        _check_number("CosineAnnealingLR", "eta_min", eta_min, low=0)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and epoch > 0:
            return [eta_min + (base - eta_min) * (1 + math.cos(epoch * math.pi / t_max)) / 2
                    for base in self.base_lrs]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:  # the turn at the bottom
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        # PyTorch's recursive form: each step scales the distance to eta_min
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (1 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor * base`` to ``end_factor * base`` over
    ``total_iters`` epochs, then keep it (a warm-up, with the defaults' end factor 1).

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not (isinstance(start_factor, numbers.Real) and 0 < start_factor <= 1):
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        _check_number("LinearLR", "end_factor", end_factor, low=0, high=1)
        _check_count("LinearLR", "total_iters", total_iters)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        change = self.end_factor - self.start_factor
        scale = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * scale for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * done)
                for base in self.base_lrs]


def _lambda_list(scheduler: str, optimizer: Any, lr_lambda: Any) -> list[Callable[[int], float]]:
    """One callable per parameter group: ``lr_lambda`` repeated, or its list checked."""
    groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != groups:
            raise ValueError(f"{scheduler}: expected {groups} lr_lambdas, one per parameter "
                             f"group, got {len(lr_lambda)}")
        lambdas = list(lr_lambda)
    else:
        lambdas = [lr_lambda] * groups
    for fn in lambdas:
        if not callable(fn):
            raise TypeError(f"{scheduler}: lr_lambda must be callable, got {type(fn).__name__}")
    return lambdas


class _FunctionScheduler(LRScheduler):
    """Shared by the schedulers built on user functions: ``lr_lambda`` is one function or
    one per parameter group (kept as ``lr_lambdas``), and ``state_dict`` stores None for
    plain functions and the attributes of callable objects, as PyTorch."""

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.lr_lambdas = _lambda_list(type(self).__name__, optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        return self._state_dict_replacing("lr_lambdas",
                                          [_callable_state(fn) for fn in self.lr_lambdas])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        lambdas = self._load_state_dict_but("lr_lambdas", state_dict, [None] * len(self.lr_lambdas))
        for fn, saved in zip(self.lr_lambdas, lambdas):
            _load_callable_state(fn, saved)


class LambdaLR(_FunctionScheduler):
    """``base * lr_lambda(epoch)``: any schedule as a function of the epoch (one function,
    or one per parameter group).

    ``state_dict`` cannot hold a function: it stores None for plain functions and the
    attributes of callable objects, as PyTorch; pass the same functions when rebuilding.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = LambdaLR(opt, lambda epoch: 1 / (1 + epoch))
    >>> scheduler.step()
    >>> scheduler.get_last_lr()
    [0.5]
    """

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


def _check_schedulers(scheduler: str, schedulers: list[Any], optimizer: Any,
                      stepped_alone: type | None = None) -> None:
    """Reject an empty list, a member that is no scheduler (or is a ``stepped_alone``
    one), or one of another optimizer: the schedulers a composed one drives."""
    if not schedulers:
        raise ValueError(f"{scheduler}: expected at least one scheduler, got none")
    for i, member in enumerate(schedulers):
        if not isinstance(member, LRScheduler):
            raise TypeError(f"{scheduler}: schedulers[{i}] is a {type(member).__name__}, "
                            "not a scheduler")
        if stepped_alone is not None and isinstance(member, stepped_alone):
            raise ValueError(f"{scheduler}: schedulers[{i}] is a {stepped_alone.__name__}, "
                             "whose step needs the metrics; step it on its own")
        if member.optimizer is not optimizer:
            raise ValueError(f"{scheduler}: schedulers[{i}] ({type(member).__name__}) "
                             "belongs to another optimizer")


class _ComposedScheduler(LRScheduler):
    """Shared by the schedulers that step others (``_schedulers``): ``state_dict`` holds
    each one's own ``state_dict``, in order."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        return self._state_dict_replacing("_schedulers", [s.state_dict() for s in self._schedulers])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        # checked before anything is loaded, so a mismatched state leaves this one as it was
        if len(inner) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds "
                             f"{len(inner)} schedulers, this one has {len(self._schedulers)}")
        super().load_state_dict(state)
        for scheduler, saved in zip(self._schedulers, inner):
            scheduler.load_state_dict(saved)


class SequentialLR(_ComposedScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``
    (each scheduler starts again from its own epoch 0): warm-up, then decay.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = ExponentialLR(opt, gamma=0.5)
    >>> scheduler = SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        schedulers, milestones = list(schedulers), list(milestones)
        _check_schedulers("SequentialLR", schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {milestones}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo what building the schedulers did
            group["lr"] = group["initial_lr"]
        for scheduler in schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # the next scheduler starts at its own epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class MultiplicativeLR(_FunctionScheduler):
    """Multiply the rate by ``lr_lambda(epoch)`` every epoch after the first (one function,
    or one per parameter group): the rate is the product of the factors so far.

    ``state_dict`` stores None for plain functions and the attributes of callable
    objects, as ``LambdaLR``'s.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = MultiplicativeLR(opt, lambda epoch: 0.5)
    >>> scheduler.step(); scheduler.step()
    >>> scheduler.get_last_lr()
    [0.25]
    """

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current())]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch in ``milestones`` (a milestone listed
    twice multiplies by ``gamma ** 2``): ``base * gamma ** (milestones passed)``.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        milestones = list(milestones)
        for m in milestones:
            if not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 0:
                raise ValueError(f"MultiStepLR: milestones must be integers >= 0, got {m!r}")
        _check_number("MultiStepLR", "gamma", gamma, low=0)
        # a count per epoch, as PyTorch's Counter: order does not matter, repeats compound
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        passed = sum(n for m, n in self.milestones.items() if m <= self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        # mt.load gives a Counter back as a plain dict (with its integer keys)
        self.milestones = Counter(self.milestones)


class ConstantLR(LRScheduler):
    """Multiply the rate by ``factor`` for the first ``total_iters`` epochs, then restore
    it (a constant warm-up).

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = ConstantLR(opt, factor=0.5, total_iters=2)
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs
    [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        # PyTorch admits factor 0, then divides by it at total_iters (ZeroDivisionError)
        if not (isinstance(factor, numbers.Real) and not isinstance(factor, bool)
                and 0 < factor <= 1):
            raise ValueError(f"ConstantLR: factor must be in (0, 1], got {factor!r}")
        _check_count("ConstantLR", "total_iters", total_iters)
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr * (1.0 / self.factor) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the rate to 0 over ``total_iters`` epochs along a polynomial:
    ``base * (1 - min(epoch, total_iters) / total_iters) ** power``.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = PolynomialLR(opt, total_iters=4, power=2.0)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        _check_count("PolynomialLR", "total_iters", total_iters)
        _check_number("PolynomialLR", "power", power, low=0)
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        # PyTorch's recursive form: the ratio of this epoch's factor to the last one's
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (1.0 - done) ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: half a cosine from the base rate to ``eta_min`` over ``T_0`` epochs, then a
    restart at the base rate, each period ``T_mult`` times the last:
    ``eta_min + (base - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.

    ``step(epoch)`` takes a fractional epoch (``epoch + i / batches``) to anneal per batch,
    as PyTorch's (without the deprecation warning the other schedulers give).

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    >>> lrs = []
    >>> for _ in range(7):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1,  # noqa: N803
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_count("CosineAnnealingWarmRestarts", "T_0", T_0)
        _check_count("CosineAnnealingWarmRestarts", "T_mult", T_mult, low=1)
        _check_number("CosineAnnealingWarmRestarts", "eta_min", eta_min, low=0)
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i))
                / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Move to the next epoch, or to ``epoch`` (which may be fractional: the position
        within the period is then computed from it)."""
        # PyTorch's own step: it counts no _step_count and warns about no epoch argument
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if not isinstance(epoch, numbers.Real) or isinstance(epoch, bool) or epoch < 0:
                raise ValueError("CosineAnnealingWarmRestarts.step: epoch must be a number >= 0, "
                                 f"got {epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._apply(self.get_lr())


def _per_group(scheduler: str, name: str, optimizer: Optimizer, value: Any) -> list[float]:
    """``value`` for each parameter group: a number repeated, or a list of one per group."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * len(optimizer.param_groups)
    if len(values) != len(optimizer.param_groups):
        raise ValueError(f"{scheduler}: expected {len(optimizer.param_groups)} values of {name}, "
                         f"one per parameter group, got {len(values)}")
    for v in values:
        _check_number(scheduler, name, v, low=0)
    return values


def _momentum_key(scheduler: str, optimizer: Optimizer) -> bool:
    """Whether the cycled momentum is ``betas[0]`` (True: Adam-like) or ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{scheduler}: cycle_momentum needs an optimizer with momentum or betas "
                         f"(SGD, RMSprop, Adam, AdamW), got {type(optimizer).__name__}; pass "
                         "cycle_momentum=False")
    return "betas" in optimizer.defaults


def _init_momentum(scheduler: str, optimizer: Optimizer, base_momentum: Any, max_momentum: Any,
                   last_epoch: int, max_first: bool) -> tuple[bool, list[float], list[float]]:
    """The momentum setup OneCycleLR and CyclicLR share: check the bounds (one of each per
    group) and, when a schedule starts, put each group's momentum at its top, where both
    cycles begin, with the bounds in the group as PyTorch keeps them. Returns whether the
    momentum is ``betas[0]``, the bottoms and the tops.

    ``max_first`` checks ``max_momentum`` first (OneCycleLR's order in PyTorch), so a call
    with both wrong fails on the same one.
    """
    use_beta1 = _momentum_key(scheduler, optimizer)
    if max_first:
        tops = _per_group(scheduler, "max_momentum", optimizer, max_momentum)
    bottoms = _per_group(scheduler, "base_momentum", optimizer, base_momentum)
    if not max_first:
        tops = _per_group(scheduler, "max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        for group, top, bottom in zip(optimizer.param_groups, tops, bottoms):
            _set_momentum(group, use_beta1, top)
            group["max_momentum"], group["base_momentum"] = top, bottom
    return use_beta1, bottoms, tops


def _set_momentum(group: dict[str, Any], use_beta1: bool, momentum: float) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped per batch: the rate rises from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of ``total_steps`` (or ``epochs *
    steps_per_epoch``), then anneals to ``initial_lr / final_div_factor`` (with
    ``three_phase``, back to the initial rate first, then down). Momentum (``momentum``, or
    ``betas[0]`` of Adam-like optimizers) moves the opposite way between
    ``max_momentum`` and ``base_momentum``.

    Stepping past ``total_steps`` raises ``ValueError``, as PyTorch's.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    >>> lrs, momentums = [], []
    >>> for _ in range(4):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))
    ...     momentums.append(round(opt.param_groups[0]["momentum"], 4))
    ...     scheduler.step()
    >>> lrs, momentums
    ([0.04, 0.52, 1.0, 0.8571], [0.95, 0.9, 0.85, 0.8643])
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        if total_steps is not None:
            _check_count(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_count(name, "epochs", epochs)
            _check_count(name, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: pass total_steps, or both epochs and steps_per_epoch")
        self.total_steps = total_steps
        _check_number(name, "pct_start", pct_start, low=0, high=1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        _check_number(name, "div_factor", div_factor, positive=True)
        _check_number(name, "final_div_factor", final_div_factor, positive=True)
        # PyTorch's phases: the step each ends at, and the group keys it anneals between
        up = float(pct_start * total_steps) - 1
        if three_phase:
            phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                      (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                      (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                      (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self._schedule_phases = [dict(zip(("end_step", "start_lr", "end_lr", "start_momentum",
                                           "end_momentum"), phase)) for phase in phases]
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor  # overwritten: the cycle starts here
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:  # the bounds live in the groups, where get_lr reads them
            self.use_beta1 = _init_momentum(name, optimizer, base_momentum, max_momentum,
                                            last_epoch, max_first=True)[0]
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times, but total_steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    if end == start:  # PyTorch divides by zero here: the same error, said clearly
                        raise ZeroDivisionError(
                            f"OneCycleLR: phase {i + 1} of the schedule has no steps (it starts "
                            f"and ends at step {end:g}); choose pct_start so that each phase has "
                            f"at least one of the total_steps={self.total_steps}")
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        _set_momentum(group, self.use_beta1,
                                      self._anneal(group[phase["start_momentum"]],
                                                   group[phase["end_momentum"]], pct))
                    break
                start = end
        return lrs


class CyclicLR(LRScheduler):
    """Cyclical learning rates, stepped per batch: the rate goes from ``base_lr`` up to
    ``max_lr`` in ``step_size_up`` steps and back in ``step_size_down`` (default: the same),
    the amplitude scaled per cycle (``"triangular"``: 1, ``"triangular2"``: halved each
    cycle) or per step (``"exp_range"``: ``gamma ** step``), or by ``scale_fn``. Momentum
    (``momentum``, or ``betas[0]``) moves the opposite way between ``max_momentum`` and
    ``base_momentum``.

    ``state_dict`` stores a ``scale_fn`` as ``LambdaLR`` stores its functions.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> scheduler = CyclicLR(opt, base_lr=0.0, max_lr=1.0, step_size_up=2)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     scheduler.step()
    >>> lrs, opt.param_groups[0]["momentum"]  # the top of the rate, the bottom of momentum
    ([0.0, 0.5, 1.0, 0.5, 0.0, 0.5], 0.8)
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | Sequence[float],
                 max_lr: float | Sequence[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.8,
                 max_momentum: float | Sequence[float] = 0.9, last_epoch: int = -1) -> None:
        name = "CyclicLR"
        _check_optimizer(name, optimizer)
        base_lrs = _per_group(name, "base_lr", optimizer, base_lr)
        self.max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        _check_number(name, "step_size_up", step_size_up, positive=True)
        if step_size_down is not None:
            _check_number(name, "step_size_down", step_size_down, positive=True)
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"{name}: mode must be 'triangular', 'triangular2' or 'exp_range' "
                             f"(or pass scale_fn), got {mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{name}: scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{name}: scale_mode must be 'cycle' or 'iterations', "
                             f"got {scale_mode!r}")
        _check_number(name, "gamma", gamma, low=0)
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma, self.scale_mode = mode, gamma, scale_mode
        self._scale_fn_custom = scale_fn
        self._init_scale_fn()
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = _init_momentum(
                name, optimizer, base_momentum, max_momentum, last_epoch, max_first=False)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        # the built-in modes fix their scale_mode, whatever was passed (as PyTorch)
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        # where in the cycle: rising from 0 to 1, then falling back
        rising = x <= self.step_ratio
        scale_factor = x / self.step_ratio if rising else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale_factor * scale
               for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, bottom, top in zip(self.optimizer.param_groups, self.base_momentums,
                                          self.max_momentums):
                _set_momentum(group, self.use_beta1, top - (top - bottom) * scale_factor * scale)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        return self._state_dict_replacing("_scale_fn_custom",
                                          _callable_state(self._scale_fn_custom))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = self._load_state_dict_but("_scale_fn_custom", state_dict, None)
        _load_callable_state(self._scale_fn_custom, saved)
        self._init_scale_fn()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when ``step(metrics)`` has seen no improvement for
    more than ``patience`` epochs, then wait ``cooldown`` epochs before counting again.

    Improvement (``mode="min"``; ``"max"`` mirrors it) means below ``best * (1 -
    threshold)`` (``threshold_mode="rel"``) or ``best - threshold`` (``"abs"``). No rate
    goes below its group's ``min_lr`` (one number, or one per group), and a reduction
    smaller than ``eps`` is skipped.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     scheduler.step(loss)
    >>> scheduler.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0,
                 eps: float = 1e-8) -> None:
        name = "ReduceLROnPlateau"
        if not (isinstance(factor, numbers.Real) and not isinstance(factor, bool)
                and 0 <= factor < 1):
            raise ValueError(f"{name}: factor must be in [0, 1), got {factor!r}")
        _check_optimizer(name, optimizer)
        _check_count(name, "patience", patience, low=0)
        _check_count(name, "cooldown", cooldown, low=0)
        _check_number(name, "threshold", threshold, low=0)
        _check_number(name, "eps", eps, low=0)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(name, "min_lr", optimizer, min_lr)
        else:
            _check_number(name, "min_lr", min_lr, low=0)
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._current()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', "
                             f"got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether the epochs after a reduction are still being waited out."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's ``metrics`` (a number, or a one-element tensor) and reduce
        the rates if they have stopped improving."""
        try:
            current = float(metrics)
        except (TypeError, ValueError) as error:  # the type PyTorch's float() raises, named
            raise type(error)("ReduceLROnPlateau.step: metrics must be a number or a one-element "
                              f"tensor, got {metrics!r}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            _warn_epoch_argument()
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # a group was added since
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter "
                                   f"groups but min_lr lists {len(self.min_lrs)}; set min_lrs to "
                                   "one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


class ChainedScheduler(_ComposedScheduler):
    """Step several schedulers of one optimizer together: each ``step()`` steps every one
    in turn, so their (chainable) changes compose, e.g. a constant warm-up times a decay.

    >>> import microtensor as mt
    >>> from microtensor.optim import SGD
    >>> opt = SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2),
    ...                               ExponentialLR(opt, gamma=0.5)])
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))
    ...     scheduler.step()
    >>> lrs
    [0.1, 0.05, 0.25, 0.125]
    """

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        _check_schedulers("ChainedScheduler", schedulers, optimizer, stepped_alone=ReduceLROnPlateau)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = self._current()

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current()
