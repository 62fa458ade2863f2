"""Where microtensor's time goes: ``cProfile`` over a few steps of a variant, summed by
part of the library, plus the most expensive functions.

cProfile charges numpy's arithmetic operators (``a + b``, ``a @ b``) to the Python
function that runs them, so an op's ``forward``/``backward`` time includes its numpy
work; numpy functions called by name (``np.tanh``, ``.sum``) are listed as such. Its
per-call overhead also inflates the share of code that makes many small calls (the
engine's bookkeeping) by a few tens of percent; the ranking is still the right one.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

#: Which part of the code a profiled function belongs to, by its file (first match wins).
PARTS = (
    ("/microtensor/autograd.py", "engine: Function.apply and the backward loop"),
    ("/microtensor/tensor.py", "Tensor methods and wrapping"),
    ("/microtensor/ops/", "op forward/backward bodies (with their numpy arithmetic)"),
    ("/microtensor/nn/", "nn layers and losses (Python)"),
    ("/microtensor/optim/", "optimizer step"),
    ("/microtensor/", "rest of microtensor"),
    ("/numpy/", "numpy functions written in Python"),
    ("/benchmarks/", "benchmark harness"),
)


@dataclass
class Profile:
    """Seconds per step by part of the code, and the top functions by own time."""

    steps: int
    total: float  # seconds per step, under the profiler
    parts: list[tuple[str, float]]  # (part, seconds per step), largest first
    top: list[tuple[str, int, float]]  # (function, calls per step, seconds per step)


def profile(step: Callable[[], object], steps: int, top: int = 10) -> Profile:
    """Profile ``steps`` calls of ``step`` (after one untimed call).

    >>> p = profile(lambda: sum(range(1000)), steps=5, top=3)
    >>> p.steps, len(p.top) <= 3
    (5, True)
    """
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, calls, tottime, cumtime, callers)}
    parts: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (_, calls, own, _, _) in stats.items():
        parts[_part(filename, name)] += own / steps
        where = name if filename == "~" else f"{_short(filename)}:{line} {name}"
        rows.append((where, calls // steps, own / steps))
    rows.sort(key=lambda row: -row[2])
    total = sum(parts.values())
    return Profile(steps, total, sorted(parts.items(), key=lambda kv: -kv[1]), rows[:top])


def _part(filename: str, name: str) -> str:
    if filename == "~":  # a function written in C
        return "numpy C functions" if "numpy" in name else "Python built-ins (isinstance, id...)"
    for fragment, part in PARTS:
        if fragment in filename.replace("\\", "/"):
            return part
    return "other Python"


def _short(filename: str) -> str:
    """``.../microtensor/ops/linalg.py`` -> ``ops/linalg.py``."""
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("microtensor", "benchmarks", "numpy"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor):])
    return parts[-1]
