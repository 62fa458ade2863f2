"""Interleaved timing: round after round, each variant runs once (A B C A B C ...), so
a slow spell of the machine hits every variant alike; the report gives medians.

Python's cyclic garbage collector stays enabled, as users run it, and the time it
spends is measured per variant through ``gc.callbacks``: an engine whose graphs hold
reference cycles, or that makes the collector scan a large live graph, shows it here.
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
    """Accumulates the wall time of every collection while installed."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


def time_interleaved(steps: dict[str, Callable[[], object]], rounds: int,
                     warmup: int = 1) -> list[Timing]:
    """Time each callable ``rounds`` times, interleaved, after ``warmup`` untimed rounds.

    >>> timings = time_interleaved({"a": lambda: None, "b": lambda: None}, rounds=3)
    >>> [(t.label, len(t.seconds)) for t in timings]
    [('a', 3), ('b', 3)]
    """
    timings = {label: Timing(label) for label in steps}
    clock = _GCClock()
    gc.callbacks.append(clock)
    try:
        for r in range(warmup + rounds):
            for label, step in steps.items():
                gc_before = clock.total
                start = time.perf_counter()
                step()
                elapsed = time.perf_counter() - start
                if r >= warmup:
                    timings[label].seconds.append(elapsed)
                    timings[label].gc_seconds.append(clock.total - gc_before)
    finally:
        gc.callbacks.remove(clock)
    return list(timings.values())
