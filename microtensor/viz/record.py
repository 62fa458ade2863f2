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
from ..lazy import LazyGrad, OuterGrad
from ..tensor import Tensor


def norm(array: np.ndarray | LazyGrad) -> float:
    """The Euclidean norm of all entries, accumulated in float64 (of a lazy gradient without
    multiplying it out, where its form allows)."""
    if isinstance(array, LazyGrad):
        return array.norm()
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


#: Bins of the histogram each summary keeps (what the explorer draws for a clicked node).
BINS = 16


@dataclass(frozen=True)
class Summary:
    """A few numbers that describe an array: what a tooltip, an annotation or the explorer shows.

    ``hist`` counts the entries in ``BINS`` equal bins from ``min`` to ``max``.

    >>> import numpy as np
    >>> s = Summary.of(np.array([0.0, 0.0, 1.0, 3.0]))
    >>> s.min, s.max, s.zeros, s.hist[0], s.hist[-1], sum(s.hist)
    (0.0, 3.0, 0.5, 2, 1, 4)
    """

    shape: tuple[int, ...]
    mean: float
    std: float
    absmax: float
    norm: float
    min: float = 0.0
    max: float = 0.0
    zeros: float = 0.0  # the fraction of entries that are exactly zero
    hist: tuple[int, ...] = ()

    @classmethod
    def of(cls, array: np.ndarray) -> Summary:
        a = np.asarray(array, dtype=np.float64)
        if a.size == 0:
            return cls(a.shape, 0.0, 0.0, 0.0, 0.0)
        lo, hi = float(a.min()), float(a.max())
        if hi > lo and np.isfinite(hi - lo):
            # np.histogram costs 7x more than binning by hand on the small arrays of a step.
            bins = np.minimum(((a - lo) / (hi - lo) * BINS).astype(np.intp), BINS - 1)
            hist = tuple(int(c) for c in np.bincount(bins.ravel(), minlength=BINS))
        else:
            hist = (a.size,) + (0,) * (BINS - 1)
        return cls(a.shape, float(a.mean()), float(a.std()), max(abs(lo), abs(hi)), norm(a),
                   lo, hi, float(np.count_nonzero(a == 0)) / a.size, hist)

    def describe(self) -> str:
        return f"mean {self.mean:.3g}, std {self.std:.3g}, max|x| {self.absmax:.3g}, norm {self.norm:.3g}"


