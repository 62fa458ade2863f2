"""Recording one forward and backward pass: value and gradient summaries for every node.

The engine reports to an observer only while one is installed (``mt.observe``),
so none of this costs anything unless a picture is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd import Function, observe
from ..tensor import Tensor


def norm(array: np.ndarray) -> float:
    """The Euclidean norm of all entries, accumulated in float64."""
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


@dataclass(frozen=True)
class Summary:
    """A few numbers that describe an array: what a tooltip or an annotation shows."""

    shape: tuple[int, ...]
    mean: float
    std: float
    absmax: float
    norm: float

    @classmethod
    def of(cls, array: np.ndarray) -> Summary:
        a = np.asarray(array, dtype=np.float64)
        if a.size == 0:
            return cls(a.shape, 0.0, 0.0, 0.0, 0.0)
        return cls(a.shape, float(a.mean()), float(a.std()), float(np.abs(a).max()), norm(a))

    def describe(self) -> str:
        return f"mean {self.mean:.3g}, std {self.std:.3g}, max|x| {self.absmax:.3g}, norm {self.norm:.3g}"


class Recording:
    """Summaries keyed by graph node, filled in by the engine while ``record()`` is active.

    - ``values[id(fn)]``: the node's output; ``grads[id(fn)]``: dL/d(output);
    - ``edges[(id(fn), i)]``: norm of the gradient ``fn`` sent to its input ``i``
      (for a weight used at every step, that step's contribution to its gradient);
    - ``leaves[id(tensor)]``: a leaf's total gradient from the pass;
    - ``order``: node ids in the order backward visited them.
    """

    def __init__(self) -> None:
        self.values: dict[int, Summary] = {}
        self.grads: dict[int, Summary] = {}
        self.edges: dict[tuple[int, int], float] = {}
        self.leaves: dict[int, Summary] = {}
        self.order: list[int] = []
        # Hold the nodes and leaves seen, so their ids stay unique while this recording lives.
        self._alive: list[Any] = []

    # -- the engine's observer interface --------------------------------------------
    def forward(self, fn: Function, output: Tensor) -> None:
        self._alive.append(fn)
        self.values[id(fn)] = Summary.of(output.data)

    def backward(self, fn: Function, grad: np.ndarray) -> None:
        self._alive.append(fn)
        self.grads[id(fn)] = Summary.of(grad)
        self.order.append(id(fn))

    def edge(self, fn: Function, index: int, parent: Any, grad: np.ndarray) -> None:
        self.edges[(id(fn), index)] = norm(grad)

    def leaf(self, tensor: Tensor, grad: np.ndarray) -> None:
        self._alive.append(tensor)
        self.leaves[id(tensor)] = Summary.of(grad)


@contextmanager
def record() -> Iterator[Recording]:
    """Record value and gradient summaries of everything computed inside the block.

    >>> import microtensor as mt
    >>> x = mt.ones(3, requires_grad=True)
    >>> with mt.viz.record() as rec:
    ...     y = (x * 2).tanh()
    ...     y.sum().backward()
    >>> round(rec.grads[id(y.grad_fn)].norm, 3)
    1.732
    """
    with observe(Recording()) as recording:
        yield recording
