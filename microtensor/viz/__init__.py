"""Seeing backprop through time: trace the graph, record gradients, draw the unrolled network.

``record()`` keeps value and gradient summaries of one pass, ``trace()`` turns the engine's
graph into plain data (``Graph``), ``plan()`` decides what is drawn (``Plan``: boxes with
plain names and roles, links, lanes of time) and where (``layout.py``: one template per
cell, straight lines through time), and two writers translate that one plan:
``draw_graph()`` (Graphviz, positions pinned) and ``explore()`` (one HTML page).

The drawing's contract, for a page's script, a test or a user's own styling: in the SVG
that ``draw_graph(...).svg()`` returns and the explorer embeds,

- every box is an element ``<g class="node">`` whose ``id`` is its key in ``Plan.boxes``
  (and in the page's ``explorer-data``), with ``data-step`` (the step it is drawn in),
  ``data-layer``, ``data-direction`` (``forward``/``reverse``, in a bidirectional layer),
  ``data-kind`` (``op``, ``param``, ``const``, ``cell``, ``stand_in``, ``padding``) and
  ``data-role`` (``h``, ``c``, the gate's name, ``loss``, ``param``, ``initial``,
  ``constant``, ``cell``, ``stand_in``, ``padding``, ``op``);
- every edge is a ``<g class="edge">`` with ``data-src`` and ``data-dst`` (box ids) and
  ``data-kind``: ``state`` (h or c passed from one step to the next; one that continues on
  the next row is two elements, ``…__out`` and ``…__in``), ``attention`` or ``data``;
- every step's frame is a ``<g class="cluster">`` with ``id="step{n}"`` and ``data-step``;
- in the explorer, the strip's cells carry ``data-step``, ``data-t`` and ``data-layer``, and
  boxes and edges the replay has reached have the class ``lit`` (the current one ``current``).

>>> import microtensor as mt
>>> W = mt.randn(3, 3, requires_grad=True); W.name = "W_hh"
>>> h = mt.ones(1, 3)
>>> with mt.viz.record() as rec:
...     for t in range(4):
...         with mt.scope(layer="rnn", t=t):
...             h = (h @ W).tanh(); h.name = "h"
...     h.sum().backward()
>>> dot = mt.viz.draw_graph(h.sum(), rec)
>>> sorted(mt.viz.trace(h.sum(), rec).step_norms("h"))
[0, 1, 2, 3]
"""

from .compare import Comparison, compare
from .dot import UnrolledGraph, draw_graph
from .explore import Explorer, explore
from .padding import Padding
from .plan import Plan, plan
from .plots import plot_step_norms
from .record import Recording, Summary, record
from .render import GraphvizNotFoundError, RenderError, find_dot, render_file, run_dot
from .trace import Edge, Graph, Node, trace

__all__ = [
    "Comparison", "Edge", "Explorer", "Graph", "GraphvizNotFoundError", "Node", "Padding", "Plan",
    "Recording", "RenderError", "Summary", "UnrolledGraph", "compare", "draw_graph", "explore", "find_dot",
    "plan", "plot_step_norms", "record", "render_file", "run_dot", "trace",
]
