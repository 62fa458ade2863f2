"""Drawing a traced graph as an unrolled network: one cluster per timestep, time left to right.

The picture follows the textbook figure of backprop through time:

- every timestep is a cluster ``t=0 ... t=T-1``; layers stack inside it;
- edges that cross from one step into the next (the hidden and cell states) form
  a bold, straight spine;
- after a recorded backward pass, nodes and edges are coloured and sized by
  gradient norm on a log scale, each step's ``h`` shows ``||dL/dh_t||``, and steps
  whose gradient has vanished are greyed;
- something used at every step (a weight, the input projection computed for all
  steps at once) is drawn once, and each step gets a small stand-in carrying that
  step's share of the gradient, instead of one edge into every step (which makes
  ``dot`` crawl or fail);
- long sequences keep op-level detail for a window of steps and draw one node
  per layer per step elsewhere.
"""

from __future__ import annotations

import html
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import graphviz

from ..tensor import Tensor
from .record import Recording, Summary
from .render import render_file, run_dot
from .trace import Graph, Node, trace

# Light blue (small gradients) to dark red (large), on a log scale.
PALETTE = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c",
           "#fdae6b", "#f16913", "#d94801", "#8c2d04")
VANISHED = "#bdbdbd"
PARAM_FILL = "#fff2b3"
DETAILS = ("auto", "op", "cell")


class UnrolledGraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that renders with the program ``find_dot`` picks, and shows
    itself inline in Jupyter. ``.graph`` holds the traced data it was drawn from."""

    graph: Graph
    program: str | os.PathLike | None = None

    def render_to(self, path: str | os.PathLike, timeout: float = 120.0) -> Path:
        """Write ``path`` (.svg, .png, .pdf or .dot); the .dot source is always written too."""
        return render_file(self.source, path, program=self.program, timeout=timeout)

    def svg(self, timeout: float = 120.0) -> str:
        return run_dot(self.source, "svg", program=self.program, timeout=timeout).decode("utf-8")

    def _repr_mimebundle_(self, include=None, exclude=None, **_):  # Jupyter's display hook
        return {"image/svg+xml": self.svg()}


def draw_graph(output: Tensor | Graph, recording: Recording | None = None, *,
               detail: str = "auto", window: tuple[int, int] | None = None, max_op_steps: int = 6,
               vanish_below: float = 1e-6, bptt_order: bool = False, title: str | None = None,
               program: str | os.PathLike | None = None) -> UnrolledGraph:
    """Draw everything that produced ``output`` (usually the loss) as an unrolled network.

    ``recording`` (from ``mt.viz.record()``) adds gradient flow: colours, widths,
    ``||dL/dh_t||`` per step and greyed vanished steps. ``detail`` is ``"op"``
    (every op), ``"cell"`` (one node per layer per step) or ``"auto"``: op level
    for the steps in ``window`` (``(start, stop)``, default: the last
    ``max_op_steps`` steps, nearest the loss) and cell level elsewhere.
    ``bptt_order=True`` draws the backward pass instead: arrows point back in
    time, numbered in the order the engine visits them.

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True); w.name = "w"
    >>> h = mt.zeros(3)
    >>> for t in range(2):
    ...     with mt.scope(layer="rnn", t=t):
    ...         h = (h + w).tanh(); h.name = "h"
    >>> dot = mt.viz.draw_graph(h.sum())
    >>> "cluster_t1" in dot.source
    True
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
    if bptt_order and recording is None and not isinstance(output, Graph):
        raise ValueError("bptt_order=True needs a recording of the backward pass "
                         "(with mt.viz.record() as rec: ...; loss.backward())")
    graph = output if isinstance(output, Graph) else trace(output, recording)
    steps = graph.steps()
    detailed = _detailed_steps(steps, detail, window, max_op_steps)
    drawer = _Drawer(graph, detailed, vanish_below, bptt_order)
    dot = drawer.draw(title)
    dot.graph, dot.program = graph, program
    return dot


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


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _norm(x: float) -> str:
    return f"{x:.2e}"


