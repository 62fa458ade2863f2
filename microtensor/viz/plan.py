"""What an unrolled picture shows, decided once: the plan that the DOT and HTML writers both read.

``trace()`` turns the engine's graph into data; ``plan()`` decides what becomes of
each traced node (drawn as itself, folded into its layer's cell at a step, or
replaced by a per-step stand-in), what each box is called and what role it plays
(``h``, ``c``, a gate, the loss, a parameter), and how everything is coloured by
gradient; ``layout.py`` then decides where each box goes. The writers (``dot.py``,
``explore.py``) only translate a ``Plan`` and its ``Layout`` into their format.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .names import Namer
from .padding import Padding
from .trace import Graph, Node

if TYPE_CHECKING:
    from .layout import Layout

#: Gradient norms, small to large on a log scale: magma from cream to deep purple, its
#: lightness falling strictly (so order reads in grey too, and no hue jump suggests a sign).
PALETTE = ("#fcf0b2", "#fec488", "#fd9869", "#f56b5c", "#dc4869", "#b73779", "#902a81", "#6a1c81",
           "#440f76")
DARK = PALETTE[5:]  # fills that need white text
#: Below ``vanish_below`` but not zero: the gradient got there and faded.
VANISHED = "#c8c8c8"
#: Exactly zero, without fading: no path from the loss reaches it (``out[-1]`` reads one step),
#: or a factor on its path is exactly zero (``f ⊙ c₀`` with ``c₀ = 0``: nothing to forget yet).
NO_GRADIENT = "#ffffff"
#: Padding: the fill of a step (or box) that is padding for every sequence, and the outline
#: and text of padding stand-ins.
PADDING_FILL, PADDING_INK = "#eeeeee", "#8c8c8c"
#: The name a model gives its attention weights (batch, source steps), drawn as edges.
ATTENTION = "attention"
#: Attention edges, from a weight near 0 to 1.
ATTENTION_COLOURS = ("#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486")
DETAILS = ("auto", "op", "cell")
#: The widest picture the rows are packed for (width : height), a little under the 4:1 bound.
ASPECT = 1.6
#: The decades of gradient norm a picture's colour scale spans at most (the largest kept).
DECADES = 12


@dataclass
class Box:
    """One drawn node: a traced node, a layer's cell at one step, or a step's stand-in for
    something every step uses.

    ``role`` says what it is in the network: a state name (``"h"``, ``"c"``), a gate name,
    ``"loss"``, ``"param"``, ``"initial"`` (a state before the first step), ``"constant"`` (an input
    that needs no gradient),
    ``"cell"``, ``"stand_in"``, ``"padding"`` or ``"op"``."""

    key: str
    kind: str  # "op", "param", "const", "cell", "stand_in" or "padding"
    title: str  # the bold first line
    lines: list[str]  # the smaller lines under it
    step: int | None = None
    layer: str | None = None
    gate: str | None = None
    members: list[str] = field(default_factory=list)  # the traced nodes it stands for
    norm: float | None = None  # the gradient norm it is coloured by
    state: bool = False  # a recurrent state (h, c): drawn with a heavier outline
    output: bool = False
    visit: int | None = None  # when its gradient is complete in the backward pass
    tooltip: list[str] = field(default_factory=list)
    role: str = "op"
    direction: str | None = None  # "forward" or "reverse", in a bidirectional layer
    reads: tuple[str, ...] = ()  # the states it reads from the step before (or as initial states)
    copies: str | None = None  # a stand-in: the key of the shared box it stands for
    no_gradient: bool = False  # its gradient is exactly zero, and did not fade there (see NO_GRADIENT)
    classic: str | None = None  # its name in the classic explanation (``forget gate``), if the cell has one


@dataclass
class Link:
    """A drawn edge. ``state`` edges carry a recurrent state from one step to the next;
    ``wrap`` ones do so from the end of one row to the start of the next (the layout
    decides)."""

    src: str
    dst: str
    norm: float | None = None
    state: bool = False
    wrap: bool = False
    visit: int | None = None  # when the engine sends the gradient back along it
    attention: float | None = None  # an attention edge: the mean weight a decoder step gives a source step

    @property
    def kind(self) -> str:
        """``"state"``, ``"attention"`` or ``"data"``: the page's ``data-kind``."""
        return "attention" if self.attention is not None else "state" if self.state else "data"

    @property
    def key(self) -> str:
        """The drawn edge's id."""
        return f"{self.src}__{self.dst}" + ("__attention" if self.attention is not None else "")


@dataclass
class Lane:
    """One sequence of steps: a recurrent part (``"encoder"``; ``""`` when there is one) in one
    direction. ``steps`` are the global step numbers in ``t`` order; ``layers`` bottom to top."""

    part: str
    reverse: bool
    steps: list[int]
    layers: list[str | None]

    @property
    def name(self) -> str:
        """``encoder (reverse)``; ``""`` for the only lane of a one-directional model."""
        return lane_name(self.part, self.reverse)


def lane_name(part: str, reverse: bool) -> str:
    """How a lane is called in labels.

    >>> lane_name("encoder", True), lane_name("lstm", False)
    ('encoder (reverse)', 'lstm')
    """
    return part + (" (reverse)" if reverse else "")


