"""``RESULTS.md``: the machine, the ratios at a glance, the targets, the cost of single
ops, every timing table, the deep unrolls' growth and memory, and what the profiles showed.
``overview`` is the part a quick run prints."""

from __future__ import annotations

import gc
import re
from typing import Any

from .per_op import CHAIN, OpCost
from .reference import HandWrittenNumpy
from .run import Results, WorkloadResult
from .second_order import section as second_order_section

BASELINE = HandWrittenNumpy.label

#: Time over hand-written numpy's, for microtensor's layers (``nn.RNN``, ``nn.LSTM``).
RATIO_TARGETS = {"W2": 1.4, "W3": 1.15, "W4 T=10000": 10.0}
#: W1: microtensor's variant (key) no slower than PyTorch's (value) in the same run.
MATCH_TORCH = {"microtensor per-step ops": "torch per-step ops", "microtensor nn.RNN": "torch nn.RNN"}
GROWTH_TARGET = 11.0  # W4: time at T=10,000 over time at T=1,000 (10 would be linear)
MEMORY_TARGET = 2.0  # W4 T=10,000: peak memory over hand-written numpy's
OP_TARGET_US = 1.5  # engine time per op in forward, and per node in backward

TARGETS_TEXT = [
    "- **W1** (char-RNN, batch 1): microtensor's per-step ops no slower than PyTorch's "
    "per-step ops, and `nn.RNN` no slower than PyTorch's `nn.RNN`, in the same run.",
    f"- **W2** (char-RNN, batch 32): at most {RATIO_TARGETS['W2']}x numpy's time, and "
    f"**W3** (LSTM language model, batch 32) at most {RATIO_TARGETS['W3']}x, with the "
    "default layers (not only with `fused=True`).",
    f"- **W4** (tanh RNN unrolled over T=10,000 steps): at most {RATIO_TARGETS['W4 T=10000']:g}x "
    f"numpy's time; time at T=10,000 at most {GROWTH_TARGET:g}x the time at T=1,000 (linear in "
    f"T); peak memory at most {MEMORY_TARGET:g}x numpy's.",
    f"- **Single ops**: at most {OP_TARGET_US} µs of engine time above the bare numpy call "
    f"per op in forward, and {OP_TARGET_US} µs per node in backward (measured over chains of "
    f"{CHAIN} ops, `y = op(y, b)`, where one backward call's fixed cost is shared).",
]

#: Ratios to hand-written numpy of other implementations, measured on another machine
#: when the workloads were designed (W4 is T=10,000).
OTHER_LIBRARIES = (
    ("per-step numpy", "5.8", "1.2", "-", "8"),
    ("PyTorch eager, per-step ops", "7.8", "1.8", "1.0", "27 (136 MB)"),
    ("PyTorch nn.RNN / nn.LSTM", "4.4", "1.4", "1.0", "7 (90 MB)"),
    ("MyGrad", "18.5", "3.2", "2.7", "99"),
    ("HIPS autograd", "50", "7.4", "2.8", "205"),
)


