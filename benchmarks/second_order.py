"""The cost of a second derivative: Hessian-vector products of W3's loss (the LSTM
language model), in microtensor and in PyTorch, beside the first-order backward of the
same loss.

Both are timed on the model as a user writes it (``variants.Layers``: ``nn.LSTM``,
``nn.Linear``, ``cross_entropy``), from the forward pass on, with nothing kept between
calls:

- *backward*: ``grad(loss, params)``;
- *hvp*: ``g = grad(loss, params, create_graph=True)``, then ``grad(sum(g . v), params)``:
  one recorded backward pass and one backward pass through it (the double backward).

Before timing, each library's ``H v`` is checked against central differences of the
hand-written numpy gradients (``reference.forward_backward`` at ``params +- eps v``),
which involve no second derivative at all.

    python -m benchmarks.second_order --quick --cpu-time   # this section alone
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .agreement import DisagreementError, relative_difference
from .environment import pin_threads
from .reference import forward_backward
from .timing import Timing, time_interleaved
from .variants import Layers, load_torch
from .workloads import SEED, W3, Problem, Spec, make_problem

#: Central differences of float64 gradients agree with ``H v`` to about eps^2 and 1e-16/eps.
FD_STEP = 1e-5
FD_TOLERANCE = 1e-7


class SecondOrder:
    """One library's W3 model and a fixed direction ``v`` (standard normal, one array per
    parameter), with a first-order ``backward`` and an ``hvp``, each from the forward on.

    >>> import microtensor as mt
    >>> from benchmarks.workloads import replace
    >>> model = SecondOrder(make_problem(replace(W3, seq_len=3, batch=2)), mt)
    >>> model.label, sorted(model.hvp()) == sorted(model.problem.params)
    ('microtensor nn.LSTM', True)
    """

    def __init__(self, problem: Problem, lib: Any) -> None:
        self.problem, self.lib = problem, lib
        self.model = Layers(problem, lib)
        self.label = self.model.label
        self.names = list(self.model.params)
        self.params = list(self.model.params.values())
        self.vector = [lib.from_numpy(v) for v in direction(problem).values()]

    def loss(self) -> Any:
        m, spec = self.model, self.problem.spec
        output, _ = m.rnn(m.inputs)
        logits = m.readout(output).reshape(-1, spec.input_size)
        return self.lib.nn.functional.cross_entropy(logits, m.targets, reduction=spec.reduction)

    def backward(self) -> dict[str, np.ndarray]:
        return self._arrays(self.lib.autograd.grad(self.loss(), self.params))

    def hvp(self) -> dict[str, np.ndarray]:
        grad = self.lib.autograd.grad
        gradients = grad(self.loss(), self.params, create_graph=True)
        directional = sum((g * v).sum() for g, v in zip(gradients, self.vector))
        return self._arrays(grad(directional, self.params))

    def _arrays(self, tensors: Any) -> dict[str, np.ndarray]:
        return {name: np.asarray(t.detach()) for name, t in zip(self.names, tensors)}


def direction(problem: Problem) -> dict[str, np.ndarray]:
    """The direction ``v`` of every product: standard normal, by parameter name."""
    rng = np.random.default_rng(SEED + 1)
    return {name: rng.standard_normal(p.shape) for name, p in problem.params.items()}


def finite_difference_hvp(problem: Problem, eps: float = FD_STEP) -> dict[str, np.ndarray]:
    """``H v`` as ``(grad(params + eps v) - grad(params - eps v)) / (2 eps)``, from the
    hand-written numpy gradients.

    >>> from benchmarks.workloads import replace
    >>> hv = finite_difference_hvp(make_problem(replace(W3, seq_len=3, batch=2)))
    >>> hv["weight_hh"].shape
    (512, 128)
    """
    spec, v = problem.spec, direction(problem)

    def gradient(sign: float) -> dict[str, np.ndarray]:
        moved = {k: p + sign * eps * v[k] for k, p in problem.params.items()}
        return forward_backward(spec, moved, problem.inputs, problem.targets)[1]

    ahead, behind = gradient(1.0), gradient(-1.0)
    return {k: (ahead[k] - behind[k]) / (2 * eps) for k in ahead}


@dataclass
class SecondOrderResult:
    """What the section measured: per library, the worst relative difference of its ``H v``
    from the finite differences, and the timings (labels "LIB backward", "LIB hvp")."""

    spec: Spec
    agreement: dict[str, float]
    timings: list[Timing]

    def median(self, label: str) -> float:
        return next(t.median for t in self.timings if t.label == label)


def libraries(with_torch: bool) -> list[Any]:
    import microtensor

    found = [microtensor]
    if with_torch and importlib.util.find_spec("torch") is not None:
        found.append(load_torch())
    return found


def measure(rounds: int, with_torch: bool = True, cpu: bool = False,
            spec: Spec = W3) -> SecondOrderResult:
    """Check every library's ``H v`` against finite differences, then time backward and hvp
    interleaved (``rounds`` after one warmup round).

    >>> from benchmarks.workloads import replace
    >>> result = measure(1, with_torch=False, spec=replace(W3, seq_len=3, batch=2))
    >>> [t.label for t in result.timings], result.agreement["microtensor"] < 1e-7
    (['microtensor backward', 'microtensor hvp'], True)
    """
    problem = make_problem(spec)
    expected = finite_difference_hvp(problem)
    models = [SecondOrder(problem, lib) for lib in libraries(with_torch)]
    agreement = {}
    for model in models:
        found = model.hvp()
        worst = max(relative_difference(found[k], expected[k]) for k in expected)
        if worst > FD_TOLERANCE:
            raise DisagreementError(f"{model.label}: H v differs from finite differences of the "
                                    f"numpy gradients by {worst:.1e} (relative)")
        agreement[model.lib.__name__] = worst
    steps: dict[str, Callable[[], object]] = {}
    for model in models:
        steps[f"{model.lib.__name__} backward"] = model.backward
        steps[f"{model.lib.__name__} hvp"] = model.hvp
    return SecondOrderResult(spec, agreement, time_interleaved(steps, rounds, cpu=cpu))


def section(result: SecondOrderResult) -> list[str]:
    """The report's lines: one row per library, and how microtensor compares with PyTorch."""
    spec = result.spec
    lines = [f"## Second order: Hessian-vector products of {spec.key}'s loss", "",
             f"{spec.title.split(':')[0]} ({spec.key}), float64, one thread, the loss only (no "
             "optimizer step). *backward*: forward and `grad(loss, params)`; *hvp*: forward, "
             "`g = grad(loss, params, create_graph=True)` and `grad(sum(g * v), params)` (the "
             "double backward). Medians of "
             f"{len(result.timings[0].seconds)} interleaved rounds; *H v vs finite differences*: "
             "the largest difference from central differences of the hand-written numpy "
             "gradients, relative to the largest entry.", ""]
    rows = []
    for lib, worst in result.agreement.items():
        backward, hvp = result.median(f"{lib} backward"), result.median(f"{lib} hvp")
        rows.append([lib, f"{backward * 1e3:.1f}", f"{hvp * 1e3:.1f}", f"{hvp / backward:.2f}x",
                     f"{worst:.1e}"])
    header = ["library", "backward ms", "hvp ms", "hvp / backward", "H v vs finite differences"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows] + [""]
    if "torch" in result.agreement:
        ratios = [result.median(f"microtensor {part}") / result.median(f"torch {part}")
                  for part in ("backward", "hvp")]
        lines += [f"microtensor over PyTorch: backward {ratios[0]:.2f}x, hvp {ratios[1]:.2f}x.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.second_order",
                                     description="Time this section alone and print it.")
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 10")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by this thread's CPU time instead of wall time")
    args = parser.parse_args(argv)
    pin_threads(1)
    result = measure(3 if args.quick else 10, not args.no_torch, args.cpu_time)
    print("\n".join(section(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
