"""Peak memory of one deep-unroll forward and backward, each variant in a fresh process.

A child process (``python -m benchmarks.memory LABEL T``) imports only its variant's
library, builds the model, and runs one forward and backward. Two measures come back:

- the process's peak resident set size (``VmHWM``) and how much it grew during the
  step (peak minus the resident size just before it): what the operating system sees,
  and the only measure that covers PyTorch's own allocator;
- for numpy-based variants, the peak of Python allocations during a second identical
  step, from ``tracemalloc`` (which sees numpy's buffers but not PyTorch's).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass

from .environment import pin_threads

MB = 1024 * 1024


@dataclass
class Memory:
    """Megabytes: the peak resident size, its growth during the step, and the traced peak."""

    label: str
    peak_rss: float
    step_rss: float
    traced: float | None


def measure(label: str, seq_len: int) -> Memory:
    """Run the child for variant ``label`` of ``W4(seq_len)`` and read its report."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.memory", label, str(seq_len)],
                          capture_output=True, text=True, check=False, cwd=_project_root())
    if done.returncode:
        raise RuntimeError(f"memory measurement of {label!r} at T={seq_len} failed:\n"
                           f"{done.stderr}")
    return Memory(label, **json.loads(done.stdout.strip().splitlines()[-1]))


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _status(field: str) -> float | None:
    """A size from Linux's /proc/self/status, in bytes (None elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None


def _resident() -> float:
    """The current resident set size in bytes (or, off Linux, the peak so far)."""
    return _status("VmRSS") or _peak_resident()


def _peak_resident() -> float:
    """This process's peak resident set size in bytes.

    Linux's ``VmHWM`` first: ``ru_maxrss`` survives ``exec``, so a child started from a
    large parent would report the parent's size.
    """
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB elsewhere


def _child(label: str, seq_len: int) -> Memory:
    pin_threads(1)
    import gc
    import tracemalloc

    from .variants import variants_for
    from .workloads import W4, make_problem

    spec = W4(seq_len)
    model = variants_for(spec)[label](make_problem(spec))
    gc.collect()
    before = _resident()
    model.forward_backward()
    peak = _peak_resident()
    traced = None
    if not label.startswith("torch"):
        tracemalloc.start()
        model.forward_backward()
        traced = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
    return Memory(label, peak / MB, (peak - before) / MB, traced)


if __name__ == "__main__":
    result = _child(sys.argv[1], int(sys.argv[2]))
    print(json.dumps({k: v for k, v in vars(result).items() if k != "label"}))