@dataclass
class Plan:
    boxes: dict[str, Box]
    links: list[Link]
    steps: list[int]
    detailed: set[int]  # steps drawn op by op
    clusters: dict[int, dict[str | None, list[str]]]  # step -> layer (bottom to top) -> boxes
    layers: list[str | None]  # every layer with steps, top to bottom as drawn (and as the strip reads)
    heat: dict[str | None, dict[int, float]]  # layer -> step -> ||dL/dh_t||, for layers that have it
    scale: tuple[float, float] | None  # log10 of the smallest and largest gradient norm shown
    vanished: set[int]  # steps whose gradient fell below vanish_below, but not to zero
    no_gradient: set[int]  # steps whose gradient is exactly zero without having faded (see NO_GRADIENT)
    vanish_below: float
    bptt_order: bool
    title: str | None
    notes: list[str]
    labels: dict[int, str]  # each step's name: "t=3", or "encoder · t=3" with several lanes
    drawn_step: dict[str, int | None]  # the step each traced node is drawn in
    lanes: list[Lane]
    position: dict[int, int]  # each step's t within its lane
    tokens: dict[int, str]  # each step's input token, where the caller gave them
    band: set[str]  # boxes outside the steps that feed them (weights, the input projection)
    states: dict[str | None, tuple[str, ...]]  # each layer's state names, hidden state first
    gates: dict[str | None, tuple[str, ...]]  # each layer's gates in display order
    gate_labels: dict[str | None, dict[str, str]]  # each layer's classic names of gates and states
    # Where sequences of the batch are padding, from the ``padding`` tags: step -> layer ->
    # Padding, for the steps where some layer has padding (with every tagged layer of it).
    # An op-level step gets a "padding" box: one for the step when its layers agree (one
    # batch: the usual case), else one in each padded layer (``padding_boxes``).
    padding: dict[int, dict[str | None, Padding]] = field(default_factory=dict)
    layout: Layout | None = None  # where everything goes: set by ``plan()``

    @property
    def rows(self) -> list[list[int]]:
        """The steps of each drawn row, left to right (from the layout)."""
        return self.layout.rows if self.layout else [self.steps]

    def lane_of(self, step: int) -> Lane:
        return next(lane for lane in self.lanes if step in lane.steps)

    def step_padding(self, step: int) -> Padding | None:
        """Step ``step``'s padding when every tagged layer of it agrees, else None.

        >>> import microtensor as mt
        >>> w = mt.ones(2, 3, requires_grad=True)
        >>> for t in range(2):
        ...     with mt.scope(layer="rnn", t=t, padding=t, batch=2):
        ...         w = w.tanh(); w.name = "h"
        >>> p = plan(mt.viz.trace(w.sum()), detail="op")
        >>> p.step_padding(0), p.step_padding(1).short(), p.padding_boxes(1)
        (None, 'padding 1 of 2', ['padding1'])
        """
        return agreed(self.padding.get(step, {}))

    def layer_padding(self, step: int | None, layer: str | None) -> Padding | None:
        """The padding of ``layer`` at ``step``, if it has any."""
        pad = self.padding.get(step, {}).get(layer) if step is not None else None
        return pad if pad is not None and pad.count else None

    def padding_boxes(self, step: int) -> list[str]:
        """The keys of step ``step``'s padding boxes (see ``padding``)."""
        return [key for key, box in self.boxes.items() if box.kind == "padding" and box.step == step]

    def padding_text(self, step: int) -> str:
        """What a panel says of step ``step``: ``padding: 2 of 4 sequences (rows 1, 3)``, or
        each layer's padding when they differ; "" without padding."""
        shared = self.step_padding(step)
        if shared is not None:
            return shared.describe()
        return "; ".join(f"{layer}: {pad.describe()}" for layer, pad in self.padding.get(step, {}).items()
                         if pad.count)

    def step_title(self, step: int) -> str:
        """A step frame's title: ``t=3 · 'e'``, with its padding and how its gradient ended."""
        shared = self.step_padding(step)
        padded = [shared.short()] if shared else ["padding by layer"] if step in self.padding else []
        ending = ["no gradient (exactly 0)"] if step in self.no_gradient else \
            ["gradient vanished"] if step in self.vanished else []
        return " · ".join([self.labels[step], *padded, *ending])

    # -- gradient styling, on one log scale for the whole picture -------------------
    def position_on_scale(self, norm: float) -> float:
        """Where ``norm`` sits on the log scale: 0 at the smallest shown, 1 at the largest."""
        lo, hi = self.scale
        frac = 1.0 if hi <= lo else (math.log10(max(norm, 1e-300)) - lo) / (hi - lo)
        return min(max(frac, 0.0), 1.0)

    def status(self, norm: float | None, no_gradient: bool = False) -> str:
        """How a gradient norm is shown: ``"none"`` (not recorded), ``"zero"`` (exactly zero
        without having faded), ``"vanished"`` (below ``vanish_below``, a gradient that shrank
        to exactly zero included) or ``"flow"``.

        >>> import microtensor as mt
        >>> w = mt.ones(2, requires_grad=True)
        >>> with mt.viz.record() as rec:
        ...     (w * 2).sum().backward()
        >>> p = mt.viz.draw_graph((w * 2).sum(), rec).plan
        >>> [p.status(x) for x in (None, 1e-9, 0.0, 1.0)], p.status(0.0, no_gradient=True)
        (['none', 'vanished', 'vanished', 'flow'], 'zero')
        """
        if norm is None:
            return "none"
        return "zero" if no_gradient else "vanished" if norm < self.vanish_below else "flow"

    def colour(self, norm: float | None, no_gradient: bool = False) -> str | None:
        """A box's fill for gradient ``norm``, by its ``status``: ``NO_GRADIENT``, ``VANISHED``,
        or the palette on the picture's log scale."""
        if norm is None or self.scale is None:
            return None
        shown = self.status(norm, no_gradient)
        if shown != "flow":
            return NO_GRADIENT if shown == "zero" else VANISHED
        return PALETTE[round(self.position_on_scale(norm) * (len(PALETTE) - 1))]

    def width(self, norm: float | None) -> float:
        if norm is None or self.scale is None or norm < self.vanish_below:
            return 1.0
        return round(0.8 + 3.2 * self.position_on_scale(norm), 2)


