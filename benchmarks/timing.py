"""Interleaved timing: round after round, each variant runs once (A B C A B C ...), so
a slow spell of the machine hits every variant alike; the report gives medians.

Python's cyclic garbage collector stays enabled, as users run it, and the time it
spends is measured per variant through ``gc.callbacks``: an engine whose graphs hold
reference cycles, or that makes the collector scan a large live graph, shows it here.

The clock is wall time (``time.perf_counter``) unless ``cpu=True``: then the thread's
CPU time (``time.thread_time``), which leaves out the time other programs hold the
cores. Everything timed runs on this one thread (one BLAS thread, one PyTorch thread),
so on a shared machine CPU time is the steadier measure.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Seconds per call of one variant, and seconds of those spent in the cyclic GC."""

    label: str
    seconds: list[float] = field(default_factory=list)
    gc_seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def gc_share(self) -> float:
        """Fraction of the total time spent collecting."""
        return sum(self.gc_seconds) / sum(self.seconds)


class _GCClock:
    """Accumulates the time of every collection, on ``clock``, while installed."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = self.clock()
        else:
            self.total += self.clock() - self._started


def time_interleaved(steps: dict[str, Callable[[], object]], rounds: int,
                     warmup: int = 1, cpu: bool = False) -> list[Timing]:
    """Time each callable ``rounds`` times, interleaved, after ``warmup`` untimed rounds;
    in the thread's CPU time if ``cpu``, else wall time.

    >>> timings = time_interleaved({"a": lambda: None, "b": lambda: None}, rounds=3)
    >>> [(t.label, len(t.seconds)) for t in timings]
    [('a', 3), ('b', 3)]
    """
    timings = {label: Timing(label) for label in steps}
    now = time.thread_time if cpu else time.perf_counter
    clock = _GCClock(now)
    gc.callbacks.append(clock)
    try:
        for r in range(warmup + rounds):
            for label, step in steps.items():
                gc_before = clock.total
                start = now()
                step()
                elapsed = now() - start
                if r >= warmup:
                    timings[label].seconds.append(elapsed)
                    timings[label].gc_seconds.append(clock.total - gc_before)
    finally:
        gc.callbacks.remove(clock)
    return list(timings.values())
