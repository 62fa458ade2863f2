"""Drawing a traced graph as an unrolled network: Graphviz DOT written from a ``Plan``.

The picture follows the textbook figure of backprop through time, turned to fit a screen:

- every timestep is a cluster ``t=0 ... t=T-1``, inputs at the bottom and stacked
  layers above them; time runs left to right and wraps into rows (like lines of text)
  so that even a thousand steps keep the picture within 4:1;
- the recurrent states (h, c) that cross from one step into the next are bold; the one
  that wraps from the end of a row to the start of the next is drawn as a dashed edge;
- after a recorded backward pass, nodes and edges are coloured and sized by gradient
  norm on a log scale, each step's states show ``||dL/dh_t||``, and steps whose
  gradient has vanished are greyed;
- something every step uses (a weight, the input projection for all steps) is drawn
  once in a band above the rows, and each step gets a small stand-in with its share;
- long sequences keep op-level detail for a window of steps and draw one node per layer
  per step elsewhere;
- a step where some of the batch's sequences are padding (its ``padding`` tags) holds a
  grey dashed "padding" box saying how many and which, and its title says so (each layer
  for itself if its layers run different batches); a step that is padding for every
  sequence is greyed whole.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import graphviz

from ..tensor import Tensor
from .plan import ATTENTION_COLOURS, DARK, PADDING_FILL, PADDING_INK, PALETTE, VANISHED, Box, Link, Plan, plan
from .record import Recording
from .render import FORMATS, render_file, run_dot, write_atomic
from .trace import Graph, trace

PARAM_FILL = "#fff2b3"


class UnrolledGraph(graphviz.Source):
    """Graphviz source of an unrolled network that renders with the program ``find_dot``
    picks (``program=``, ``MICROTENSOR_DOT``, ``dot``, graphviz-pure) and a timeout, for
    every way of rendering: ``render``, ``pipe``, ``view``, ``render_to``, ``svg`` and
    Jupyter's inline display. ``.graph`` is the traced data, ``.plan`` what was drawn.
    """

    def __init__(self, source: str, graph: Graph, drawn: Plan,
                 program: str | os.PathLike | None = None, timeout: float = 120.0) -> None:
        super().__init__(source, filename="unrolled.gv", format="svg")
        self.graph, self.plan, self.program, self.timeout = graph, drawn, program, timeout

    def render_to(self, path: str | os.PathLike, timeout: float | None = None) -> Path:
        """Write ``path`` (.svg, .png, .pdf or .dot); the .dot source is always written too."""
        return render_file(self.source, path, program=self.program, timeout=timeout or self.timeout)

    def svg(self, timeout: float | None = None) -> str:
        return self.pipe("svg", encoding="utf-8", timeout=timeout)

    def pipe(self, format: str | None = None, *, encoding: str | None = None,  # noqa: A002
             timeout: float | None = None, **options: object) -> bytes | str:
        """The rendered picture as bytes (or text, given an ``encoding``), as ``graphviz.Source.pipe``.

        >>> import microtensor as mt
        >>> w = mt.ones(2, requires_grad=True)
        >>> mt.viz.draw_graph((w * 2).sum()).pipe("svg", encoding="utf-8").rstrip().endswith("</svg>")
        True
        """
        _only_dot(options)
        data = run_dot(self.source, format or self.format, program=self.program,
                       timeout=timeout or self.timeout)
        return data.decode(encoding) if encoding else data

    def render(self, filename: str | os.PathLike | None = None,  # type: ignore[override]
               directory: str | os.PathLike | None = None, view: bool = False, cleanup: bool = False,
               format: str | None = None, *, outfile: str | os.PathLike | None = None,  # noqa: A002
               timeout: float | None = None, **options: object) -> str:
        """Save the source and render it, with ``graphviz.Source.render``'s arguments: the
        picture goes to ``outfile``, or next to the source as ``FILENAME.FORMAT``.

        >>> import microtensor as mt, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> w = mt.ones(2, requires_grad=True)
        >>> pathlib.Path(mt.viz.draw_graph((w * 2).sum()).render(folder / "g", format="png")).name
        'g.png'
        """
        _only_dot(options)
        source_path = Path(directory or self.directory or ".") / (filename or self.filename)
        if outfile is not None:
            out = Path(outfile)
            if filename is None:
                source_path = out.with_suffix(".gv")
            format = format or out.suffix.lstrip(".").lower()  # noqa: A001
        else:
            format = format or self.format  # noqa: A001
            out = source_path.with_name(f"{source_path.name}.{format}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        source_path.parent.mkdir(parents=True, exist_ok=True)
        source_path.write_text(self.source, encoding="utf-8")
        data = run_dot(self.source, format, program=self.program, timeout=timeout or self.timeout)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, data)
        if cleanup:
            source_path.unlink()
        if view:
            open_file(out)
        return str(out)

    def view(self, filename: str | os.PathLike | None = None,  # type: ignore[override]
             directory: str | os.PathLike | None = None, cleanup: bool = False, **options: object) -> str:
        """Render and open the picture in the system's viewer (``render(..., view=True)``)."""
        return self.render(filename, directory, view=True, cleanup=cleanup, **options)

    def _repr_mimebundle_(self, include=None, exclude=None, **_):  # Jupyter's display hook
        return {"image/svg+xml": self.svg()}


