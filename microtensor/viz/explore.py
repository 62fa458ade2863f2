"""The interactive explorer: one self-contained HTML page per recorded forward and backward pass.

The page holds the unrolled graph (the same SVG as ``draw_graph`` renders), a heat strip
of ``||dL/dh_t||`` per layer and step (striped where sequences of the batch are padding),
a replay of the backward pass in the engine's visit order, node details with a histogram,
and a switch between PyTorch's LSTM gate names and those of the classic intuitive
explanation. Everything is inline (no network at view time); the data the page shows is
written from the same ``Plan`` as the DOT.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from ..nn.recurrent import LSTM
from ..tensor import Tensor
from .dot import UnrolledGraph, draw_graph, esc
from .padding import Padding
from .plan import PADDING_FILL, PALETTE, VANISHED
from .record import Recording, Summary
from .render import write_atomic
from .trace import Graph, Node, hidden_state

_HERE = Path(__file__).parent

#: LSTM gates (as the layers tag them) in the words of the classic intuitive explanation,
#: where the cell state is the long-term memory and ``h`` the short-term one.
CLASSIC_GATES = {
    "forget": "forget gate",  # f: how much long-term memory to keep
    "input": "learn gate: ignore",  # i: how much of the new information to let in
    "candidate": "learn gate: new",  # g: the new information
    "output": "use gate",  # o: what of the memory to use now
}
#: The LSTM's cell state, the sum of what the forget and learn gates keep.
REMEMBER = "remember gate"
#: PyTorch's names for the same tensors (its documentation's i, f, g, o).
PYTORCH_GATES = {"input": "input", "forget": "forget", "candidate": "cell candidate", "output": "output"}


class Explorer:
    """A finished explorer page: ``.save(path)`` writes it; Jupyter shows it inline."""

    def __init__(self, page: str, drawing: UnrolledGraph) -> None:
        self.html, self.drawing = page, drawing

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page (atomically) to ``path``; the folder is created if missing (see
        ``explore`` for an example)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, self.html.encode("utf-8"))

    def _repr_html_(self) -> str:  # Jupyter: in a frame of its own, so its script and styles stay apart
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:720px;'
                'border:1px solid #ccc"></iframe>')


def explore(output: Tensor | Graph, recording: Recording | None = None, *, detail: str = "auto",
            window: tuple[int, int] | None = None, max_op_steps: int = 6, vanish_below: float = 1e-6,
            title: str | None = None, program: str | os.PathLike | None = None,
            timeout: float = 120.0) -> Explorer:
    """An interactive page for the pass that produced ``output``; options as ``draw_graph``.

    Needs a Graphviz program (as ``draw_graph(...).render_to``) to lay out the graph.

    >>> import microtensor as mt, tempfile, pathlib
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(4, 1, 2))
    ...     loss = out[-1].sum()
    ...     loss.backward()
    >>> page = mt.viz.explore(loss, rec, title="LSTM")
    >>> page.save(pathlib.Path(tempfile.mkdtemp()) / "bptt.html").read_text().count("<script")
    2
    """
    drawing = draw_graph(output, recording, detail=detail, window=window, max_op_steps=max_op_steps,
                         vanish_below=vanish_below, title=title, program=program)
    drawing.timeout = timeout
    svg = drawing.svg()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg id="graph-svg"', svg, count=1)
    data = json.dumps(page_data(drawing), separators=(",", ":"), allow_nan=False)
    page = (_HERE / "explorer.html").read_text(encoding="utf-8")
    page = page.replace("{{title}}", esc(title or "microtensor: backprop through time"))
    page = page.replace("{{style}}", (_HERE / "explorer.css").read_text(encoding="utf-8"))
    page = page.replace("{{script}}", (_HERE / "explorer.js").read_text(encoding="utf-8"))
    page = page.replace("{{data}}", data.replace("</", "<\\/"))
    return Explorer(page.replace("{{svg}}", svg), drawing)


def _num(x: float) -> float | None:
    """Four significant digits (the page shows no more); None for nan/inf, which JSON lacks."""
    return float(f"{x:.4g}") if math.isfinite(x) else None


def _stats(s: Summary | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"norm": _num(s.norm), "mean": _num(s.mean), "std": _num(s.std), "min": _num(s.min),
            "max": _num(s.max), "zeros": _num(s.zeros), "hist": list(s.hist)}


def _padding(pad: Padding) -> dict[str, Any]:
    return {"count": pad.count, "batch": pad.batch, "rows": pad.rows, "text": pad.describe()}


def _node(n: Node) -> dict[str, Any]:
    return {"name": n.name, "op": n.op or n.kind, "kind": n.kind, "shape": list(n.shape), "dtype": n.dtype,
            "tags": {k: str(v) for k, v in n.tags.items()}, "value": _stats(n.value), "grad": _stats(n.grad)}


def page_data(drawing: UnrolledGraph) -> dict[str, Any]:
    """What the page's script reads: the plan's boxes, steps, heat strip and replay frames.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = rnn(mt.randn(4, 1, 2))
    ...     out[-1].sum().backward()
    >>> data = page_data(mt.viz.draw_graph(out[-1].sum(), rec))
    >>> data["steps"], data["layers"], len(data["heat"][0])
    ([0, 1, 2, 3], ['rnn.l0'], 4)
    """
    p, g = drawing.plan, drawing.graph
    cell_state = LSTM.state_names[1]
    boxes, traced = {}, {}
    lstm_steps = {(b.step, b.layer) for b in p.boxes.values() if b.gate in CLASSIC_GATES}
    for key, box in p.boxes.items():
        entry: dict[str, Any] = {"title": box.title, "kind": box.kind, "step": box.step, "layer": box.layer,
                                 "visit": box.visit, "norm": _num(box.norm) if box.norm is not None else None}
        if box.kind in ("stand_in", "padding"):
            entry["note"] = box.tooltip[-1] if box.kind == "padding" else box.tooltip[0]
        else:
            entry["members"] = box.members
        if box.gate in CLASSIC_GATES and box.title == box.gate:  # the gate's tensor, not ops inside it
            entry["gate"] = box.gate
        elif box.kind == "op" and box.title == cell_state and (box.step, box.layer) in lstm_steps:
            entry["gate"] = cell_state
        boxes[key] = entry
        for m in box.members:
            traced[m] = _node(g.nodes[m])
    heat = [[_num(p.heat.get(layer, {}).get(t, math.nan)) for t in p.steps] for layer in p.layers]
    hidden_visits = {}
    for n in g.named(hidden_state()):
        step = p.drawn_step[n.key]
        if step is not None and n.visit is not None:
            hidden_visits[f"{n.layer}|{step}"] = n.visit
    targets = {}
    for t in p.steps:
        if t in p.detailed:
            targets[t] = f"step{t}"
        else:
            targets[t] = next(iter(p.clusters[t].values()))[0]
    return {"steps": p.steps, "stepNames": p.labels, "layers": [layer or "" for layer in p.layers],
            "heat": heat,
            "scale": list(p.scale) if p.scale else None, "vanishBelow": p.vanish_below,
            "palette": list(PALETTE), "vanished": VANISHED,
            "boxes": boxes, "nodes": traced, "targets": targets, "detailed": sorted(p.detailed),
            "padding": {t: {"text": p.padding_text(t), "layers": {layer or "": _padding(pad)
                                                                  for layer, pad in by_layer.items()}}
                        for t, by_layer in p.padding.items()},
            "paddingFill": PADDING_FILL,
            "hiddenVisits": hidden_visits, "frames": sorted({b.visit for b in p.boxes.values()
                                                             if b.visit is not None}),
            "classic": {**CLASSIC_GATES, cell_state: REMEMBER}, "pytorch": PYTORCH_GATES}
