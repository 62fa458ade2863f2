"""Tracing the engine's graph into plain data: nodes, edges, scope tags and summaries.

Nothing here draws; ``dot.py`` turns a ``Graph`` into Graphviz source. Tests and
users can inspect a ``Graph`` directly (which ops ran at step 3? what was the
gradient norm of h at each step?).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .padding import Padding
from .record import Recording, Summary


def state_names() -> tuple[str, ...]:
    """The names recurrent modules give their states, as they declare them in ``state_names``
    (``("h",)``, ``("h", "c")``): the hidden state first, then the others.

    >>> state_names()
    ('h', 'c')
    """
    from ..nn.module import Module  # nn imports the engine only; viz reads what it declares

    declared, todo = [], [Module]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        declared.append(tuple(cls.__dict__.get("state_names", ())))
    hidden = {names[0] for names in declared if names}
    others = {name for names in declared for name in names[1:]} - hidden
    return (*sorted(hidden), *sorted(others))


def hidden_state() -> str:
    """The name of the hidden state, the one every recurrent module has.

    >>> hidden_state()
    'h'
    """
    return state_names()[0]


@dataclass
class Node:
    """One box in the picture: an op's output, a leaf (parameter), or a constant input."""

    key: str
    kind: str  # "op", "param" (a leaf that requires grad) or "const" (an input without grad)
    op: str  # the Function's class name; "" for leaves and constants
    name: str | None
    shape: tuple[int, ...]
    dtype: str
    tags: dict[str, Any] = field(default_factory=dict)  # scope tags: layer, t, gate, ...
    value: Summary | None = None
    grad: Summary | None = None
    visit: int | None = None  # position in the backward pass, if recorded
    is_view: bool = False  # the op moves its input's numbers without changing them (Function.is_view)
    array: np.ndarray | None = None  # the output itself, if the recording kept values
    # The sequences of the batch that are padding at this node's step, read from its
    # ``padding`` and ``batch`` tags (see ``Padding``); None without them.
    padding: Padding | None = None

    @property
    def step(self) -> int | None:
        return self.tags.get("t")

    @property
    def layer(self) -> str | None:
        return self.tags.get("layer")

@dataclass
class Edge:
    """Data flowing from ``src`` into input ``index`` of ``dst``; gradient flows back along it."""

    src: str
    dst: str
    index: int
    shape: tuple[int, ...]
    grad_norm: float | None = None


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    output: str

    def steps(self) -> list[int]:
        """The timesteps present, in order."""
        return sorted({n.step for n in self.nodes.values() if n.step is not None})

    def named(self, name: str) -> list[Node]:
        """Nodes whose tensor carries ``name`` (for example every step's ``"h"``)."""
        return [n for n in self.nodes.values() if n.name == name]

    def step_norms(self, name: str | None = None, layer: str | None = None) -> dict[int, float]:
        """``||dL/d name_t||`` per step (summed over layers unless ``layer`` is given); ``name``
        defaults to the hidden state.

        Needs a recorded backward pass.
        """
        name = name or hidden_state()
        norms: dict[int, float] = {}
        for n in self.named(name):
            if n.step is None or n.grad is None or (layer is not None and n.layer != layer):
                continue
            norms[n.step] = float(np.hypot(norms.get(n.step, 0.0), n.grad.norm))
        return dict(sorted(norms.items()))

    def weight_shares(self) -> dict[str, dict[int, float]]:
        """Per weight (by name), each step's contribution to its gradient: ``{t: norm}``.

        This is what backprop through time sums up: dL/dW = sum over t of the
        gradient W receives at step t. A weight reaches the steps directly or through
        a view made once before the loop (``weight_hh.T``), which moves the same
        numbers. A weight used several times within one step gets the sum of those
        contributions' norms (an upper bound of that step's norm). Needs a recorded
        backward pass.
        """
        consumers: dict[str, list[Edge]] = {}
        for e in self.edges:
            consumers.setdefault(e.src, []).append(e)
        shares: dict[str, dict[int, float]] = {}
        for param in (n for n in self.nodes.values() if n.kind == "param"):
            per_step: dict[int, float] = {}
            todo = [param.key]
            while todo:
                for e in consumers.get(todo.pop(), ()):
                    dst = self.nodes[e.dst]
                    if dst.step is not None and e.grad_norm is not None:
                        per_step[dst.step] = per_step.get(dst.step, 0.0) + e.grad_norm
                    elif dst.step is None and dst.is_view:
                        todo.append(dst.key)
            if per_step:
                shares[param.name or param.key] = dict(sorted(per_step.items()))
        return shares


