"""What an unrolled picture shows, decided once: the plan that the DOT and HTML writers both read.

``trace()`` turns the engine's graph into data; ``plan()`` decides what becomes of
each traced node (drawn as itself, folded into its layer's cell at a step, or
replaced by a per-step stand-in), how everything is styled by gradient, and how
the timesteps wrap into rows so that a long sequence still fits a screen. The
writers (``dot.py``, ``explore.py``) only translate a ``Plan`` into their format.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .padding import Padding
from .trace import Graph, Node, state_names

# Light blue (small gradients) to dark red (large), on a log scale.
PALETTE = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c",
           "#fdae6b", "#f16913", "#d94801", "#8c2d04")
DARK = PALETTE[4:5] + PALETTE[6:]  # fills that need white text
VANISHED = "#bdbdbd"
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
# Rough box sizes in inches, enough to choose how many steps go in a row.
_BOX_W, _BOX_H, _CELL_W, _CELL_H, _GAP = 1.05, 0.75, 0.95, 0.7, 0.35


@dataclass
class Box:
    """One drawn node: a traced node, a layer's cell at one step, or a step's stand-in for
    something every step uses."""

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


@dataclass
class Link:
    """A drawn edge. ``state`` edges carry a recurrent state from one step to the next;
    ``wrap`` ones do so from the end of one row to the start of the next."""

    src: str
    dst: str
    norm: float | None = None
    state: bool = False
    wrap: bool = False
    visit: int | None = None  # when the engine sends the gradient back along it
    attention: float | None = None  # an attention edge: the mean weight a decoder step gives a source step


@dataclass
class Plan:
    boxes: dict[str, Box]
    links: list[Link]
    steps: list[int]
    detailed: set[int]  # steps drawn op by op
    rows: list[list[int]]  # the steps of each row, left to right
    clusters: dict[int, dict[str | None, list[str]]]  # step -> layer -> boxes
    row_of: dict[str, int]  # row of each box outside the step clusters; bands above are -1, -2, ...
    stacking: list[tuple[str, str]]  # (a, b): a's layer sits under b's within a step
    layers: list[str | None]
    heat: dict[str | None, dict[int, float]]  # layer -> t -> ||dL/dh_t||
    scale: tuple[float, float] | None  # log10 of the smallest and largest gradient norm shown
    vanished: set[int]
    vanish_below: float
    bptt_order: bool
    title: str | None
    notes: list[str]
    labels: dict[int, str]  # each step's name: "t=3", or "encoder · t=3" with several lanes
    drawn_step: dict[str, int | None]  # the step each traced node is drawn in
    # Where sequences of the batch are padding, from the ``padding`` tags: step -> layer ->
    # Padding, for the steps where some layer has padding (with every tagged layer of it).
    # An op-level step gets a "padding" box: one for the step when its layers agree (one
    # batch: the usual case), else one in each padded layer (``padding_boxes``).
    padding: dict[int, dict[str | None, Padding]] = field(default_factory=dict)

    def step_padding(self, step: int) -> Padding | None:
        """Step ``step``'s padding when every tagged layer of it agrees, else None.

        >>> import microtensor as mt
        >>> w = mt.ones(2, 3, requires_grad=True)
        >>> for t in range(2):
        ...     with mt.scope(layer="rnn", t=t, padding=t, batch=2):
        ...         w = w.tanh()
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

    # -- gradient styling, on one log scale for the whole picture -------------------
    def position(self, norm: float) -> float:
        """Where ``norm`` sits on the log scale: 0 at the smallest shown, 1 at the largest."""
        lo, hi = self.scale
        frac = 1.0 if hi <= lo else (math.log10(max(norm, 1e-300)) - lo) / (hi - lo)
        return min(max(frac, 0.0), 1.0)

    def colour(self, norm: float | None) -> str | None:
        if norm is None or self.scale is None:
            return None
        if norm < self.vanish_below:
            return VANISHED
        return PALETTE[round(self.position(norm) * (len(PALETTE) - 1))]

    def width(self, norm: float | None) -> float:
        if norm is None or self.scale is None or norm < self.vanish_below:
            return 1.0
        return round(0.8 + 3.2 * self.position(norm), 2)


