"""The weights view: how a shared weight's gradient is a sum over the steps.

Backprop through time gives a weight used at every step the sum ``G = Σ_t term_t`` of what
each step sends it (``Recording.weight_steps``). For each weight of the recurrent layers
(``W_hh``, ``W_ih``, the biases; each layer and direction) the page shows one strip row on
the heat strip's columns: each column's ``‖Σ term_t‖`` and its share of the gradient,
``share_t = ⟨term_t, G⟩ / ‖G‖²`` (the shares add up to exactly 1, as the terms add up to
``G``; a negative share points against the total), and says how many of the last steps
give ``G`` to within 10% (``steps_within``). Clicking the weight's box, or a step's
stand-in for it, selects it and shades the stand-ins by their step's share.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..columns import column_positions, steps_per_column
from ..dot import UnrolledGraph
from ..numbers import page_number
from ..plan import PALETTE, Lane, Plan, ink
from ..record import Recording, norm

NAME = "weights"
#: How close the last steps' terms must come to the whole gradient: ``‖G − Σ_last k‖ <= 0.1 ‖G‖``.
WITHIN = 0.1
#: Shares below zero (the step's term points against the weight's gradient), by size.
AGAINST = ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")


def shares(terms: dict[Any, np.ndarray], total: np.ndarray) -> dict[Any, float]:
    """Each term's share of ``total``: ``⟨term, total⟩ / ‖total‖²``; with ``total`` the
    terms' sum, the shares add up to 1. Empty for a zero total (no share to speak of).

    >>> import numpy as np
    >>> terms = {0: np.array([1.0, 0.0]), 1: np.array([2.0, 1.0]), 2: np.array([0.0, -1.0])}
    >>> shares(terms, sum(terms.values()))
    {0: 0.3333333333333333, 1: 0.6666666666666666, 2: 0.0}
    """
    total = np.asarray(total, dtype=np.float64)
    for key, term in terms.items():
        if np.shape(term) != total.shape:
            raise ValueError(f"shares: term {key!r} has shape {np.shape(term)}, the total {total.shape}")
    squared = _inner(total, total)
    if squared == 0:
        return {}
    return {key: _inner(term, total) / squared for key, term in terms.items()}


def _inner(a: np.ndarray, b: np.ndarray) -> float:
    """⟨a, b⟩ over all entries (by multiplying and summing: a BLAS dot per small array costs
    a hundred times more where BLAS runs threads)."""
    return float(np.sum(np.multiply(a, b, dtype=np.float64)))


def steps_within(terms: list[np.ndarray], total: np.ndarray, within: float = WITHIN) -> int | None:
    """The fewest terms, counted from the first of ``terms`` (the last step a direction ran,
    first), whose sum ``S`` gives ``total`` to within ``within``: ``‖total − S‖ <= within ‖total‖``.
    None when even all of them do not (part of ``total`` came from outside the steps).

    >>> import numpy as np
    >>> steps_within([np.array([9.0]), np.array([0.5]), np.array([0.5])], np.array([10.0]))
    1
    >>> steps_within([np.array([5.0]), np.array([5.0])], np.array([10.0]))
    2
    >>> steps_within([np.array([1.0]), np.array([-1.0])], np.array([0.0]))
    0
    """
    if not 0 <= within < 1:
        raise ValueError(f"steps_within: within is a fraction of the gradient's norm, in [0, 1); "
                         f"got {within!r}")
    total = np.asarray(total, dtype=np.float64)
    bound = within * norm(total)
    if norm(total) <= bound:
        return 0  # a zero gradient: no step needed
    partial = np.zeros_like(total)
    for k, term in enumerate(terms, 1):
        partial = partial + term
        if norm(total - partial) <= bound:
            return k
    return None


def data(drawing: UnrolledGraph, recording: Recording | None) -> dict[str, Any] | None:
    """Each recurrent weight's terms by column of the strip, their shares, the sentence, and
    the graph boxes that stand for the weight; None without a recording or such weights.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(2, 3, dtype=mt.float64)
    >>> with mt.viz.record() as rec:
    ...     out, _ = rnn(mt.randn(5, 1, 2, dtype=mt.float64))
    ...     loss = out[-1].sum()
    ...     loss.backward()
    >>> found = data(mt.viz.draw_graph(loss, rec), rec)
    >>> [w["label"] for w in found["weights"]]
    ['W_hh, rnn.l0', 'W_ih, rnn.l0', 'b_hh, rnn.l0', 'b_ih, rnn.l0']
    >>> round(sum(found["weights"][0]["shares"]), 3)
    1.0
    """
    if recording is None:
        return None
    p, g = drawing.plan, drawing.graph
    lanes = {layer: lane for lane in p.lanes for layer in lane.layers}
    order = {layer: i for i, layer in enumerate(p.layers)}
    consumers: dict[str, list[str]] = defaultdict(list)
    for e in g.edges:
        consumers[e.src].append(e.dst)
    found = []
    for key, node in g.nodes.items():
        tensor = recording.leaf_tensors.get(int(key[4:])) if node.kind == "param" else None
        if tensor is None or id(tensor) not in recording.leaf_grads:
            continue
        parts = recording.weight_steps(tensor)
        if all(isinstance(v, np.ndarray) for v in parts.values()):  # one layer's {t: term}
            users = _layers_using(g, consumers, key)
            by_layer = {users[0]: parts} if len(users) == 1 and list(parts) != [None] else {}
        else:
            by_layer = {layer: steps for layer, steps in parts.items() if layer is not None}
        total = sum(_terms(parts), np.zeros(tensor.shape))
        title = p.boxes[key].title if key in p.boxes else tensor.name or "W"
        for layer, steps in by_layer.items():
            steps = {t: term for t, term in steps.items() if t is not None}
            if steps and layer in lanes:
                found.append(_weight(p, key, tensor.name, title, layer, lanes[layer], steps, total))
    if not found:
        return None
    found.sort(key=lambda w: (order.get(w["layer"], len(order)), w["bias"], w["title"]))
    by_box: dict[str, list[int]] = defaultdict(list)
    for i, weight in enumerate(found):
        for box in weight.pop("boxes"):
            by_box[box].append(i)
    for stand_in, params in _stand_ins(p, g).items():
        for i, weight in enumerate(found):
            shading = weight["steps"].get(p.boxes[stand_in].step)
            if (weight["key"], weight["layer"]) in params and shading is not None:
                weight["standIns"][stand_in] = shading
                by_box[stand_in].append(i)
                by_box[p.boxes[stand_in].copies].append(i)
    for weight in found:
        del weight["steps"], weight["bias"]
    per = steps_per_column(p)
    return {"weights": found, "byBox": {k: sorted(set(v)) for k, v in by_box.items()},
            "perCell": per, "against": list(AGAINST),
            "note": f"each cell: {per} steps (their terms summed)" if per > 1 else ""}


def _terms(parts: dict) -> list[np.ndarray]:
    """Every term of a ``weight_steps`` answer, from every layer and from outside the steps."""
    return [term for value in parts.values()
            for term in (value.values() if isinstance(value, dict) else [value])]


def _weight(p: Plan, key: str, name: str | None, title: str, layer: str, lane: Lane,
            steps: dict[int, np.ndarray], total: np.ndarray) -> dict[str, Any]:
    """One weight of one layer: its strip row, its sentence and its stand-ins' shading."""
    at = {p.position[s]: s for s in lane.steps}
    step_shares = shares(steps, total)
    cols = column_positions(p, lane)
    norms, col_shares = [], []
    for ts in cols:
        own = [steps[t] for t in ts if t in steps]
        norms.append(norm(sum(own)) if own else None)
        col_shares.append(sum(step_shares[t] for t in ts if t in steps) if step_shares and own else None)
    top = max((abs(s) for s in col_shares if s is not None), default=0.0)  # the colour scale's end
    top_step = max(map(abs, step_shares.values()), default=0.0)
    run = sorted(steps, reverse=not lane.reverse)  # the last step the direction ran, first
    k = steps_within([steps[t] for t in run], total)
    size = norm(total)
    return {"key": key, "name": name or "", "title": title, "layer": layer, "lane": lane.name,
            "label": f"{title}, {layer}", "bias": len(total.shape) < 2, "norm": page_number(size),
            "norms": [page_number(x) for x in norms], "shares": [page_number(x) for x in col_shares],
            "fills": [_fill(x, top) for x in col_shares], "top": page_number(top), "k": k,
            "sentence": sentence(title, run, k, lane.reverse, size), "boxes": [key], "standIns": {},
            "steps": {at[t]: [page_number(step_shares.get(t)), *_fill_ink(step_shares.get(t), top_step)]
                      for t in steps if t in at}}