def trace(output: Tensor, recording: Recording | None = None) -> Graph:
    """Walk everything that produced ``output`` into a ``Graph`` (no recursion).

    With a ``recording`` from ``mt.viz.record()``, nodes and edges carry value and
    gradient summaries and the backward visit order. Scope tags are kept as they are;
    a bad ``padding`` tag (see ``Padding``) is a ``ValueError`` here.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True); w.name = "w"
    >>> g = mt.viz.trace((w * 3).sum())
    >>> sorted((n.kind, n.op or n.name) for n in g.nodes.values())
    [('op', 'Mul'), ('op', 'Sum'), ('param', 'w')]
    """
    root = output.grad_fn
    if root is None:
        raise ValueError("trace: the tensor was not produced by recorded ops, so there is no graph "
                         "to draw (did anything require grad? was it computed under no_grad?)")
    visits = {key: i for i, key in enumerate(recording.order)} if recording else {}
    nodes: dict[str, Node] = {}
    paddings: dict[int, Padding | None] = {}  # by scope: the ops of one step share its tuple
    edges: list[Edge] = []

    def op_node(fn: Function, shape: tuple, dtype: str) -> str:
        key = f"op{id(fn)}"
        if key not in nodes:
            tags = dict(fn.scope)
            nodes[key] = Node(
                key, "op", type(fn).__name__, fn.name, shape, dtype, tags,
                value=recording.values.get(id(fn)) if recording else None,
                grad=recording.grads.get(id(fn)) if recording else None,
                visit=visits.get(id(fn)), is_view=fn.is_view,
                array=recording.arrays.get(id(fn)) if recording else None, padding=padding_of(fn, tags))
        return key

    def padding_of(fn: Function, tags: dict[str, Any]) -> Padding | None:
        if id(fn.scope) not in paddings:  # checked here, so drawing never meets a bad tag
            paddings[id(fn.scope)] = Padding.of(tags)
        return paddings[id(fn.scope)]

    def leaf_node(t: Tensor) -> str:
        key = f"leaf{id(t)}"
        if key not in nodes:
            grad = recording.leaves.get(id(t)) if recording else None
            if grad is None and t.grad is not None:
                grad = Summary.of(t.grad.data)
            nodes[key] = Node(key, "param", "", t.name, t.shape, str(t.dtype),
                              value=Summary.of(t.data) if recording else None, grad=grad)
        return key

    op_node(root, output.shape, str(output.dtype))
    stack, seen = [root], {id(root)}
    while stack:
        fn = stack.pop()
        dst = f"op{id(fn)}"
        for i, (parent, meta) in enumerate(zip(fn.parents, fn.in_meta)):
            if meta is None:  # a Python scalar operand: part of the op, not a node
                continue
            shape, dtype = meta
            if isinstance(parent, Function):
                src = op_node(parent, shape, str(dtype))
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
            elif isinstance(parent, Tensor):
                src = leaf_node(parent)
            else:  # an input that needs no gradient: drawn in the step that uses it
                src = f"const{id(fn)}_{i}"
                tags = dict(fn.scope)
                nodes[src] = Node(src, "const", "", None, shape, str(dtype), tags,
                                  padding=padding_of(fn, tags))
            norm = recording.edges.get((id(fn), i)) if recording else None
            edges.append(Edge(src, dst, i, shape, norm))
    return Graph(nodes, edges, f"op{id(root)}")
