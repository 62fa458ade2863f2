"""Two recorded passes on one page: two explorers side by side, one colour scale, linked selections.

``compare(a, b)`` takes two passes, each a ``(loss, recording)`` pair (the output of the
pass, usually the loss, and the ``mt.viz.record()`` recording of its forward and backward
pass): two models on the same input, or one model before and after training. The page
holds each pass's explorer (the page ``explore`` writes, whole, kept as a JSON string that
the page's script gives its frame) in a frame of its own, labelled, with both pictures on
one log colour scale: the union of the two passes' ranges (``gradient_scale``), so equal
gradient norms get equal colours on both sides. Selecting a step or a unit on one side
selects the same ``t`` (in the same lane and layer, counted from the bottom) on the other:
each explorer posts its "step" and "unit" events to this page, whose script translates the
step's and the layer's names and passes them to the other frame.

The page opens with the two side by side: at 1440 px, 720 a side, each explorer's heat strip
takes the width of its log plot (hidden there) and its details panel narrows
(``compare_frame.css``), so a strip of 50 steps still gets 8 px a step and the graph most of
the frame. A switch puts them one above the other instead: full-width strips, column over
column, but graphs only a third of the window high. A page narrower than
``SIDE_BY_SIDE_FROM`` (a notebook's output, a tutorial page of the docs, where the comparison
sits in a frame ``Comparison.frame_height`` high) opens them one above the other.

Sequences of different lengths are allowed: steps are matched by their ``t``, and the page
says where one side has no partner. Everything the page shows besides the frames (labels,
the shared scale, the step and layer matching) is in its ``compare-data`` JSON.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..tensor import Tensor
from .dot import UnrolledGraph
from .explore import Explorer, explore, fill_template, script_json
from .plan import Plan, checked_scale, gradient_scale, limited
from .record import Recording
from .trace import Graph, trace

_HERE = Path(__file__).parent
#: What a side of a comparison is: how errors name it.
SIDES = ("first", "second")
#: The narrowest page (CSS px) that opens the two explorers side by side: 600 px a side keeps a
#: 50-step strip readable; a narrower page stacks them, each at the page's full width.
SIDE_BY_SIDE_FROM = 1200
#: ``explore``'s options a comparison passes to both sides (``title`` and ``scale`` are its own).
OPTIONS = tuple(name for name, p in inspect.signature(explore).parameters.items()
                if p.kind is p.KEYWORD_ONLY and name not in ("title", "scale"))


class Comparison(Explorer):
    """A finished comparison page (an ``Explorer``: ``.save(path)``, shown inline in Jupyter).

    ``.sides`` are the two explorers it frames, ``.data`` what its own script reads (the
    ``compare-data`` JSON); ``.drawing`` is the first side's drawing.
    """

    #: Inline, a notebook's output is narrower than ``SIDE_BY_SIDE_FROM``: two stacked explorers.
    frame_height = 1480

    def __init__(self, page: str, sides: tuple[Explorer, Explorer], data: dict[str, Any]) -> None:
        super().__init__(page, sides[0].drawing)
        self.sides, self.data = sides, data


def compare(a: tuple[Tensor | Graph, Recording], b: tuple[Tensor | Graph, Recording],
            labels: Sequence[str] = ("tanh RNN", "LSTM"), *, title: str | None = None,
            **explore_options: Any) -> Comparison:
    """One page with the explorers of two recorded passes, side by side on one colour scale.

    ``a`` and ``b`` are ``(loss, recording)`` pairs: the output of each pass (a tensor, or its
    ``trace``) and the ``mt.viz.record()`` recording of its forward and backward pass.
    ``labels`` name them over their frames; ``explore_options`` (``detail``, ``window``,
    ``tokens``, ``vanish_below``, ...) apply to both, ``scale`` (log10 low, high) fixes the
    shared colour scale (default: the union of both passes' ranges). Needs a Graphviz program.

    >>> import microtensor as mt, tempfile, pathlib
    >>> x = mt.randn(5, 1, 2)
    >>> def recorded(model):
    ...     with mt.viz.record() as rec:
    ...         out, _ = model(x)
    ...         loss = out[-1].sum()
    ...         loss.backward()
    ...     return loss, rec
    >>> page = mt.viz.compare(recorded(mt.nn.RNN(2, 3)), recorded(mt.nn.LSTM(2, 3)))
    >>> page.data["labels"], page.data["lengths"]
    (['tanh RNN', 'LSTM'], [5, 5])
    >>> page.sides[0].drawing.plan.scale == page.sides[1].drawing.plan.scale == tuple(page.data["scale"])
    True
    >>> page.save(pathlib.Path(tempfile.mkdtemp()) / "compare.html").read_text().count("<iframe data-side")
    2
    """
    passes = [_checked_pass(given, side) for given, side in ((a, SIDES[0]), (b, SIDES[1]))]
    names = _checked_labels(labels)
    unknown = sorted(set(explore_options) - {*OPTIONS, "scale"})
    if unknown:
        raise TypeError(f"compare: unknown option {unknown[0]!r} (it takes explore's: "
                        f"{', '.join(OPTIONS)}, and scale)")
    given_scale = explore_options.pop("scale", None)
    graphs = [output if isinstance(output, Graph) else trace(output, recording)
              for output, recording in passes]
    own = [gradient_scale(graph) for graph in graphs]
    for found, side in zip(own, SIDES):
        if found is None:
            raise ValueError(f"compare: the {side} pass has no gradients: call loss.backward() "
                             "inside mt.viz.record()")
    scale = checked_scale(given_scale) if given_scale is not None else shared_scale(own[0], own[1])
    sides = tuple(explore(graph, recording, title=name, scale=scale, **explore_options)
                  for graph, (_, recording), name in zip(graphs, passes, names))
    data = comparison_data(sides[0].drawing, sides[1].drawing, names, scale, own)
    return Comparison(_page(sides, data, title or f"{names[0]} | {names[1]}"), sides, data)


def shared_scale(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """One colour scale for two pictures: the union of their ranges (at most ``DECADES``).

    >>> shared_scale((-3.0, 0.5), (-1.0, 2.0))
    (-3.0, 2.0)
    """
    return limited((min(a[0], b[0]), max(a[1], b[1])))


def comparison_data(a: UnrolledGraph, b: UnrolledGraph, labels: Sequence[str], scale: tuple[float, float],
                    own: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """What the comparison page shows and its script reads besides the two frames: the labels,
    the shared scale (and each pass's own), each side's length, which step and layer of one
    side stands for which of the other (``links``), the page's note, and the narrowest page
    that opens side by side."""
    plans = (a.plan, b.plan)
    lengths = [max((len(lane.steps) for lane in p.lanes), default=0) for p in plans]
    steps = [_matched(_step_places(plans[i]), _step_places(plans[1 - i])) for i in (0, 1)]
    layers = [_matched(_layer_places(plans[i]), _layer_places(plans[1 - i])) for i in (0, 1)]
    lo, hi = scale
    note = [f"One colour scale for both: ‖∂L/∂·‖ from {10 ** lo:.2g} to {10 ** hi:.2g} "
            f"({labels[0]}: {10 ** own[0][0]:.2g} to {10 ** own[0][1]:.2g}; "
            f"{labels[1]}: {10 ** own[1][0]:.2g} to {10 ** own[1][1]:.2g})."]
    if lengths[0] != lengths[1]:
        short = 0 if lengths[0] < lengths[1] else 1
        note.append(f"{labels[0]} has {lengths[0]} steps, {labels[1]} {lengths[1]}: steps are matched "
                    f"by t, and t ≥ {lengths[short]} is in {labels[1 - short]} alone.")
    note.append("Selecting a step or a unit on one side selects it on the other.")
    return {"labels": list(labels), "scale": [lo, hi], "own": [list(s) for s in own], "lengths": lengths,
            "links": {"steps": steps, "layers": layers}, "note": " ".join(note),
            "side_by_side_from": SIDE_BY_SIDE_FROM}


def _step_places(p: Plan) -> dict[Any, tuple[int, int]]:
    """Each step's place in ``p``: its lane (in the plan's order) and its ``t``."""
    return {step: (i, p.position[step]) for i, lane in enumerate(p.lanes) for step in lane.steps}


def _layer_places(p: Plan) -> dict[Any, tuple[int, int]]:
    """Each layer's place in ``p``: its lane and its height there (0 at the bottom), named as the
    page names it (``""`` for a step with no layer)."""
    places: dict[Any, tuple[int, int]] = {}
    for i, lane in enumerate(p.lanes):
        for height, layer in enumerate(lane.layers):
            places.setdefault(layer or "", (i, height))
    return places


def _matched(mine: dict[Any, tuple[int, int]], theirs: dict[Any, tuple[int, int]]) -> dict[str, Any]:
    """For each of my names, the other side's name at the same place (JSON keys: strings);
    a name without a partner is left out."""
    at = {place: name for name, place in theirs.items()}
    return {str(name): at[place] for name, place in mine.items() if place in at}


def _checked_pass(given: Any, side: str) -> tuple[Tensor | Graph, Recording]:
    """``given`` as a ``(loss, recording)`` pair, or a one-line error naming what is wrong."""
    if not isinstance(given, (tuple, list)) or len(given) != 2:
        what = f"a {type(given).__name__}" + (f" of {len(given)}" if isinstance(given, (tuple, list)) else "")
        raise TypeError(f"compare: the {side} pass must be a (loss, recording) pair, got {what}")
    output, recording = given
    if not isinstance(output, (Tensor, Graph)):
        raise TypeError(f"compare: the {side} pass's output must be a Tensor (the loss) or a Graph, got "
                        f"{type(output).__name__}")
    if recording is None:
        raise ValueError(f"compare: the {side} pass has no recording: run it inside "
                         "`with mt.viz.record() as rec:` and pass (loss, rec)")
    if not isinstance(recording, Recording):
        raise TypeError(f"compare: the {side} pass's recording must be an mt.viz.Recording, got "
                        f"{type(recording).__name__}")
    return output, recording


def _checked_labels(labels: Any) -> tuple[str, str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) != 2 or \
            not all(isinstance(x, str) and x.strip() for x in labels):
        raise TypeError(f"compare: labels must be two non-empty strings, got {labels!r}")
    return labels[0], labels[1]


def _page(sides: Sequence[Explorer], data: dict[str, Any], title: str) -> str:
    """The comparison page: its template filled in one pass (a frame's page may hold any text)."""
    frame_style = (_HERE / "compare_frame.css").read_text(encoding="utf-8")
    frames = [side.html.replace("</head>", f"<style>\n{frame_style}</style>\n</head>", 1) for side in sides]
    fields = {
        "title": html.escape(title),
        "style": (_HERE / "compare.css").read_text(encoding="utf-8"),
        "script": (_HERE / "compare.js").read_text(encoding="utf-8"),
        "data": script_json(data),
        "label0": html.escape(data["labels"][0]), "label1": html.escape(data["labels"][1]),
        # Each explorer's page, whole, as a JSON string (about 8% longer than the page, where an
        # srcdoc attribute's escaping would add about 40%).
        "frame0": script_json(frames[0], ascii_only=False),
        "frame1": script_json(frames[1], ascii_only=False),
    }
    return fill_template((_HERE / "compare.html").read_text(encoding="utf-8"), fields)