def sentence(title: str, run: list[int], k: int | None, reverse: bool, size: float) -> str:
    """Where the gradient of weight ``title`` comes from: how many of the last steps ``run``
    (their ``t``, the last the direction ran first) give it to within ``WITHIN`` (``k``).

    >>> sentence("W_hh", [9, 8, 7, 6], 2, False, 1.0)
    'The last 2 steps (t=8…9) give ∂L/∂W_hh to within 10%: ‖∂L/∂W_hh − their terms’ sum‖ ≤ 0.1·‖∂L/∂W_hh‖.'
    >>> sentence("b_ih", [0, 1, 2, 3], 1, True, 1.0)[:58]
    'The last step this direction ran (t=0; it runs t=3 down to'
    """
    symbol = f"∂L/∂{title}"
    if size == 0:
        return f"{symbol} is exactly 0 in this pass: no step adds anything to it."
    if k is None:
        return (f"Even all {len(run)} steps' terms do not give {symbol} to within {WITHIN:.0%}: "
                "part of it comes from outside the steps.")
    span = sorted(run[:k])
    last = "The last step" if k == 1 else f"The last {k} steps"
    where = f"t={span[0]}" if k == 1 else f"t={span[0]}…{span[-1]}"
    if reverse:
        last, where = f"{last} this direction ran", f"{where}; it runs t={run[-1]} down to {run[0]}"
    verb = "gives" if k == 1 else "give"
    return (f"{last} ({where}) {verb} {symbol} to within {WITHIN:.0%}: ‖{symbol} − "
            f"{'its term' if k == 1 else 'their terms’ sum'}‖ ≤ {WITHIN:g}·‖{symbol}‖.")


