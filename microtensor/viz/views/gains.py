"""The gains view: why the gradient vanishes (or does not), step by step.

Per layer (each direction apart) and step, the gain of the recurrent path
(``Graph.step_gains``): what step t sends back to the previous step's state over what
reached step t's state, through ``h`` and, for an LSTM, through ``c``; below 1 the gradient
shrinks on its way back, and over a span the gains multiply. Beside them the mean forget
gate of an LSTM (the factor on ``c``'s path) or the mean update gate of a GRU, over the
batch and the units, and the same gate weighted by the gradient that reaches the state
(``gate_where_gradient_flows``: the factor the gradient itself meets). Rows share the heat
strip's columns: a column of several steps shows the geometric mean of their gains (what one
step does on average to a product) and the mean of their gates. Colours come from here:
gains on a diverging log scale around 1 (``GAIN_DECADES`` each way), gates on 0..1. Where
the gradient reaching a state has vanished (below ``vanish_below``, as the heat strip greys
it), its gain is grey and left out of the medians: near underflow it is a ratio of rounding
errors (float32 gives exactly 1 there).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from ..columns import column_positions, steps_per_column
from ..dot import UnrolledGraph
from ..numbers import page_number
from ..plan import VANISHED, Lane, Plan
from ..record import Recording
from ..trace import Graph

NAME = "gains"
#: The gain scale spans 10**-GAIN_DECADES .. 10**GAIN_DECADES (beyond: the end colours), the
#: same on every page, so two pages compare.
GAIN_DECADES = 1.0
#: Gains: shrinking (blue) through 1 (light grey) to growing (red).
GAIN_COLOURS = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
                "#b2182b")
#: Gates: 0 (closed) to 1 (open).
GATE_COLOURS = ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b")
#: The gate on each cell's direct path back through a state, by the gate's name: what it is
#: called, and the state whose gradient it scales (c_{t-1} gets f_t ⊙ ∂L/∂c_t; a GRU's
#: h_{t-1} gets z_t ⊙ ∂L/∂h_t).
GATES = {"forget": ("mean forget gate", "c"), "update": ("mean update gate", "h")}


def ramp(colours: tuple[str, ...], x: float) -> str:
    """The colour at ``x`` in 0..1 (clipped) on the ramp through ``colours``, as ``#rrggbb``.

    >>> ramp(("#000000", "#ffffff"), 0.5), ramp(GAIN_COLOURS, 0.5), ramp(GATE_COLOURS, 2.0)
    ('#808080', '#f7f7f7', '#00441b')
    """
    if len(colours) < 2:
        raise ValueError(f"ramp: needs at least two colours, got {len(colours)}")
    x = min(max(x, 0.0), 1.0) * (len(colours) - 1)
    i = min(int(x), len(colours) - 2)
    a, b = (np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)]) for c in colours[i:i + 2])
    return "#" + "".join(f"{round(v):02x}" for v in a + (b - a) * (x - i))


def gain_colour(gain: float) -> str:
    """A gain's colour: log scale, 1 in the middle, ``10**±GAIN_DECADES`` at the ends."""
    at = 0.0 if gain <= 0 else 0.5 + math.log10(gain) / (2 * GAIN_DECADES)
    return ramp(GAIN_COLOURS, at)


def geometric_mean(values: list[float]) -> float:
    """What one step does on average to a product of gains: 0 when one of them is 0.

    >>> geometric_mean([0.5, 2.0, 1.0]), geometric_mean([0.5, 0.0])
    (1.0, 0.0)
    """
    if min(values) <= 0:
        return 0.0
    return math.exp(sum(map(math.log, values)) / len(values))


def gate_arrays(graph: Graph, layer: str | None, gate: str) -> dict[int, np.ndarray]:
    """The values of gate ``gate`` the recording kept, per step ``t`` of ``layer``."""
    return {n.step: n.array for n in graph.nodes.values()
            if n.layer == layer and n.step is not None and n.name == gate and n.array is not None}


def gate_means(graph: Graph, layer: str | None, gate: str) -> dict[int, float]:
    """The mean of gate ``gate`` over the batch and the units, per step ``t`` of ``layer``,
    from the values the recording kept."""
    return {t: float(np.mean(array)) for t, array in gate_arrays(graph, layer, gate).items()}


def gate_where_gradient_flows(graph: Graph, layer: str | None, gate: str, state: str) -> dict[int, float]:
    """Per step ``t`` of ``layer``, gate ``gate`` averaged with weights ``|∂L/∂state_t|`` over
    the batch and the units: the factor the gradient actually meets on the state's direct path
    back. An LSTM's mean forget gate can sit at 0.7 while the few units that carry the
    gradient keep theirs at 0.99; this says the latter.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(5, 1, 2))
    ...     out[-1].sum().backward()
    >>> sorted(gate_where_gradient_flows(mt.viz.trace(out[-1].sum(), rec), "lstm.l0", "forget", "c"))
    [0, 1, 2, 3, 4]
    """
    gates = gate_arrays(graph, layer, gate)
    found = {}
    for n in graph.nodes.values():
        if n.layer == layer and n.name == state and n.step in gates and n.grad_array is not None:
            weight = np.abs(n.grad_array.astype(np.float64))
            if weight.shape == gates[n.step].shape and weight.sum() > 0:
                found[n.step] = float(np.sum(weight * gates[n.step]) / weight.sum())
    return dict(sorted(found.items()))


