"""Where everything goes: one template per cell, straight lines through time, in points.

The picture follows the textbook figure of backprop through time. Every step of a layer is
drawn from the same template, computed from what the cell declares:

- the hidden state runs along the bottom line of the layer: the op that reads ``h_{t-1}``
  at its left end, ``h_t`` at its right end, so the edge from one step to the next is a
  short horizontal segment; every other state (the LSTM's cell state ``c``) runs along the
  top line the same way;
- the ops in between stand in rows by how far they are from the step's inputs (inputs
  below, results above), and the gates side by side in the cell's display order (the
  LSTM's forget, input, candidate, output), the same in every step, layer and direction;
- what a step reads from outside (its slice of the input projection, stand-ins of the
  shared weights) sits on a row below it, what it sends out (its output) on a row above.

Steps stand left to right in time, layers stacked bottom to top within a step, the two
directions of a bidirectional layer as two lanes aligned by position (the reverse lane
mirrored, so its states flow right to left), and an encoder and a decoder one after the
other. Time wraps into rows, like lines of text, so that a picture of any length keeps
within 4:1; a state that continues on the next row leaves its step with a short stub and
enters the next with another. What every step shares (weights, the input projection) sits
in a band above; what the steps feed (the outputs, the loss) beside the last step.

Coordinates are points (1/72 inch), x to the right and y down, with the picture's top left
at (0, 0). The DOT writer pins every box and edge there (``neato -n2``), so Graphviz
draws exactly this; the explorer's page shows that drawing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from .plan import Box, Lane, Link, Plan

TITLE_PT, SMALL_PT = 14.0, 10.0  # font sizes of a box's title and of its smaller lines
_TITLE_H, _LINE_H, _BOX_PAD_X, _BOX_PAD_Y = 18.0, 12.5, 9.0, 6.0
_MIN_W = 58.0
_H_GAP, _V_GAP = 18.0, 24.0  # between boxes of a row, between rows of a step
_FRAME_PAD, _FRAME_TITLE = 14.0, 24.0  # inside an op-level step's frame; the band its title takes
_CELL_PAD = 10.0  # inside the frame of a step drawn as one box per layer
_LAYER_GAP = 20.0  # between stacked layers of a step
_COL_GAP = 46.0  # between the steps of a row: room for the state edges
_STAFF_GAP = 30.0  # between the lanes of one row (a bidirectional layer's directions)
_ROW_GAP = 56.0  # between rows of time
_STUB = 20.0  # how far a state edge reaches out of its step when it continues on the next row
_TITLE_BAND = 34.0  # above everything, for the picture's title

# Helvetica's advance widths in ems, roughly, for sizing boxes to their text.
_NARROW, _WIDE = set("ijlI.,:;|!'`()[]{} ft"), set("mwMW@%")


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` in points at font ``size``, estimated from Helvetica's widths.

    >>> round(text_width("h W_hhᵀ", 14), 1) > round(text_width("h", 14), 1)
    True
    """
    ems = sum(0.3 if c in _NARROW else 0.85 if c in _WIDE else 0.68 if c.isupper() else 0.56
              for c in text)
    return ems * size * (1.07 if bold else 1.0)


@dataclass(frozen=True)
class Rect:
    """A rectangle: top left ``(x, y)``, width and height, in points.

    >>> r = Rect(10, 20, 30, 40)
    >>> r.cx, r.cy, r.right, r.bottom, r.union(Rect(0, 0, 5, 5))
    (25.0, 40.0, 40, 60, Rect(x=0, y=0, w=40, h=60))
    """

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def union(self, other: Rect) -> Rect:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Rect(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def grow(self, dx: float, top: float | None = None, bottom: float | None = None) -> Rect:
        top = dx if top is None else top
        bottom = dx if bottom is None else bottom
        return Rect(self.x - dx, self.y - top, self.w + 2 * dx, self.h + top + bottom)

    def moved(self, dx: float, dy: float) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)


Path = list[tuple[float, float]]