def _fill(share: float | None, top: float) -> str | None:
    """A share's colour: the picture's palette from 0 to ``top``, the largest share's size; below
    0, ``AGAINST`` on the same scale.

    >>> _fill(0.5, 0.5), _fill(-0.5, 0.5), _fill(0.0, 0.5)
    ('#440f76', '#08519c', '#fcf0b2')
    """
    if share is None:
        return None
    colours = AGAINST if share < 0 else PALETTE
    return colours[round(min(abs(share) / top, 1.0) * (len(colours) - 1))] if top > 0 else colours[0]


def _fill_ink(share: float | None, top: float) -> list[str | None]:
    """A stand-in's fill by its step's share, and the colour its text needs on it (None, None
    without a share: the weight's gradient is zero)."""
    fill = _fill(share, top)
    return [fill, None if fill is None else ink(fill)]


def _layers_using(g: Any, consumers: dict[str, list[str]], key: str) -> list[str | None]:
    """The layers whose steps read node ``key``, directly or through ops outside the steps
    (``W_hh.T``, the input projection of all steps)."""
    found, todo, seen = set(), [key], {key}
    while todo:
        for dst in consumers[todo.pop()]:
            node = g.nodes[dst]
            if node.step is not None:
                found.add(node.layer)
            elif dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return sorted(found, key=str)


def _stand_ins(p: Plan, g: Any) -> dict[str, set[tuple[str, str | None]]]:
    """Each stand-in for something that feeds the steps, and the weights (param key, layer)
    it stands for: the params behind its shared box (``W_hhᵀ`` stands for ``W_hh``; the input
    projection for ``W_ih`` and the biases), in the stand-in's layer."""
    inputs: dict[str, list[str]] = defaultdict(list)
    for e in g.edges:
        inputs[e.dst].append(e.src)
    behind: dict[str, set[str]] = {}

    def params(key: str) -> set[str]:
        if key not in behind:
            node = g.nodes[key]
            behind[key] = {key} if node.kind == "param" else set()
            if node.step is None and node.kind == "op":
                for src in inputs[key]:
                    behind[key] |= params(src)
        return behind[key]

    return {key: {(param, box.layer) for param in params(box.copies)}
            for key, box in p.boxes.items()
            if box.kind == "stand_in" and box.copies in g.nodes and box.copies in p.band}
