"""The interactive explorer: one self-contained HTML page per recorded forward and backward pass.

The page holds the unrolled graph (the same SVG as ``draw_graph`` renders, with its data
attributes), a heat strip of ``||dL/dh_t||`` per layer and step with its axes and colour
bar, a small log plot of the same norms, a replay of the backward pass in the engine's
visit order, node details with histograms, and a switch between the gate names of the
cell and those of the classic intuitive explanation. Everything is inline (no network at
view time). Python computes everything the page shows (``page_data``): the page's script
only draws it.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..tensor import Tensor
from .columns import column_count, lane_columns, lane_spans, row_label, steps_per_column
from .dot import UnrolledGraph, draw_graph, esc
from .layout import TITLE_PT, text_width
from .names import subscript
from .numbers import page_number
from .padding import Padding
from .plan import PADDING_FILL, PALETTE, VANISHED, Plan, ranges
from .record import Recording, Summary
from .render import write_atomic
from .trace import Graph, Node
from .views import VIEWS, script, style

_HERE = Path(__file__).parent


class Explorer:
    """A finished explorer page: ``.save(path)`` writes it; Jupyter shows it inline."""

    #: The height (CSS px) of the frame it is shown in inline.
    frame_height = 720

    def __init__(self, page: str, drawing: UnrolledGraph) -> None:
        self.html, self.drawing = page, drawing

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page (atomically) to ``path``; the folder is created if missing (see
        ``explore`` for an example)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, self.html.encode("utf-8"))

    def _repr_html_(self) -> str:  # Jupyter: in a frame of its own, so its script and styles stay apart
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;'
                f'height:{self.frame_height}px;border:1px solid #ccc"></iframe>')


def explore(output: Tensor | Graph, recording: Recording | None = None, *, detail: str = "auto",
            window: tuple[int, int] | None = None, max_op_steps: int = 6, vanish_below: float = 1e-6,
            title: str | None = None, tokens: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
            program: str | os.PathLike | None = None, timeout: float = 120.0,
            scale: tuple[float, float] | None = None) -> Explorer:
    """An interactive page for the pass that produced ``output``; options as ``draw_graph``.

    Needs a Graphviz program (as ``draw_graph(...).render_to``) to draw the graph.

    >>> import microtensor as mt, tempfile, pathlib
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(4, 1, 2))
    ...     loss = out[-1].sum()
    ...     loss.backward()
    >>> page = mt.viz.explore(loss, rec, title="LSTM", tokens="abcd")
    >>> page.save(pathlib.Path(tempfile.mkdtemp()) / "bptt.html").read_text().count("<script")
    2
    """
    drawing = draw_graph(output, recording, detail=detail, window=window, max_op_steps=max_op_steps,
                         vanish_below=vanish_below, title=title, tokens=tokens, program=program,
                         scale=scale)
    drawing.timeout = timeout
    svg = drawing.svg()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg id="graph-svg"', svg, count=1)
    found = page_data(drawing)
    shown = []
    for view in VIEWS:
        found[view.NAME] = view.data(drawing, recording)
        if found[view.NAME] is not None:
            shown.append(view)
    code = [(_HERE / "explorer.js").read_text(encoding="utf-8"), *map(script, shown),
            "window.explorerCore.start();"]
    styles = [(_HERE / "explorer.css").read_text(encoding="utf-8"), *map(style, shown)]
    page = fill_template((_HERE / "explorer.html").read_text(encoding="utf-8"), {
        "title": esc(title or "microtensor: backprop through time"), "style": "\n".join(styles),
        "script": "\n".join(code), "data": script_json(found), "svg": svg})
    return Explorer(page, drawing)


def fill_template(template: str, fields: Mapping[str, str]) -> str:
    """``template`` with each ``{{name}}`` replaced by ``fields[name]``, in one pass: a field's
    text (a tensor's name in the data, a whole page) may hold anything, braces included.

    >>> fill_template("<b>{{a}}</b>{{b}}", {"a": "{{b}}", "b": "!"})
    '<b>{{b}}</b>!'
    """
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], template)


def script_json(value: Any, ascii_only: bool = True) -> str:
    """``value`` as JSON safe inside a ``<script>`` element: no ``</`` to end it and no ``<!--``
    to change how it is read (both escaped; ``JSON.parse`` gives the value back). ``ascii_only``
    escapes every other character (control characters included); a whole page, whose data is
    so escaped already, keeps its text as it is with ``ascii_only=False``.

    >>> print(script_json({"name": '</script><!-- "x"'}))
    {"name":"<\\/script><\\u0021-- \\"x\\""}
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")



def _stats(s: Summary | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"norm": page_number(s.norm), "mean": page_number(s.mean), "std": page_number(s.std),
            "min": page_number(s.min), "max": page_number(s.max), "zeros": page_number(s.zeros),
            "hist": list(s.hist)}


def _padding(pad: Padding) -> dict[str, Any]:
    return {"count": pad.count, "batch": pad.batch, "rows": pad.rows, "text": pad.describe()}


def _node(n: Node) -> dict[str, Any]:
    tags = {k: str(getattr(v, "__name__", v)) for k, v in n.tags.items()}
    return {"name": n.name, "op": n.op or n.kind, "kind": n.kind, "shape": list(n.shape), "dtype": n.dtype,
            "tags": tags, "value": _stats(n.value), "grad": _stats(n.grad)}


#: What the details panel says of an op of a step drawn as one box per layer (see ``_brief_node``).
BRIEF_NOTE = ("This step is drawn as one box per layer, so the page keeps only what its op list shows "
              "(name, op, shape, gradient norm). The full statistics (value, gradient, histograms) are "
              "in the page for the steps drawn op by op: draw this one so with "
              "explore(..., window=(t, t + 1)) or detail=\"op\", or read them in Python: "
              "mt.viz.trace(loss, rec).nodes[key].value and .grad.")


def _brief_node(n: Node) -> dict[str, Any]:
    """An op of a step drawn as one box per layer: what the step's op list shows, no more. Full
    statistics of every op would be most of a long page (T=1,000, hidden 64, 2 layers: 13 of 19 MB,
    the histograms of 32,000 ops); the steps drawn op by op keep them (``_node``)."""
    brief = {"op": n.op or n.kind, "shape": list(n.shape),
             "grad": {"norm": page_number(n.grad.norm)} if n.grad is not None else None}
    return {"name": n.name, **brief} if n.name else brief


def strip(p: Plan) -> dict[str, Any]:
    """The heat strip: one row per layer (and direction) that has ``||dL/dh_t||``, in the graph's
    order, one column per position ``t`` (several, when there are more than fit at
    ``MIN_CELL_PX``), step ticks, a colour bar, and where each row's gradient falls below
    ``vanish_below``."""
    length = max((len(lane.steps) for lane in p.lanes), default=0)
    per_cell, columns = steps_per_column(p), column_count(p)
    rows, falls = [], []
    done: dict[tuple[str | None, int], int] = {}  # when each step's hidden state (or cell) is complete
    for box in p.boxes.values():
        if box.step is not None and box.visit is not None and \
                (box.kind == "cell" or box.role == p.states.get(box.layer, ("h",))[0]):
            done[(box.layer, box.step)] = box.visit
    for lane in p.lanes:
        for layer in reversed(lane.layers):
            norms = p.heat.get(layer)
            if not norms:
                continue  # empty rows are dropped
            cells = []
            own = lane_columns(p, lane)
            for c in range(columns):  # a shorter lane's row ends in empty cells
                steps = own[c] if c < len(own) else []
                known = [norms[s] for s in steps if s in norms]
                norm = max(known) if known else None
                pad = [p.padding.get(s, {}).get(layer) for s in steps]
                share = max((x.count / x.batch for x in pad if x is not None and x.count), default=0.0)
                visits = [done[(layer, s)] for s in steps if (layer, s) in done]
                zero = all(s in p.no_gradient for s in steps)
                cells.append({"col": c, "steps": steps, "t": [p.position[s] for s in steps],
                              "norm": page_number(norm), "status": p.status(norm, zero), "padding": share,
                              "fill": p.colour(norm, zero) or "#ffffff",
                              "visit": max(visits) if visits else None})
            label = row_label(layer, lane)
            rows.append({"layer": layer or "", "label": label, "lane": lane.name, "cells": cells,
                         "plot": [[p.position[s], math.log10(norms[s])] for s in lane.steps
                                  if norms.get(s, 0) > 0]})
            faded = [p.position[s] for s in lane.steps
                     if s in norms and norms[s] < p.vanish_below and s not in p.no_gradient]
            if faded:  # walking back from the loss, where it first drops below the threshold
                falls.append(f"{label}: ‖∂L/∂h_t‖ falls below {p.vanish_below:g} at "
                             f"t={min(faded) if lane.reverse else max(faded)}")
            zero = [p.position[s] for s in lane.steps if s in norms and s in p.no_gradient]
            if zero:
                falls.append(f"{label}: no gradient (exactly 0) at t={ranges(zero)}")
    step_ticks = _ticks(length)
    ticks = [{"col": t // per_cell, "label": f"t={t}" if i == 0 else str(t)}
             for i, t in enumerate(step_ticks)]
    bar = []
    if p.scale:
        lo, hi = p.scale
        decades = list(range(math.ceil(lo), math.floor(hi) + 1))
        every = math.ceil(len(decades) / 5)  # at most five labels: they must not run together
        bar = [{"at": (d - lo) / (hi - lo) if hi > lo else 1.0, "label": f"1e{d}"}
               for d in decades[::-1][::every][::-1]]
        if len(bar) < 2:
            bar = [{"at": 0.0, "label": f"{10 ** lo:.2g}"}, {"at": 1.0, "label": f"{10 ** hi:.2g}"}]
    note = f"each cell: {per_cell} steps (the largest norm among them)" if per_cell > 1 else ""
    return {"rows": rows, "length": length, "columns": columns, "perCell": per_cell, "ticks": ticks,
            "bar": bar, "falls": falls, "note": note,
            "threshold": math.log10(p.vanish_below) if p.vanish_below > 0 else None}


def _ticks(length: int) -> list[int]:
    """Step positions to label: every step of a short sequence, round numbers of a long one.

    >>> _ticks(5), _ticks(1000)[:4]
    ([0, 1, 2, 3, 4], [0, 100, 200, 300])
    """
    if length <= 30:
        return list(range(length))
    raw = length / 10
    step = next(s for s in (m * 10 ** e for e in range(8) for m in (1, 2, 5)) if s >= raw)
    return list(range(0, length, step))


def captions(p: Plan) -> dict[str, str]:
    """What the replay says when it reaches a state: the step's equation of backprop through time,
    ``∂L/∂h₂₆ = ∂L/∂y₂₆ + ∂L/∂h₂₇ · ∂h₂₇/∂h₂₆``."""
    found = {}
    for key, box in p.boxes.items():
        if box.step is None or not box.state:
            continue
        lane = p.lane_of(box.step)
        t = p.position[box.step]
        nxt = t - 1 if lane.reverse else t + 1
        s = box.role
        has_next = 0 <= nxt < len(lane.steps)
        hidden = p.states.get(box.layer, ("h",))[0]
        i = subscript(t)
        direct = f"∂L/∂y{i}" if s == hidden else f"∂L/∂h{i} · ∂h{i}/∂{s}{i}"
        where = f"{p.labels[box.step]}: "
        if has_next:
            found[key] = (f"{where}∂L/∂{s}{subscript(t)} = {direct} + ∂L/∂{s}{subscript(nxt)} · "
                          f"∂{s}{subscript(nxt)}/∂{s}{subscript(t)}   (what this step's output sends, "
                          f"plus what comes back from t={nxt})")
        else:
            found[key] = f"{where}∂L/∂{s}{subscript(t)} = {direct}   (the gradient enters here)"
    return found


def gate_labels(p: Plan) -> dict[str, dict[str, Any]]:
    """Each gate (and named state) box's classic label, with the font size that fits its box
    (the layout sized it for both names, so this is the title's size unless a box is narrow)."""
    found = {}
    for key, box in p.boxes.items():
        if box.classic is None:
            continue
        room = p.layout.rects[key].w - 12
        size = min(TITLE_PT, TITLE_PT * room / max(text_width(box.classic, TITLE_PT, bold=True), 1.0))
        found[key] = {"label": box.classic, "size": round(size, 1)}
    return found


def page_data(drawing: UnrolledGraph) -> dict[str, Any]:
    """What the page's script reads: boxes, edges, steps, the strip, replay frames, captions.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = rnn(mt.randn(4, 1, 2))
    ...     out[-1].sum().backward()
    >>> data = page_data(mt.viz.draw_graph(out[-1].sum(), rec))
    >>> data["steps"], data["layers"], [c["norm"] > 0 for c in data["strip"]["rows"][0]["cells"]]
    ([0, 1, 2, 3], ['rnn.l0'], [True, True, True, True])
    """
    p, g = drawing.plan, drawing.graph
    boxes, traced = {}, {}
    for key, box in p.boxes.items():
        entry: dict[str, Any] = {"title": box.title, "kind": box.kind, "role": box.role, "step": box.step,
                                 "layer": box.layer, "direction": box.direction, "visit": box.visit,
                                 "norm": page_number(box.norm), "status": p.status(box.norm, box.no_gradient)}
        if box.kind in ("stand_in", "padding"):
            entry["note"] = box.tooltip[-1] if box.kind == "padding" else box.tooltip[0]
        else:
            entry["members"] = box.members
        boxes[key] = entry
        for m in box.members:
            traced[m] = _brief_node(g.nodes[m]) if box.kind == "cell" else _node(g.nodes[m])
    links = {}
    for i, link in enumerate(p.links):
        entry = {"src": link.src, "dst": link.dst, "kind": link.kind, "visit": link.visit}
        ids = [f"{link.key}__out", f"{link.key}__in"] if len(p.layout.paths[i]) == 2 else [link.key]
        for element in ids:
            links[element] = entry
    targets = {}
    for t in p.steps:
        targets[t] = [f"step{t}"] if t in p.layout.frames else \
            [k for keys in p.clusters[t].values() for k in keys]
    home = [k for s in (p.rows[-1][-2:] if p.rows else []) for k in targets[s]]  # the first view:
    home += p.layout.head  # the last steps and what they feed, up to the loss
    return {"steps": p.steps, "stepNames": p.labels, "positions": p.position,
            "layers": [layer or "" for layer in p.layers],
            "heat": [[page_number(p.heat.get(layer, {}).get(t)) for t in p.steps] for layer in p.layers],
            "strip": strip(p), "columns": lane_spans(p), "vanishBelow": p.vanish_below,
            "palette": list(PALETTE), "vanished": VANISHED,
            "boxes": boxes, "nodes": traced, "briefNote": BRIEF_NOTE,
            "links": links, "targets": targets, "home": home,
            "loss": [k for k, b in p.boxes.items() if b.output],
            "detailed": sorted(p.detailed),
            "padding": {t: {"text": p.padding_text(t), "layers": {layer or "": _padding(pad)
                                                                  for layer, pad in by_layer.items()}}
                        for t, by_layer in p.padding.items()},
            "paddingFill": PADDING_FILL,
            "frames": sorted({b.visit for b in p.boxes.values() if b.visit is not None}),
            "captions": captions(p), "classic": gate_labels(p),
            "tokens": {s: tok for s, tok in p.tokens.items()}}