def render(results: Results, machine: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    quick = "W4 T=10000" not in {w.spec.name for w in results.workloads}
    flags = (" --quick" if quick else "") + (" --cpu-time" if results.settings.cpu_time else "")
    lines = ["# Benchmark results", "",
             f"Written by `python -m benchmarks{flags}` on "
             f"{machine['date']}. Times are medians of interleaved rounds"
             + (" in CPU time (`--cpu-time`)" if results.settings.cpu_time else "")
             + ", float64, one BLAS thread; ratios divide by the hand-written numpy time "
             "(lower is better).", ""]
    if quick:
        lines += ["**Quick mode**: few rounds and unrolls up to T = 1,000 only. These numbers "
                  "check that the suite runs; run `python -m benchmarks` for real ones.", ""]
    lines += _machine(machine) + overview(results) + _timings(results) + _unrolls(results)
    lines += _other_libraries() + _profiles(results)
    return "\n".join(lines) + "\n"


def overview(results: Results) -> list[str]:
    """The ratios at a glance, the targets and the single ops: what a quick run prints."""
    second_order = [] if results.second_order is None else second_order_section(results.second_order)
    return _glance(results) + _targets(results) + _per_op(results.per_op) + second_order


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


def _machine(m: dict[str, Any]) -> list[str]:
    env = m["environment"]
    tuning = ", ".join(f"`{k}={env[k]}`" if k in env else f"`{k}` not set"
                       for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    return ["## Machine", "",
            f"- CPU: {m['cpu']}, {m['cores']} cores; {m['platform']}",
            f"- Python {m['python']}, numpy {m['numpy']}, "
            f"PyTorch {m['torch'] or 'not installed'} (1 thread, `torch.set_num_threads(1)`)",
            "- BLAS: " + "; ".join(m["blas"]),
            "- BLAS-related environment (thread counts set by the run before numpy loads): "
            + (", ".join(f"`{k}={v}`" for k, v in env.items()) or "none"),
            f"- OpenBLAS tuning variables (recorded, never set): {tuning}",
            f"- Cyclic GC enabled, as users run it (thresholds {gc.get_threshold()})", ""]


def _by_name(results: Results) -> dict[str, WorkloadResult]:
    return {w.spec.name: w for w in results.workloads}


def _median(w: WorkloadResult, label: str) -> float:
    return next(t.median for t in w.timings if t.label == label)


def _layer_variants(labels: list[str]) -> list[str]:
    """microtensor's layer variants (composed, then fused): the ones the targets are for."""
    return [label for label in labels if label.startswith("microtensor nn.")]


def _verdict(value: float, target: float) -> str:
    if value <= target:
        return f"met ({value / target:.0%} of target)"
    return f"**missed** by {value / target - 1:.0%}"


def _glance(results: Results) -> list[str]:
    """One row per workload, one column per kind of variant (RNN and LSTM layers together)."""
    def kind(label: str) -> str:
        return re.sub(r"nn\.(RNN|LSTM)", "nn.RNN / nn.LSTM", label)

    ratios = [{kind(t.label): _median(w, t.label) / _median(w, BASELINE) for t in w.timings
               if t.label != BASELINE} for w in results.workloads]
    kinds = sorted({k for row in ratios for k in row}, key=lambda k: (not k.startswith("microtensor"),
                                                                     "per-step" in k, k))
    rows = [[w.spec.name, *(f"{row[k]:.2f}x" if k in row else "-" for k in kinds)]
            for w, row in zip(results.workloads, ratios)]
    return ["## Ratios at a glance", "",
            "Time over hand-written numpy's (lower is better); the tables below have the "
            "times.", ""] + _table(["workload", *kinds], rows)


def _targets(results: Results) -> list[str]:
    by_name = _by_name(results)
    rows = []
    if "W1" in by_name:
        w = by_name["W1"]
        measured = {t.label for t in w.timings}
        for ours, theirs in MATCH_TORCH.items():
            if ours in measured:
                ratio = _median(w, ours) / _median(w, BASELINE)
                if theirs in measured:
                    target = _median(w, theirs) / _median(w, BASELINE)
                    rows.append(["W1 time", ours, f"{ratio:.2f}x", f"<= {target:.2f}x ({theirs})",
                                 _verdict(ratio, target)])
                else:
                    rows.append(["W1 time", ours, f"{ratio:.2f}x", f"<= {theirs}",
                                 "not measured: PyTorch did not run"])
    for name, target in RATIO_TARGETS.items():
        if name in by_name:
            w = by_name[name]
            for label in _layer_variants([t.label for t in w.timings]):
                ratio = _median(w, label) / _median(w, BASELINE)
                rows.append([f"{name} time", label, f"{ratio:.2f}x", f"<= {target:g}x",
                             _verdict(ratio, target)])
    if "W4 T=10000" in by_name and "W4 T=1000" in by_name:
        long, short = by_name["W4 T=10000"], by_name["W4 T=1000"]
        for label in _layer_variants([t.label for t in long.timings]):
            growth = _median(long, label) / _median(short, label)
            rows.append(["W4 growth, T=10,000 / T=1,000", label, f"{growth:.2f}x",
                         f"<= {GROWTH_TARGET:g}x", _verdict(growth, GROWTH_TARGET)])
    memory = {m.label: m for m in results.memory}
    if BASELINE in memory:
        for label in _layer_variants(list(memory)):
            ratio = memory[label].peak_rss / memory[BASELINE].peak_rss
            rows.append([f"W4 T={results.memory_length:,} peak memory (process RSS)", label,
                         f"{ratio:.2f}x", f"<= {MEMORY_TARGET:g}x", _verdict(ratio, MEMORY_TARGET)])
    ours = [c for c in results.per_op if "microtensor" in c.libraries]
    if ours:
        forward = {c.case.label: c.above_numpy("microtensor")[0] for c in ours}
        backward = {c.case.label: c.backward_per_node("microtensor") for c in ours
                    if c.backward_per_node("microtensor") is not None}
        for part, costs in (("forward", forward), ("backward per node", backward)):
            if costs:
                slowest = max(costs, key=costs.__getitem__)
                us = costs[slowest] * 1e6
                rows.append([f"single-op {part}, the slowest op", f"microtensor {slowest}",
                             f"{us:.1f} µs", f"<= {OP_TARGET_US} µs", _verdict(us, OP_TARGET_US)])
    lines = ["## Targets", "", *TARGETS_TEXT, ""]
    unmeasured = [what for what, measured in (("W4 at T=10,000", "W4 T=10000" in by_name),
                                              ("peak memory", bool(memory)),
                                              ("single ops", bool(ours))) if not measured]
    if unmeasured:
        lines += [f"Not measured in this run: {', '.join(unmeasured)}.", ""]
    return lines + _table(["measure", "variant", "measured", "target", "verdict"], rows)


def _per_op(costs: list[OpCost]) -> list[str]:
    if not costs:
        return []
    names = list(costs[0].libraries)
    lines = ["## Single ops", "",
             "What one op costs above the bare numpy call, in microseconds (medians of "
             "interleaved rounds), on inputs that require gradients: *forward* records the "
             "op; *fwd+bwd* also runs `backward` from a given gradient and hands the "
             "gradients to the inputs (reset each time, as `zero_grad` does), against numpy's "
             "forward and hand-written backward (e.g. `g * b` and `g * a` for `a * b`). A "
             "one-op graph pays one backward call's fixed cost; *backward per node* shares "
             f"it over a chain of {CHAIN} ops (`y = op(y, b)`, for the ops whose output has "
             "their input's shape). float64, one thread; outputs and gradients were checked "
             "against numpy's first.", ""]
    header = ["op and shapes", "numpy forward µs", "numpy fwd+bwd µs"]
    for name in names:
        header += [f"{name} forward", f"{name} fwd+bwd", f"{name} backward per node"]
    rows = []
    for c in costs:
        row = [c.case.label, f"{c.numpy_forward * 1e6:.2f}", f"{c.numpy_both * 1e6:.2f}"]
        for name in names:
            node = c.backward_per_node(name)
            row += [f"{s * 1e6:+.2f}" for s in c.above_numpy(name)]
            row.append("-" if node is None else f"{node * 1e6:+.2f}")
        rows.append(row)
    return lines + _table(header, rows)


def _timings(results: Results) -> list[str]:
    lines = ["## Timings", "",
             "Each variant was first checked against the hand-written numpy version: loss, "
             "every gradient, and (with an optimizer) every parameter after one step agree to "
             "the relative differences shown (relative to the largest reference value). The "
             "numpy gradients themselves were checked against central finite differences.", ""]
    for w in results.workloads:
        base = _median(w, BASELINE)
        agreement = {a.label: a for a in w.agreements}
        rows = []
        for t in w.timings:
            a = agreement.get(t.label)
            agrees = "reference" if a is None else f"{a.worst:.1e}"
            rows.append([t.label, f"{t.median * 1e3:.3f}", f"{t.median / base:.2f}x",
                         f"{t.gc_share:.1%}", agrees])
        lines += [f"### {w.spec.name}: {w.spec.title}", "",
                  f"{len(w.timings[0].seconds)} rounds; finite-difference check of the numpy "
                  f"gradients: worst relative error {w.gradient_check:.1e}.", ""]
        lines += _table(["variant", "median ms", "ratio", "time in GC", "max difference"], rows)
    return lines


def _unrolls(results: Results) -> list[str]:
    unrolls = [w for w in results.workloads if w.spec.key == "W4"]
    if not unrolls:
        return []
    lengths = [w.spec.seq_len for w in unrolls]
    lines = ["## W4: how time and memory grow with T", "",
             "Forward and backward time in ms (ratio to numpy), and the growth of the last "
             "step in T (x10 in T should be about x10 in time).", ""]
    rows = []
    for t in unrolls[0].timings:
        cells = [f"{_median(w, t.label) * 1e3:.1f} ({_median(w, t.label) / _median(w, BASELINE):.1f}x)"
                 for w in unrolls]
        growth = _median(unrolls[-1], t.label) / _median(unrolls[-2], t.label)
        rows.append([t.label, *cells, f"{growth:.1f}x"])
    lines += _table(["variant", *(f"T={n:,}" for n in lengths),
                     f"T={lengths[-1]:,} / T={lengths[-2]:,}"], rows)
    if results.memory:
        base = next(m for m in results.memory if m.label == BASELINE)
        lines += [f"Peak memory at T={results.memory_length:,}, each variant in a fresh process "
                  "that imports only its own library. *Peak RSS* is the whole process "
                  "(Linux's `VmHWM`, interpreter and libraries included); *step growth* is the peak "
                  "minus the resident size just before the step; *tracemalloc* is the peak of "
                  "Python and numpy allocations during a second step (it cannot see PyTorch's "
                  "allocator).", ""]
        rows = [[m.label, f"{m.peak_rss:.1f}", f"{m.peak_rss / base.peak_rss:.2f}x",
                 f"{m.step_rss:.1f}", "-" if m.traced is None else f"{m.traced:.1f}"]
                for m in results.memory]
        lines += _table(["variant", "peak RSS MB", "ratio", "step growth MB", "tracemalloc MB"],
                        rows)
    return lines


def _other_libraries() -> list[str]:
    return ["## Other implementations, measured elsewhere", "",
            "Ratios to hand-written numpy measured on another machine when these workloads "
            "were designed (for context only; W4 is T=10,000).", ""] + _table(
                ["implementation", "W1", "W2", "W3", "W4 T=10,000"],
                [list(row) for row in OTHER_LIBRARIES])


def _profiles(results: Results) -> list[str]:
    if not results.profiles:
        return []
    lines = ["## What the profile showed", "",
             "cProfile over a few steps of microtensor's layer variant. An op's forward and "
             "backward include the numpy arithmetic they run; cProfile's per-call overhead "
             "inflates the share of the many small engine calls somewhat. A pause of the "
             "cyclic GC is charged to the function whose allocation set it off (often "
             "`apply` and `_topological_order`): where the timing tables show much time in "
             "GC, read those functions' own time as mostly GC.", ""]
    for name, p in results.profiles.items():
        lines += [f"### {name}: {p.total * 1e3:.1f} ms per step under the profiler", ""]
        lines += _table(["part of the code", "ms per step", "share"],
                        [[part, f"{s * 1e3:.2f}", f"{s / p.total:.0%}"] for part, s in p.parts
                         if s / p.total >= 0.005])
        lines += _table(["function (own time)", "calls per step", "ms per step"],
                        [[f"`{where}`", str(calls), f"{s * 1e3:.2f}"] for where, calls, s in p.top])
    return lines
