"""Tracing the engine's graph into plain data: nodes, edges, scope tags and summaries.

Nothing here draws; ``dot.py`` turns a ``Graph`` into Graphviz source. Tests and
users can inspect a ``Graph`` directly (which ops ran at step 3? what was the
gradient norm of h at each step?).

What a recurrent step holds is read from the step itself: its ``cell`` scope tag carries
the cell's declarations (``state_names``, ``gate_names``, ``gate_labels``; see
``RNNCellBase``), and a step without one follows the convention of hand-written loops,
a hidden state named ``h``.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import Function
from ..nn.cells import CellDeclaration, check_cell_names
from ..tensor import Tensor
from .padding import Padding
from .record import Recording, Summary

#: The states of a step with no ``cell`` tag: a hand-written loop names its hidden state
#: ``h`` (``h.name = "h"``).
UNTAGGED_STATES = ("h",)


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
    # The output itself and dL/d(output), where the recording kept them: every op inside a
    # step (Recording.step_values, step_grads), every op with ``record(keep_values=True)``.
    array: np.ndarray | None = None
    grad_array: np.ndarray | None = None
    # The sequences of the batch that are padding at this node's step, read from its
    # ``padding`` and ``batch`` tags (see ``Padding``); None without them.
    padding: Padding | None = None
    # For a step's state: the gradient the neighbouring step sent back into it (Recording.sent_back).
    sent_back: Summary | None = None

    @property
    def step(self) -> int | None:
        return self.tags.get("t")

    @property
    def layer(self) -> str | None:
        return self.tags.get("layer")

    @property
    def cell(self) -> CellDeclaration | None:
        """The declaration in the node's ``cell`` scope tag (the cell class of a layer's step),
        or None.

        >>> import microtensor as mt
        >>> Node("op1", "op", "Tanh", "h", (1,), "float64", {"cell": mt.nn.GRUCell}).cell.__name__
        'GRUCell'
        """
        return self.tags.get("cell")

    @property
    def states(self) -> tuple[str, ...]:
        """The names of the states of the node's step, hidden state first: its cell's
        ``state_names``, or ``("h",)`` without a ``cell`` tag.

        >>> import microtensor as mt
        >>> Node("op1", "op", "Mul", "h", (1,), "float64", {"cell": mt.nn.LSTMCell}).states
        ('h', 'c')
        >>> Node("op2", "op", "Tanh", "h", (1,), "float64", {"t": 0}).states
        ('h',)
        """
        cell = self.cell
        return UNTAGGED_STATES if cell is None else cell.state_names

    @property
    def gates(self) -> tuple[str, ...]:
        """The gates of the node's step in display order (its cell's ``gate_names``), or ``()``.

        >>> import microtensor as mt
        >>> Node("op1", "op", "Sigmoid", "forget", (1,), "float64", {"cell": mt.nn.LSTMCell}).gates
        ('forget', 'input', 'candidate', 'output')
        """
        cell = self.cell
        return () if cell is None else cell.gate_names

    @property
    def gate_labels(self) -> dict[str, str]:
        """The classic display labels of the step's gates and states (its cell's
        ``gate_labels``, a copy), or ``{}``.

        >>> import microtensor as mt
        >>> Node("op1", "op", "Add", "c", (1,), "float64", {"cell": mt.nn.LSTMCell}).gate_labels["c"]
        'remember gate'
        """
        cell = self.cell
        return {} if cell is None else dict(cell.gate_labels)

    @property
    def cell_role(self) -> str | None:
        """The state or gate of its step this node is: its name, when it is named as one of its
        cell's states or is a gate block's output (named after the gate); else None.

        >>> import microtensor as mt
        >>> tags = {"cell": mt.nn.LSTMCell, "gate": "forget"}
        >>> Node("op1", "op", "Sigmoid", "forget", (1,), "float64", tags).cell_role
        'forget'
        >>> Node("op2", "op", "Add", "f pre-activation", (1,), "float64", tags).cell_role is None
        True
        """
        name = self.name
        if name and (name in self.states or (name == self.tags.get("gate") and name in self.gates)):
            return name
        return None

    @property
    def direction(self) -> str | None:
        """``"reverse"`` for the second direction of a bidirectional layer (a ``layer`` tag
        ending in ``_reverse``), else ``"forward"`` when the node has a layer, else None.

        >>> Node("op1", "op", "Tanh", "h", (1,), "float64", {"layer": "gru.l0_reverse"}).direction
        'reverse'
        """
        layer = self.layer
        if layer is None:
            return None
        return "reverse" if layer.endswith("_reverse") else "forward"


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
        """``||dL/d name_t||`` per step, of one ``layer`` or of all (their hypot per step);
        ``name`` defaults to each step's own hidden state (``Node.states``). The two
        directions of a bidirectional layer run through the positions in opposite orders, so
        they are not mixed: with both present, pass ``layer=`` or use ``layer_norms``.

        Needs a recorded backward pass.

        >>> import microtensor as mt
        >>> gru = mt.nn.GRU(2, 3, bidirectional=True)
        >>> with mt.viz.record() as rec:
        ...     out, _ = gru(mt.randn(4, 1, 2))
        ...     out.sum().backward()
        >>> graph = mt.viz.trace(out.sum(), rec)
        >>> sorted(graph.step_norms(layer="gru.l0_reverse"))
        [0, 1, 2, 3]
        >>> graph.step_norms()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: step_norms: the graph holds both directions (layers gru.l0, gru.l0_reverse); ...
        """
        nodes = _one_direction(self._states_at_steps(name), layer, "step_norms",
                               ", or use layer_norms() for each layer apart")
        return _norms_per_step(nodes)

    def layer_norms(self, name: str | None = None) -> dict[str, dict[int, float]]:
        """``step_norms`` of each layer (by its ``layer`` tag; each direction of a bidirectional
        layer apart), for the layers that got a gradient. Steps without a ``layer`` tag are in
        ``step_norms()`` only.

        >>> import microtensor as mt
        >>> gru = mt.nn.GRU(2, 3, bidirectional=True)
        >>> with mt.viz.record() as rec:
        ...     out, _ = gru(mt.randn(4, 1, 2))
        ...     out.sum().backward()
        >>> norms = mt.viz.trace(out.sum(), rec).layer_norms()
        >>> {layer: sorted(steps) for layer, steps in norms.items()}
        {'gru.l0': [0, 1, 2, 3], 'gru.l0_reverse': [0, 1, 2, 3]}
        """
        by_layer: dict[str, list[Node]] = defaultdict(list)
        for n in self._states_at_steps(name):
            if n.layer is not None:
                by_layer[n.layer].append(n)
        norms = {layer: _norms_per_step(nodes) for layer, nodes in sorted(by_layer.items())}
        return {layer: steps for layer, steps in norms.items() if steps}

    def step_gains(self, name: str | None = None, layer: str | None = None) -> dict[int, float]:
        """Per step t, the gain of the recurrent path through one state: the norm of the
        gradient step t sends back to the previous step's state divided by the norm of the
        gradient that reached step t's state (``name``, by default each step's hidden state
        as in ``step_norms``; ``"c"`` follows an LSTM's cell state), of one ``layer``.
        "Previous" is t-1, or t+1 for the reverse direction of a bidirectional layer. A gain
        below 1 shrinks the gradient on its way back; where the loss sits only at the last
        step, the gains through ``h`` multiply over steps a..b to
        ``step_norms()[a - 1] / step_norms()[b]``. Needs a recorded backward pass.

        >>> import microtensor as mt
        >>> rnn = mt.nn.RNN(2, 3)
        >>> with mt.viz.record() as rec:
        ...     out, _ = rnn(mt.randn(4, 1, 2))
        ...     out[-1].sum().backward()
        >>> sorted(mt.viz.trace(out[-1].sum(), rec).step_gains())  # steps 1..3 send back
        [1, 2, 3]
        """
        nodes = _one_direction(self._states_at_steps(name), layer, "step_gains")
        reached = _norms_per_step(nodes)
        sent: dict[int, float] = {}
        for n in nodes:
            if n.sent_back is not None:
                sender = n.step - 1 if n.direction == "reverse" else n.step + 1
                sent[sender] = float(np.hypot(sent.get(sender, 0.0), n.sent_back.norm))
        return {t: sent[t] / reached[t] for t in sorted(sent) if reached.get(t)}

    def _states_at_steps(self, name: str | None) -> list[Node]:
        """The nodes of timed steps named ``name``, or each its own step's hidden state."""
        return [n for n in self.nodes.values() if n.step is not None and n.name == (name or n.states[0])]

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


