"""Drawing a traced graph as an unrolled network: Graphviz DOT written from a ``Plan``.

The plan decides what is drawn and ``layout.py`` where (see there for the picture's
design: one template per cell, straight lines through time, time wrapped into rows). This
writer pins every box, step frame and edge at its place, so Graphviz draws exactly the
layout (``neato -n2``: no layout of its own), with either program, system Graphviz or
graphviz-pure. Gradient norms colour and size boxes and edges on one log scale, exactly
zero ("no gradient (exactly 0)") and vanished (below ``vanish_below``) apart; a step where some
of the batch's sequences are padding holds a grey dashed "padding" box and says so in its
title; the legend states the scale and what was elided.

The SVG carries what a page or a user's script needs (``annotate``): every box is an
element whose ``id`` is its key in the plan, with ``data-step``, ``data-layer``,
``data-direction``, ``data-kind`` and ``data-role``; every edge has ``data-src``,
``data-dst`` and ``data-kind`` (``state``, ``attention``, ``data``); every op-level
step's frame has ``data-step``.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import graphviz

from ..tensor import Tensor
from .layout import SMALL_PT, TITLE_PT, Rect, text_width
from .layout import Path as Polyline
from .plan import (
    ATTENTION_COLOURS,
    DARK,
    NO_GRADIENT,
    PADDING_FILL,
    PADDING_INK,
    PALETTE,
    VANISHED,
    Box,
    Link,
    Plan,
    plan,
)
from .record import Recording
from .render import FORMATS, run_dot, write_atomic
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
        """Write ``path`` (.svg, .png, .pdf or .dot); the .dot source is always written first,
        so it is there even when no Graphviz program is."""
        path = Path(path)
        dot_path = write_atomic(path.with_suffix(".dot"), self.source.encode("utf-8"))
        format = path.suffix.lstrip(".").lower()  # noqa: A001
        if format == "dot":
            return dot_path
        return write_atomic(path, self.pipe(format, timeout=timeout))

    def svg(self, timeout: float | None = None) -> str:
        """The picture as SVG text, with the ids and data attributes of ``annotate``."""
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
        format = format or self.format  # noqa: A001
        data = run_dot(self.source, format, program=self.program, timeout=timeout or self.timeout,
                       pinned=True)
        if format == "svg":
            data = annotate(data.decode("utf-8"), self.plan).encode("utf-8")
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
        data = self.pipe(format, timeout=timeout)
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
    if engine not in (None, "dot", "neato"):
        raise ValueError(f"the picture is laid out already (neato -n2 draws it), got engine={engine!r}")
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
               tokens: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
               program: str | os.PathLike | None = None,
               scale: tuple[float, float] | None = None) -> UnrolledGraph:
    """Draw everything that produced ``output`` (usually the loss) as an unrolled network.

    ``recording`` (from ``mt.viz.record()``) adds gradient flow: colours, widths,
    ``||dL/dh_t||`` per step and greyed vanished steps. ``detail`` is ``"op"``
    (every op), ``"cell"`` (one node per layer per step) or ``"auto"``: op level
    for the steps in ``window`` (``(start, stop)``, default: the last
    ``max_op_steps`` steps, nearest the loss) and cell level elsewhere.
    ``window`` counts positions ``t`` within each lane; by default each lane details the
    steps the loss reaches first. ``bptt_order=True`` draws the backward pass instead:
    arrows point back in time, numbered in the order the engine visits them. ``tokens``
    labels each step with its input (``["s", "o", "u", "p"]``, or per lane
    ``{"encoder": [...], "decoder": [...]}``). ``scale`` fixes the colour scale's range
    (``(log10 low, log10 high)``; default: this graph's), so two pictures share one.

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True); w.name = "w"
    >>> h = mt.zeros(3)
    >>> for t in range(2):
    ...     with mt.scope(layer="rnn", t=t):
    ...         h = (h + w).tanh(); h.name = "h"
    >>> dot = mt.viz.draw_graph(h.sum())
    >>> "cluster_step1" in dot.source
    True
    """
    graph = _traced(output, recording, bptt_order)
    drawn = plan(graph, detail=detail, window=window, max_op_steps=max_op_steps,
                 vanish_below=vanish_below, bptt_order=bptt_order, title=title, tokens=tokens,
                 scale=scale)
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
    """The DOT source of a plan (what ``draw_graph`` renders), every position pinned.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True)
    >>> write_dot(mt.viz.plan(mt.viz.trace((w * 2).sum()))).startswith("digraph unrolled {")
    True
    """
    return _DotWriter(drawn).write()


def _pt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _DotWriter:
    def __init__(self, drawn: Plan):
        self.p, self.at = drawn, drawn.layout
        self.out: list[str] = []

    def xy(self, x: float, y: float) -> str:
        """Our coordinates (y down) as DOT's (y up)."""
        return f"{_pt(x)},{_pt(self.at.height - y)}"

    def bb(self, r: Rect) -> str:
        return f"{_pt(r.x)},{_pt(self.at.height - r.bottom)},{_pt(r.right)},{_pt(self.at.height - r.y)}"

    def write(self) -> str:
        p = self.p
        self.out += ["digraph unrolled {",
                     "\t// Every position is pinned: draw it with  neato -n2 -Tsvg  (dot lays it out anew).",
                     "\tgraph [layout=neato splines=line outputorder=edgesfirst fontname=Helvetica]",
                     f"\tnode [fontname=Helvetica fontsize={_pt(TITLE_PT)} fixedsize=true shape=box "
                     "style=filled fillcolor=white]",
                     "\tedge [fontname=Helvetica fontsize=9 arrowsize=0.6]"]
        drawn = set()
        for t in p.steps:
            drawn |= self.step(t)
        for key in p.boxes:
            if key not in drawn:
                self.node(p.boxes[key])
        for i, link in enumerate(p.links):
            self.edge(link, self.at.paths[i])
        self.title()
        self.legend()
        self.out.append("}")
        return "\n".join(self.out) + "\n"

    def step(self, t: int) -> set[str]:
        """An op-level step's frame (and one per layer when it has several), with its boxes."""
        p, at = self.p, self.at
        layers = p.clusters[t]
        full = (shared := p.step_padding(t)) is not None and shared.full
        grey = full or t in p.vanished or t in p.no_gradient
        if t in at.titles:
            x, y = at.titles[t]
            label = f"label=<<B>{esc(p.step_title(t))}</B>> lp={quote(self.xy(x, y))} fontsize=13"
        else:  # a step of one box per layer: its boxes say which step it is
            label = 'label=""'
        self.out += [f"\tsubgraph cluster_step{t} {{",
                     f"\t\tgraph [bb={quote(self.bb(at.frames[t]))} {label} "
                     f"style={quote('rounded,filled,dashed' if full else 'rounded,filled')} "
                     f"color={quote('#999999' if t in at.titles else '#d0d0d0')} "
                     f"fillcolor={quote(PADDING_FILL if grey else '#f4f8fc')} "
                     f"fontcolor={quote('#777777' if grey else '#222222')} id={quote(f'step{t}')}]"]
        keys: set[str] = set()
        for key in p.padding_boxes(t):
            if p.boxes[key].layer is None:  # the step's own: its layers agree
                self.node(p.boxes[key])
                keys.add(key)
        for i, (layer, members) in enumerate(layers.items()):
            frame = at.layer_frames.get((t, layer))
            if frame is not None:
                own = p.layer_padding(t, layer) if shared is None else None
                label = esc(layer or "") + (f" · {esc(own.short())}" if own else "")
                lx = frame.x + 6 + text_width(layer or "", 10) / 2
                self.out += [f"\tsubgraph cluster_step{t}_l{i} {{",
                             f"\t\tgraph [bb={quote(self.bb(frame))} label=<{label}> fontsize=10 "
                             f"lp={quote(self.xy(lx, frame.y + 9))} style=\"rounded,dashed\" "
                             "color=\"#bbbbbb\" "
                             f"fontcolor=\"#666666\" id={quote(f'step{t}_l{i}')}]"]
            for key in members:
                if key not in keys:
                    self.node(p.boxes[key])
                    keys.add(key)
            if frame is not None:
                self.out.append("\t}")
        self.out.append("\t}")
        return keys

    def node(self, box: Box) -> None:
        p = self.p
        r = self.at.rects[box.key]
        small = [f"<FONT POINT-SIZE='{_pt(SMALL_PT)}'>{esc(line)}</FONT>" for line in box.lines]
        attrs: dict[str, object] = {"label": "<BR/>".join([f"<B>{esc(box.title)}</B>", *small]),
                                    "id": box.key, "pos": self.xy(r.cx, r.cy) + "!",
                                    "width": f"{r.w / 72:.3f}",
                                    "height": f"{r.h / 72:.3f}", "tooltip": "\n".join(box.tooltip)}
        fill = p.colour(box.norm, box.no_gradient)
        pad = p.layer_padding(box.step, box.layer)
        if box.kind == "padding":
            attrs.update(style="dashed,filled", fillcolor=PADDING_FILL, color=PADDING_INK,
                         fontcolor=PADDING_INK, penwidth="1.5")
            fill = None
        elif box.kind == "stand_in":
            attrs.update(style="rounded,dotted", fontcolor="#555555", color="#999999")
            fill = None
        elif box.kind == "param":
            attrs.update(fillcolor=PARAM_FILL, penwidth="1.5")
        elif box.kind == "const":
            attrs.update(style="dashed", fontcolor="#555555")
        else:
            attrs.update(style="rounded,filled")
            if box.state:
                attrs.update(penwidth="2")
        if fill:
            attrs["fillcolor"] = fill
            # The outline grows with the gradient too, so the flow reads without colour.
            attrs["penwidth"] = str(max(float(attrs.get("penwidth", 1)), p.width(box.norm)))
            if fill in DARK:
                attrs["fontcolor"] = "white"
            if fill == NO_GRADIENT:
                attrs.update(style=f"{attrs.get('style', 'filled')},dashed", color="#999999")
        if pad is not None and box.kind == "cell":  # a step drawn as one box per layer
            attrs["style"] = "rounded,filled,dashed"
        if pad is not None and pad.full and box.kind != "padding":  # nothing here is real: greyed
            attrs.update(fillcolor=PADDING_FILL, fontcolor=PADDING_INK, color=PADDING_INK)
        if box.output:
            attrs["peripheries"] = "2"
        self.out.append(f"\t{box.key}{_attrs(attrs)}")

    def edge(self, link: Link, pieces: list[Polyline]) -> None:
        p = self.p
        attrs: dict[str, object] = {}
        colour = p.colour(link.norm)
        if colour and colour != NO_GRADIENT:
            attrs.update(color=colour, penwidth=str(p.width(link.norm)))
        if link.norm is not None:
            attrs["tooltip"] = f"gradient norm {link.norm:.2e}" if link.norm else "no gradient (exactly 0)"
        backward = p.bptt_order
        if link.attention is not None:
            shades = len(ATTENTION_COLOURS)
            shade = ATTENTION_COLOURS[min(int(link.attention * shades), shades - 1)]
            attrs.update(color=shade, style="dashed", penwidth=str(round(0.5 + 4 * link.attention, 2)),
                         tooltip=f"attention weight {link.attention:.2f} (mean over the batch)")
            backward = None  # no arrow: it says where a step looked
        elif link.state:
            attrs.update(penwidth=str(max(2.5, p.width(link.norm))))
            attrs.setdefault("color", "#333333")
        if p.bptt_order and link.visit is not None and link.attention is None:
            attrs["xlabel"] = str(link.visit + 1)  # gradient flows back: numbered in visit order
            mid = pieces[-1][len(pieces[-1]) // 2 - 1:len(pieces[-1]) // 2 + 1]
            attrs["lp"] = self.xy((mid[0][0] + mid[-1][0]) / 2, (mid[0][1] + mid[-1][1]) / 2 - 7)
        if len(pieces) == 1:
            self.out.append(f"\t{link.src} -> {link.dst}"
                            + _attrs({"id": link.key, **attrs, **self.spline(pieces[0], backward)}))
            return
        # A state continued on the next row: a stub out of its step and one into the next,
        # between two invisible points.
        out, into = pieces
        for name, (x, y) in ((f"{link.key}_a", out[-1]), (f"{link.key}_b", into[0])):
            self.out.append(f"\t{name} [shape=point style=invis width=0.01 height=0.01 label=\"\" "
                            f"pos={quote(self.xy(x, y) + '!')}]")
        self.out.append(f"\t{link.src} -> {link.key}_a" + _attrs(
            {"id": f"{link.key}__out", **attrs, "style": "dashed",
             **self.spline(out, True if backward else None)}))
        self.out.append(f"\t{link.key}_b -> {link.dst}" + _attrs(
            {"id": f"{link.key}__in", **attrs, "style": "dashed",
             **self.spline(into, False if backward is False else None)}))

    def spline(self, path: Polyline, backward: bool | None) -> dict[str, str]:
        """DOT's ``pos`` of an edge: straight segments as a B-spline, with the arrowhead at the
        end (forward), at the start (``backward``: the gradient's direction), or none."""
        pts = list(path)
        prefix = []
        if backward is not None:
            i, j = (0, 1) if backward else (-1, -2)
            (tx, ty), (ox, oy) = pts[i], pts[j]
            length = max(((tx - ox) ** 2 + (ty - oy) ** 2) ** 0.5, 1e-9)
            back = min(6.0, 0.45 * length)
            pts[i] = (tx - (tx - ox) / length * back, ty - (ty - oy) / length * back)
            prefix.append(f"{'s' if backward else 'e'},{self.xy(tx, ty)}")
        control = [pts[0]]
        for (ax, ay), (bx, by) in zip(pts, pts[1:]):
            dx, dy = bx - ax, by - ay
            control += [(ax + dx / 3, ay + dy / 3), (ax + 2 * dx / 3, ay + 2 * dy / 3), (bx, by)]
        attrs = {"pos": " ".join(prefix + [self.xy(x, y) for x, y in control])}
        if backward is None:
            attrs["arrowhead"] = "none"
        elif backward:
            attrs["dir"] = "back"
        return attrs

    def title(self) -> None:
        if self.p.title:
            w = text_width(self.p.title, 15) + 8
            self.out.append(f"\ttitle [shape=plaintext style=\"\" fontsize=15 fixedsize=false "
                            f"width={w / 72:.3f} height=0.3 "
                            f"pos={quote(self.xy(w / 2, 12) + '!')} label=<<B>{esc(self.p.title)}</B>>]")

    def legend(self) -> None:
        p = self.p
        lines = list(p.notes)
        rows = "".join(f"<TR><TD COLSPAN='{len(PALETTE) + 2}' ALIGN='LEFT'>{esc(n)}</TD></TR>" for n in lines)
        if p.scale:
            lo, hi = p.scale
            swatches = "".join(f"<TD BGCOLOR='{c}' WIDTH='16'> </TD>" for c in PALETTE)
            keys = ["<FONT COLOR='#777777'>□</FONT> no gradient (exactly 0, not faded)",
                    f"<FONT COLOR='{VANISHED}'>■</FONT> vanished (below {p.vanish_below:g})"]
            if p.padding:
                keys.append(f"<FONT COLOR='{PADDING_INK}'>▭</FONT> padding (dashed)")
            rows += (f"<TR><TD>‖∂L‖ 1e{lo:.0f}</TD>{swatches}<TD>1e{hi:.0f}</TD></TR>"
                     f"<TR><TD COLSPAN='{len(PALETTE) + 2}' ALIGN='LEFT'>{'   '.join(keys)}</TD></TR>")
            lines += ["x" * 60, "x" * 60]
        if not rows:
            return
        w = max(text_width(line, 10) for line in lines) + 16
        h = 16 * len(lines) + 8
        self.out.append(f"\tlegend [shape=plaintext style=\"\" fontsize=10 fixedsize=false id=\"legend\" "
                        f"width={w / 72:.3f} "
                        f"height={h / 72:.3f} pos={quote(self.xy(w / 2, self.at.height + 14 + h / 2) + '!')} "
                        f"label=<<TABLE BORDER='0' CELLBORDER='0' CELLSPACING='1'>{rows}</TABLE>>]")


# ------------------------------------------------------------------ the contract
_ELEMENT = re.compile(r'<g id="(?P<id>[^"]+)" class="(?P<cls>node|edge|cluster)"')


def annotate(svg: str, drawn: Plan) -> str:
    """Graphviz's SVG with the data attributes a page or a script reads (see the module's
    docstring): boxes, edges and step frames named by the plan's keys.

    >>> import microtensor as mt
    >>> w = mt.ones(2, requires_grad=True); w.name = "w"
    >>> svg = mt.viz.draw_graph((w * 2).sum()).svg()
    >>> 'data-role="loss"' in svg and 'data-kind="data"' in svg
    True
    """
    links = {}
    for link in drawn.links:
        links[link.key] = links[f"{link.key}__out"] = links[f"{link.key}__in"] = link

    def data(match: re.Match) -> str:
        key, cls = match["id"], match["cls"]
        attrs: dict[str, object] = {}
        if cls == "node" and key in drawn.boxes:
            box = drawn.boxes[key]
            attrs = {"data-step": box.step, "data-layer": box.layer, "data-direction": box.direction,
                     "data-kind": box.kind, "data-role": box.role}
        elif cls == "edge" and key in links:
            link = links[key]
            attrs = {"data-src": link.src, "data-dst": link.dst, "data-kind": link.kind}
        elif cls == "cluster" and key.startswith("step"):
            step = key[4:].split("_")[0]
            attrs = {"data-step": step}
            if "_l" in key:
                attrs["data-layer"] = list(drawn.clusters[int(step)])[int(key.rsplit("_l", 1)[1])]
        extra = "".join(f' {k}="{esc(v)}"' for k, v in attrs.items() if v is not None)
        return f'{match.group(0)}{extra}'

    return _centre_text(_ELEMENT.sub(data, svg))


_NODE_START = re.compile(r'<g id="[^"]+" class="node"')
_SHAPE = re.compile(r'<(?:path|polygon)[^>]*?(?: d| points)="([^"]+)"')
_START_TEXT = re.compile(r'text-anchor="start" x="[-\d.]+"')


def _centre_text(svg: str) -> str:
    """Each box's lines centred on the box itself: Graphviz places them by its own estimate of
    the text's width, which a browser's font does not match (the title would lean left)."""
    parts = _NODE_START.split(svg)
    heads = _NODE_START.findall(svg)
    out = [parts[0]]
    for head, body in zip(heads, parts[1:]):
        shape = _SHAPE.search(body)
        if shape:
            xs = [float(x) for x in re.findall(r"(-?[\d.]+),-?[\d.]+", shape.group(1))]
            if xs:
                body = _START_TEXT.sub(f'text-anchor="middle" x="{(min(xs) + max(xs)) / 2:.2f}"', body)
        out += [head, body]
    return "".join(out)