class _Drawer:
    """One drawing: decides what each traced node becomes and writes the DOT."""

    def __init__(self, graph: Graph, detailed: set[int], vanish_below: float, bptt_order: bool):
        self.g, self.detailed, self.vanish_below, self.bptt_order = graph, detailed, vanish_below, bptt_order
        self.steps = graph.steps()
        self.cells: dict[tuple[str | None, int], str] = {}
        self.h_norms = self._state_norms("h")
        self.vanished = {t for t, n in self.h_norms.items() if n < vanish_below}
        norms = [e.grad_norm for e in graph.edges if e.grad_norm]
        norms += [n.grad.norm for n in graph.nodes.values() if n.grad is not None and n.grad.norm > 0]
        self.scale = (math.log10(min(norms)), math.log10(max(norms))) if norms else None
        if self.scale and self.scale[1] - self.scale[0] > 12:  # keep 12 decades of contrast
            self.scale = (self.scale[1] - 12, self.scale[1])

    def _state_norms(self, name: str) -> dict[int, float]:
        """The largest ``||dL/d name||`` over the layers of each step."""
        norms: dict[int, float] = {}
        for n in self.g.named(name):
            if n.step is not None and n.grad is not None:
                norms[n.step] = max(norms.get(n.step, 0.0), n.grad.norm)
        return norms

    # -- colours --------------------------------------------------------------------
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

    # -- what each traced node becomes ----------------------------------------------
    def place(self, node: Node) -> str:
        """The drawn key for a traced node: itself, or its layer's cell at its step."""
        if node.step is None or node.step in self.detailed:
            return node.key
        return self.cells.setdefault((node.layer, node.step), f"cell{len(self.cells)}")

    def draw(self, title: str | None) -> UnrolledGraph:
        dot = UnrolledGraph(name="unrolled", graph_attr={
            "rankdir": "LR", "newrank": "true", "compound": "true", "fontname": "Helvetica",
            "nodesep": "0.25", "ranksep": "0.35", "labelloc": "t",
            "label": f"<{_esc(title)}>" if title else ""})
        dot.attr("node", fontname="Helvetica", fontsize="10", style="filled", fillcolor="white")
        dot.attr("edge", fontname="Helvetica", fontsize="8", arrowsize="0.6")

        placed = {key: self.place(n) for key, n in self.g.nodes.items()}
        members: dict[str, list[Node]] = defaultdict(list)
        for key, where in placed.items():
            members[where].append(self.g.nodes[key])
        step_of = {where: group[0].step for where, group in members.items()}

        # Connections between drawn nodes (edges inside one cell vanish into it).
        links: dict[tuple[str, str], float | None] = {}
        for e in self.g.edges:
            a, b = placed[e.src], placed[e.dst]
            if a == b:
                continue
            old = links.get((a, b))
            links[(a, b)] = e.grad_norm if old is None else max(old, e.grad_norm or 0.0)

        # Timeless nodes that touch several steps are drawn once, with a stand-in per step.
        touched: dict[str, set[int]] = defaultdict(set)
        for a, b in links:
            if step_of[a] is None and step_of[b] is not None:
                touched[a].add(step_of[b])
            if step_of[b] is None and step_of[a] is not None:
                touched[b].add(step_of[a])
        shared = {k for k, s in touched.items() if len(s) > 1}

        self.spine = self._spine_nodes(links, step_of)

        # step -> layer -> lines of DOT; nodes outside time go to ``free``.
        clusters: dict[int, dict[str | None, list[str]]] = defaultdict(lambda: defaultdict(list))
        free: list[str] = []
        for where, group in members.items():
            line = self.node_line(where, group, shared)
            if step_of[where] is None:
                free.append(line)
            else:
                clusters[step_of[where]][group[0].layer].append(line)

        # Inputs and stand-ins share the rank of the op they feed or are fed by (drawn
        # beside it). Ranked on their own they would stretch a step into its neighbour's
        # ranks, and dot would stack the step clusters into a staircase instead of a row.
        flat: list[tuple[str, str]] = []
        proxies = 0
        for (a, b), norm in links.items():
            if a in shared or b in shared:
                inside = b if a in shared else a
                t = step_of[inside]
                if t not in self.detailed:  # cell-level steps: the cell's tooltip says it
                    continue
                proxies += 1
                proxy = f"proxy{proxies}"
                clusters[t][self.g.nodes[inside].layer].append(
                    self.stand_in(proxy, self.g.nodes[a if a in shared else b], norm))
                a, b = (proxy, b) if a in shared else (a, proxy)
                flat.append((a, b))
            elif a in self.g.nodes and self.g.nodes[a].kind == "const" and step_of[b] in self.detailed:
                flat.append((a, b))
            free.append(self.edge_line(a, b, norm, step_of))
        free += [f"\t{{rank=same; {a}; {b}}}\n" for a, b in flat]
        free += self.time_order(links, step_of)

        for t in self.steps:
            if t in self.detailed:
                self.write_cluster(dot, t, clusters[t])
            else:
                dot.body.extend(line for lines in clusters[t].values() for line in lines)
        dot.body.extend(free)
        self.write_cell_ranks(dot, members)
        self.write_notes(dot)
        return dot

    def _spine_nodes(self, links: dict[tuple[str, str], float | None],
                     step_of: dict[str, int | None]) -> dict[str, str]:
        """Drawn nodes on the recurrent path of each layer (from where the previous step's
        state enters to the step's last node), mapped to a Graphviz ``group`` that keeps
        that path on one straight line across all steps."""
        forward: dict[str, list[str]] = defaultdict(list)
        backward: dict[str, list[str]] = defaultdict(list)
        entries: list[str] = []
        for a, b in links:
            ta, tb = step_of.get(a), step_of.get(b)
            if ta is not None and ta == tb:
                forward[a].append(b)
                backward[b].append(a)
            elif ta is not None and tb is not None and ta != tb:
                entries.append(b)
        exits = {a for a, _ in links if step_of.get(a) is not None} - set(forward)

        def reach(starts: Iterable[str], nxt: dict[str, list[str]]) -> set[str]:
            seen, todo = set(starts), list(starts)
            while todo:
                for m in nxt[todo.pop()]:
                    if m not in seen:
                        seen.add(m)
                        todo.append(m)
            return seen

        on_path = reach(entries, forward) & reach(exits | set(entries), backward)
        layer_of = {key: layer for (layer, _), key in self.cells.items()}
        layer_of.update((k, n.layer) for k, n in self.g.nodes.items())
        numbers = {layer: i for i, layer in enumerate(dict.fromkeys(layer_of.values()))}
        return {k: f"spine{numbers[layer_of[k]]}" for k in on_path}

    def time_order(self, links: dict[tuple[str, str], float | None],
                   step_of: dict[str, int | None]) -> list[str]:
        """Invisible edges from where step t ends to where step t+1 begins.

        In a stacked network the top layer at step t and the bottom layer at step t+1
        could run side by side; tying them keeps each step in its own column.
        """
        inner_in = {b for a, b in links if step_of.get(a) is not None and step_of[a] == step_of.get(b)}
        inner_out = {a for a, b in links if step_of.get(a) is not None and step_of[a] == step_of.get(b)}
        starts: dict[int, list[str]] = defaultdict(list)
        ends: dict[int, list[str]] = defaultdict(list)
        for key, t in step_of.items():
            node = self.g.nodes.get(key)
            if t is None or (node is not None and node.kind == "const"):
                continue
            if key not in inner_in:
                starts[t].append(key)
            if key not in inner_out:
                ends[t].append(key)
        return [f"\t{a} -> {b} [style=invis]\n"
                for t0, t1 in zip(self.steps, self.steps[1:]) for a in ends[t0] for b in starts[t1]]

    def short_name(self, node: Node) -> str:
        return node.name or node.op or node.kind

    def stand_in(self, key: str, shared: Node, norm: float | None) -> str:
        """A step's small copy of something every step uses, with that step's gradient share."""
        what = _esc(self.short_name(shared))
        text = f"{what}<BR/><FONT POINT-SIZE='8'>∂ {_norm(norm)}</FONT>" if norm is not None else what
        return dot_node(key, f"<{text}>", shape="plaintext", style="", fontcolor="#555555",
                        tooltip=f"{graphviz.escape(self.short_name(shared))}: this step's share "
                                "of its gradient")

    def node_line(self, key: str, group: list[Node], shared: set[str]) -> str:
        if key.startswith("cell"):
            return self.cell_line(key, group)
        (n,) = group
        norm = n.grad.norm if n.grad is not None else None
        lines = [f"<B>{_esc(n.name or n.op or 'input')}</B>"]
        if n.name and n.op:
            lines.append(f"<FONT POINT-SIZE='8'>{_esc(n.op)}</FONT>")
        lines.append(f"<FONT POINT-SIZE='8'>{_shape(n.shape)}</FONT>")
        if norm is not None:
            symbol = "‖∂L/∂h‖" if n.name == "h" else "‖∂‖"
            lines.append(f"<FONT POINT-SIZE='8'>{symbol} {_norm(norm)}</FONT>")
        if key in shared:
            lines.append("<FONT POINT-SIZE='8'>shared by every step</FONT>")
        attrs = {"tooltip": tooltip(n)}
        if n.kind == "param":
            attrs.update(shape="box", fillcolor=PARAM_FILL, penwidth="1.5")
        elif n.kind == "const":
            attrs.update(shape="box", style="dashed", fontcolor="#555555")
        else:
            attrs.update(shape="box", style="rounded,filled")
            if n.name in ("h", "c"):
                attrs.update(penwidth="2")
        if norm is not None and n.kind != "const":
            attrs["fillcolor"] = self.colour(norm) or attrs.get("fillcolor", "white")
            # The outline grows with the gradient too, so the flow reads without colour.
            attrs["penwidth"] = str(max(float(attrs.get("penwidth", 1)), self.width(norm)))
            if attrs["fillcolor"] in PALETTE[4:5] + PALETTE[6:]:
                attrs["fontcolor"] = "white"
        if key == self.g.output:
            attrs.update(peripheries="2")
        if key in self.spine:
            attrs["group"] = self.spine[key]
        return dot_node(key, "<" + "<BR/>".join(lines) + ">", **attrs)

    def cell_line(self, key: str, group: list[Node]) -> str:
        n = group[0]
        h = [m for m in group if m.name == "h" and m.grad is not None]
        label = [f"<B>{_esc(n.layer or 'step')}</B>", f"<FONT POINT-SIZE='8'>t={n.step}</FONT>"]
        attrs = {"shape": "box", "style": "rounded,filled"}
        if h:
            label.append(f"<FONT POINT-SIZE='8'>‖∂L/∂h‖ {_norm(h[0].grad.norm)}</FONT>")
            attrs["fillcolor"] = self.colour(h[0].grad.norm) or "white"
        ops = sorted({m.op for m in group if m.op})
        if key in self.spine:
            attrs["group"] = self.spine[key]
        attrs["tooltip"] = (f"{n.layer or 'step'} at t={n.step}: {len(group)} nodes collapsed\\n"
                            f"ops: {graphviz.escape(', '.join(ops))}")
        return dot_node(key, "<" + "<BR/>".join(label) + ">", **attrs)

    def edge_line(self, a: str, b: str, norm: float | None, step_of: dict[str, int | None]) -> str:
        ta, tb = step_of.get(a), step_of.get(b)
        spine = ta is not None and tb is not None and ta != tb
        attrs: dict[str, str] = {}
        colour = self.colour(norm)
        if colour:
            attrs.update(color=colour, penwidth=str(self.width(norm)))
        if norm is not None:
            attrs["tooltip"] = f"gradient norm {_norm(norm)}"
        if spine:
            attrs.update(weight="50", penwidth=str(max(2.5, self.width(norm))))
            attrs.setdefault("color", "#333333")
        if self.bptt_order:
            visit = self.g.nodes[b].visit if b in self.g.nodes else None
            attrs["dir"] = "back"  # gradient flows from consumer to producer: back in time
            if visit is not None:
                attrs["xlabel"] = str(visit + 1)
        return "\t" + dot_edge(a, b, **attrs)

    def write_cluster(self, dot: UnrolledGraph, t: int, layers: dict[str | None, list[str]]) -> None:
        vanished = t in self.vanished
        label = f"t={t}" + (" · gradient vanished" if vanished else "")
        with dot.subgraph(name=f"cluster_t{t}") as c:
            c.attr(label=label, style="rounded,filled", color="#999999",
                   fillcolor="#eeeeee" if vanished else "#f7fbff",
                   fontcolor="#888888" if vanished else "black")
            if len(layers) == 1:
                c.body.extend(next(iter(layers.values())))
                return
            for i, (layer, lines) in enumerate(layers.items()):
                with c.subgraph(name=f"cluster_t{t}_l{i}") as sub:
                    sub.attr(label=f"<{_esc(layer or '')}>", style="rounded,dashed", color="#bbbbbb")
                    sub.body.extend(lines)

    def write_cell_ranks(self, dot: UnrolledGraph, members: dict[str, list[Node]]) -> None:
        """Stack each collapsed step's layers in one column (same rank, left to right in time)."""
        by_step: dict[int, list[str]] = defaultdict(list)
        for key in members:
            if key.startswith("cell"):
                by_step[members[key][0].step].append(key)
        for keys in by_step.values():
            if len(keys) > 1:
                dot.body.append("\t{rank=same; " + "; ".join(keys) + "}\n")

    def write_notes(self, dot: UnrolledGraph) -> None:
        cells = [t for t in self.steps if t not in self.detailed]
        notes = []
        if cells:
            notes.append(f"t={_ranges(cells)}: one node per layer per step "
                         f"(op detail for t={_ranges(sorted(self.detailed)) or 'none'})")
        if self.vanished:
            notes.append(f"gradient below {self.vanish_below:g} (vanished) "
                         f"at t={_ranges(sorted(self.vanished))}")
        if self.bptt_order:
            notes.append("backward pass: arrows point back in time, numbered in visit order")
        if self.scale:
            lo, hi = self.scale
            swatches = "".join(f"<TD BGCOLOR='{c}' WIDTH='14'> </TD>" for c in PALETTE)
            notes_html = "".join(f"<TR><TD COLSPAN='{len(PALETTE) + 2}' ALIGN='LEFT'>{_esc(n)}</TD></TR>"
                                 for n in notes)
            legend = (f"<<TABLE BORDER='0' CELLBORDER='0' CELLSPACING='1'>{notes_html}"
                      f"<TR><TD>‖∂L‖ 1e{lo:.0f}</TD>{swatches}<TD>1e{hi:.0f}</TD></TR>"
                      f"<TR><TD COLSPAN='{len(PALETTE) + 2}' ALIGN='LEFT'>"
                      f"<FONT COLOR='{VANISHED}'>■</FONT> vanished</TD></TR></TABLE>>")
            dot.body.append("\t" + dot_node("legend", legend, shape="plaintext", style=""))
        elif notes:
            text = "<" + "<BR/>".join(_esc(n) for n in notes) + ">"
            dot.body.append("\t" + dot_node("legend", text, shape="plaintext", style=""))


