"""Versions of written memory (versions.py), and the backward refusals they drive."""

import gc

import numpy as np
import pytest

import microtensor as mt
from microtensor import versions


def test_a_write_through_a_view_bumps_the_version_of_base_views_and_detached_copies():
    base = mt.zeros(4)
    view, other, detached = base[1:], base[:2], base.detach()
    view.add_(1.0)
    assert base._version == view._version == other._version == detached._version == 1
    assert mt.zeros(4)._version == 0  # other memory is untouched


def test_a_value_saved_before_a_write_through_another_view_is_refused():
    x = mt.tensor([0.5, 1.0, 2.0], requires_grad=True) * 1.0
    y = x[:2].exp()  # Exp saves its output, not x: writing x is fine for it
    z = x.tanh()  # Tanh saves its output, a new array
    w = x * x  # Mul saves x itself
    x[2:].mul_(3.0)
    (y.sum() + z.sum()).backward(retain_graph=True)
    with pytest.raises(RuntimeError, match=r"Mul: a tensor of shape \(3,\) .* after it was saved "
                                           r".*now at version 1"):
        w.sum().backward()


def test_writes_made_before_an_op_saved_are_allowed():
    x = mt.tensor([1.0, 2.0], requires_grad=True) * 1.0
    x.add_(1.0)
    y = x * x
    y.sum().backward()  # no error: the write came before Mul saved x


def test_stamps_of_freed_memory_are_dropped():
    gc.collect()
    before = len(versions._stamps)
    for _ in range(200):
        mt.ones(3).mul_(2.0)
    gc.collect()
    assert len(versions._stamps) <= before + 1


def test_clock_counts_every_write():
    start = versions.clock
    t = mt.ones(2)
    t.add_(1.0)
    t[0] = 5.0
    assert versions.clock == start + 2 and t._version == 2


def test_numpy_views_of_written_memory_see_the_write():
    owner = np.zeros((3, 4))
    tick = versions.clock
    versions.record_write(owner.T[1:])
    assert versions.written_since(owner[2], tick) and versions.version(owner.reshape(-1)) == 1


def test_two_tensors_over_one_array_share_their_version_deliberately_unlike_pytorch():
    memory = np.ones(3)
    first, second = mt.from_numpy(memory), mt.from_numpy(memory)
    w = mt.ones(3, requires_grad=True)
    y = (second * w).sum()  # Mul saves second's array for w's gradient
    first.add_(1.0)
    assert second._version == 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_a_second_backward_after_an_optimizer_step_says_the_graph_was_freed():
    w = mt.ones(3, requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    mt.optim.SGD([w], lr=0.1).step()  # an in-place write: the clock moves
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_a_write_to_a_saved_zero_dimensional_output_is_seen_by_backward():
    """numpy gives 0-d results as scalars; the output Exp saves must still be the tensor's
    own array (found by the oracle's dev profile)."""
    x = mt.tensor([0.0, 1.0], dtype=mt.float64, requires_grad=True)
    y = x.sum().exp()
    with mt.no_grad():
        y.add_(0.0)
    with pytest.raises(RuntimeError, match="Exp: a tensor of shape \\(\\) that it saved"):
        y.backward()
