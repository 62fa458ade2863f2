"""``Graph.step_gains``: the gain of the recurrent path at each step, from the gradient each
step sends back to the previous step's states (``Recording.sent_back``). Where the loss sits
only at the last step, the gains multiply to the ratio of the states' gradient norms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import microtensor as mt


def last_step_pass(kind: str, steps: int = 50, everywhere: bool = False, **options):
    """A layer's recorded pass with the loss on the last step's output (or on every step's)."""
    mt.manual_seed(0)
    layer = getattr(mt.nn, kind)(3, 6, dtype=mt.float64, **options)
    with mt.viz.record() as rec:
        out, _ = layer(mt.randn(steps, 2, 3, dtype=mt.float64))
        loss = ((out if everywhere else out[-1]) ** 2).sum()
        loss.backward()
    return mt.viz.trace(loss, rec)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gains_multiply_to_the_ratio_of_state_norms_when_the_loss_is_at_the_end(kind):
    graph = last_step_pass(kind)
    layer = f"{kind.lower()}.l0"
    gains, norms = graph.step_gains(layer=layer), graph.step_norms(layer=layer)
    assert sorted(gains) == list(range(1, 50))
    for a, b in [(1, 49), (10, 20), (30, 31), (5, 45)]:
        product = math.prod(gains[t] for t in range(a, b + 1))
        assert product == pytest.approx(norms[a - 1] / norms[b], rel=1e-8), (a, b)


def test_the_reverse_direction_sends_back_to_the_later_step():
    graph = last_step_pass("RNN", steps=8, everywhere=True, bidirectional=True)
    forward, reverse = graph.step_gains(layer="rnn.l0"), graph.step_gains(layer="rnn.l0_reverse")
    assert sorted(forward) == list(range(1, 8)) and sorted(reverse) == list(range(0, 7))
    with pytest.raises(ValueError, match="step_gains: the graph holds both directions"):
        graph.step_gains()


def test_a_gain_is_what_a_step_sends_back_over_what_reached_it():
    graph = last_step_pass("LSTM", steps=6)
    through_c = graph.step_gains(name="c", layer="lstm.l0")
    assert sorted(through_c) == list(range(1, 6))
    # Through the cell state: what step t sent into c_(t-1) (the forget gate times dL/dc_t)
    # over what reached c_t (from step t+1 and from h_t within the step).
    cs = {n.step: n for n in graph.nodes.values() if n.name == "c" and n.layer == "lstm.l0"}
    for t in range(1, 6):
        assert through_c[t] == pytest.approx(cs[t - 1].sent_back.norm / cs[t].grad.norm, rel=1e-12)
    assert all(np.isfinite(list(through_c.values())))


def test_stacked_layers_have_their_own_gains():
    graph = last_step_pass("GRU", steps=5, everywhere=True, num_layers=2)
    assert sorted(graph.step_gains(layer="gru.l0")) == sorted(graph.step_gains(layer="gru.l1")) \
        == [1, 2, 3, 4]
