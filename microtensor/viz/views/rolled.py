"""The rolled view: the recurrent network as a textbook draws it, one cell per layer and direction
with its loop, showing the chosen step's values and gradients inside the cell.

The unrolled graph draws every step; the rolled picture draws each layer (and direction) once:
its states and gates as boxes named as the graph names them, the recurrent loop that carries
the states from one step to the next ("× 30 steps"; the reverse direction's loop runs
backwards), the input coming in from below and the output leaving above. The heat strip is its
time axis: choosing a step there (or with the view's own slider) fills the cell with that
step's numbers. Everything shown is computed here: the picture's layout in pixels and, per
step and box, the gradient's norm with its colour on the plan's scale and the value's mean
and norm. A page whose longest lane has more than ``LONG_STEPS`` steps opens in this view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..dot import UnrolledGraph
from ..layout import text_width
from ..numbers import page_number
from ..plan import Lane, Plan, ink
from ..record import Recording
from ..trace import Node

NAME = "rolled"
#: A sequence longer than this opens in the rolled view: its unrolled graph is too long to read
#: at a glance, and the strip plus one cell tell its story.
LONG_STEPS = 200

# The picture's geometry, in CSS pixels (the page draws it at this size).
TITLE_PX, TEXT_PX, NAME_PX = 13.0, 11.0, 12.0  # a box's name, its lines of numbers, a cell's name
_BOX_PAD, _LINE_H, _TITLE_H = 6.0, 13.0, 15.0
_BOX_H = _BOX_PAD + _TITLE_H + 3 * _LINE_H + _BOX_PAD - 2
_GAP, _ROW_GAP = 10.0, 10.0  # between boxes of a row; between the states and the gates
_CELL_PAD, _CELL_HEAD = 8.0, 22.0  # inside a cell; the band of its name and step
_LOOP, _RADIUS = 30.0, 8.0  # how far the loop reaches out of the cell; its corners
_LABEL_GAP, _COL_GAP = 8.0, 28.0  # between the loop and its label; between columns
_LAYER_GAP, _PILL_H, _MARGIN = 34.0, 22.0, 4.0  # between layers; the input and output; around
#: The widest line of numbers a box shows (what the page's ``fmt`` writes, four digits).
_WIDEST_NUMBERS = ("‖∂‖ -1.234e-10", "mean -1.234e-10", "norm -1.234e-10")


@dataclass(frozen=True)
class _Box:
    """Where a box goes inside its cell (relative to the cell's corner)."""

    role: str
    x: float
    y: float
    state: bool


def data(drawing: UnrolledGraph, recording: Recording | None) -> dict[str, Any] | None:
    """The rolled network of ``drawing`` and each step's numbers in it; None for a graph
    without steps (or whose steps name no state).

    ``cells`` holds one cell per layer and direction (its box, its ``steps`` in ``t`` order, its
    loop and its ``boxes``: each state and gate with per step ``grad``, ``shade`` (an index into
    ``shades``: fill, status and ink on the plan's colour scale), ``mean`` and ``norm`` of the
    value); ``arrows`` and ``pills`` are the input and output; ``opensRolled`` says whether the
    page opens in this view.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(5, 1, 2))
    ...     out[-1].sum().backward()
    >>> rolled = data(mt.viz.draw_graph(out[-1].sum(), rec), rec)
    >>> [(c["label"], c["loop"]["lines"]) for c in rolled["cells"]]
    [('lstm.l0', ['h, c × 5 steps', 't = 0 → 4'])]
    >>> [b["role"] for b in rolled["cells"][0]["boxes"]], rolled["opensRolled"]
    (['h', 'c', 'forget', 'input', 'candidate', 'output'], False)
    """
    p, graph = drawing.plan, drawing.graph
    if not p.steps:
        return None
    found = _step_nodes(p, graph.nodes.values())
    parts = _parts(p.lanes, {layer for layer, _, _ in found})
    if not parts:
        return None
    shades: dict[tuple[str, str, str], int] = {}
    box_w = _box_width(p)
    cells, arrows, pills = [], [], []
    x = _MARGIN
    for lanes in parts:
        placed, width, part_arrows, part_pills = _place_part(p, lanes, box_w, x)
        for lane, layer, (cx, cy), boxes, size in placed:
            cells.append(_cell(p, lane, layer, (cx, cy), boxes, size, box_w, found, shades))
        arrows += part_arrows
        pills += part_pills
        x += width + _COL_GAP
    height = max(c["y"] + c["h"] for c in cells) + _LAYER_GAP / 2 + _PILL_H + _MARGIN
    longest = max(len(lane.steps) for lane in p.lanes)
    return {"opensRolled": longest > LONG_STEPS, "longSteps": LONG_STEPS,
            "width": _r(x - _COL_GAP + _MARGIN), "height": _r(height),
            "shades": [{"fill": fill, "status": status, "ink": ink} for fill, status, ink in shades],
            "cells": cells, "arrows": arrows, "pills": pills}


def _step_nodes(p: Plan, nodes: Iterable[Node]) -> dict[tuple[str | None, int, str], Node]:
    """Each step's states and gates by (layer, step, role): the nodes the graph's boxes of an
    op-by-op step show (a state named as its cell names it, a gate's output). Later nodes win,
    as in the plan's heat strip."""
    found = {}
    for n in nodes:
        step = p.drawn_step.get(n.key)
        if step is not None and n.cell_role:
            found[(n.layer, step, n.name)] = n
    return found


def _parts(lanes: Sequence[Lane], recurrent: set[str | None]) -> list[list[Lane]]:
    """The lanes grouped by part (an encoder, a decoder), in the plan's order, each with only
    its ``recurrent`` layers (those with a state or gate at some step: a decoder's attention
    has no loop to draw): a part's two directions stand side by side, forward first."""
    parts: dict[str, list[Lane]] = {}
    for lane in lanes:
        layers = [layer for layer in lane.layers if layer in recurrent]
        if layers:
            parts.setdefault(lane.part, []).append(replace(lane, layers=layers))
    return [sorted(group, key=lambda lane: lane.reverse) for group in parts.values()]


def _roles(p: Plan, layer: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return p.states.get(layer, ("h",)), p.gates.get(layer, ())


def _box_width(p: Plan) -> float:
    """One width for every box: the widest name (the cell's or the classic one) or line of numbers."""
    texts = [text_width(line, TEXT_PX) for line in _WIDEST_NUMBERS]
    for layer in p.layers:
        states, gates = _roles(p, layer)
        classic = p.gate_labels.get(layer, {})
        texts += [text_width(name, TITLE_PX, bold=True) for name in (*states, *gates, *classic.values())]
    return _r(max(texts) + 2 * _BOX_PAD)


def _cell_boxes(states: tuple[str, ...], gates: tuple[str, ...],
                box_w: float) -> tuple[list[_Box], float, float]:
    """The boxes of one cell, its width and height: the gates in a row at the bottom (where the
    input comes in), the states above them, the hidden state on the right above the last gate
    (where the output leaves and the loop starts), the other states centred over the rest."""
    columns = max(len(gates), 1)
    col_x = [_CELL_PAD + i * (box_w + _GAP) for i in range(columns)]
    top = _CELL_HEAD
    boxes = [_Box(states[0], col_x[-1], top, True)]
    others = states[1:]
    if others:
        span = col_x[-2] + box_w - col_x[0] if columns > 1 else box_w
        start = col_x[0] + (span - len(others) * box_w - (len(others) - 1) * _GAP) / 2
        boxes += [_Box(s, start + i * (box_w + _GAP), top, True) for i, s in enumerate(others)]
    if gates:
        y = top + _BOX_H + _ROW_GAP
        boxes += [_Box(g, x, y, False) for g, x in zip(gates, col_x)]
    rows = 2 if gates else 1
    width = col_x[-1] + box_w + _CELL_PAD
    height = _CELL_HEAD + rows * _BOX_H + (rows - 1) * _ROW_GAP + _CELL_PAD
    return boxes, width, height


def _loop_lines(p: Plan, lane: Lane, layer: str | None) -> list[str]:
    """The loop's label: which states it carries, how many times, and which way."""
    states = ", ".join(_roles(p, layer)[0])
    ts = [p.position[s] for s in lane.steps]
    count = f"{len(ts)} step" + ("s" if len(ts) != 1 else "")
    if lane.reverse:
        return [f"{states} × {count}", f"backwards: t = {max(ts)} → {min(ts)}"]
    return [f"{states} × {count}", f"t = {min(ts)} → {max(ts)}"]


def _place_part(p: Plan, lanes: list[Lane], box_w: float, left: float) -> tuple[list, float, list, list]:
    """Place one part's cells (rows of layers, bottom to top; columns of directions), its input
    below and its output above, from x = ``left``. Returns the placed cells, the part's width,
    its arrows and its pills."""
    rows = max(len(lane.layers) for lane in lanes)
    shapes = {(li, ri): _cell_boxes(*_roles(p, layer), box_w)
              for li, lane in enumerate(lanes) for ri, layer in enumerate(lane.layers)}
    label_w = {li: max(text_width(line, TITLE_PX, bold=True) for line in _loop_lines(p, lane, lane.layers[0]))
               for li, lane in enumerate(lanes)}
    col_w = {li: max(shapes[(li, ri)][1] for ri in range(len(lane.layers)))
             for li, lane in enumerate(lanes)}
    row_h = [max((shapes[(li, ri)][2] for li, lane in enumerate(lanes) if ri < len(lane.layers)), default=0)
             for ri in range(rows)]
    col_x, x = {}, left
    for li in range(len(lanes)):
        col_x[li] = x
        x += col_w[li] + _LOOP + _LABEL_GAP + label_w[li] + _COL_GAP
    row_y, y = {}, _MARGIN + _PILL_H + _LAYER_GAP / 2
    for ri in reversed(range(rows)):  # the top layer first: y grows downwards
        row_y[ri] = y
        y += row_h[ri] + _LAYER_GAP
    placed, ends = [], {}
    for li, lane in enumerate(lanes):
        for ri, layer in enumerate(lane.layers):
            boxes, w, h = shapes[(li, ri)]
            corner = (col_x[li], row_y[ri])
            placed.append((lane, layer, corner, boxes, (w, h)))
            hidden = boxes[0]
            ends[(li, ri)] = {"in": (corner[0] + w / 2, corner[1] + h),  # the middle of its bottom
                              "out": (corner[0] + hidden.x + box_w / 2, corner[1])}  # above its h
    arrows, pills = _wires(lanes, rows, ends, row_y, row_h)
    return placed, x - _COL_GAP - left, arrows, pills


def _wires(lanes: list[Lane], rows: int, ends: dict, row_y: dict, row_h: list) -> tuple[list, list]:
    """The input pill below the bottom layer and the arrows into it, every layer's output into
    every cell of the layer above (a bidirectional layer's next layer reads both directions),
    and the top layer's output into the output pill."""
    arrows, pills = [], []
    bottom = [ends[(li, 0)]["in"] for li in range(len(lanes))]
    pill_y = row_y[0] + row_h[0] + _LAYER_GAP / 2
    pill_x = sum(x for x, _ in bottom) / len(bottom)
    pills.append(_pill("input x_t", pill_x, pill_y))
    for i, end in enumerate(bottom):
        arrows.append({"kind": "input", "path": _elbow((pill_x, pill_y), end, i, len(bottom))})
    for ri in range(1, rows):
        sources = [ends[(li, ri - 1)]["out"] for li, lane in enumerate(lanes) if ri - 1 < len(lane.layers)]
        targets = [ends[(li, ri)]["in"] for li, lane in enumerate(lanes) if ri < len(lane.layers)]
        for i, src in enumerate(sources):
            for dst in targets:
                arrows.append({"kind": "layer", "path": _elbow(src, dst, i, len(sources))})
    top = [ends[(li, len(lane.layers) - 1)]["out"] for li, lane in enumerate(lanes)]
    pill_x = sum(x for x, _ in top) / len(top)
    pill_y = _MARGIN + _PILL_H
    pills.append(_pill("output y_t", pill_x, pill_y - _PILL_H))
    for i, src in enumerate(top):
        arrows.append({"kind": "output", "path": _elbow(src, (pill_x, pill_y), i, len(top))})
    return arrows, pills


def _pill(text: str, cx: float, y: float) -> dict[str, Any]:
    w = text_width(text, TEXT_PX + 1) + 20
    return {"text": text, "x": _r(cx - w / 2), "y": _r(y), "w": _r(w), "h": _PILL_H}


def _elbow(src: tuple[float, float], dst: tuple[float, float], lane: int, lanes: int) -> str:
    """An upward path from ``src`` to ``dst``: up, across at a height of its own (one per
    source, so two sources' crossings do not run on one line), up again; corners rounded."""
    (x0, y0), (x1, y1) = src, dst
    if abs(x0 - x1) < 0.5:
        return f"M{_xy(x0, y0)} V{round(y1, 1):g}"
    mid = y0 + (y1 - y0) * (lane + 1) / (lanes + 1)
    return _rounded([(x0, y0), (x0, mid), (x1, mid), (x1, y1)])


def _rounded(points: list[tuple[float, float]]) -> str:
    """An SVG path through ``points`` with corners rounded at ``_RADIUS`` (less where a leg is short).

    >>> _rounded([(0, 0), (0, 20), (30, 20)])
    'M0,0 L0,12 Q0,20 8,20 L30,20'
    """
    out = [f"M{_xy(*points[0])}"]
    for (ax, ay), (bx, by), (cx, cy) in zip(points, points[1:], points[2:]):
        r = min(_RADIUS, (abs(bx - ax) + abs(by - ay)) / 2, (abs(cx - bx) + abs(cy - by)) / 2)
        ux, uy = _unit(bx - ax, by - ay)
        vx, vy = _unit(cx - bx, cy - by)
        out.append(f"L{_xy(bx - ux * r, by - uy * r)} Q{_xy(bx, by)} {_xy(bx + vx * r, by + vy * r)}")
    out.append(f"L{_xy(*points[-1])}")
    return " ".join(out)


def _xy(x: float, y: float) -> str:
    """A point of a path, to a tenth of a pixel."""
    return f"{round(x, 1):g},{round(y, 1):g}"


def _unit(dx: float, dy: float) -> tuple[float, float]:
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    return dx / length, dy / length


def _cell(p: Plan, lane: Lane, layer: str | None, corner: tuple[float, float], boxes: list[_Box],
          size: tuple[float, float], box_w: float, found: dict, shades: dict) -> dict[str, Any]:
    """One cell's picture and its numbers at each of its lane's steps."""
    (x, y), (w, h) = corner, size
    gates = _roles(p, layer)[1]
    state_y = y + boxes[0].y + _BOX_H * (0.5 if gates else 0.3)
    back_y = y + boxes[-1].y + _BOX_H * (0.5 if gates else 0.75)
    right = x + w
    loop = _rounded([(right, state_y), (right + _LOOP, state_y), (right + _LOOP, back_y),
                     (right + 1, back_y)])
    hidden = boxes[0]
    classic = p.gate_labels.get(layer, {})
    drawn = []
    for box in boxes:
        label = classic.get(box.role)
        entry = {"role": box.role, "title": box.role, "state": box.state,
                 "classic": label, "classicSize": _fit(label, box_w) if label else None,
                 "x": _r(x + box.x), "y": _r(y + box.y), "w": box_w, "h": _r(_BOX_H)}
        entry.update(_numbers(p, [(s, found.get((layer, s, box.role))) for s in lane.steps], shades))
        drawn.append(entry)
    return {"layer": layer or "", "label": layer or "recurrent step", "lane": lane.name, "part": lane.part,
            "reverse": lane.reverse, "x": _r(x), "y": _r(y), "w": _r(w), "h": _r(h),
            "steps": list(lane.steps),
            "name": {"x": _r(x + 10), "y": _r(y + 16),  # the cell's name, then its step
                     "tx": _r(x + 10 + text_width(layer or "recurrent step", NAME_PX, bold=True) + 12)},
            "loop": {"path": loop, "lines": _loop_lines(p, lane, layer),
                     "x": _r(right + _LOOP + _LABEL_GAP), "y": _r((state_y + back_y) / 2),
                     "stub": f"M{_xy(x + hidden.x + box_w, state_y)} H{round(right, 1):g}"},  # h to the edge
            "boxes": drawn}


def _fit(label: str, box_w: float) -> float:
    """The classic name's font size: the title's, unless the box is too narrow for it."""
    room = box_w - 2 * _BOX_PAD
    return round(min(TITLE_PX, TITLE_PX * room / max(text_width(label, TITLE_PX, bold=True), 1.0)), 1)


def _numbers(p: Plan, nodes: list[tuple[int, Node | None]], shades: dict) -> dict[str, list]:
    """Per step: the gradient's norm and its shade, the value's mean and norm (None where the
    step has no such node or nothing was recorded). A gradient is exactly zero without having
    faded ("zero") as the graph's box says where the step is drawn op by op, else where the
    plan says so of the whole step."""
    grad, shade, mean, norm = [], [], [], []
    for step, n in nodes:
        g = n.grad.norm if n is not None and n.grad is not None else None
        box = p.boxes.get(n.key) if n is not None else None
        zero = box.no_gradient if box is not None else g == 0 and step in p.no_gradient
        fill = p.colour(g, zero) or "#ffffff"
        key = (fill, p.status(g, zero), ink(fill))
        grad.append(page_number(g))
        shade.append(shades.setdefault(key, len(shades)))
        value = n.value if n is not None else None
        mean.append(page_number(value.mean) if value is not None else None)
        norm.append(page_number(value.norm) if value is not None else None)
    return {"grad": grad, "shade": shade, "mean": mean, "norm": norm}




def _r(x: float) -> float:
    return round(x, 1)
