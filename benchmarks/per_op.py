"""The cost of one op: what the engine adds to the bare numpy call.

On small recurrent steps the engine's bookkeeping per op (recording the node, checking
and wrapping, and in backward, routing gradients) is the whole cost, so it is measured
on its own: ``a + b``, ``a * b``, ``tanh``, ``a @ b`` and ``x[i]`` on arrays of shape
(100, 1) and (1, 100), float64, inputs that require gradients. Each case times six
callables interleaved (numpy, microtensor, PyTorch; forward, and forward with backward
from a given upstream gradient), each timed call running the op ``calls`` times; the
report gives medians per op, in microseconds above numpy's.

numpy's forward+backward is the arithmetic a hand-written backward does (for ``a * b``:
``g * b`` and ``g * a``), so what is left above it is the engine's: the node, the
backward call and the gradients it hands to the leaves (reset to None each call, as a
training step's ``zero_grad`` does).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .timing import time_interleaved


@dataclass(frozen=True)
class Case:
    """One op on inputs of fixed shapes: its numpy forward and hand-written backward."""

    name: str  # as users write it: "a + b", "tanh(a)", "x[i]"
    shapes: tuple[tuple[int, ...], ...]
    forward: Callable[..., Any]  # (lib or numpy-like module, *inputs) -> output
    numpy_backward: Callable[..., tuple[np.ndarray, ...]]  # (g, output, *inputs) -> gradients

    @property
    def label(self) -> str:
        """The op and its shapes, e.g. ``a @ b`` (100, 1) @ (1, 100)."""
        shapes = self.shapes if self.name == "a @ b" else self.shapes[:1]
        return f"`{self.name}` " + " @ ".join(str(s) for s in shapes)


def _cases() -> list[Case]:
    def add_back(g, out, a, b):
        return g, g

    def mul_back(g, out, a, b):
        return g * b, g * a

    def tanh_back(g, out, a):
        return (g * (1 - out * out),)

    def matmul_back(g, out, a, b):
        return g @ b.T, a.T @ g

    def index_back(g, out, x):
        grad = np.zeros_like(x)
        grad[0] = g
        return (grad,)

    cases = []
    for shape in ((100, 1), (1, 100)):
        cases += [Case("a + b", (shape, shape), lambda lib, a, b: a + b, add_back),
                  Case("a * b", (shape, shape), lambda lib, a, b: a * b, mul_back),
                  Case("tanh(a)", (shape,), lambda lib, a: lib.tanh(a), tanh_back),
                  Case("a @ b", (shape, shape[::-1]), lambda lib, a, b: a @ b, matmul_back),
                  Case("x[i]", (shape,), lambda lib, x: x[0], index_back)]
    return cases


#: The ops and shapes measured, in the order they are reported.
CASES = _cases()


@dataclass
class OpCost:
    """Median seconds per op of one case: numpy's, and each library's (forward,
    forward+backward) by library name."""

    case: Case
    numpy_forward: float
    numpy_both: float
    libraries: dict[str, tuple[float, float]]

    def above_numpy(self, library: str) -> tuple[float, float]:
        """Seconds above numpy per op: forward, and forward+backward."""
        forward, both = self.libraries[library]
        return forward - self.numpy_forward, both - self.numpy_both


class _Library:
    """One case's inputs in one library, with the forward and forward+backward calls."""

    def __init__(self, lib: Any, case: Case, arrays: list[np.ndarray], grad: np.ndarray) -> None:
        self.lib, self.case = lib, case
        self.inputs = [lib.tensor(x.copy(), requires_grad=True) for x in arrays]
        self.grad = lib.tensor(grad.copy())

    def forward(self) -> Any:
        return self.case.forward(self.lib, *self.inputs)

    def forward_backward(self) -> list[np.ndarray]:
        for x in self.inputs:
            x.grad = None
        self.case.forward(self.lib, *self.inputs).backward(self.grad)
        return [np.asarray(x.grad) for x in self.inputs]


def _repeat(call: Callable[[], object], times: int) -> Callable[[], None]:
    def repeated() -> None:
        for _ in range(times):
            call()
    return repeated


def libraries(with_torch: bool = True) -> dict[str, Any]:
    """microtensor, and PyTorch (one thread) when installed and wanted.

    >>> list(libraries(with_torch=False))
    ['microtensor']
    """
    import microtensor

    found = {"microtensor": microtensor}
    if with_torch and importlib.util.find_spec("torch") is not None:
        from .variants import load_torch

        found["torch"] = load_torch()
    return found


def measure(case: Case, rounds: int, calls: int, with_torch: bool = True, seed: int = 6) -> OpCost:
    """Check that each library computes numpy's output and gradients for ``case``, then
    time them interleaved: ``rounds`` medians of ``calls`` ops each.

    >>> cost = measure(CASES[0], rounds=3, calls=10, with_torch=False)
    >>> fwd, both = cost.above_numpy("microtensor")
    >>> cost.case.label, both > fwd > 0
    ('`a + b` (100, 1)', True)
    """
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in case.shapes]
    out = case.forward(np, *arrays)
    grad = rng.standard_normal(np.shape(out))

    def numpy_both() -> tuple[np.ndarray, ...]:
        return case.numpy_backward(grad, case.forward(np, *arrays), *arrays)

    expected = numpy_both()
    runs = {name: _Library(lib, case, arrays, grad) for name, lib in libraries(with_torch).items()}
    for name, run in runs.items():
        np.testing.assert_allclose(np.asarray(run.forward().detach()), out, rtol=1e-12,
                                   err_msg=f"{name} {case.label}: forward differs from numpy")
        for got, want in zip(run.forward_backward(), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12,
                                       err_msg=f"{name} {case.label}: gradient differs from numpy")

    steps = {"numpy forward": _repeat(lambda: case.forward(np, *arrays), calls),
             "numpy both": _repeat(numpy_both, calls)}
    for name, run in runs.items():
        steps[f"{name} forward"] = _repeat(run.forward, calls)
        steps[f"{name} both"] = _repeat(run.forward_backward, calls)
    medians = {t.label: t.median / calls for t in time_interleaved(steps, rounds)}
    return OpCost(case, medians["numpy forward"], medians["numpy both"],
                  {name: (medians[f"{name} forward"], medians[f"{name} both"]) for name in runs})
