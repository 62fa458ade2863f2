"""The traced graph as data, and the numbers behind the pictures."""

import numpy as np
import pytest

import microtensor as mt


def test_trace_lists_ops_params_and_inputs_with_tags(tiny_rnn):
    net = tiny_rnn(steps=3)
    graph = mt.viz.trace(net.forward())
    kinds = sorted({(n.kind, n.op) for n in graph.nodes.values()})
    assert ("param", "") in kinds and ("const", "") in kinds and ("op", "Tanh") in kinds
    assert graph.steps() == [0, 1, 2]
    params = {n.name for n in graph.nodes.values() if n.kind == "param"}
    assert params == {"W_xh", "W_hh"}
    hs = graph.named("h")
    assert sorted(n.step for n in hs) == [0, 1, 2]
    assert all(n.shape == (1, 4) and n.tags["layer"] == "rnn" for n in hs)
    assert graph.nodes[graph.output].op == "Sum"


def test_trace_needs_a_recorded_graph():
    with pytest.raises(ValueError, match="not produced by recorded ops"):
        mt.viz.trace(mt.ones(3).sum())


def test_step_norms_equal_the_norms_of_the_real_gradients(tiny_rnn):
    net = tiny_rnn(steps=6)
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    norms = mt.viz.trace(loss, rec).step_norms("h")
    expected = [np.linalg.norm(h.grad.array) for h in net.hs]
    np.testing.assert_allclose([norms[t] for t in range(6)], expected, rtol=1e-12)


def test_weight_shares_are_each_steps_contribution(tiny_rnn):
    net = tiny_rnn(steps=5)
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    shares = mt.viz.trace(loss, rec).weight_shares()
    h_prev = [np.zeros((1, 4))] + [h.array for h in net.hs[:-1]]
    expected = [np.linalg.norm(hp.T @ pre.grad.array) for hp, pre in zip(h_prev, net.pres)]
    np.testing.assert_allclose([shares["W_hh"][t] for t in range(5)], expected, rtol=1e-12)
    # The per-step shares add up to the weight's gradient (checked on the arrays).
    total = sum(hp.T @ pre.grad.array for hp, pre in zip(h_prev, net.pres))
    np.testing.assert_allclose(total, net.W.grad.array, rtol=1e-12)


def test_recording_summaries_and_visit_order(tiny_rnn):
    net = tiny_rnn(steps=2)
    with mt.viz.record() as rec:
        loss = net.forward()
        loss.backward()
    graph = mt.viz.trace(loss, rec)
    h1 = [n for n in graph.named("h") if n.step == 1][0]
    np.testing.assert_allclose(h1.value.mean, net.hs[1].array.mean())
    np.testing.assert_allclose(h1.grad.absmax, np.abs(net.hs[1].grad.array).max())
    visits = {n.step: n.visit for n in graph.named("h")}
    assert visits[1] < visits[0]  # backward reaches the last step first
    assert graph.nodes[graph.output].visit == 0


def test_recording_costs_nothing_outside_the_block(tiny_rnn):
    net = tiny_rnn(steps=2)
    with mt.viz.record() as rec:
        pass
    net.forward().backward()
    assert rec.values == {} and rec.grads == {} and mt.autograd._state.observer is None


def test_weight_shares_follow_a_transposed_weight_into_every_step():
    lstm = mt.nn.LSTM(3, 4, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(5, 2, 3, dtype=mt.float64))
        loss = (out[-1] ** 2).sum()
        loss.backward()
    shares = mt.viz.trace(loss, rec).weight_shares()
    assert sorted(shares["weight_hh_l0"]) == [0, 1, 2, 3, 4]
    assert shares["weight_hh_l0"][0] == 0.0  # h_{-1} = 0 contributes nothing
    assert all(v > 0 for t, v in shares["weight_hh_l0"].items() if t > 0)