def data(drawing: UnrolledGraph, recording: Recording | None) -> dict[str, Any] | None:
    """Rows of gains (and gates) per layer on the strip's columns, and a sentence per layer;
    None without a recording or without gains.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3)
    >>> with mt.viz.record() as rec:
    ...     out, _ = lstm(mt.randn(5, 1, 2))
    ...     loss = out[-1].sum()
    ...     loss.backward()
    >>> found = data(mt.viz.draw_graph(loss, rec), rec)
    >>> [row["label"] for row in found["rows"]]
    ['lstm.l0 gain h', 'lstm.l0 gain c', 'lstm.l0 forget']
    >>> found["summaries"][0][:31]
    'lstm.l0: median gain through h '
    """
    if recording is None:
        return None
    p, g = drawing.plan, drawing.graph
    rows, summaries = [], []
    for lane in p.lanes:
        for layer in reversed(lane.layers):  # as the heat strip stacks them
            found, said = _layer_rows(p, g, lane, layer)
            rows += found
            if said:
                summaries.append(said)
    if not rows:
        return None
    per = steps_per_column(p)
    lo, hi = 10 ** -GAIN_DECADES, 10 ** GAIN_DECADES
    return {"rows": rows, "summaries": summaries, "perCell": per,
            "gainBar": {"colours": list(GAIN_COLOURS), "labels": [f"{lo:g}", "1", f"{hi:g}"]},
            "gateBar": {"colours": list(GATE_COLOURS), "labels": ["0", "1"]},
            "vanished": f"the gradient has vanished here (below {p.vanish_below:g}, grey as in the heat "
                        "strip): left out of the median; near underflow (float32) this ratio is mostly "
                        "rounding",
            "note": (f"each cell: {per} steps (the geometric mean of their gains where the gradient "
                     "has not vanished, the mean of their gates)") if per > 1 else ""}


def _layer_rows(p: Plan, g: Graph, lane: Lane, layer: str | None) -> tuple[list, str]:
    """A layer's rows (gain through each state, its gate) and its summary sentence."""
    name = (layer or "step").replace("_reverse", " ←")
    states = p.states.get(layer, ("h",))
    cols = column_positions(p, lane)
    rows, said, faded = [], [], False
    for state in states:
        asked = None if state == states[0] else state
        gains = g.step_gains(asked, layer=layer)
        if not gains:
            continue
        # Where the gradient reaching the state has vanished (as the heat strip says), the gain is
        # of what is left, near underflow a ratio of rounding errors (float32 gives exactly 1 there):
        # shown grey and left out of the column's mean (unless all of it vanished) and the median.
        reached = g.step_norms(asked, layer=layer)
        alive = {t: gain for t, gain in gains.items() if reached.get(t, 0.0) >= p.vanish_below}
        means, gone = [], []
        for c, ts in enumerate(cols):
            own = [t for t in ts if t in gains]
            kept = [t for t in own if t in alive] or own
            means.append(geometric_mean([gains[t] for t in kept]) if kept else None)
            if own and not any(t in alive for t in own):
                gone.append(c)
        rows.append({"layer": layer or "", "lane": lane.name, "label": f"{name} gain {state}",
                     "kind": "gain", "what": f"gain through {state}",
                     "values": [page_number(x) for x in means],
                     "fills": [None if x is None else VANISHED if c in gone else gain_colour(x)
                               for c, x in enumerate(means)], "vanished": gone})
        median = f"{statistics.median(alive.values()):.2g}" if alive else "– (vanished)"
        said.append(f"{'through' if said else 'median gain through'} {state} {median}")
        faded = faded or len(alive) < len(gains)
    if faded:
        said[-1] += f" (where ‖∂L/∂state‖ ≥ {p.vanish_below:g})"
    gate = next((gate for gate in p.gates.get(layer, ()) if gate in GATES), None)
    means_by_t = gate_means(g, layer, gate) if gate else {}
    text = ", ".join(said)
    if means_by_t:
        what, state = GATES[gate]
        weighted_by_t = gate_where_gradient_flows(g, layer, gate, state)

        def per_column(by_t: dict[int, float]) -> list[float | None]:
            return [statistics.fmean([by_t[t] for t in ts if t in by_t]) if any(t in by_t for t in ts)
                    else None for ts in cols]

        means = per_column(means_by_t)
        rows.append({"layer": layer or "", "lane": lane.name, "label": f"{name} {gate}", "kind": "gate",
                     "what": what, "values": [page_number(x) for x in means],
                     "weighted": [page_number(x) for x in per_column(weighted_by_t)],
                     "weightedWhat": f"weighted by |∂L/∂{state}|",
                     "fills": [None if x is None else ramp(GATE_COLOURS, x) for x in means]})
        text += f"{'; ' if text else ''}{what} {statistics.fmean(means_by_t.values()):.2g}"
        if weighted_by_t:
            text += (f", {statistics.fmean(weighted_by_t.values()):.2g} where the gradient flows "
                     f"(weighted by |∂L/∂{state}|)")
    return rows, f"{name}: {text}" if text else ""