def plan(graph: Graph, *, detail: str = "auto", window: tuple[int, int] | None = None,
         max_op_steps: int = 6, vanish_below: float = 1e-6, bptt_order: bool = False,
         title: str | None = None, tokens: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
         aspect: float = ASPECT, scale: tuple[float, float] | None = None) -> Plan:
    """Decide the picture of ``graph``; ``draw_graph`` and ``explore`` take the same options.

    ``tokens`` labels each step with its input: a list (one per ``t``, for every lane that
    long) or a mapping from a lane's part (``"encoder"``) to its list. ``scale`` is the colour
    scale's range, ``(log10 low, log10 high)`` of the gradient norms (default: this graph's,
    ``gradient_scale``); two pictures given one scale colour equal norms alike.

    >>> import microtensor as mt
    >>> h = mt.zeros(2); w = mt.ones(2, requires_grad=True)
    >>> for t in range(3):
    ...     with mt.scope(layer="rnn", t=t):
    ...         h = (h + w).tanh(); h.name = "h"
    >>> p = plan(mt.viz.trace(h.sum()), detail="cell", tokens="abc")
    >>> [t for row in p.rows for t in row], [b.title for b in p.boxes.values() if b.kind == "cell"]
    ([0, 1, 2], ['t=0 · ‘a’', 't=1 · ‘b’', 't=2 · ‘c’'])
    """
    from .layout import layout  # the layout reads plans: imported here, not at the top

    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
    planner = _Planner(graph, vanish_below, bptt_order, tokens, scale)
    planner.detailed = planner.detailed_steps(detail, window, max_op_steps)
    drawn = planner.plan(title)
    drawn.layout = layout(drawn, aspect)
    return drawn


def ink(fill: str) -> str:
    """The colour of text on a box of ``fill``: white on the palette's dark end, else near black.

    >>> ink(PALETTE[-1]), ink(PALETTE[0])
    ('#ffffff', '#222222')
    """
    return "#ffffff" if fill in DARK else "#222222"


def gradient_scale(graph: Graph) -> tuple[float, float] | None:
    """The colour scale of ``graph``'s picture: log10 of its smallest and largest gradient norm
    (nodes and edges), at most ``DECADES`` decades (the largest kept); None without gradients.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True)
    >>> with mt.viz.record() as rec:
    ...     loss = (w * 100).sum()
    ...     loss.backward()
    >>> [round(x, 3) for x in gradient_scale(mt.viz.trace(loss, rec))]  # 1 (the loss) to 141 (w)
    [0.0, 2.151]
    """
    norms = [e.grad_norm for e in graph.edges if e.grad_norm]
    norms += [n.grad.norm for n in graph.nodes.values() if n.grad is not None and n.grad.norm > 0]
    return limited((math.log10(min(norms)), math.log10(max(norms)))) if norms else None


def limited(scale: tuple[float, float]) -> tuple[float, float]:
    """A scale cut to its top ``DECADES`` decades: below them, contrast would be lost anyway.

    >>> limited((-20.0, 1.0)), limited((-3.0, 1.0))
    ((-11.0, 1.0), (-3.0, 1.0))
    """
    lo, hi = scale
    return (hi - DECADES, hi) if hi - lo > DECADES else (lo, hi)


