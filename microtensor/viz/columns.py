"""The time axis every strip of the explorer shares: which steps each column stands for.

On a page 1,440 pixels wide a column is at least ``MIN_CELL_PX`` wide; beyond that many
steps, a column stands for several. The heat strip, the weights strip, the gains and the
units heatmap all use these columns, so a step sits at the same x in each of them.
"""

from __future__ import annotations

import math

from .plan import Lane, Plan

MIN_CELL_PX, STRIP_PX = 4, 760


def steps_per_column(p: Plan) -> int:
    """How many steps one column stands for: 1 up to 190 steps, then more.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(1, 2)
    >>> out, _ = rnn(mt.randn(400, 1, 1))
    >>> steps_per_column(mt.viz.plan(mt.viz.trace(out[-1].sum())))
    3
    """
    length = max((len(lane.steps) for lane in p.lanes), default=0)
    return max(1, math.ceil(length * MIN_CELL_PX / STRIP_PX))


def column_count(p: Plan) -> int:
    """The number of columns of the longest lane."""
    length = max((len(lane.steps) for lane in p.lanes), default=0)
    return math.ceil(length / steps_per_column(p)) if length else 0


def lane_columns(p: Plan, lane: Lane) -> list[list[int]]:
    """The steps of each column of ``lane``, in ``t`` order."""
    per = steps_per_column(p)
    return [lane.steps[c:c + per] for c in range(0, len(lane.steps), per)]


def column_positions(p: Plan, lane: Lane) -> list[list[int]]:
    """The ``t`` of each step of each column of ``lane``.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(1, 2)
    >>> out, _ = rnn(mt.randn(400, 1, 1))
    >>> drawn = mt.viz.plan(mt.viz.trace(out[-1].sum()))
    >>> column_positions(drawn, drawn.lanes[0])[:2]
    [[0, 1, 2], [3, 4, 5]]
    """
    return [[p.position[s] for s in column] for column in lane_columns(p, lane)]


def row_label(layer: str | None, lane: Lane) -> str:
    """What a strip row of ``layer`` is called: the layer (``step`` without one), marked ``←``
    in a reverse lane."""
    return (layer or "step") + (" ←" if lane.reverse else "")


def lane_spans(p: Plan) -> dict[str, list[list[int]]]:
    """Per lane (by name), each column's first step and the ``t`` of its first and last step:
    what a strip's cell carries (``data-step``, ``data-t``) and its tooltip says.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(1, 2)
    >>> out, _ = rnn(mt.randn(400, 1, 1))
    >>> lane_spans(mt.viz.plan(mt.viz.trace(out[-1].sum())))["rnn"][:2]
    [[0, 0, 2], [3, 3, 5]]
    """
    return {lane.name: [[c[0], p.position[c[0]], p.position[c[-1]]] for c in lane_columns(p, lane)]
            for lane in p.lanes}