@dataclass
class Layout:
    """Where a plan's boxes, step frames and edges go.

    ``paths[i]`` draws ``plan.links[i]``: one polyline, or two for a state that continues
    on the next row (a stub out of its step, a stub into the next)."""

    rects: dict[str, Rect]
    frames: dict[int, Rect]  # each step's frame
    layer_frames: dict[tuple[int, str | None], Rect]  # op-level steps of several layers: each layer
    paths: dict[int, list[Path]]
    rows: list[list[int]]
    width: float
    height: float
    head: list[str]  # what the steps feed (the outputs, the loss), beside the last step
    titles: dict[int, tuple[float, float]] = field(default_factory=dict)  # op-level frames' title positions

    @property
    def aspect(self) -> float:
        return self.width / max(self.height, 1.0)


def box_size(box: Box) -> tuple[float, float]:
    """A box's width and height in points, from its text.

    >>> box_size(Box("k", "op", "h", ["Tanh (2, 8)", "‖∂L/∂h‖ 1.00e+00"]))[1]
    55.0
    """
    titles = [box.title, box.classic] if box.classic else [box.title]  # the page can switch names
    wide = max([text_width(title, TITLE_PT, bold=True) for title in titles]
               + [text_width(line, SMALL_PT) for line in box.lines])
    return max(_MIN_W, wide + 2 * _BOX_PAD_X), _TITLE_H + _LINE_H * len(box.lines) + 2 * _BOX_PAD_Y


def layout(drawn: Plan, aspect: float) -> Layout:
    """Place everything in ``drawn``, wrapping time into rows so that the picture is about
    ``aspect`` times as wide as high (never past 4:1 when anything fits within it).

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(3, 1, 2))
    ...     (out[-1] ** 2).sum().backward()
    >>> p = mt.viz.plan(mt.viz.trace((out[-1] ** 2).sum(), rec), detail="op")
    >>> row = p.rows[0]
    >>> c = [p.layout.rects[k].cy for k, b in p.boxes.items() if b.role == "c" and b.step in row]
    >>> len(c) == len(row), max(c) - min(c)  # the cell state runs along one straight line
    (True, 0.0)
    """
    return _Layouter(drawn).best(aspect)