def checked_scale(scale: tuple[float, float]) -> tuple[float, float]:
    """``scale`` as two floats, or a ValueError naming what is wrong with it."""
    try:
        lo, hi = (float(x) for x in scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be (low, high): log10 of gradient norms, got {scale!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"scale must be two finite numbers, low <= high (log10 of gradient norms), "
                         f"got {scale!r}")
    return lo, hi


def agreed(by_layer: dict[str | None, Padding]) -> Padding | None:
    """The padding every layer of a step agrees on (they run one batch), else None.

    >>> agreed({"a": Padding(1, 2), "b": Padding(1, 2)}), agreed({"a": Padding(1, 2), "b": Padding(0, 3)})
    (Padding(count=1, batch=2, rows=None), None)
    """
    pads = list(by_layer.values())
    return pads[0] if pads and all(pad == pads[0] for pad in pads) else None


def short_norm(x: float) -> str:
    """``1.23e-04``: how gradient norms are printed.

    >>> short_norm(0.000123)
    '1.23e-04'
    """
    return f"{x:.2e}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``, and ``()`` for a 0-d tensor.

    >>> shape_text((2, 3)), shape_text(())
    ('(2, 3)', '()')
    """
    return "(" + ", ".join(map(str, shape)) + ")"


def ranges(steps: Iterable[int]) -> str:
    """Steps as ranges.

    >>> ranges([0, 1, 2, 5])
    '0…2, 5'
    """
    out, run = [], []
    for t in steps:
        if run and t != run[-1] + 1:
            out.append(_run(run))
            run = []
        run.append(t)
    if run:
        out.append(_run(run))
    return ", ".join(out)


def _run(run: list[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}…{run[-1]}"


def quoted(token: str) -> str:
    """A step's token in a label: in quotes, so a space shows; escaped if it does not print.

    >>> quoted("e"), quoted(" ")
    ('‘e’', '‘ ’')
    >>> print(quoted(chr(10)))
    '\\n'
    """
    return f"‘{token}’" if token.isprintable() else repr(token)


def norm_line(symbol: str, norm: float, no_gradient: bool = False) -> str:
    """A box's gradient line; an exact zero that did not fade says so.

    >>> norm_line("h", 0.5), norm_line("", 0.0, no_gradient=True), norm_line("", 0.0)
    ('‖∂L/∂h‖ 5.00e-01', 'no gradient (exactly 0)', '‖∂‖ 0.00e+00')
    """
    if no_gradient:
        return "no gradient (exactly 0)"
    return f"‖∂L/∂{symbol}‖ {short_norm(norm)}" if symbol else f"‖∂‖ {short_norm(norm)}"


class _Planner:
    def __init__(self, graph: Graph, vanish_below: float, bptt_order: bool,
                 tokens: Sequence[str] | Mapping[str, Sequence[str]] | None,
                 scale: tuple[float, float] | None = None):
        self.g, self.detailed = graph, set()
        self.vanish_below, self.bptt_order = vanish_below, bptt_order
        self.order = self.forward_order()
        self.where = self.adopt()
        self.find_lanes()
        self.tokens = self.read_tokens(tokens)
        self.padding = self.read_padding()
        self.namer = Namer(graph, self.initial_states())
        self.exact_zeros = self.find_exact_zeros()
        self.scale = gradient_scale(graph) if scale is None else checked_scale(scale)

    def plan(self, title: str | None) -> Plan:
        g = self.g
        cells: dict[tuple[str | None, int], str] = {}
        placed = {}
        for key in self.order:  # so layers, and boxes within a step, come in forward order
            step, layer = self.where[key]
            if step is None or step in self.detailed:
                placed[key] = key
            else:
                placed[key] = cells.setdefault((layer, step), f"cell{len(cells)}")
        members: dict[str, list[Node]] = defaultdict(list)
        for key, where in placed.items():
            members[where].append(g.nodes[key])
        step_of = {where: self.where[group[0].key][0] for where, group in members.items()}

        # Connections between drawn nodes (edges inside one cell vanish into it).
        joined: dict[tuple[str, str], tuple[float | None, int | None]] = {}
        for e in g.edges:
            a, b = placed[e.src], placed[e.dst]
            if a == b:
                continue
            norm, visit = joined.get((a, b), (None, None))
            if e.grad_norm is not None:
                norm = max(norm or 0.0, e.grad_norm)
            dst_visit = g.nodes[e.dst].visit
            if dst_visit is not None:
                visit = dst_visit if visit is None else min(visit, dst_visit)
            joined[(a, b)] = (norm, visit)

        # Timeless nodes that touch several steps are drawn once, with a stand-in per step.
        touched: dict[str, set[int]] = defaultdict(set)
        for a, b in joined:
            if step_of[a] is None and step_of[b] is not None:
                touched[a].add(step_of[b])
            if step_of[b] is None and step_of[a] is not None:
                touched[b].add(step_of[a])
        shared = {k for k, s in touched.items() if len(s) > 1}
        # What the steps feed and no step reads back (the outputs, the loss) is reached from the
        # lane's last step by a real edge, at every level of detail: that is where the gradient
        # enters.
        last_steps = {lane.steps[-1] for lane in self.lanes_found}
        upstream = self.upstream(joined, step_of)

        boxes: dict[str, Box] = {}
        for where, group in members.items():
            boxes[where] = self.cell_box(where, group) if where in cells.values() else \
                self.node_box(group[0], where in shared)

        links: list[Link] = []
        for (a, b), (norm, visit) in joined.items():
            inside = b if a in shared else a
            if (a in shared or b in shared) and step_of[inside] is not None:
                entering = b in shared and b not in upstream and step_of[inside] in last_steps
                if not entering:
                    if step_of[inside] not in self.detailed:  # cell-level steps: the cell's tooltip says it
                        continue
                    proxy = f"proxy{len(boxes)}"
                    boxes[proxy] = self.stand_in(proxy, boxes[a if a in shared else b], boxes[inside],
                                                 norm, visit, feeds=a in shared)
                    a, b = (proxy, b) if a in shared else (a, proxy)
            crosses = step_of.get(a) is not None and step_of.get(b) is not None and step_of[a] != step_of[b]
            links.append(Link(a, b, norm, state=crosses, visit=visit))
        self.complete_leaves(boxes, links)

        order = self.layer_order(boxes)
        clusters: dict[int, dict[str | None, list[str]]] = {t: {} for t in self.steps}
        for key, box in boxes.items():
            if box.step is not None:
                clusters[box.step].setdefault(box.layer, []).append(key)
        for t in self.steps:
            clusters[t] = {layer: clusters[t][layer] for layer in order if layer in clusters[t]}
        lanes = [Lane(part, reverse, steps,
                      [layer for layer in order if layer in self.lane_layers[(part, reverse)]])
                 for (part, reverse), steps in self.lane_steps.items()]
        bidirectional = {lane.part for lane in lanes if lane.reverse}
        for box in boxes.values():
            if box.layer is not None and box.step is not None:
                part, reverse = self.lane_key(box.layer)
                if part in bidirectional:
                    box.direction = "reverse" if reverse else "forward"
        drawn_layers = [layer for lane in lanes for layer in reversed(lane.layers)]

        heat = self.heat()
        vanished, no_gradient = self.endings(heat)
        links += self.attention_links(placed)  # drawn over the layout, so added last
        self.add_padding_boxes(boxes, clusters)
        return Plan(boxes, links, self.steps, self.detailed, clusters, drawn_layers,
                    {layer: dict(sorted(heat[layer].items())) for layer in drawn_layers if layer in heat},
                    self.scale, vanished, no_gradient, self.vanish_below, self.bptt_order, title,
                    self.notes(vanished, no_gradient), self.labels, {k: w[0] for k, w in self.where.items()},
                    lanes, self.position, self.tokens, {k for k in upstream if k in boxes},
                    *self.declarations(), self.padding)

    @staticmethod
    def upstream(joined: dict[tuple[str, str], object], step_of: dict[str, int | None]) -> set[str]:
        """The drawn boxes outside the steps that feed some step, directly or through others."""
        found = {a for a, b in joined if step_of[b] is not None and step_of[a] is None}
        while True:
            more = {a for a, b in joined if b in found and step_of[a] is None} - found
            if not more:
                return found
            found |= more

    def heat(self) -> dict[str | None, dict[int, float]]:
        """``||dL/dh_t||`` by layer and step, from each step's own hidden state."""
        heat: dict[str | None, dict[int, float]] = defaultdict(dict)
        for n in self.g.nodes.values():
            step = self.where[n.key][0]
            if step is not None and n.grad is not None and n.name == n.states[0]:
                heat[n.layer][step] = n.grad.norm
        return heat

    def endings(self, heat: dict[str | None, dict[int, float]]) -> tuple[set[int], set[int]]:
        """The steps whose gradient (the largest over their layers) vanished, and those where it
        is exactly zero without having faded."""
        top = {t: max(by_layer[t] for by_layer in heat.values() if t in by_layer)
               for t in self.steps if any(t in by_layer for by_layer in heat.values())}
        no_gradient = {t for t, n in top.items() if n == 0 and all(
            k in self.exact_zeros for k, n in self.g.nodes.items()
            if self.where[k][0] == t and n.name == n.states[0])}
        return {t for t, n in top.items() if n < self.vanish_below} - no_gradient, no_gradient

    def add_padding_boxes(self, boxes: dict[str, Box],
                          clusters: dict[int, dict[str | None, list[str]]]) -> None:
        """Each op-level step with padding gets its padding box (one per layer where its layers
        run different batches), on the step's floor beside its ops."""
        for step, by_layer in self.padding.items():
            if step not in self.detailed:
                continue
            shared = agreed(by_layer)
            if shared is not None:
                boxes[f"padding{step}"] = self.padding_box(f"padding{step}", step, None, shared)
                clusters[step][next(iter(clusters[step]))].append(f"padding{step}")
                continue
            for i, (layer, pad) in enumerate(by_layer.items()):
                if pad.count:
                    boxes[f"padding{step}_{i}"] = self.padding_box(f"padding{step}_{i}", step, layer, pad)
                    clusters[step].setdefault(layer, []).append(f"padding{step}_{i}")

    def declarations(self) -> tuple[dict, dict, dict]:
        """Each layer's states, gates and classic labels, as its cell declares them."""
        states, gates, labels = {}, {}, {}
        for n in self.g.nodes.values():
            layer = self.where[n.key][1]
            if self.where[n.key][0] is not None and layer not in states:
                states[layer], gates[layer], labels[layer] = n.states, n.gates, dict(n.gate_labels)
        return states, gates, labels

    def find_exact_zeros(self) -> set[str]:
        """The nodes whose gradient is exactly zero without having faded: every consumer sent
        exactly zero, either being such a node itself or while holding a gradient that has not
        vanished (an op that selects, such as ``out[-1]``, sends the rest nothing; ``f ⊙ c₀``
        sends ``f`` nothing while ``c₀ = 0``). A gradient that shrank step by step until it
        became zero has vanished instead: its consumers' own gradients were already below
        ``vanish_below``."""
        sent: dict[str, list] = defaultdict(list)
        for e in self.g.edges:
            sent[e.src].append(e)
        found: set[str] = set()
        for key in reversed(self.order):  # consumers before what they read
            n = self.g.nodes[key]
            if n.grad is None or n.grad.norm != 0 or not sent[key]:
                continue
            def holding(dst: str) -> bool:  # a gradient that has not vanished
                grad = self.g.nodes[dst].grad
                return grad is not None and grad.norm >= self.vanish_below

            if all(e.grad_norm == 0 and (e.dst in found or holding(e.dst)) for e in sent[key]):
                found.add(key)
        return found

    # -- time: lanes, steps, which steps are detailed ----------------------------------
    @staticmethod
    def lane_key(layer: str | None) -> tuple[str, bool]:
        """A layer's lane: the first part of its name, and whether it runs in reverse."""
        name = layer or ""
        return name.split(".")[0], name.endswith("_reverse")

    def find_lanes(self) -> None:
        """Lanes of time: steps are numbered across lanes (``Box.step``), one lane after the
        other, and ``labels`` names each step in its own lane.

        A model whose steps come from different parts (an encoder and a decoder: the first
        part of the ``layer`` tag) or directions (a bidirectional layer's ``_reverse``
        half) has one lane per part and direction, each with its own ``t``; otherwise
        there is one lane and a step is its ``t``."""
        # A part runs after the parts it reads: it reaches deeper into the graph (a decoder
        # reads its encoder's outputs). Within a part the forward lane comes first.
        deepest: dict[str, int] = defaultdict(int)
        length: dict[tuple[str, bool], int] = defaultdict(int)
        self.lane_layers: dict[tuple[str, bool], set[str | None]] = defaultdict(set)
        for key, (t, layer) in self.where.items():
            if t is not None:
                k = self.lane_key(layer)
                deepest[k[0]] = max(deepest[k[0]], self.depth[key])
                length[k] = max(length[k], t + 1)
                self.lane_layers[k].add(layer)
        order = sorted(length, key=lambda k: (deepest[k[0]], k[1]))
        offset, start = {}, 0
        for k in order:
            offset[k], start = start, start + length[k]
        named = len(order) > 1
        self.labels: dict[int, str] = {}
        self.position: dict[int, int] = {}
        self.lane_steps: dict[tuple[str, bool], list[int]] = {k: [] for k in order}
        for key, (t, layer) in self.where.items():
            if t is not None:
                k = self.lane_key(layer)
                step = offset[k] + t
                self.where[key] = (step, layer)
                if step not in self.labels:
                    prefix = f"{lane_name(*k)} · " if named else ""
                    self.labels[step] = f"{prefix}t={t}"
                    self.position[step] = t
        for k in order:
            self.lane_steps[k] = [s for s in range(offset[k], offset[k] + length[k]) if s in self.labels]
        self.lanes_found = [Lane(k[0], k[1], steps, []) for k, steps in self.lane_steps.items()]
        self.steps = sorted(self.labels)

    def read_tokens(self, tokens: Sequence[str] | Mapping[str, Sequence[str]] | None) -> dict[int, str]:
        """Each step's token, and its label with it (``t=3 · 'e'``)."""
        if tokens is None:
            return {}
        found = {}
        for lane in self.lanes_found:
            words = tokens.get(lane.part) if isinstance(tokens, Mapping) else tokens
            if words is None:
                continue
            words = list(words)
            if len(words) < len(lane.steps) and not isinstance(tokens, Mapping):
                continue  # a list of another length belongs to another lane
            if len(words) < len(lane.steps):
                raise ValueError(f"tokens: lane {lane.part!r} has {len(lane.steps)} steps, "
                                 f"got {len(words)} tokens")
            for step in lane.steps:
                found[step] = str(words[self.position[step]])
                self.labels[step] += " · " + quoted(found[step])
        if isinstance(tokens, Mapping):
            unknown = set(tokens) - {lane.part for lane in self.lanes_found}
            if unknown:
                raise ValueError(f"tokens: no lane called {sorted(unknown)[0]!r} "
                                 f"(lanes: {', '.join(repr(lane.part) for lane in self.lanes_found)})")
        elif not found and self.lanes_found:
            raise ValueError(f"tokens: {len(list(tokens))} tokens, but the lanes have "
                             f"{', '.join(str(len(lane.steps)) for lane in self.lanes_found)} steps")
        return found

    def detailed_steps(self, detail: str, window: tuple[int, int] | None, max_op_steps: int) -> set[int]:
        """The steps drawn op by op: all, none, the ``window`` of positions ``t``, or per lane
        the ``max_op_steps`` steps that the loss reaches first (by the backward pass's visit
        order; without a recording, the last ones)."""
        if detail == "op":
            return set(self.steps)
        if detail == "cell":
            return set()
        if window is not None:
            start, stop = window
            return {s for s in self.steps if start <= self.position[s] < stop}
        chosen: set[int] = set()
        reached: dict[int, int] = {}  # step -> the earliest visit of a state with gradient
        for n in self.g.nodes.values():
            step = self.where[n.key][0]
            if step is not None and n.visit is not None and n.grad is not None and n.grad.norm > 0:
                reached[step] = min(reached.get(step, n.visit), n.visit)
        for lane in self.lanes_found:
            ranked = sorted((s for s in lane.steps if s in reached), key=reached.get) or lane.steps[::-1]
            chosen.update(ranked[:max(max_op_steps, 0)])
        return chosen

    def initial_states(self) -> dict[str, str]:
        """The nodes that hold a state before the first step (``h₀``), by their state name.

        A layer's first step reads them where each later step reads the previous step's
        state: at the same input of the same op, matched by its place in the step's own ops."""
        blocks: dict[tuple[int, str | None], list[str]] = defaultdict(list)
        for key in self.order:
            n = self.g.nodes[key]
            step, layer = self.where[key]
            if step is not None and n.step is not None and n.kind == "op":  # the step's own ops
                blocks[(step, layer)].append(key)
        inputs: dict[str, dict[int, str]] = defaultdict(dict)
        for e in self.g.edges:
            inputs[e.dst][e.index] = e.src
        found = {}
        for lane in self.lanes_found:
            if len(lane.steps) < 2:
                continue
            first, second = lane.steps[-1:-3:-1] if lane.reverse else lane.steps[:2]  # in the order they ran
            for layer in {layer for (step, layer) in blocks if step == first}:
                before, after = blocks[(first, layer)], blocks.get((second, layer), [])
                later_sigs = [self.signature(k, set(after), inputs) for k in after]
                own = set(before)
                sigs = [self.signature(k, own, inputs) for k in before]
                match = {sig: k for sig, k in zip(later_sigs, after)
                         if later_sigs.count(sig) == 1 and sigs.count(sig) == 1}  # never a guess
                for k, sig in zip(before, sigs):
                    later = match.get(sig)
                    if later is None:
                        continue
                    for index, src in inputs[later].items():
                        m = self.g.nodes[src]
                        first_input = inputs[k].get(index)
                        if m.name in m.states and self.where[src][0] == first and first_input not in own \
                                and first_input is not None:
                            found[first_input] = m.name
        return found

    def signature(self, key: str, block: set[str], inputs: dict[str, dict[int, str]]) -> tuple:
        """What an op is within its step, the same in every step: its op, name, gate, the ops it
        reads inside the step and what it reads that no step owns (a weight), input by input."""
        n = self.g.nodes[key]
        reads = tuple((i, self.g.nodes[s].op, self.g.nodes[s].name, self.g.nodes[s].tags.get("gate"))
                      if s in block else (i, s)
                      for i, s in sorted(inputs[key].items())
                      if s in block or self.where[s][0] is None and self.g.nodes[s].kind != "const")
        return n.op, n.name, n.tags.get("gate"), reads

    def layer_order(self, boxes: dict[str, Box]) -> list[str | None]:
        """Layers bottom to top within their lane, lanes in order: a layer above reads the
        outputs of all the steps of the one below, so its deepest op lies deeper (its
        earliest may not: h0 @ W_hh at t=0 needs nothing from below)."""
        rank = {k: i for i, k in enumerate(self.lane_steps)}
        last: dict[str | None, int] = {}
        for box in boxes.values():
            if box.step is not None and box.kind in ("op", "cell"):
                depth = max(self.depth[m] for m in box.members)
                last[box.layer] = max(last.get(box.layer, depth), depth)
        layers = sorted(last, key=lambda layer: (rank[self.lane_key(layer)], last[layer]))
        layers += [b.layer for b in boxes.values() if b.step is not None and b.layer not in layers]
        return list(dict.fromkeys(layers))

    def read_padding(self) -> dict[int, dict[str | None, Padding]]:
        """Each step's padding per layer, from its nodes' ``padding`` tags (for the steps
        where some layer has padding); the nodes of one layer at one step must agree."""
        found: dict[int, dict[str | None, Padding]] = defaultdict(dict)
        for key in self.order:
            pad, (step, layer) = self.g.nodes[key].padding, self.where[key]
            if pad is None or step is None:
                continue
            seen = found[step].setdefault(layer, pad)
            if seen != pad:
                raise ValueError(f"scope tag padding: the nodes of {layer or 'the step'} at "
                                 f"{self.labels[step]} disagree ({seen.describe()} / {pad.describe()})")
        return {step: by_layer for step, by_layer in sorted(found.items())
                if any(pad.count for pad in by_layer.values())}

    def adopt(self) -> dict[str, tuple[int | None, str | None]]:
        """The step and layer each traced node is drawn in: its own tags, or, for an untimed
        node whose every consumer is in one step (the slice ``x_proj[t]`` taken outside the
        step's scope, a weight only that step uses), that step."""
        consumers: dict[str, set[str]] = defaultdict(set)
        for e in self.g.edges:
            consumers[e.src].add(e.dst)
        where = {k: (n.step, n.layer) for k, n in self.g.nodes.items()}
        changed = True
        while changed:
            changed = False
            for key, (step, _) in where.items():
                if step is None and consumers[key]:
                    homes = {where[m] for m in consumers[key]}
                    if len(homes) == 1 and next(iter(homes))[0] is not None:
                        where[key] = next(iter(homes))
                        changed = True
        return where

    def forward_order(self) -> list[str]:
        """The traced nodes in an order the forward pass could have run them (Kahn's algorithm)."""
        waiting = dict.fromkeys(self.g.nodes, 0)
        consumers: dict[str, list[str]] = defaultdict(list)
        for e in self.g.edges:
            waiting[e.dst] += 1
            consumers[e.src].append(e.dst)
        ready = [k for k, n in waiting.items() if n == 0][::-1]
        order = []
        self.depth = dict.fromkeys(ready, 0)  # the longest path from an input
        while ready:
            key = ready.pop()
            order.append(key)
            for m in consumers[key]:
                waiting[m] -= 1
                self.depth[m] = max(self.depth.get(m, 0), self.depth[key] + 1)
                if waiting[m] == 0:
                    ready.append(m)
        return order

    # -- boxes ----------------------------------------------------------------------
    def role(self, n: Node) -> str:
        if n.key == self.g.output:
            return "loss"
        if n.key in self.namer.initial:
            return "initial"
        if n.kind == "param":
            return "param"
        if n.kind == "const":
            return "constant"
        if n.cell_role and self.where[n.key][0] is not None:
            return n.cell_role
        return "op"

    def node_box(self, n: Node, shared: bool) -> Box:
        norm = n.grad.norm if n.grad is not None else None
        role = self.role(n)
        title = self.namer.title(n.key)
        detail = n.name if n.kind == "param" and n.name and n.name != title else n.op
        lines = [" ".join(part for part in (detail, shape_text(n.shape)) if part)]
        if norm is not None:
            lines.append(norm_line(n.name if role in n.states else "", norm, n.key in self.exact_zeros))
        if shared:
            lines.append("shared by every step")
        return Box(n.key, n.kind, title, lines, *self.where[n.key], n.tags.get("gate"),
                   [n.key], norm if n.kind != "const" else None, role in n.states,
                   n.key == self.g.output, n.visit, tooltip(n, title), role=role, reads=self.reads(n),
                   no_gradient=n.key in self.exact_zeros,
                   classic=n.gate_labels.get(role) if self.where[n.key][0] is not None else None)

    def reads(self, n: Node) -> tuple[str, ...]:
        """The states ``n`` takes from the step before, or as initial states."""
        step = self.where[n.key][0]
        if step is None:
            return ()
        found = []
        for src in self.namer.inputs[n.key]:
            m = self.g.nodes[src]
            if src in self.namer.initial:
                found.append(self.namer.initial[src])
            elif m.name in m.states and self.where[src][0] not in (None, step):
                found.append(m.name)
        return tuple(dict.fromkeys(found))

    def cell_box(self, key: str, group: list[Node]) -> Box:
        n = group[0]
        step, layer = self.where[n.key]
        hidden = [m for m in group if m.name == m.states[0] and m.grad is not None]
        norm = hidden[0].grad.norm if hidden else None
        lines = [layer or "step"]
        no_gradient = bool(hidden) and hidden[0].key in self.exact_zeros
        if norm is not None:
            lines.append(norm_line(hidden[0].name, norm, no_gradient))
        pad = self.padding.get(step, {}).get(layer)
        if pad is not None and pad.count:
            lines.append(pad.short())
        else:
            pad = None
        ops = sorted({m.op for m in group if m.op})
        visits = [m.visit for m in group if m.visit is not None]
        return Box(key, "cell", self.labels[step], lines, step, layer, None, [m.key for m in group],
                   norm, False, False, max(visits) if visits else None,
                   [f"{layer or 'step'} at {self.labels[step]}: {len(group)} ops in one box",
                    f"ops: {', '.join(ops)}", *([pad.describe()] if pad is not None else [])], role="cell",
                   no_gradient=no_gradient)

    def padding_box(self, key: str, step: int, layer: str | None, pad: Padding) -> Box:
        """A step's (or, with a ``layer``, that layer's) stand-in for the sequences that are
        padding there: nothing of theirs is drawn (a packed RNN never computes them; a masked
        loss gives them no gradient)."""
        lines = [pad.amount()]
        if pad.rows and not pad.full:
            lines.append(pad.row_text())
        where = f"{layer} at {self.labels[step]}" if layer is not None else self.labels[step]
        return Box(key, "padding", "padding", lines, step, layer, tooltip=[
            f"{where}: {pad.describe()}",
            "sequences that have ended (or not begun) here: a packed RNN skips them, "
            "a masked loss gives them no gradient"], role="padding")

    def stand_in(self, key: str, shared: Box, inside: Box, norm: float | None, visit: int | None,
                 feeds: bool) -> Box:
        """A step's small copy of something every step uses (``feeds``) or that every step
        feeds, with that step's share of its gradient."""
        lines = [norm_line("", norm, norm == 0)] if norm is not None else []
        what = "this step's share of its gradient" if feeds else "what this step sends it"
        return Box(key, "stand_in", shared.title, lines, inside.step, inside.layer, None, [], norm,
                   visit=visit, tooltip=[f"{shared.title}: {what}"], role="stand_in", copies=shared.key,
                   no_gradient=norm == 0)

    def attention_links(self, placed: dict[str, str]) -> list[Link]:
        """Edges from each source step to each decoder step that attends to it, weighted by
        the mean attention weight over the batch.

        The weights are a tensor named ``ATTENTION`` of shape (batch, S) in a step, whose
        values were kept (``record(keep_values=True)``); the source steps are those of the
        first lane with S steps before the step's own lane, each drawn from its top layer's
        hidden state (or its cell)."""
        top: dict[int, str] = {}  # step -> the drawn box of its last layer's hidden state
        for key in self.order:
            n = self.g.nodes[key]
            step = self.where[key][0]
            if step is not None and n.name == n.states[0]:
                top[step] = placed[key]
        links = []
        for key, n in self.g.nodes.items():
            step = self.where[key][0]
            if n.name != ATTENTION or n.array is None or n.array.ndim != 2 or step is None:
                continue
            own = next(lane for lane in self.lanes_found if step in lane.steps)
            sources = next((lane.steps for lane in self.lanes_found if lane is not own
                            and len(lane.steps) == n.array.shape[1] and lane.steps[0] < step), None)
            if sources is None:
                continue
            weights = n.array.mean(axis=0)
            links += [Link(top[s], placed[key], attention=float(w))
                      for s, w in zip(sources, weights) if s in top and w >= 0.01]
        return links

    def complete_leaves(self, boxes: dict[str, Box], links: list[Link]) -> None:
        """A leaf's (or a stand-in's) gradient is complete once every consumer has sent its part."""
        last: dict[str, int] = {}
        for link in links:
            if link.visit is not None:
                last[link.src] = max(last.get(link.src, -1), link.visit)
        for key, box in boxes.items():
            if box.visit is None and key in last and box.norm is not None:
                box.visit = last[key]

    def name_steps(self, steps: Iterable[int]) -> str:
        """'t=0…2, 5', or per lane ('encoder · t=0…2; decoder · t=1') when there are several."""
        lanes: dict[str, list[int]] = {}
        for step in sorted(steps):
            lane = next(lane for lane in self.lanes_found if step in lane.steps)
            prefix = f"{lane.name} · " if len(self.lanes_found) > 1 else ""
            lanes.setdefault(prefix, []).append(self.position[step])
        return "; ".join(f"{lane}t={ranges(ts)}" for lane, ts in lanes.items()) or "none"

    def notes(self, vanished: set[int], no_gradient: set[int]) -> list[str]:
        cells = [t for t in self.steps if t not in self.detailed]
        notes = []
        if cells:
            notes.append(f"{self.name_steps(cells)}: one box per layer per step "
                         f"(op detail for {self.name_steps(self.detailed)})")
        if vanished:
            notes.append(f"gradient below {self.vanish_below:g} (vanished) at {self.name_steps(vanished)}")
        if no_gradient:
            notes.append(f"no gradient (exactly 0) at {self.name_steps(no_gradient)}")
        if self.padding:
            notes.append(f"padding (greyed, dashed) at {self.name_steps(self.padding)}")
        if self.bptt_order:
            notes.append("backward pass: arrows point back in time, numbered in visit order")
        return notes


def tooltip(n: Node, title: str | None = None) -> list[str]:
    """Hover text: what the box is, the op, its tags, shape and the value and gradient statistics.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True)
    >>> g = mt.viz.trace((w * 2).sum())
    >>> tooltip(g.nodes[g.output])
    ['Sum', 'shape () float32']
    """
    head = " · ".join(dict.fromkeys(part for part in (title, n.name, n.op or n.kind) if part))
    lines = [head, f"shape {shape_text(n.shape)} {n.dtype}"]
    tags = {k: v for k, v in n.tags.items() if k != "cell"}
    if tags:
        lines.append(", ".join(f"{k}={v}" for k, v in tags.items()))
    if n.value is not None:
        lines.append("value: " + n.value.describe())
    if n.grad is not None:
        lines.append("grad: " + n.grad.describe())
    return lines