def plan(graph: Graph, *, detail: str = "auto", window: tuple[int, int] | None = None,
         max_op_steps: int = 6, vanish_below: float = 1e-6, bptt_order: bool = False,
         title: str | None = None, aspect: float = ASPECT) -> Plan:
    """Decide the picture of ``graph``; ``draw_graph`` and ``explore`` take the same options.

    >>> import microtensor as mt
    >>> h = mt.zeros(2); w = mt.ones(2, requires_grad=True)
    >>> for t in range(3):
    ...     with mt.scope(layer="rnn", t=t):
    ...         h = (h + w).tanh(); h.name = "h"
    >>> p = plan(mt.viz.trace(h.sum()), detail="cell")
    >>> p.rows, sorted(b.title for b in p.boxes.values() if b.kind == "cell")
    ([[0, 1, 2]], ['rnn', 'rnn', 'rnn'])
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
    planner = _Planner(graph, vanish_below, bptt_order)
    planner.detailed = _detailed_steps(planner.steps, detail, window, max_op_steps)
    return planner.plan(title, aspect)


def agreed(by_layer: dict[str | None, Padding]) -> Padding | None:
    """The padding every layer of a step agrees on (they run one batch), else None.

    >>> agreed({"a": Padding(1, 2), "b": Padding(1, 2)}), agreed({"a": Padding(1, 2), "b": Padding(0, 3)})
    (Padding(count=1, batch=2, rows=None), None)
    """
    pads = list(by_layer.values())
    return pads[0] if pads and all(pad == pads[0] for pad in pads) else None


def _detailed_steps(steps: list[int], detail: str, window: tuple[int, int] | None,
                    max_op_steps: int) -> set[int]:
    if detail == "op":
        return set(steps)
    if detail == "cell":
        return set()
    if window is not None:
        start, stop = window
        return {t for t in steps if start <= t < stop}
    return set(steps[-max_op_steps:]) if max_op_steps > 0 else set()


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


class _Planner:
    def __init__(self, graph: Graph, vanish_below: float, bptt_order: bool):
        self.g, self.detailed = graph, set()
        self.vanish_below, self.bptt_order = vanish_below, bptt_order
        self.order = self.forward_order()
        self.where = self.adopt()
        self.lanes()
        self.padding = self.read_padding()
        names = state_names()
        self.hidden, self.states = names[0], set(names)
        norms = [e.grad_norm for e in graph.edges if e.grad_norm]
        norms += [n.grad.norm for n in graph.nodes.values() if n.grad is not None and n.grad.norm > 0]
        self.scale = (math.log10(min(norms)), math.log10(max(norms))) if norms else None
        if self.scale and self.scale[1] - self.scale[0] > 12:  # keep 12 decades of contrast
            self.scale = (self.scale[1] - 12, self.scale[1])

    def plan(self, title: str | None, aspect: float) -> Plan:
        g = self.g
        cells: dict[tuple[str | None, int], str] = {}
        placed = {}
        for key in self.order:  # so layers, and boxes within a step, come in forward order
            n = g.nodes[key]
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

        boxes: dict[str, Box] = {}
        for where, group in members.items():
            boxes[where] = self.cell_box(where, group) if where in cells.values() else \
                self.node_box(group[0], where in shared)

        links: list[Link] = []
        for (a, b), (norm, visit) in joined.items():
            if a in shared or b in shared:
                inside = b if a in shared else a
                if step_of[inside] not in self.detailed:  # cell-level steps: the cell's tooltip says it
                    continue
                proxy = f"proxy{len(boxes)}"
                boxes[proxy] = self.stand_in(proxy, boxes[a if a in shared else b], boxes[inside],
                                             norm, visit)
                a, b = (proxy, b) if a in shared else (a, proxy)
            crosses = step_of.get(a) is not None and step_of.get(b) is not None and step_of[a] != step_of[b]
            links.append(Link(a, b, norm, state=crosses, visit=visit))
        self.complete_leaves(boxes, links)

        clusters: dict[int, dict[str | None, list[str]]] = {t: {} for t in self.steps}
        for key, box in boxes.items():
            if box.step is not None:
                clusters[box.step].setdefault(box.layer, []).append(key)
        # Layers stack in the order they finish: a layer above reads the outputs of all the
        # steps of the one below, so its deepest op lies deeper (its earliest may not:
        # h0 @ W_hh at t=0 needs nothing from below).
        last: dict[str | None, int] = {}
        for box in boxes.values():
            if box.step is not None and box.kind in ("op", "cell"):
                depth = max(self.depth[m] for m in box.members)
                last[box.layer] = max(last.get(box.layer, depth), depth)
        layers = sorted(last, key=lambda layer: (self.lane_rank[layer], last[layer]))
        layers += [b.layer for b in boxes.values() if b.step is not None and b.layer not in layers]
        layers = list(dict.fromkeys(layers))
        for t in self.steps:
            clusters[t] = {layer: clusters[t][layer] for layer in layers if layer in clusters[t]}

        bands = self.bands(boxes, links, layers)
        widths: dict[int, int] = defaultdict(int)  # each band's boxes that nothing in it feeds
        fed = {l.dst for l in links if l.dst in bands and bands.get(l.src) == bands[l.dst]}
        for key, band in bands.items():
            widths[band] += key not in fed
        rows, wide, high = self.rows(clusters, links, aspect, list(widths.values()))
        if len(widths) > 1:  # one band of all the shared boxes, if that gives a better shape
            merged = self.rows(clusters, links, aspect, [sum(widths.values())])
            shape = merged[1] / merged[2]  # merged only where the picture is too tall otherwise
            if shape <= aspect and abs(math.log(shape / aspect)) < abs(math.log(wide / high / aspect)):
                rows, bands = merged[0], dict.fromkeys(bands, -1)
        row_index = {t: i for i, row in enumerate(rows) for t in row}
        for link in links:
            if link.state:
                link.wrap = row_index[boxes[link.src].step] != row_index[boxes[link.dst].step]
        heat: dict[str | None, dict[int, float]] = defaultdict(dict)
        for n in g.named(self.hidden):
            step = self.where[n.key][0]
            if step is not None and n.grad is not None:
                heat[n.layer][step] = n.grad.norm
        top = {t: max(by_layer[t] for by_layer in heat.values() if t in by_layer)
               for t in self.steps if any(t in by_layer for by_layer in heat.values())}
        vanished = {t for t, n in top.items() if n < self.vanish_below}
        links += self.attention_links(placed)  # drawn over the layout, so added last
        for step, by_layer in self.padding.items():  # inside their step's cluster, apart from its ops
            if step not in self.detailed:
                continue
            shared = agreed(by_layer)
            if shared is not None:
                boxes[f"padding{step}"] = self.padding_box(f"padding{step}", step, None, shared)
            else:
                for i, (layer, pad) in enumerate(by_layer.items()):
                    if pad.count:
                        boxes[f"padding{step}_{i}"] = self.padding_box(f"padding{step}_{i}", step, layer, pad)
        return Plan(boxes, links, self.steps, self.detailed, rows, clusters,
                    {**self.rows_outside(boxes, links, row_index), **bands}, self.stacking(clusters, links),
                    layers, {layer: dict(sorted(heat[layer].items())) for layer in layers if layer in heat},
                    self.scale, vanished, self.vanish_below, self.bptt_order, title,
                    self.notes(vanished), self.labels, {k: w[0] for k, w in self.where.items()},
                    self.padding)

    def lanes(self) -> None:
        """Lanes of time: steps are numbered across lanes (``Box.step``), one lane after the
        other, and ``labels`` names each step in its own lane.

        A model whose steps come from different parts (an encoder and a decoder: the first
        part of the ``layer`` tag) or directions (a bidirectional layer's ``_reverse``
        half) has one lane per part and direction, each with its own ``t``; otherwise
        there is one lane and a step is its ``t``."""
        def lane(layer: str | None) -> tuple[str, bool]:
            name = layer or ""
            return name.split(".")[0], name.endswith("_reverse")

        # A part runs after the parts it reads: it reaches deeper into the graph (a decoder
        # reads its encoder's outputs). Within a part the forward lane comes first.
        deepest: dict[str, int] = defaultdict(int)
        length: dict[tuple[str, bool], int] = defaultdict(int)
        for key, (t, layer) in self.where.items():
            if t is not None:
                k = lane(layer)
                deepest[k[0]] = max(deepest[k[0]], self.depth[key])
                length[k] = max(length[k], t + 1)
        order = sorted(length, key=lambda k: (deepest[k[0]], k[1]))
        offset, start = {}, 0
        for k in order:
            offset[k], start = start, start + length[k]
        named = len(order) > 1
        self.labels: dict[int, str] = {}
        for key, (t, layer) in self.where.items():
            if t is not None:
                k = lane(layer)
                step = offset[k] + t
                self.where[key] = (step, layer)
                self.labels[step] = (f"{k[0]}{' (reverse)' if k[1] else ''} · " if named else "") + f"t={t}"
        self.steps = sorted(self.labels)
        self.lane_rank = {layer: order.index(lane(layer))
                          for t, layer in self.where.values() if t is not None}

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
        ready = [k for k, n in waiting.items() if n == 0]
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
    def node_box(self, n: Node, shared: bool) -> Box:
        norm = n.grad.norm if n.grad is not None else None
        lines = [n.op] if n.name and n.op else []
        lines.append(shape_text(n.shape))
        if norm is not None:
            symbol = f"‖∂L/∂{n.name}‖" if n.name in self.states else "‖∂‖"
            lines.append(f"{symbol} {short_norm(norm)}")
        if shared:
            lines.append("shared by every step")
        visit = n.visit
        return Box(n.key, n.kind, n.name or n.op or "input", lines, *self.where[n.key], n.tags.get("gate"),
                   [n.key], norm if n.kind != "const" else None, n.name in self.states,
                   n.key == self.g.output, visit, tooltip(n))

    def cell_box(self, key: str, group: list[Node]) -> Box:
        n = group[0]
        step, layer = self.where[n.key]
        lines = [self.labels[step]]
        hidden = [m for m in group if m.name == self.hidden and m.grad is not None]
        norm = hidden[0].grad.norm if hidden else None
        if norm is not None:
            lines.append(f"‖∂L/∂{self.hidden}‖ {short_norm(norm)}")
        pad = self.padding.get(step, {}).get(layer)
        if pad is not None and pad.count:
            lines.append(pad.short())
        else:
            pad = None
        ops = sorted({m.op for m in group if m.op})
        visits = [m.visit for m in group if m.visit is not None]
        return Box(key, "cell", layer or "step", lines, step, layer, None, [m.key for m in group],
                   norm, False, False, max(visits) if visits else None,
                   [f"{layer or 'step'} at {self.labels[step]}: {len(group)} nodes collapsed",
                    f"ops: {', '.join(ops)}", *([pad.describe()] if pad is not None else [])])

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
            "a masked loss gives them no gradient"])

    def stand_in(self, key: str, shared: Box, inside: Box, norm: float | None, visit: int | None) -> Box:
        """A step's small copy of something every step uses, with that step's gradient share."""
        return Box(key, "stand_in", shared.title, [f"∂ {short_norm(norm)}"] if norm is not None else [],
                   inside.step, inside.layer, None, [], norm, visit=visit,
                   tooltip=[f"{shared.title}: this step's share of its gradient"])

    def attention_links(self, placed: dict[str, str]) -> list[Link]:
        """Edges from each source step to each decoder step that attends to it, weighted by
        the mean attention weight over the batch.

        The weights are a tensor named ``ATTENTION`` of shape (batch, S) in a step, whose
        values were kept (``record(keep_values=True)``); the source steps are those of the
        first lane with S steps before the step's own lane, each drawn from its top layer's
        hidden state (or its cell)."""
        lanes: dict[str, list[int]] = defaultdict(list)
        for step in self.steps:
            lanes[self.labels[step].rpartition("t=")[0]].append(step)
        top: dict[int, str] = {}  # step -> the drawn box of its last layer's hidden state
        for key in self.order:
            n = self.g.nodes[key]
            step = self.where[key][0]
            if step is not None and n.name == self.hidden:
                top[step] = placed[key]
        links = []
        for key, n in self.g.nodes.items():
            step = self.where[key][0]
            if n.name != ATTENTION or n.array is None or n.array.ndim != 2 or step is None:
                continue
            own = self.labels[step].rpartition("t=")[0]
            sources = next((steps for lane, steps in lanes.items() if lane != own
                            and len(steps) == n.array.shape[1] and steps[0] < step), None)
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

    # -- where things go ------------------------------------------------------------
    def stacking(self, clusters: dict[int, dict[str | None, list[str]]],
                 links: list[Link]) -> list[tuple[str, str]]:
        """Within a step, each layer's last boxes sit under the next layer's first ones.

        Only layers that no data joins within the step are stacked this way (a stacked
        RNN's layers meet through the outputs of all steps); parts of one step that feed
        each other (a decoder's attention and cell) are ordered by their own edges."""
        inner = [(l.src, l.dst) for l in links if not l.state]
        has_in = {b for _, b in inner}
        has_out = {a for a, _ in inner}
        part: dict[str, tuple[int, str | None]] = {}
        for t, layers in clusters.items():
            for layer, keys in layers.items():
                part.update((k, (t, layer)) for k in keys)
        joined = defaultdict(set)  # (t, layer) -> the layers of step t it exchanges data with
        for a, b in inner:
            if a in part and b in part and part[a] != part[b] and part[a][0] == part[b][0]:
                joined[part[a]].add(part[b][1])
                joined[part[b]].add(part[a][1])
        pairs = []
        for t, layers in clusters.items():
            if any(joined[(t, layer)] for layer in layers):
                continue
            stack = list(layers.values())
            for below, above in zip(stack, stack[1:]):
                ends = [k for k in below if k not in has_out] or below[-1:]
                starts = [k for k in above if k not in has_in] or above[:1]
                pairs += [(a, b) for a in ends for b in starts]
        return pairs

    def bands(self, boxes: dict[str, Box], links: list[Link], layers: list[str | None]) -> dict[str, int]:
        """Timeless boxes not joined to any step (weights, what every step shares) go in bands
        above the rows: one per layer (band -1 for the first layer, just above the rows, -2
        for the next), untagged ones with the nearest tagged box, the rest in the top band."""
        near: dict[str, list[str]] = defaultdict(list)
        for link in links:
            near[link.src].append(link.dst)
            near[link.dst].append(link.src)
        joined = {k for k, b in boxes.items() if b.step is not None}
        todo = list(joined)
        while todo:
            todo = [m for k in todo for m in near[k] if m not in joined and not joined.add(m)]
        index = {layer: i for i, layer in enumerate(layers)}
        band = {k: -1 - index[b.layer] for k, b in boxes.items() if k not in joined and b.layer in index}
        todo = list(band)
        while todo:
            nxt = []
            for k in todo:
                for m in near[k]:
                    if m not in joined and m not in band:
                        band[m] = band[k]
                        nxt.append(m)
            todo = nxt
        top = -1 - len(layers)
        return {k: band.get(k, top) for k in boxes if k not in joined}

    def rows_outside(self, boxes: dict[str, Box], links: list[Link],
                     row_index: dict[int, int]) -> dict[str, int]:
        """Timeless boxes joined to some step go in that step's row (the loss beside the last
        step); the rest (weights, things every step shares) form a band above the rows."""
        near: dict[str, list[str]] = defaultdict(list)
        for link in links:
            near[link.src].append(link.dst)
            near[link.dst].append(link.src)
        row_of: dict[str, int] = {}
        todo = [k for k, b in boxes.items() if b.step is not None]
        for k in todo:
            row_of[k] = row_index[boxes[k].step]
        while todo:  # breadth first: each timeless box takes the row of the nearest step
            nxt = []
            for k in todo:
                for m in near[k]:
                    if m not in row_of:
                        row_of[m] = row_of[k]
                        nxt.append(m)
            todo = nxt
        return {k: row_of[k] for k, b in boxes.items() if b.step is None and k in row_of}

    def rows(self, clusters: dict[int, dict[str | None, list[str]]], links: list[Link],
             aspect: float, bands: list[int]) -> tuple[list[list[int]], float, float]:
        """Wrap time into rows so the picture is about ``aspect`` times as wide as high; the
        rows, with the picture's estimated width and height in inches.

        A new row starts where the detail level changes, so a row of small cells is not
        stretched to the height of an op-level step."""
        if not self.steps:
            return [], 1.0, 1.0
        inner: dict[str, list[str]] = defaultdict(list)
        for l in links:
            if not l.state:
                inner[l.src].append(l.dst)
        sizes = {t: self.step_size(t, clusters[t], inner) for t in self.steps}

        blocks: list[list[int]] = []  # runs of steps at one detail level, in one lane
        def lane(t: int) -> str:
            return self.labels[t].rpartition("t=")[0]

        for t in self.steps:
            if blocks and (blocks[-1][-1] in self.detailed) == (t in self.detailed) \
                    and lane(blocks[-1][-1]) == lane(t):
                blocks[-1].append(t)
            else:
                blocks.append([t])

        def pack(width: float) -> tuple[list[list[int]], float, float]:
            rows: list[list[int]] = []
            for block in blocks:  # as few rows as fit in ``width``, of equal length
                count = max(1, min(len(block), math.ceil(sum(sizes[t][0] for t in block) / width)))
                size = math.ceil(len(block) / count)
                rows += [block[i:i + size] for i in range(0, len(block), size)]
            # The weights every step shares stand side by side in a band above the rows.
            wide = max([n * (_BOX_W + 0.25) for n in bands] + [sum(sizes[t][0] for t in row) for row in rows])
            high = len(bands) * 3 * (_BOX_H + _GAP) + sum(
                max(sizes[t][1] for t in row) + _GAP for row in rows)
            return rows, wide, high

        # Of the row widths from one step to all of them, the one whose picture comes closest
        # to ``aspect`` (on a log scale), never past 2.5:1 if any stays within it.
        lo, hi = max(w for w, _ in sizes.values()), sum(w for w, _ in sizes.values())
        # Rows narrower than the band of shared boxes would only make the picture taller.
        lo = max(lo, min(hi, max((n * (_BOX_W + 0.25) for n in bands), default=0.0)))
        tries = [pack(lo * (hi / lo) ** (i / 63)) for i in range(64)]
        fitting = [p for p in tries if p[1] / p[2] <= 2.5] or tries
        return min(fitting, key=lambda p: abs(math.log(p[1] / p[2] / aspect)))

    def step_size(self, t: int, layers: dict[str | None, list[str]],
                  inner: dict[str, list[str]]) -> tuple[float, float]:
        """A step's column in inches: its widest rank of boxes by its number of ranks."""
        if t not in self.detailed:
            return _CELL_W + _GAP, len(layers) * (_CELL_H + _GAP)
        wide, high = 1, 0
        for keys in layers.values():
            inside = set(keys)
            rank = {k: 0 for k in keys}
            for _ in range(len(keys)):  # longest path from the layer's first boxes
                changed = False
                for k in keys:
                    for m in inner.get(k, ()):
                        if m in inside and rank[m] < rank[k] + 1:
                            rank[m], changed = rank[k] + 1, True
                if not changed:
                    break
            per_rank: dict[int, int] = defaultdict(int)
            for r in rank.values():
                per_rank[r] += 1
            wide = max(wide, max(per_rank.values()))
            high += (max(rank.values()) + 1) * (_BOX_H + _GAP)
        return wide * (_BOX_W + 0.25) + _GAP, high

    def name_steps(self, steps: Iterable[int]) -> str:
        """'t=0…2, 5', or per lane ('encoder · t=0…2; decoder · t=1') when there are several."""
        lanes: dict[str, list[int]] = {}
        for step in sorted(steps):
            lane, _, t = self.labels[step].rpartition("t=")
            lanes.setdefault(lane, []).append(int(t))
        return "; ".join(f"{lane}t={ranges(ts)}" for lane, ts in lanes.items()) or "none"

    def notes(self, vanished: set[int]) -> list[str]:
        cells = [t for t in self.steps if t not in self.detailed]
        notes = []
        if cells:
            notes.append(f"{self.name_steps(cells)}: one node per layer per step "
                         f"(op detail for {self.name_steps(self.detailed)})")
        if vanished:
            notes.append(f"gradient below {self.vanish_below:g} (vanished) at {self.name_steps(vanished)}")
        if self.padding:
            notes.append(f"padding (greyed, dashed) at {self.name_steps(self.padding)}")
        if self.bptt_order:
            notes.append("backward pass: arrows point back in time, numbered in visit order")
        return notes


def tooltip(n: Node) -> list[str]:
    """Hover text: the op, its tags, shape and the value and gradient statistics.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True)
    >>> g = mt.viz.trace((w * 2).sum())
    >>> tooltip(g.nodes[g.output])
    ['Sum', 'shape () float32']
    """
    lines = [f"{n.op or n.kind}{' ' + n.name if n.name else ''}", f"shape {shape_text(n.shape)} {n.dtype}"]
    if n.tags:
        lines.append(", ".join(f"{k}={v}" for k, v in n.tags.items()))
    if n.value is not None:
        lines.append("value: " + n.value.describe())
    if n.grad is not None:
        lines.append("grad: " + n.grad.describe())
    return lines