def _one_direction(nodes: list[Node], layer: str | None, what: str, hint: str = "") -> list[Node]:
    """The nodes of ``layer``; without one, all of them, refused when they hold both directions
    of a bidirectional layer (which go through the positions in opposite orders)."""
    if layer is not None:
        return [n for n in nodes if n.layer == layer]
    if {"forward", "reverse"} <= {n.direction for n in nodes}:
        layers = ", ".join(sorted({n.layer for n in nodes if n.layer is not None}))
        raise ValueError(f"{what}: the graph holds both directions (layers {layers}); pass "
                         f"layer= one of them{hint}")
    return nodes


def _summary(array: np.ndarray | None) -> Summary | None:
    return None if array is None else Summary.of(array)


def _norms_per_step(nodes: list[Node]) -> dict[int, float]:
    """The hypot per step of the nodes' gradient norms (nodes without a gradient left out)."""
    norms: dict[int, float] = {}
    for n in nodes:
        if n.grad is not None:
            norms[n.step] = float(np.hypot(norms.get(n.step, 0.0), n.grad.norm))
    return dict(sorted(norms.items()))


def trace(output: Tensor, recording: Recording | None = None) -> Graph:
    """Walk everything that produced ``output`` into a ``Graph`` (no recursion).

    With a ``recording`` from ``mt.viz.record()``, nodes and edges carry value and
    gradient summaries and the backward visit order. Scope tags are kept as they are;
    a bad ``padding`` tag (see ``Padding``) is a ``ValueError`` here, and a ``cell`` tag
    that is not a cell declaration (see ``check_cell_names``) a ``TypeError``.

    A gate's tensor is the node of a ``gate`` scope (``mt.nn.gate``) whose output leaves
    that scope; one without a name gets the gate's. A graph with steps (``t`` tags) none
    of which names its hidden state (``Node.states``) draws no heat strip, which is warned
    about.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True); w.name = "w"
    >>> g = mt.viz.trace((w * 3).sum())
    >>> sorted((n.kind, n.op or n.name) for n in g.nodes.values())
    [('op', 'Mul'), ('op', 'Sum'), ('param', 'w')]
    >>> with mt.nn.gate("forget"):
    ...     f = (w * 2).sigmoid()
    >>> sorted(n.name for n in mt.viz.trace((f * w).sum()).nodes.values() if n.name)
    ['forget', 'w']
    """
    root = output.grad_fn
    if root is None:
        raise ValueError("trace: the tensor was not produced by recorded ops, so there is no graph "
                         "to draw (did anything require grad? was it computed under no_grad?)")
    visits = {key: i for i, key in enumerate(recording.order)} if recording else {}
    nodes: dict[str, Node] = {}
    scopes: dict[int, tuple[Padding | None, tuple]] = {}  # by scope: the ops of a step share its tuple
    edges: list[Edge] = []
    gate_outputs: set[str] = set()  # the nodes whose output leaves their gate scope

    def op_node(fn: Function, shape: tuple, dtype: str) -> str:
        key = f"op{id(fn)}"
        if key not in nodes:
            tags = dict(fn.scope)
            nodes[key] = Node(
                key, "op", type(fn).__name__, fn.name, shape, dtype, tags,
                value=recording.values.get(id(fn)) if recording else None,
                grad=recording.grads.get(id(fn)) if recording else None,
                visit=visits.get(id(fn)), is_view=fn.is_view,
                array=recording.arrays.get(id(fn), recording.step_values.get(id(fn))) if recording else None,
                grad_array=recording.step_grads.get(id(fn)) if recording else None,
                padding=read_scope(fn.scope, tags)[0],
                sent_back=_summary(recording.sent_back.get(id(fn))) if recording else None)
        return key

    def read_scope(scope: tuple, tags: dict[str, Any]) -> tuple[Padding | None, tuple]:
        """A scope's padding and its part up to its innermost gate tag (``()`` outside any
        gate), its tags checked: once per scope, so drawing never meets a bad tag."""
        if id(scope) not in scopes:
            cell = tags.get("cell")
            if cell is not None:
                check_cell_names(f"scope tag cell={cell!r}", cell)
            gate = max((i for i, (key, _) in enumerate(scope) if key == "gate"), default=-1)
            scopes[id(scope)] = Padding.of(tags), scope[:gate + 1]
        return scopes[id(scope)]

    def leaves_gate(inner: tuple, outer: tuple) -> bool:
        """Whether data made in scope ``inner`` leaves a gate for an op in scope ``outer``;
        compared by tags, so two blocks of one gate at one step count as one."""
        gated = scopes[id(inner)][1]
        return bool(gated) and outer[:len(gated)] != gated

    def leaf_node(t: Tensor) -> str:
        key = f"leaf{id(t)}"
        if key not in nodes:
            grad = recording.leaves.get(id(t)) if recording else None
            if grad is None and t.grad is not None:
                grad = Summary.of(t.grad.array)
            nodes[key] = Node(key, "param", "", t.name, t.shape, str(t.dtype),
                              value=Summary.of(t.array) if recording else None, grad=grad)
        return key

    op_node(root, output.shape, str(output.dtype))
    if leaves_gate(root.scope, ()):
        gate_outputs.add(f"op{id(root)}")
    stack, seen = [root], {id(root)}
    while stack:
        fn = stack.pop()
        dst = f"op{id(fn)}"
        for i, (parent, meta) in enumerate(zip(fn.parents, fn.in_meta)):
            if meta is None:  # a Python scalar operand: part of the op, not a node
                continue
            shape, dtype, _ = meta
            if isinstance(parent, Function):
                src = op_node(parent, shape, str(dtype))
                if leaves_gate(parent.scope, fn.scope):
                    gate_outputs.add(src)
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
            elif isinstance(parent, Tensor):
                src = leaf_node(parent)
            else:  # an input that needs no gradient: drawn in the step that uses it
                src = f"const{id(fn)}_{i}"
                tags = dict(fn.scope)
                nodes[src] = Node(src, "const", "", None, shape, str(dtype), tags,
                                  padding=read_scope(fn.scope, tags)[0])
            norm = recording.edges.get((id(fn), i)) if recording else None
            edges.append(Edge(src, dst, i, shape, norm))
    for key in gate_outputs:
        gated = nodes[key]
        if gated.name is None:
            gated.name = gated.tags["gate"]  # the innermost gate: a dict keeps a key's last value
    _warn_without_states(nodes.values())
    return Graph(nodes, edges, f"op{id(root)}")


def _warn_without_states(nodes: Iterable[Node]) -> None:
    """Warn when steps were tagged (``t``) but none names its hidden state: the heat strip and
    ``step_norms`` would be empty. Over the whole graph, as a step's other layers (a decoder's
    attention beside its cell) hold no state of their own."""
    timed = [n for n in nodes if n.step is not None]
    if timed and not any(n.name == n.states[0] for n in timed):
        hidden = " or ".join(sorted({repr(n.states[0]) for n in timed}))
        warnings.warn(f"trace: the graph has steps (t tags) but no tensor named {hidden}, its hidden "
                      "state, so it has no step norms and a picture no heat strip; name the state "
                      "(h.name = \"h\"), or tag the step with cell= a declaration whose state_names "
                      "names it", UserWarning, stacklevel=3)