class _Layouter:
    def __init__(self, drawn: Plan) -> None:
        self.p = drawn
        self.size = {key: box_size(box) for key, box in drawn.boxes.items()}
        self.ins: dict[str, list[str]] = defaultdict(list)
        self.outs: dict[str, list[str]] = defaultdict(list)
        for link in drawn.links:
            if link.attention is None:
                self.ins[link.dst].append(link.src)
                self.outs[link.src].append(link.dst)
        self.blocks = {(t, layer): self.block(t, layer, keys) for t, layers in drawn.clusters.items()
                       for layer, keys in layers.items()}
        self.upstream, self.head = self.outside()
        self.row_h = {layer: self.layer_height(layer) for layer in drawn.layers}

    # -- one step of one layer --------------------------------------------------------
    def block(self, step: int, layer: str | None, keys: list[str]) -> _Block:
        """The template: each box's centre relative to the start of the hidden-state line (x to
        the right, y down), from the step's own structure and its cell's declaration."""
        if step not in self.p.detailed:
            w, h = self.size[keys[0]]
            return _Block({keys[0]: (w / 2, 0.0)}, w, h / 2, h / 2)
        box = self.p.boxes
        core = [k for k in keys if box[k].kind == "op" and box[k].role != "initial"]
        pins = self.pins(core, self.p.states.get(layer, ("h",)))
        row = self.rows(core, pins)
        reverse = self.p.lane_of(step).reverse  # mirrored at the end: its gates are placed mirrored here
        x = self.columns(core, row, pins, self.p.gates.get(layer, ()), reverse, keys)
        row_h = max((self.size[k][1] for k in core), default=_TITLE_H) + _V_GAP
        centre = {k: (x[k], -row[k] * row_h) for k in core}
        self.around(keys, centre, pins, row_h, max(row.values(), default=0) + 1)
        if reverse:  # mirrored: states flow right to left, gates still in display order
            centre = {k: (-cx, cy) for k, (cx, cy) in centre.items()}
        left_edge = min(cx - self.size[k][0] / 2 for k, (cx, cy) in centre.items())
        centre = {k: (cx - left_edge, cy) for k, (cx, cy) in centre.items()}
        return _Block(centre, max(cx + self.size[k][0] / 2 for k, (cx, cy) in centre.items()),
                      max(-cy + self.size[k][1] / 2 for k, (cx, cy) in centre.items()),
                      max(cy + self.size[k][1] / 2 for k, (cx, cy) in centre.items()))

    def pins(self, core: list[str], states: tuple[str, ...]) -> _Pins:
        """Where the state lines hold boxes: the hidden state's line along the bottom (what reads
        ``h_{t-1}`` first at its left end, ``h_t`` at its right end), the other states' along
        the top (``f ⊙ c`` left, ``c`` right)."""
        box, hidden, others = self.p.boxes, states[0], set(states[1:])
        top = {k for k in core if box[k].role in others or others.intersection(box[k].reads)}
        return _Pins(hidden, {k for k in core if hidden in box[k].reads},
                     {k for k in core if box[k].role in states}, top)

    def rows(self, core: list[str], pins: _Pins) -> dict[str, int]:
        """Each box's row, 0 at the bottom: the longest path from the step's inputs, not counting
        what comes from the top line (tanh(c) reads c, yet belongs low, beside h); the hidden
        state on row 0, the top line above everything else."""
        row: dict[str, int] = {}
        for k in core:  # keys come in forward order
            if k not in pins.top:
                row[k] = max((row[s] + 1 for s in self.ins[k] if s in row and s not in pins.top), default=0)
        pins.left = {k for k in pins.left if row.get(k) == 0}  # what reads h first, on h's line
        for k in core:
            if self.p.boxes[k].role == pins.hidden:
                row[k] = 0
        compress = {r: i for i, r in enumerate(sorted(set(row.values())))}
        row = {k: compress[r] for k, r in row.items()}
        top = max(row.values(), default=-1) + 1
        return {**row, **dict.fromkeys(pins.top, top)}

    def columns(self, core: list[str], row: dict[str, int], pins: _Pins, gates: tuple[str, ...],
                reverse: bool, keys: list[str]) -> dict[str, float]:
        """Each box's x: a gate's boxes in the gate's column (display order), the ends of the state
        lines at the ends, everything else between its neighbours; then each row spread out so
        no two boxes overlap, and the hidden state last, as the step's right end."""
        box = self.p.boxes
        col_w = max((self.size[k][0] for k in core), default=_MIN_W) + _H_GAP
        middle = (max(len(gates), 1) - 1) * col_w / 2
        lo, hi = -col_w, max(len(gates), 1) * col_w
        want: dict[str, float] = {}
        for k in core:
            g = box[k].gate
            if k in pins.left or (k in pins.top and k not in pins.right):
                want[k] = lo
            elif k in pins.right:
                want[k] = hi
            elif g in gates:
                want[k] = (len(gates) - 1 - gates.index(g) if reverse else gates.index(g)) * col_w
            else:
                want[k] = middle
        fixed = {k for k in core if box[k].gate in gates or k in pins.left | pins.right | pins.top}
        inside = set(core)
        neighbours = {k: [m for m in self.ins[k] + self.outs[k] if m in inside] for k in core}
        for _ in range(4):  # a few sweeps of barycentres: enough for a cell's handful of rows
            for k in core:
                if k not in fixed and neighbours[k]:
                    want[k] = sum(want[m] for m in neighbours[k]) / len(neighbours[k])
        x: dict[str, float] = {}
        order = {k: i for i, k in enumerate(keys)}
        for r in sorted(set(row.values())):
            self.spread([k for k in core if row[k] == r], want, x, order)
        hidden = [k for k in core if box[k].role == pins.hidden]
        right_end = max((x[m] + self.size[m][0] / 2 for m in core if m not in hidden), default=0.0)
        for k in hidden:  # the step's right end: the hidden state leaves from here
            x[k] = max(right_end, x[k] - self.size[k][0] / 2) + _H_GAP + self.size[k][0] / 2
        return x

    def around(self, keys: list[str], centre: dict[str, tuple[float, float]], pins: _Pins, row_h: float,
               rows: int) -> None:
        """What is not an op of the step: an initial state left of the op that reads it; other
        inputs (the step's slice of the input projection, stand-ins of shared weights, its
        padding at the far left) on a row below; its outputs' stand-ins on a row above."""
        box = self.p.boxes
        order = {k: i for i, k in enumerate(keys)}
        for k in keys:
            on_a_line = pins.left | pins.top
            readers = [m for m in self.outs[k] if m in on_a_line] if box[k].role == "initial" else []
            if readers:
                m = readers[0]
                centre[k] = (centre[m][0] - self.size[m][0] / 2 - _H_GAP - self.size[k][0] / 2, centre[m][1])
        low = [k for k in keys if k not in centre and (box[k].kind == "padding" or self.outs[k])]
        high = [k for k in keys if k not in centre and k not in low]
        leftmost = min((cx - self.size[k][0] for k, (cx, _) in centre.items()), default=0.0)

        def mean_x(neighbours: list[str]) -> float:
            xs = [centre[m][0] for m in neighbours if m in centre]
            return sum(xs) / len(xs) if xs else leftmost

        for group, y_of in ((low, lambda h: (row_h - _V_GAP) / 2 + _V_GAP + h / 2),
                            (high, lambda h: -rows * row_h)):
            if not group:
                continue
            want = {k: leftmost if box[k].kind == "padding"
                    else mean_x(self.outs[k] if group is low else self.ins[k]) for k in group}
            xs: dict[str, float] = {}
            self.spread(group, want, xs, order)
            height = max(self.size[k][1] for k in group)
            for k in group:
                centre[k] = (xs[k], y_of(height))

    def spread(self, keys: list[str], want: dict[str, float], x: dict[str, float],
               order: dict[str, int]) -> None:
        """Left to right by wanted position, each as near its wish as the one before allows."""
        edge = -math.inf
        for k in sorted(keys, key=lambda k: (want[k], order.get(k, 0))):
            half = self.size[k][0] / 2
            x[k] = max(want[k], edge + _H_GAP + half)
            edge = x[k] + half

    def layer_height(self, layer: str | None) -> tuple[float, float]:
        """How far the layer's boxes reach above and below its hidden-state line, over all its
        steps at one level of detail (so every step of a row puts that line at one height)."""
        found = {True: (0.0, 0.0), False: (0.0, 0.0)}
        for (t, lay), b in self.blocks.items():
            if lay == layer:
                d = t in self.p.detailed
                found[d] = (max(found[d][0], b.up), max(found[d][1], b.down))
        return found

    # -- outside the steps ----------------------------------------------------------------
    def outside(self) -> tuple[list[str], list[str]]:
        """Boxes outside the steps: those that feed some step (weights, the input projection:
        the band above the rows), and the rest (outputs, the loss: beside the last step)."""
        timeless = [k for k, b in self.p.boxes.items() if b.step is None]
        return [k for k in timeless if k in self.p.band], [k for k in timeless if k not in self.p.band]

    def dag_rows(self, keys: list[str], downward: bool) -> list[list[str]]:
        """Boxes outside the steps in rows by the longest path among them."""
        inside = set(keys)
        depth: dict[str, int] = {}
        for k in keys:  # forward order: inputs first
            depth[k] = max((depth[s] + 1 for s in self.ins[k] if s in inside and s in depth), default=0)
        rows: dict[int, list[str]] = defaultdict(list)
        for k in keys:
            rows[depth[k]].append(k)
        ordered = [rows[d] for d in sorted(rows)]
        return ordered if downward else ordered[::-1]

    # -- the whole picture ---------------------------------------------------------------
    def best(self, aspect: float) -> Layout:
        """Of row widths from one step to all of them, the picture nearest ``aspect``."""
        p = self.p
        widths = [self.column_width(self.group(lane), t) for lane in p.lanes for t in range(len(lane.steps))]
        if not widths:
            return self.pack(math.inf)  # nothing recurrent: no state continues on another row
        lo, hi = max(widths), sum(w + _COL_GAP for w in widths)
        band = [self.size[k][0] + _H_GAP for k in self.upstream]
        lo = max(lo, min(hi, max(band, default=0.0)))
        tries = [self.pack(lo * (hi / lo) ** (i / 23)) for i in range(24)] if hi > lo else [self.pack(lo)]
        fitting = [t for t in tries if t.aspect <= 2.5] or [t for t in tries if t.aspect <= 4] or tries
        chosen = min(fitting, key=lambda t: abs(math.log(t.aspect / aspect)))
        for i, link in enumerate(p.links):
            link.wrap = len(chosen.paths[i]) == 2
        return chosen

    def group(self, lane: Lane) -> list[Lane]:
        """The lanes drawn together with ``lane``: its part's directions."""
        return [other for other in self.p.lanes if other.part == lane.part]

    def column_width(self, lanes: list[Lane], t: int) -> float:
        widths = []
        for lane in lanes:
            if t < len(lane.steps):
                step = lane.steps[t]
                widths += [self.blocks[(step, layer)].width for layer in self.p.clusters[step]]
                pad = _FRAME_PAD if step in self.p.detailed else _CELL_PAD
                widths = [w + 2 * pad for w in widths]
        return max(widths, default=0.0)

    def pack(self, limit: float) -> Layout:
        p = self.p
        rects: dict[str, Rect] = {}
        frames: dict[int, Rect] = {}
        layer_frames: dict[tuple[int, str | None], Rect] = {}
        titles: dict[int, tuple[float, float]] = {}
        rows: list[list[int]] = []
        row_of: dict[int, int] = {}
        row_boxes: list[Rect] = []
        y = 0.0
        # The band of what every step shares, wrapped at the same width as time.
        band_rows = []
        for keys in self.dag_rows(self.upstream, downward=True):
            line: list[str] = []
            width = 0.0
            for k in keys:
                w = self.size[k][0] + _H_GAP
                if line and width + w > max(limit, 1.0):
                    band_rows.append(line)
                    line, width = [], 0.0
                line.append(k)
                width += w
            if line:
                band_rows.append(line)
        for line in band_rows:
            x, h = 0.0, max(self.size[k][1] for k in line)
            for k in line:
                w, bh = self.size[k]
                rects[k] = Rect(x, y + (h - bh) / 2, w, bh)
                x += w + _H_GAP
            y += h + _V_GAP
        if band_rows:
            y += _ROW_GAP - _V_GAP

        parts: list[list[Lane]] = []
        for lane in p.lanes:
            if not any(lane in g for g in parts):
                parts.append(self.group(lane))
        for lanes in parts:
            length = max(len(lane.steps) for lane in lanes)
            detailed = [any(t < len(lane.steps) and lane.steps[t] in p.detailed for lane in lanes)
                        for t in range(length)]
            cols = [self.column_width(lanes, t) for t in range(length)]
            runs: list[list[int]] = []
            for t in range(length):  # runs of one level of detail, each cut into rows of equal length
                if runs and detailed[runs[-1][-1]] == detailed[t]:
                    runs[-1].append(t)
                else:
                    runs.append([t])
            runs = [row for run in runs for row in self.cut(run, cols, limit)]
            for run in runs:
                y = self.place_row(lanes, run, detailed[run[0]], cols, y, rects, frames, layer_frames, titles,
                                   row_boxes)
                for lane in lanes:
                    steps = [lane.steps[t] for t in run if t < len(lane.steps)]
                    if steps:
                        rows.append(steps)
                        for s in steps:
                            row_of[s] = len(rows) - 1
                y += _ROW_GAP
        self.place_head(rects, row_boxes)
        # Everything from (0, 0).
        every = list(rects.values()) + list(frames.values())
        left = min((r.x for r in every), default=0.0)
        top = min((r.y for r in every), default=0.0)
        if left or top:
            rects = {k: r.moved(-left, -top) for k, r in rects.items()}
            frames = {k: r.moved(-left, -top) for k, r in frames.items()}
            layer_frames = {k: r.moved(-left, -top) for k, r in layer_frames.items()}
            titles = {k: (a - left, b - top) for k, (a, b) in titles.items()}
        if p.title:  # a band for the title above everything
            rects = {k: r.moved(0, _TITLE_BAND) for k, r in rects.items()}
            frames = {k: r.moved(0, _TITLE_BAND) for k, r in frames.items()}
            layer_frames = {k: r.moved(0, _TITLE_BAND) for k, r in layer_frames.items()}
            titles = {k: (a, b + _TITLE_BAND) for k, (a, b) in titles.items()}
        every = list(rects.values()) + list(frames.values())
        width = max((r.right for r in every), default=1.0)
        height = max((r.bottom for r in every), default=1.0)
        paths = {i: self.path(link, rects, row_of, frames) for i, link in enumerate(p.links)}
        return Layout(rects, frames, layer_frames, paths, rows, width, height, self.head, titles)

    @staticmethod
    def cut(run: list[int], cols: list[float], limit: float) -> list[list[int]]:
        """As few rows as hold ``run`` within ``limit``, of equal length."""
        total = sum(cols[t] + _COL_GAP for t in run)
        count = max(1, min(len(run), math.ceil(total / max(limit, 1.0))))
        while True:
            size = math.ceil(len(run) / count)
            rows = [run[i:i + size] for i in range(0, len(run), size)]
            if count >= len(run) or all(sum(cols[t] + _COL_GAP for t in r) - _COL_GAP <= limit for r in rows):
                return rows
            count += 1

    def place_row(self, lanes: list[Lane], run: list[int], detailed: bool, cols: list[float], y: float,
                  rects: dict[str, Rect], frames: dict[int, Rect], layer_frames: dict, titles: dict,
                  row_boxes: list[Rect]) -> float:
        """One row of time: each lane of the part a band of stacked layers, steps left to right,
        each step in its frame (op-level ones titled)."""
        p = self.p
        pad = _FRAME_PAD if detailed else _CELL_PAD
        xs, x = {}, 0.0
        for t in run:
            xs[t] = x
            x += cols[t] + _COL_GAP
        for lane in lanes:
            lines = {}
            cursor = y + pad + (_FRAME_TITLE if detailed else 0.0)
            for layer in reversed(lane.layers):  # top to bottom
                up, down = self.row_h[layer][detailed]
                lines[layer] = cursor + up
                cursor += up + down + _LAYER_GAP
            bottom = cursor - _LAYER_GAP + pad
            for t in run:
                if t >= len(lane.steps):
                    continue
                step = lane.steps[t]
                for layer in p.clusters[step]:
                    b = self.blocks[(step, layer)]
                    # Op-level steps start at their frame's start (the end, for a reverse lane); cells centre.
                    if not detailed:
                        left = xs[t] + (cols[t] - b.width) / 2
                    else:
                        left = xs[t] + cols[t] - pad - b.width if lane.reverse else xs[t] + pad
                    placed = []
                    for k, (cx, cy) in b.centre.items():
                        w, h = self.size[k]
                        rects[k] = Rect(left + cx - w / 2, lines[layer] + cy - h / 2, w, h)
                        placed.append(rects[k])
                    if detailed and len(p.clusters[step]) > 1 and placed:
                        whole = placed[0]
                        for r in placed[1:]:
                            whole = whole.union(r)
                        layer_frames[(step, layer)] = whole.grow(6, top=18)
                frames[step] = Rect(xs[t], y, cols[t], bottom - y)
                if detailed:
                    titles[step] = (frames[step].cx, y + _FRAME_TITLE * 0.62)
                row_boxes.append(frames[step])
            y = bottom + _STAFF_GAP
        return y - _STAFF_GAP

    def place_head(self, rects: dict[str, Rect], row_boxes: list[Rect]) -> None:
        """What the steps feed, beside the last step: from the first thing it reads (bottom) to
        the loss (top)."""
        if not self.head:
            return
        head = set(self.head)
        entering = [rects[s] for k in self.head for s in self.ins[k] if s not in head and s in rects]
        rows = self.dag_rows(self.head, downward=False)
        heights = [max(self.size[k][1] for k in line) for line in rows]
        total = sum(heights) + _V_GAP * (len(rows) - 1)
        if entering:  # its first row level with the box the gradient enters through
            top = max(r.cy for r in entering) + heights[-1] / 2 - total
        else:
            top = max((r.bottom for r in row_boxes), default=0.0) + _ROW_GAP
        near = [r for r in row_boxes if r.bottom > top and r.y < top + total] or row_boxes
        x0 = max((r.right for r in near), default=0.0) + _COL_GAP
        y = top
        for line, h in zip(rows, heights):
            x = x0
            # What a step feeds first, nearest the step: its edge stays short and clear.
            for k in sorted(line, key=lambda k: not any(s not in head for s in self.ins[k])):
                w, bh = self.size[k]
                rects[k] = Rect(x, y + (h - bh) / 2, w, bh)
                x += w + _H_GAP
            y += h + _V_GAP

    def path(self, link: Link, rects: dict[str, Rect], row_of: dict[int, int],
             frames: dict[int, Rect]) -> list[Path]:
        a, b = rects[link.src], rects[link.dst]
        sa, sb = self.p.boxes[link.src].step, self.p.boxes[link.dst].step
        if link.state and sa is not None and sb is not None and row_of.get(sa) != row_of.get(sb):
            # It continues on the next row: a stub out of its step, and one into the next, each
            # within its own step's frame.
            fa, fb = frames[sa], frames[sb]
            if self.p.lane_of(sa).reverse:
                return [[(a.x, a.cy), (max(a.x - _STUB, fa.x + 2), a.cy)],
                        [(min(b.right + _STUB, fb.right - 2), b.cy), (b.right, b.cy)]]
            return [[(a.right, a.cy), (min(a.right + _STUB, fa.right - 2), a.cy)],
                    [(max(b.x - _STUB, fb.x + 2), b.cy), (b.x, b.cy)]]
        if link.state and abs(a.cy - b.cy) < 1.0:  # along a state's line
            if b.cx >= a.cx:
                return [[(a.right, a.cy), (b.x, b.cy)]]
            return [[(a.x, a.cy), (b.right, b.cy)]]
        return [[clip(a, b.cx, b.cy), clip(b, a.cx, a.cy)]]


@dataclass
class _Pins:
    """The boxes a step's state lines hold: ``left`` reads the hidden state first (left end of
    the bottom line), ``right`` are the states the step computes (right ends), ``top`` the
    boxes of the other states' line (the LSTM's ``f ⊙ c`` and ``c``)."""

    hidden: str
    left: set[str]
    right: set[str]
    top: set[str]


@dataclass
class _Block:
    """One step of one layer: box centres relative to (left end, hidden-state line), and how
    far the block reaches right, above and below that line."""

    centre: dict[str, tuple[float, float]]
    width: float
    up: float
    down: float


def clip(r: Rect, tx: float, ty: float) -> tuple[float, float]:
    """Where the segment from ``r``'s centre towards ``(tx, ty)`` leaves ``r``.

    >>> clip(Rect(0, 0, 10, 10), 20, 5)
    (10.0, 5.0)
    """
    dx, dy = tx - r.cx, ty - r.cy
    if dx == 0 and dy == 0:
        return r.cx, r.cy
    scale = min(r.w / 2 / abs(dx) if dx else math.inf, r.h / 2 / abs(dy) if dy else math.inf)
    return r.cx + dx * scale, r.cy + dy * scale
