"""The units view: each hidden unit of a state or gate over time, its value and its gradient.

Clicking a state's box (``h``, ``c``) or a gate's opens a heatmap of hidden unit x step for
that tensor of that layer: the value and ``dL/d(tensor)`` of every unit at every column of
the heat strip (``columns.py``), as the batch mean and, for batches of up to ``MAX_ROWS``
rows, per row. Computed here from the arrays the recording keeps of every op inside a step
(``Recording.step_values`` and ``step_grads``, read through the graph's nodes).

A packed sequence's step has fewer rows where sequences have ended; its mean is over the
rows present, and a row that is padding at a step has no number there (null). Where a
column stands for several steps, it holds the mean over its steps.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

import numpy as np

from ..columns import column_positions, lane_columns, row_label, steps_per_column
from ..dot import UnrolledGraph
from ..numbers import page_number
from ..plan import Plan
from ..record import Recording
from ..trace import Node

NAME = "units"
#: The largest batch whose rows each get their own heatmap (the page's "row k" switch).
MAX_ROWS = 8
#: At most this many numbers for the rows one by one (about 9 bytes each in the page).
ROW_NUMBERS = 250_000
#: Significant digits of every number written: enough to check against the recording to 1e-6.
DIGITS = 7
#: Decades of |gradient| the gradient map's colours span below its largest entry.
DECADES = 6
#: A diverging palette (ColorBrewer RdBu): blue below zero, white at zero, red above.
DIVERGING = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
             "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f")


def data(drawing: UnrolledGraph, recording: Recording | None) -> dict[str, Any] | None:
    """Every state's and gate's units over the strip's columns, per layer; None without the
    step arrays a recording keeps.

    >>> import microtensor as mt
    >>> gru = mt.nn.GRU(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = gru(mt.randn(5, 1, 2))
    ...     out[-1].sum().backward()
    >>> units = data(mt.viz.draw_graph(out[-1].sum(), rec), rec)
    >>> layer = units["layers"][0]
    >>> layer["layer"], list(layer["tensors"]), len(layer["tensors"]["h"]["maps"][0]["value"])
    ('gru.l0', ['h', 'reset', 'update', 'new'], 3)
    >>> data(mt.viz.draw_graph(out[-1].sum()), None) is None
    True
    """
    if not isinstance(drawing, UnrolledGraph):
        raise TypeError(f"units view: drawing must be the UnrolledGraph that mt.viz.draw_graph returns, "
                        f"got {type(drawing).__name__}")
    if recording is None or not (recording.step_values or recording.step_grads):
        return None
    p, g = drawing.plan, drawing.graph
    found = _tensors(g.nodes.values(), p)
    if not found:
        return None
    batch = max(_batch(n) for steps in found.values() for n in steps.values())
    shown = []  # (layer, its tensors, its lane), as the graph and the strip stack them, top down
    for layer in p.layers:
        names = _ordered(layer, found)
        if names:
            shown.append((layer, names, p.lane_of(next(iter(found[(layer, names[0])])))))
    # The rows one by one, for a small batch, unless they would make the page too big.
    numbers = sum(2 * _units(found[(layer, name)]) * len(lane_columns(p, lane))
                  for layer, names, lane in shown for name in names)
    by_row = 1 < batch <= MAX_ROWS and batch * numbers <= ROW_NUMBERS
    layers, index = [], {}
    for layer, names, lane in shown:
        columns = lane_columns(p, lane)
        rows = _caller_rows([n for name in names for n in found[(layer, name)].values()], batch)
        index[layer] = len(layers)
        layers.append({"layer": layer or "", "label": row_label(layer, lane),
                       "columns": columns, "t": [[ts[0], ts[-1]] for ts in column_positions(p, lane)],
                       "units": _units(found[(layer, names[0])]),
                       "tensors": {name: {"maps": _maps(found[(layer, name)], columns, rows,
                                                        batch if by_row else 0)} for name in names}})
    if batch == 1:
        about = "one sequence in the batch"
    elif by_row:
        about = ""  # the switch says it
    elif batch > MAX_ROWS:
        about = f"the mean over the batch's {batch} rows (the rows one by one for batches up to {MAX_ROWS})"
    else:
        about = (f"the mean over the batch's {batch} rows (the rows one by one are left out: they would "
                 f"add {batch * numbers:,} numbers, about {batch * numbers * 9 / 1e6:.0f} MB, to the page)")
    per = steps_per_column(p)
    note = f"each column: the mean over {per} steps" if per > 1 else ""
    return {"modes": ["batch mean"] + [f"row {k}" for k in range(batch if by_row else 0)], "batch": batch,
            "about": about, "note": note, "palette": list(DIVERGING),
            "boxes": _boxes(p, g.nodes, found, index), "layers": layers}


def _tensors(nodes: Any, p: Plan) -> dict[tuple[str | None, str], dict[int, Node]]:
    """(layer, name) -> drawn step -> the node of each state and gate inside the steps."""
    found: dict[tuple[str | None, str], dict[int, Node]] = defaultdict(dict)
    for n in nodes:
        step = p.drawn_step.get(n.key)
        if step is None or n.step is None or n.array is None:
            continue
        if n.cell_role:
            # A name given twice in one step (a loop of one's own may do so) keeps the
            # last one computed: the first the backward pass visits.
            held = found[(n.layer, n.name)].get(step)
            if held is None or (n.visit is not None and (held.visit is None or n.visit < held.visit)):
                found[(n.layer, n.name)][step] = n
    return found


def _ordered(layer: str | None, found: dict[tuple[str | None, str], dict[int, Node]]) -> list[str]:
    """The tensors found of ``layer``, in its cell's order: states (hidden first), then gates."""
    mine = [steps for (lay, _), steps in found.items() if lay == layer]
    if not mine:
        return []
    cell = next(iter(mine[0].values()))
    order = [*cell.states, *cell.gates]
    names = [name for (lay, name) in found if lay == layer]
    return sorted(names, key=lambda name: order.index(name) if name in order else len(order))


def _batch(n: Node) -> int:
    """The number of sequences in the batch at ``n``'s step: its ``batch`` tag, else its rows."""
    if n.padding is not None:
        return n.padding.batch
    return n.array.shape[0] if n.array.ndim > 1 else 1


def _caller_rows(nodes: list[Node], batch: int) -> dict[int, np.ndarray]:
    """Per step ``t``, the caller's batch row of each row of the step's arrays (-1: padding).

    A packed run (some step has fewer rows than the batch) holds the sequences longest
    first, as packing sorts them (ties in the caller's order), and at each step only those
    not padding there. A run that computes every row at every step (a masked loop) holds
    the caller's rows, its padding rows marked.
    """
    padded: dict[int, set[int]] = {}
    for n in nodes:
        if n.padding is not None and n.padding.rows is not None:
            padded[n.tags["t"]] = set(n.padding.rows)
    held = {n.tags["t"]: (n.array.shape[0] if n.array.ndim > 1 else 1) for n in nodes}
    if any(rows < batch for rows in held.values()):
        length = np.array([sum(r not in rows for rows in padded.values()) for r in range(batch)])
        order = [int(r) for r in np.argsort(-length, kind="stable")]
        return {t: np.array([r for r in order if r not in padded.get(t, ())][:rows])
                for t, rows in held.items()}
    return {t: np.array([-1 if r in padded.get(t, ()) else r for r in range(rows)])
            for t, rows in held.items()}


def _maps(steps: dict[int, Node], columns: list[list[int]], rows: dict[int, np.ndarray],
          by_row: int) -> list[dict[str, Any]]:
    """The heatmaps of one tensor: the batch mean, then each of the first ``by_row`` rows;
    each unit x column, with its total |gradient| and the order it sorts in."""
    modes, units = 1 + by_row, _units(steps)
    # Per column and mode: the sum of the steps' numbers and how many steps gave one.
    value, grad = np.zeros((modes, units, len(columns))), np.zeros((modes, units, len(columns)))
    counts = np.zeros((modes, 2, len(columns)))
    total = np.zeros((modes, units))
    for c, column in enumerate(columns):
        for step in column:
            n = steps.get(step)
            if n is None:
                continue
            at = rows[n.tags["t"]]
            for which, array, sums in ((0, n.array, value), (1, n.grad_array, grad)):
                if array is None:
                    continue
                array = np.asarray(array, dtype=np.float64).reshape(len(at), units)
                real = array[at >= 0]
                if len(real):
                    sums[0, :, c] += real.mean(axis=0)
                    counts[0, which, c] += 1
                    if which:
                        total[0] += np.abs(real).sum(axis=0)
                if modes > 1:  # each row present at the step (a row appears once: += is safe)
                    own = 1 + at[at >= 0]
                    sums[own, :, c] += real
                    counts[own, which, c] += 1
                    if which:
                        total[own] += np.abs(real)
    maps = []
    for m in range(modes):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_value, mean_grad = value[m] / counts[m, 0], grad[m] / counts[m, 1]
        maps.append({"value": _digits(mean_value), "grad": _digits(mean_grad),
                     "total": _digits(total[m]),
                     "order": [int(u) for u in np.argsort(-total[m], kind="stable")],
                     "scale": _scales(mean_value, mean_grad)})
    return maps


def _units(steps: dict[int, Node]) -> int:
    """A tensor's units: the entries of one row of a step's array (an unbatched one is one row)."""
    array = next(iter(steps.values())).array
    return int(np.prod(array.shape[1:])) if array.ndim > 1 else int(array.size)


def _number(x: float) -> float | None:
    return page_number(x, DIGITS)


def _digits(a: np.ndarray) -> list:
    return [_number(float(x)) for x in a] if a.ndim == 1 else [_digits(row) for row in a]


def _scales(value: np.ndarray, grad: np.ndarray) -> dict[str, Any]:
    """The colour scales of the two maps, both diverging around 0, with their legends: the
    value's linear up to its largest |value|; the gradient's logarithmic in |gradient| over
    ``DECADES`` decades below its largest (a symmetric log scale), so small gradients show.

    A gradient g is drawn at ``sign(g) * (0.1 + 0.9 * f)`` on the palette's -1..1, ``f`` its
    place on that log scale (clipped to 0..1); exactly 0 is white.
    """
    finite_v, finite_g = np.abs(value[np.isfinite(value)]), np.abs(grad[np.isfinite(grad)])
    vmax = float(finite_v.max()) if finite_v.size else 0.0
    nonzero = finite_g[finite_g > 0]
    if nonzero.size:
        hi = math.log10(float(nonzero.max()))
        lo = max(math.log10(float(nonzero.min())), hi - DECADES)
    else:
        hi = lo = 0.0
    return {"value": _number(vmax), "grad": [_number(lo), _number(hi)],
            "legend": {"value": _legend([(1.0, vmax)]),
                       "grad": _legend([(1.0, 10 ** hi)] + ([(0.1, 10 ** lo)] if hi > lo else []))
                       if nonzero.size else _legend([])}}


def _legend(marks: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Labels of a diverging colour bar: 0 in the middle, each (place, number) on both sides.

    >>> [m["label"] for m in _legend([(1.0, 0.0123), (0.1, 1e-06)])]
    ['−0.012', '−1e-6', '0', '1e-6', '0.012']
    """
    below = [{"at": -at, "label": "−" + _short(x)} for at, x in sorted(marks, reverse=True)]
    above = [{"at": at, "label": _short(x)} for at, x in sorted(marks)]
    return below + [{"at": 0.0, "label": "0"}] + above


def _short(x: float) -> str:
    """Two significant digits, an exponent without padding: ``1e-6``, not ``1e-06``."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                  f"{x:.2g}")


def _boxes(p: Plan, nodes: dict[str, Node], found: dict[tuple[str | None, str], dict[int, Node]],
           index: dict[str | None, int]) -> dict[str, dict[str, Any]]:
    """Each graph box that opens a heatmap: a state's or gate's box (its tensor, whatever the
    box's role: a last encoder step's ``h`` is drawn as the decoder's ``h₀``), or a step drawn
    as one box per layer (its hidden state), with its layer's place in the view's layers."""
    shown = {}
    for key, box in p.boxes.items():
        if box.step is None or not box.members or box.kind not in ("op", "cell"):
            continue
        if box.kind == "cell":
            layer, name = box.layer, p.states.get(box.layer, ("h",))[0]
        else:
            n = nodes[box.members[0]]
            layer, name = n.layer, n.name
            if found.get((layer, name), {}).get(box.step) is not n:
                continue
        if layer in index and (layer, name) in found:
            shown[key] = {"layer": index[layer], "name": name, "step": box.step, "cell": box.kind == "cell"}
    return shown