def _only_dot(options: dict[str, object]) -> None:
    """Refuse ``graphviz`` options that choose another layout program or output driver."""
    ignored = {"quiet", "quiet_view", "neato_no_op", "raise_if_result_exists", "overwrite_source"}
    engine = options.pop("engine", None)
    if engine not in (None, "dot"):
        raise ValueError(f"only the dot layout is supported, got engine={engine!r}")
    for name in ("renderer", "formatter"):
        if options.pop(name, None) is not None:
            raise ValueError(f"{name}= is not supported: the format alone chooses the output")
    unknown = set(options) - ignored
    if unknown:
        raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")


def open_file(path: Path) -> None:  # opens a window: the tests replace it
    """Open ``path`` with the platform's viewer (no shell involved)."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    graph = _traced(output, recording, bptt_order)
    drawn = plan(graph, detail=detail, window=window, max_op_steps=max_op_steps,
                 vanish_below=vanish_below, bptt_order=bptt_order, title=title)
    return UnrolledGraph(write_dot(drawn), graph, drawn, program)


def _traced(output: Tensor | Graph, recording: Recording | None, bptt_order: bool) -> Graph:
    if bptt_order and recording is None and not isinstance(output, Graph):
        raise ValueError("bptt_order=True needs a recording of the backward pass "
                         "(with mt.viz.record() as rec: ...; loss.backward())")
    return output if isinstance(output, Graph) else trace(output, recording)


# ------------------------------------------------------------------ text
_CONTROL = {c: (0x2400 + c if c < 0x20 else 0x2421 if c == 0x7F else 0xFFFD)
            for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x0A}


def clean(text: object) -> str:
    """``text`` with control characters shown as symbols: XML cannot hold them.

    >>> clean("bell\\x07, tab\\t, new line\\n")
    'bell␇, tab␉, new line\\n'
    """
    return str(text).translate(_CONTROL)


def esc(text: object) -> str:
    """Text for an HTML-like label (or an HTML page).

    >>> esc("<b> & \\x00")
    '&lt;b&gt; &amp; ␀'
    """
    return html.escape(clean(text), quote=True)


def quote(text: object) -> str:
    """A DOT quoted string; newlines become DOT's ``\\n``.

    >>> print(quote('say "hi"\\nback\\\\slash'))
    "say \\"hi\\"\\nback\\\\slash"
    """
    return '"' + clean(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, object]) -> str:
    """DOT attributes; ``label`` is an HTML-like label built here (text escaped), every
    other value a quoted string."""
    parts = [f"label=<{v}>" if k == "label" else f"{k}={quote(v)}" for k, v in attrs.items()]
    return " [" + " ".join(parts) + "]" if parts else ""


def _small(text: str) -> str:
    return f"<FONT POINT-SIZE='8'>{esc(text)}</FONT>"


# ------------------------------------------------------------------ the writer
def write_dot(drawn: Plan) -> str:
    """The DOT source of a plan (what ``draw_graph`` renders).

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True)
    >>> write_dot(mt.viz.plan(mt.viz.trace((w * 2).sum()))).startswith("digraph unrolled {")
    True
    """
    return _DotWriter(drawn).write()


class _DotWriter:
    def __init__(self, drawn: Plan):
        self.p = drawn
        self.out: list[str] = []

    def write(self) -> str:
        p = self.p
        title = f"<{esc(p.title)}>" if p.title else '""'
        self.out += ["digraph unrolled {",
                     f"\tgraph [rankdir=BT newrank=true fontname=Helvetica nodesep=0.25 ranksep=0.3 "
                     f"labelloc=t label={title}]",
                     '\tnode [fontname=Helvetica fontsize=10 style=filled fillcolor=white]',
                     '\tedge [fontname=Helvetica fontsize=8 arrowsize=0.6]']
        for t in p.steps:
            self.step(t)
        for key in p.row_of:
            self.node(p.boxes[key])
        for link in p.links:
            self.edge(link)
        self.legend()
        self.floors()
        self.out.append("}")
        return "\n".join(self.out) + "\n"

    def step(self, t: int) -> None:
        p = self.p
        layers = p.clusters[t]
        if t not in p.detailed:  # one cell per layer: no cluster needed
            for keys in layers.values():
                for key in keys:
                    self.node(p.boxes[key])
            return
        vanished, shared = t in p.vanished, p.step_padding(t)
        padded = [shared.short()] if shared else ["padding by layer"] if t in p.padding else []
        label = " · ".join([p.labels[t], *padded, *(["gradient vanished"] if vanished else [])])
        full = shared is not None and shared.full
        grey = vanished or full
        self.out += [f"\tsubgraph cluster_t{t} {{",
                     f"\t\tgraph [label={quote(label)} "
                     f"style={quote('rounded,filled,dashed' if full else 'rounded,filled')} "
                     f"color=\"#999999\" fillcolor={quote(PADDING_FILL if grey else '#f7fbff')} "
                     f"fontcolor={quote('#888888' if grey else 'black')} id={quote(f'step{t}')}]"]
        boxes = p.padding_boxes(t)
        for key in boxes:
            if p.boxes[key].layer is None:  # the step's own: its layers agree
                self.node(p.boxes[key])
        for i, (layer, keys) in enumerate(layers.items()):
            nested = len(layers) > 1
            if nested:
                own = p.layer_padding(t, layer) if shared is None else None
                title = esc(layer or "") + (f" · {esc(own.short())}" if own else "")
                self.out += [f"\tsubgraph cluster_t{t}_l{i} {{",
                             f"\t\tgraph [label=<{title}> style=\"rounded,dashed\" color=\"#bbbbbb\"]"]
            for key in keys:
                self.node(p.boxes[key])
            for key in boxes:
                if shared is None and p.boxes[key].layer == layer:  # this layer's own padding
                    self.node(p.boxes[key])
            if nested:
                self.out.append("\t}")
        self.out.append("\t}")

    def node(self, box: Box) -> None:
        p = self.p
        lines = [f"<B>{esc(box.title)}</B>", *(_small(line) for line in box.lines)]
        attrs: dict[str, object] = {"label": "<BR/>".join(lines), "id": box.key,
                                    "tooltip": "\n".join(box.tooltip)}
        fill = p.colour(box.norm)
        pad = p.layer_padding(box.step, box.layer)
        if box.kind == "padding":
            attrs.update(shape="box", style="dashed,filled", fillcolor=PADDING_FILL, color=PADDING_INK,
                         fontcolor=PADDING_INK, penwidth="1.5")
            fill = None
        elif box.kind == "stand_in":
            attrs.update(shape="plaintext", style="", fontcolor="#555555")
            fill = None
        elif box.kind == "param":
            attrs.update(shape="box", fillcolor=PARAM_FILL, penwidth="1.5")
        elif box.kind == "const":
            attrs.update(shape="box", style="dashed", fontcolor="#555555")
        else:
            attrs.update(shape="box", style="rounded,filled")
            if box.state:
                attrs.update(penwidth="2")
        if fill:
            attrs["fillcolor"] = fill
            # The outline grows with the gradient too, so the flow reads without colour.
            attrs["penwidth"] = str(max(float(attrs.get("penwidth", 1)), p.width(box.norm)))
            if fill in DARK:
                attrs["fontcolor"] = "white"
        if pad is not None and box.kind == "cell":  # a step drawn as one node per layer
            attrs["style"] = "rounded,filled,dashed"
        if pad is not None and pad.full and box.kind != "padding":  # nothing here is real: greyed
            attrs.update(fillcolor=PADDING_FILL, fontcolor=PADDING_INK, color=PADDING_INK)
        if box.output:
            attrs["peripheries"] = "2"
        self.out.append(f"\t{box.key}{_attrs(attrs)}")

    def edge(self, link: Link) -> None:
        p = self.p
        attrs: dict[str, object] = {"id": f"{link.src}__{link.dst}"}
        colour = p.colour(link.norm)
        if colour:
            attrs.update(color=colour, penwidth=str(p.width(link.norm)))
        if link.norm is not None:
            attrs["tooltip"] = f"gradient norm {link.norm:.2e}"
        src, dst, backward = link.src, link.dst, p.bptt_order
        if link.attention is not None:  # it must not move anything: drawn over the layout
            shades = len(ATTENTION_COLOURS)
            shade = ATTENTION_COLOURS[min(int(link.attention * shades), shades - 1)]
            attrs.update(constraint="false", color=shade, style="dashed", arrowhead="none",
                         penwidth=str(round(0.5 + 4 * link.attention, 2)),
                         tooltip=f"attention weight {link.attention:.2f} (mean over the batch)")
            attrs["id"] = f"{src}__{dst}__attention"
            self.out.append(f"\t{src} -> {dst}{_attrs(attrs)}")
            return
        if link.state:  # a state into the next step: bold, and it does not push that step up
            attrs.update(constraint="false", penwidth=str(max(2.5, p.width(link.norm))))
            attrs.setdefault("color", "#333333")
            if link.wrap:
                attrs.update(style="dashed", weight="0")  # it must not pull the rows sideways
            if link.wrap or p.boxes[dst].step in p.detailed:
                # It leaves the top of one step for an op low in the next: written upwards
                # (and drawn pointing the other way), dot routes it as a short diagonal
                # instead of a loop around the step.
                src, dst, backward = dst, src, not backward
                attrs.update(tailport="w", headport="e")  # out of the state's right side, into the op's left
        elif self.band(src) != self.band(dst):
            attrs["constraint"] = "false"
        if backward:
            attrs["dir"] = "back"
        if p.bptt_order and link.visit is not None:  # gradient flows back: numbered in visit order
            attrs["xlabel"] = str(link.visit + 1)
        self.out.append(f"\t{src} -> {dst}{_attrs(attrs)}")

    def band(self, key: str) -> int:
        """The row, or (negative) the band above the rows."""
        box = self.p.boxes[key]
        if box.step is None:
            return self.p.row_of[key]
        return next(i for i, row in enumerate(self.p.rows) if box.step in row)

    def legend(self) -> None:
        p = self.p
        if p.scale:
            lo, hi = p.scale
            span = len(PALETTE) + 2
            swatches = "".join(f"<TD BGCOLOR='{c}' WIDTH='14'> </TD>" for c in PALETTE)
            notes = "".join(f"<TR><TD COLSPAN='{span}' ALIGN='LEFT'>{esc(n)}</TD></TR>" for n in p.notes)
            label = (f"<TABLE BORDER='0' CELLBORDER='0' CELLSPACING='1'>{notes}"
                     f"<TR><TD>‖∂L‖ 1e{lo:.0f}</TD>{swatches}<TD>1e{hi:.0f}</TD></TR>"
                     f"<TR><TD COLSPAN='{span}' ALIGN='LEFT'>"
                     f"<FONT COLOR='{VANISHED}'>■</FONT> vanished"
                     + (f"   <FONT COLOR='{PADDING_INK}'>▭</FONT> padding (dashed)" if p.padding else "")
                     + "</TD></TR></TABLE>")
        elif p.notes:
            label = "<BR/>".join(esc(n) for n in p.notes)
        else:
            return
        attrs = {"label": label, "shape": "plaintext", "style": "", "id": "legend"}
        self.out.append(f"\tlegend{_attrs(attrs)}")

    def floors(self) -> None:
        """Invisible bases under each band (the rows, and the bands of shared boxes above them).

        A band's lowest boxes stand on its base, and the highest boxes of the band below
        reach up to that base only, so bands never overlap. A row's base points at its steps
        in time order with ``ordering=out``: dot keeps them left to right (each op-level step
        through an invisible foot inside its cluster, each cell-level step through its first
        cell), and a chain of flat edges (minlen=0) keeps them on one baseline.
        """
        p = self.p
        members: dict[int, list[str]] = defaultdict(list)
        for key in p.boxes:
            members[self.band(key)].append(key)
        if p.scale or p.notes:
            members[min(members, default=-1)].append("legend")
        order = sorted(b for b in members if members[b])
        ups: dict[str, list[str]] = defaultdict(list)
        downs: dict[str, list[str]] = defaultdict(list)
        for link in p.links:
            if not link.state and self.band(link.src) == self.band(link.dst):
                ups[link.src].append(link.dst)
                downs[link.dst].append(link.src)
        for a, b in p.stacking:
            ups[a].append(b)
            downs[b].append(a)
            self.out.append(f"\t{a} -> {b} [style=invis]")
        chains: dict[int, list[str]] = {}
        for r, row in enumerate(p.rows):
            chain = chains[r] = []
            for t in row:
                if t in p.detailed:
                    foot = f"foot{t}"
                    self.out.append(f"\t{foot} [shape=point style=invis width=0 height=0 label=\"\"]")
                    keys = [k for keys in p.clusters[t].values() for k in keys]
                    inside = set(keys)  # the step's own first boxes, whatever feeds them from outside
                    self.out += [f"\t{foot} -> {k} [style=invis]" for k in keys
                                 if not inside.intersection(downs[k])]
                    for padding in p.padding_boxes(t):  # on the step's floor, beside its title:
                        self.out.append(f"\t{foot} -> {padding} [style=invis]")  # not pulled up
                        keys.append(padding)
                        ups[padding].append(foot)
                    for k in keys:
                        downs[k].append(foot)
                    ups[foot] += keys
                    chain.append(foot)
                else:
                    chain.append(next(iter(p.clusters[t].values()))[0])
            for a, b in zip(chain, chain[1:]):
                self.out.append(f"\t{a} -> {b} [style=invis minlen=0]")
        for i, band in enumerate(order):
            base = f"base{i}"
            self.out.append(f"\t{base} [shape=point style=invis width=0 height=0 label=\"\" ordering=out]")
            chain = chains.get(band, [])
            # Heavy edges line up the rows' first steps above each other: rows start flush left.
            self.out += [f"\t{base} -> {k} [style=invis{' weight=100' if j == 0 else ''}]"
                         for j, k in enumerate(chain)]
            self.out += [f"\t{base} -> {k} [style=invis]" for k in members[band]
                         if not downs[k] and k not in chain]
            if i + 1 < len(order):
                below = order[i + 1]
                self.out += [f"\t{k} -> {base} [style=invis]" for k in members[below] if not ups[k]]
                if chains.get(below) and chain:
                    self.out.append(f"\t{chains[below][0]} -> {base} [style=invis weight=100]")
