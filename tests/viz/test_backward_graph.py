"""The graph of a gradient is a graph like any other: ``mt.grad(..., create_graph=True)``
records backprop through time, and the renderer and the explorer draw it, each backward op in
the step whose forward op it differentiates."""

from __future__ import annotations

import numpy as np

import microtensor as mt
from microtensor.viz import draw_graph, explore, plan, trace


def rnn_gradient(steps: int = 4):
    mt.manual_seed(0)
    rnn = mt.nn.RNN(3, 4)
    out, _ = rnn(mt.randn(steps, 1, 3))
    loss = (out[-1] ** 2).sum()
    (g,) = mt.grad(loss, rnn.weight_hh_l0, create_graph=True)
    return rnn, g


def test_the_gradient_is_named_and_differentiable_again():
    rnn, g = rnn_gradient()
    assert g.name == "∂L/∂weight_hh_l0" and g.requires_grad
    (h,) = mt.grad((g * g).sum(), rnn.weight_hh_l0)
    assert h.shape == (4, 4) and np.isfinite(h.array).all()


def test_backward_ops_are_tagged_with_the_step_they_differentiate():
    _, g = rnn_gradient(steps=4)
    graph = trace(g)
    assert graph.steps() == [0, 1, 2, 3]
    # Every step holds its forward tanh and the backward ops of that step (tanh's derivative
    # 1 - h*h is a Sub of a Mul of the step's own h).
    for t in range(4):
        ops = {n.op for n in graph.nodes.values() if n.step == t}
        assert {"Tanh", "Sub", "Mul", "MatMul"} <= ops, (t, ops)
    root = graph.nodes[graph.output]
    assert root.name == "∂L/∂weight_hh_l0"


def test_the_gradient_is_drawn_one_cluster_per_step():
    _, g = rnn_gradient(steps=3)
    drawn = plan(trace(g))
    titles = {box.title for box in drawn.boxes.values()}
    assert "∂L/∂weight_hh_l0" in titles and "loss" not in titles
    svg = draw_graph(g).pipe(format="svg").decode()
    for t in range(3):
        assert f"t={t}" in svg


def test_the_explorer_opens_on_the_gradient(tmp_path):
    _, g = rnn_gradient(steps=3)
    page = tmp_path / "gradient.html"
    explore(g).save(page)
    assert page.stat().st_size > 0 and "∂L/∂weight_hh_l0" in page.read_text(encoding="utf-8")


def test_the_gradients_explorer_runs_in_the_browser(open_page, tmp_path):
    _, g = rnn_gradient(steps=3)
    explorer = explore(g, title="backprop through time, drawn")
    page, errors, _ = open_page(explorer.save(tmp_path / "gradient.html"))
    boxes = explorer.drawing.plan.boxes
    product = next(k for k, b in boxes.items() if b.step == 2 and b.title == "h ⊙ h")
    page.click(f"g.node#{product}")  # tanh's derivative at the last step: 1 - h*h
    assert page.text_content("#detail-title") == "h ⊙ h"
    assert page.text_content('[data-field="op"]') == "Mul"
    assert errors == []
    page.close()