class Recording:
    """Summaries keyed by graph node, filled in by the engine while ``record()`` is active.

    - ``values[id(fn)]``: the node's output; ``grads[id(fn)]``: dL/d(output);
    - ``edges[(id(fn), i)]``: norm of the gradient ``fn`` sent to its input ``i``
      (for a weight used at every step, that step's contribution to its gradient);
    - ``leaves[id(tensor)]``: a leaf's total gradient from the pass (``leaf_grads``: the array;
      ``leaf_tensors``: the leaf itself, so tools can name it and ask ``weight_steps`` of it);
    - ``order``: node ids in the order backward visited them;
    - ``sent_back[id(fn)]``: for a step's state (``h``, ``c``), the gradient the next step's ops
      sent back into it, summed: what backprop through time carries from step to step;
    - ``step_values[id(fn)]`` and ``step_grads[id(fn)]``: the output and dL/d(output) of every
      op inside a step (a ``t`` scope tag), as arrays: each unit of ``h``, ``c`` and the gates
      over time (the explorer's units view);
    - ``leaving[...]``: what each step sent to things made outside the steps (weights, their
      transposes, the input projection of all steps), and ``products``: the lazy matrix
      products outside the steps; ``weight_steps`` splits a weight's gradient by step from them;
    - ``arrays[id(fn)]``: a copy of the node's output, with ``record(keep_values=True)``
      (what the renderer colours attention edges by).
    """

    def __init__(self, keep_values: bool = False) -> None:
        self.keep_values = keep_values
        self.arrays: dict[int, np.ndarray] = {}
        self.values: dict[int, Summary] = {}
        self.grads: dict[int, Summary] = {}
        self.edges: dict[tuple[int, int], float] = {}
        self.leaves: dict[int, Summary] = {}
        self.leaf_grads: dict[int, np.ndarray] = {}
        self.leaf_tensors: dict[int, Tensor] = {}
        self.order: list[int] = []
        self.sent_back: dict[int, np.ndarray] = {}
        self.step_values: dict[int, np.ndarray] = {}
        self.step_grads: dict[int, np.ndarray] = {}
        self.leaving: list[tuple[int, str | None, Any, Any]] = []  # (step, layer, parent, grad)
        self.products: dict[int, OuterGrad] = {}  # id(fn) -> what fn sent its weight
        # Hold the nodes and leaves seen, so their ids stay unique while this recording lives.
        self._alive: list[Any] = []

    # -- the engine's observer interface --------------------------------------------
    def forward(self, fn: Function, output: Tensor) -> None:
        self._alive.append(fn)
        self.values[id(fn)] = Summary.of(output.array)
        if self.keep_values:
            self.arrays[id(fn)] = np.array(output.array)
        elif tag(fn, "t") is not None:
            # A step's outputs are small; the graph holds them until the backward pass anyway.
            self.step_values[id(fn)] = output.array

    def backward(self, fn: Function, grad: np.ndarray) -> None:
        self._alive.append(fn)
        self.grads[id(fn)] = Summary.of(grad)
        self.order.append(id(fn))
        if tag(fn, "t") is not None:
            self.step_grads[id(fn)] = grad

    def edge(self, fn: Function, index: int, parent: Any, grad: Any) -> None:
        self.edges[(id(fn), index)] = norm(grad)
        if parent is None:
            return
        step = tag(fn, "t")
        if step is not None and isinstance(parent, Function) and parent.name is not None \
                and _sends_back(fn, parent):
            key, dense = id(parent), _dense(grad)
            self.sent_back[key] = self.sent_back[key] + dense if key in self.sent_back else dense
        outside = isinstance(parent, Tensor) or tag(parent, "t") is None
        if step is not None and outside:
            self.leaving.append((step, tag(fn, "layer"), parent, grad))
        elif step is None and outside and isinstance(grad, OuterGrad):
            self.products[id(fn)] = grad

    def leaf(self, tensor: Tensor, grad: np.ndarray) -> None:
        self._alive.append(tensor)
        self.leaves[id(tensor)] = Summary.of(grad)
        self.leaf_grads[id(tensor)] = grad
        self.leaf_tensors[id(tensor)] = tensor

    # -- reading it -----------------------------------------------------------------
    def weight_steps(self, param: Tensor) -> dict:
        """Each step's share of ``param``'s gradient from the recorded backward pass: the
        terms that backprop through time adds up, as arrays of ``param``'s shape.

        Returns ``{t: array}``; for a weight used by the steps of several layers (both
        directions of a hand-written bidirectional loop), ``{layer: {t: array}}``. A weight
        reaches a step directly, through a view made once before the loop (``W_hh.T``), or
        through the input projection of all steps at once (``x W_ihᵀ + b``, whose rows the
        step reads); what reached it otherwise (an output layer after the loop, an initial
        state computed from it) is under ``None``. The terms sum to the gradient the pass
        gave ``param``.

        >>> import microtensor as mt
        >>> rnn = mt.nn.RNN(2, 3, dtype=mt.float64)
        >>> with mt.viz.record() as rec:
        ...     out, _ = rnn(mt.randn(4, 1, 2, dtype=mt.float64))
        ...     out[-1].sum().backward()
        >>> parts = rec.weight_steps(rnn.weight_hh_l0)
        >>> sorted(parts), bool(abs(sum(parts.values()) - rnn.weight_hh_l0.grad.numpy()).max() < 1e-12)
        ([0, 1, 2, 3], True)
        """
        from .weight_steps import split_by_step

        return split_by_step(self, param)


def tag(fn: Function, key: str) -> Any:
    """The innermost value of scope tag ``key`` on ``fn``, or None."""
    for k, v in reversed(fn.scope):
        if k == key:
            return v
    return None


def _dense(grad: Any) -> np.ndarray:
    return grad.dense() if isinstance(grad, LazyGrad) else np.array(grad)


def _sends_back(fn: Function, state: Function) -> bool:
    """Whether ``fn``, an op of another step of the same layer, reads the state that ``state``
    made (its step's ``h`` or ``c``): the edge along which backprop through time goes back."""
    own, other = dict(state.scope), dict(fn.scope)
    step = own.get("t")
    if step is None or other.get("t") in (None, step) or other.get("layer") != own.get("layer"):
        return False
    cell = own.get("cell")
    return state.name in (("h",) if cell is None else cell.state_names)


@contextmanager
def record(keep_values: bool = False) -> Iterator[Recording]:
    """Record value and gradient summaries of everything computed inside the block.

    ``keep_values=True`` also keeps a copy of every output (as much memory as the forward
    pass): the renderer then draws attention weights as edges.

    >>> import microtensor as mt
    >>> x = mt.ones(3, requires_grad=True)
    >>> with mt.viz.record() as rec:
    ...     y = (x * 2).tanh()
    ...     y.sum().backward()
    >>> round(rec.grads[id(y.grad_fn)].norm, 3)
    1.732
    """
    with observe(Recording(keep_values)) as recording:
        yield recording
