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


#: Ops in the chains that measure backward per node (y = op(y, b), over and over), where
#: the op's output has its first input's shape. One backward call has a fixed cost; over
#: a chain it is shared, so what is left per op is the cost of one node.
CHAIN = 20


@dataclass
class OpCost:
    """Median seconds per op of one case: numpy's, and each library's (forward,
    forward+backward) by library name; for ops that chain, the same per op of a chain."""

    case: Case
    numpy_forward: float
    numpy_both: float
    libraries: dict[str, tuple[float, float]]
    numpy_chain: tuple[float, float] | None = None
    chains: dict[str, tuple[float, float]] | None = None

    def above_numpy(self, library: str) -> tuple[float, float]:
        """Seconds above numpy per op: forward, and forward+backward."""
        forward, both = self.libraries[library]
        return forward - self.numpy_forward, both - self.numpy_both

    def backward_per_node(self, library: str) -> float | None:
        """Seconds above numpy's backward per node of a chain (None: the op does not chain)."""
        if self.chains is None or self.numpy_chain is None:
            return None
        forward, both = self.chains[library]
        return (both - forward) - (self.numpy_chain[1] - self.numpy_chain[0])


def _chains(case: Case) -> bool:
    return np.shape(case.forward(np, *(np.zeros(s) for s in case.shapes))) == case.shapes[0]


def _numpy_forward(case: Case, arrays: list[np.ndarray], length: int) -> np.ndarray:
    if length == 1:  # the bare call
        return case.forward(np, *arrays)
    y = arrays[0]
    for _ in range(length):
        y = case.forward(np, y, *arrays[1:])
    return y


def _numpy_both(case: Case, arrays: list[np.ndarray], grad: np.ndarray,
                length: int) -> tuple[np.ndarray, ...]:
    """numpy's forward over ``length`` chained ops, then the hand-written backward."""
    if length == 1:  # no bookkeeping for one op: the bare calls
        return case.numpy_backward(grad, case.forward(np, *arrays), *arrays)
    y, seen = arrays[0], []
    for _ in range(length):
        seen.append(y)
        y = case.forward(np, y, *arrays[1:])
    outputs = seen[1:] + [y]
    rest = None  # the gradients of the inputs every op shares (b in y = y * b)
    for y_in, out in zip(reversed(seen), reversed(outputs)):
        grad, *others = case.numpy_backward(grad, out, y_in, *arrays[1:])
        rest = others if rest is None else [r + o for r, o in zip(rest, others)]
    return (grad, *rest)


class _Library:
    """One case's inputs in one library, with the forward and forward+backward calls over
    ``length`` chained ops."""

    def __init__(self, lib: Any, case: Case, arrays: list[np.ndarray], grad: np.ndarray) -> None:
        self.lib, self.case = lib, case
        self.inputs = [lib.tensor(x.copy(), requires_grad=True) for x in arrays]
        self.grad = lib.tensor(grad.copy())

    def forward(self, length: int = 1) -> Any:
        y, rest = self.inputs[0], self.inputs[1:]
        for _ in range(length):
            y = self.case.forward(self.lib, y, *rest)
        return y

    def forward_backward(self, length: int = 1) -> list[np.ndarray]:
        for x in self.inputs:
            x.grad = None
        self.forward(length).backward(self.grad)
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


def measure(case: Case, rounds: int, calls: int, with_torch: bool = True, seed: int = 6,
            cpu: bool = False) -> OpCost:
    """Check that each library computes numpy's output and gradients for ``case`` (and its
    chain), then time them interleaved: ``rounds`` medians of ``calls`` ops each (in CPU
    time if ``cpu``, see ``timing``).

    >>> cost = measure(CASES[0], rounds=3, calls=10, with_torch=False)
    >>> cost.case.label, list(cost.libraries), len(cost.above_numpy("microtensor"))
    ('`a + b` (100, 1)', ['microtensor'], 2)
    >>> cost.backward_per_node("microtensor") is None  # a + b chains: y = y + b
    False
    >>> measure(CASES[3], rounds=1, calls=1, with_torch=False).backward_per_node("microtensor")
    """
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in case.shapes]
    if case.name == "tanh(a)":  # keep a chain of tanh away from +-1, where its gradient is 0
        arrays[0] *= 0.1
    grad = rng.standard_normal(np.shape(case.forward(np, *arrays)))
    lengths = (1, CHAIN) if _chains(case) else (1,)
    runs = {name: _Library(lib, case, arrays, grad) for name, lib in libraries(with_torch).items()}
    for length in lengths:
        out, expected = _numpy_forward(case, arrays, length), _numpy_both(case, arrays, grad, length)
        what = case.label + ("" if length == 1 else f", a chain of {length}")
        for name, run in runs.items():
            np.testing.assert_allclose(np.asarray(run.forward(length).detach()), out, rtol=1e-10,
                                       err_msg=f"{name} {what}: forward differs from numpy")
            for got, want in zip(run.forward_backward(length), expected):
                np.testing.assert_allclose(got, want, rtol=1e-10,
                                           err_msg=f"{name} {what}: gradient differs from numpy")

    steps, ops = {}, {}  # the timed calls, and how many ops each runs, by label

    def add(label: str, call: Callable[[], object], length: int) -> None:
        repeats = max(1, calls // length)  # about ``calls`` ops per timed call
        steps[label], ops[label] = _repeat(call, repeats), repeats * length

    for n in lengths:
        add(f"numpy forward {n}", lambda n=n: _numpy_forward(case, arrays, n), n)
        add(f"numpy both {n}", lambda n=n: _numpy_both(case, arrays, grad, n), n)
        for name, run in runs.items():
            add(f"{name} forward {n}", lambda r=run, n=n: r.forward(n), n)
            add(f"{name} both {n}", lambda r=run, n=n: r.forward_backward(n), n)
    per_op = {t.label: t.median / ops[t.label] for t in time_interleaved(steps, rounds, cpu=cpu)}

    def pair(prefix: str, length: int) -> tuple[float, float]:
        return per_op[f"{prefix} forward {length}"], per_op[f"{prefix} both {length}"]

    chained = CHAIN in lengths
    return OpCost(case, *pair("numpy", 1), {name: pair(name, 1) for name in runs},
                  pair("numpy", CHAIN) if chained else None,
                  {name: pair(name, CHAIN) for name in runs} if chained else None)
