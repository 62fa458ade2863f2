"""One benchmark run: for each workload, check the reference's gradients against finite
differences, check every variant against the reference, then time them interleaved;
then the cost of single ops, the deep unrolls' peak memory and the profiles of
microtensor's variants."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .agreement import Agreement, compare
from .memory import Memory, measure
from .per_op import CASES, OpCost
from .per_op import measure as measure_op
from .profiling import Profile, profile
from .reference import HandWrittenNumpy, gradient_check
from .second_order import SecondOrderResult
from .second_order import measure as measure_second_order
from .timing import Timing, time_interleaved
from .variants import variants_for
from .workloads import UNROLL_LENGTHS, W1, W2, W3, W4, Spec, make_problem


@dataclass(frozen=True)
class Settings:
    """How much to measure. ``quick`` checks that the suite works and catches large
    regressions in about a minute; its numbers are noisier than a full run's."""

    rounds: dict[str, int]  # timed rounds per workload name (after one warmup round)
    unroll_lengths: tuple[int, ...]
    profile_steps: dict[str, int]  # profiled steps of microtensor's layer variant, by workload
    with_torch: bool = True
    memory: bool = True
    per_op_rounds: int = 0  # 0: no per-op section
    # ops per timed call: one op takes microseconds; a short call is seldom preempted
    per_op_calls: int = 20
    cpu_time: bool = False  # time by the thread's CPU time instead of wall time
    second_order_rounds: int = 0  # 0: no section on W3's Hessian-vector products

    @classmethod
    def full(cls, with_torch: bool = True, memory: bool = True, cpu_time: bool = False) -> Settings:
        return cls({"W1": 100, "W2": 50, "W3": 20, "W4 T=100": 50, "W4 T=1000": 15,
                    "W4 T=10000": 7}, UNROLL_LENGTHS,
                   {"W1": 50, "W3": 5, "W4 T=10000": 2}, with_torch, memory, per_op_rounds=500,
                   cpu_time=cpu_time, second_order_rounds=10)

    @classmethod
    def quick(cls, with_torch: bool = True, memory: bool = True, cpu_time: bool = False) -> Settings:
        return cls({"W1": 30, "W2": 15, "W3": 5, "W4 T=100": 15, "W4 T=1000": 5},
                   UNROLL_LENGTHS[:2], {"W1": 3, "W3": 1, "W4 T=1000": 1}, with_torch, memory,
                   per_op_rounds=50, cpu_time=cpu_time, second_order_rounds=3)


@dataclass
class WorkloadResult:
    """What a run found for one workload."""

    spec: Spec
    gradient_check: float  # the reference's worst relative error against finite differences
    agreements: list[Agreement]
    timings: list[Timing]


@dataclass
class Results:
    """Everything a run measured, as ``report.render`` reads it."""

    settings: Settings
    workloads: list[WorkloadResult] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    memory_length: int = 0
    profiles: dict[str, Profile] = field(default_factory=dict)
    per_op: list[OpCost] = field(default_factory=list)
    second_order: SecondOrderResult | None = None


def specs(settings: Settings) -> list[Spec]:
    """The workloads of a run, in the order they are reported.

    >>> [s.name for s in specs(Settings.quick())]
    ['W1', 'W2', 'W3', 'W4 T=100', 'W4 T=1000']
    """
    return [W1, W2, W3, *(W4(n) for n in settings.unroll_lengths)]


def check(spec: Spec, with_torch: bool = True) -> tuple[float, list[Agreement], dict[str, Any]]:
    """Check the reference against finite differences, then every variant against the
    reference (a fresh one each time); return the reference's error, the agreements and
    the models, each now one step on.

    >>> fd_error, agreements, models = check(W4(5), with_torch=False)
    >>> fd_error < 1e-6, [a.label for a in agreements], len(models)
    (True, ['microtensor nn.RNN', 'microtensor nn.RNN fused'], 3)
    """
    problem = make_problem(spec)
    fd_error = gradient_check(problem)
    models = {label: make(problem) for label, make in variants_for(spec, with_torch).items()}
    agreements = [compare(HandWrittenNumpy(problem), model, label, spec.optimizer is not None)
                  for label, model in models.items() if label != HandWrittenNumpy.label]
    return fd_error, agreements, models


def run(settings: Settings) -> Results:
    """Check, time and profile every workload, then measure the unrolls' memory
    (progress goes to stderr). ``tests/benchmarks`` runs it on shortened workloads."""
    results = Results(settings)
    for spec in specs(settings):
        _say(f"{spec.name}: checking gradients and agreement")
        fd_error, agreements, models = check(spec, settings.with_torch)
        _say(f"{spec.name}: timing {len(models)} variants, {settings.rounds[spec.name]} rounds")
        steps = {label: _step(model, spec) for label, model in models.items()}
        timings = time_interleaved(steps, settings.rounds[spec.name], cpu=settings.cpu_time)
        results.workloads.append(WorkloadResult(spec, fd_error, agreements, timings))
        if spec.name in settings.profile_steps:
            label = next(label for label in models if label.startswith("microtensor nn."))
            _say(f"{spec.name}: profiling {label}")
            results.profiles[spec.name] = profile(steps[label], settings.profile_steps[spec.name])
    if settings.per_op_rounds:
        _say(f"per-op costs: {len(CASES)} ops and shapes, {settings.per_op_rounds} rounds")
        results.per_op = [measure_op(case, settings.per_op_rounds, settings.per_op_calls,
                                     settings.with_torch, cpu=settings.cpu_time) for case in CASES]
    if settings.second_order_rounds:
        _say(f"W3 Hessian-vector products: {settings.second_order_rounds} rounds")
        results.second_order = measure_second_order(settings.second_order_rounds,
                                                     settings.with_torch, settings.cpu_time)
    if settings.memory:
        length = max(settings.unroll_lengths)
        results.memory_length = length
        for label in variants_for(W4(length), settings.with_torch):
            _say(f"W4 T={length}: peak memory of {label}")
            results.memory.append(measure(label, length))
    return results


def _step(model: Any, spec: Spec) -> Callable[[], object]:
    """What one timed call runs: a training step, or forward and backward for the unrolls."""
    if spec.optimizer is None:
        return model.forward_backward

    def train_step() -> None:
        model.forward_backward()
        model.update()

    return train_step


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
