"""Seeing backprop through time: trace the graph, record gradients, draw the unrolled network.

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

from .dot import UnrolledGraph, draw_graph
from .explore import Explorer, explore
from .padding import Padding
from .plan import Plan, plan
from .plots import plot_step_norms
from .record import Recording, Summary, record
from .render import GraphvizNotFoundError, RenderError, find_dot, render_file, run_dot
from .trace import Edge, Graph, Node, state_names, trace

__all__ = [
    "Edge", "Explorer", "Graph", "GraphvizNotFoundError", "Node", "Padding", "Plan", "Recording",
    "RenderError", "Summary", "UnrolledGraph", "draw_graph", "explore", "find_dot", "plan", "plot_step_norms",
    "record", "render_file", "run_dot", "state_names", "trace",
]