def tooltip(n: Node) -> str:
    """Hover text: the op, its tags, shape and the value and gradient statistics."""
    lines = [f"{n.op or n.kind}{' ' + n.name if n.name else ''}",
             f"shape {_shape(n.shape)} {n.dtype}"]
    if n.tags:
        lines.append(", ".join(f"{k}={v}" for k, v in n.tags.items()))
    if n.value is not None:
        lines.append("value: " + n.value.describe())
    if n.grad is not None:
        lines.append("grad: " + n.grad.describe())
    return "\\n".join(graphviz.escape(line) for line in lines)


def _ranges(steps: Iterable[int]) -> str:
    """[0, 1, 2, 5] -> '0…2, 5'."""
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


def _attrs(attrs: dict[str, object]) -> str:
    """DOT attributes; ``label`` is always an HTML-like label (built here, text escaped),
    every other value is a quoted string."""
    parts = []
    for k, v in attrs.items():
        v = str(v)
        if k == "label":
            parts.append(f"label={v}")
        else:
            parts.append('{}="{}"'.format(k, v.replace('"', '\\"')))
    return " [" + " ".join(parts) + "]" if parts else ""


def dot_node(key: str, label: str, **attrs: object) -> str:
    return f"\t{key}{_attrs({'label': label, **attrs})}\n"


def dot_edge(a: str, b: str, **attrs: object) -> str:
    return f"{a} -> {b}{_attrs(attrs)}\n"


__all__ = ["UnrolledGraph", "draw_graph", "Summary"]
