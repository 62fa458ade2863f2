"""In-place methods, and the version counter that catches in-place writes a backward needs."""

import numpy as np
import pytest

import microtensor as mt


def leaf(values):
    return mt.tensor(values, dtype=mt.float64, requires_grad=True)


def test_write_to_a_saved_input_is_detected_and_names_the_op():
    w = leaf([1.0, 2.0])
    x = mt.tensor([3.0, 4.0], dtype=mt.float64)
    loss = (w * x).sum()  # Mul saves x for dL/dw
    x.add_(1)
    with pytest.raises(RuntimeError, match=r"Mul: a tensor of shape \(2,\) .* modified by an in-place"):
        loss.backward()


def test_write_to_a_saved_output_is_detected():
    x = leaf([0.5])
    y = x.tanh()  # Tanh saves its output
    loss = y.sum()
    with mt.no_grad():
        y.mul_(3)
    with pytest.raises(RuntimeError, match="Tanh: .*after it was saved .*now at version 1"):
        loss.backward()


def test_optimizer_style_update_after_backward_is_fine():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with mt.no_grad():
        w.sub_(w.grad, alpha=0.1)
    np.testing.assert_allclose(w.array, [0.8, 1.6])
    assert w.requires_grad and w.is_leaf


def test_update_between_forward_and_backward_is_detected():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with mt.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_write_through_a_view_is_detected():
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=mt.float64)
    w = leaf([[1.0, 1.0], [1.0, 1.0]])
    loss = (w * x).sum()
    row = x[0]  # a view: shares memory and version counter
    row.fill_(0)
    assert x.array[0].tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_in_place_on_leaf_that_requires_grad_is_refused_while_recording():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        w.add_(1)
    assert w.tolist() == [1.0]


def test_in_place_inside_graph_is_recorded_and_gives_the_right_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2  # Mul saves only the constant 2 for x's gradient, not h
    h.mul_(3)  # recorded: the memory is written and h's node moves to the Mul
    h += x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.array, [7.0, 7.0])
    assert type(h.grad_fn).__name__ == "Add" and h._version == 2


def test_in_place_over_a_value_an_op_saved_raises_as_pytorch():
    x = leaf([1.0, 2.0])
    h = x.exp()  # saves its output, which mul_ then overwrites
    h.mul_(3)
    with pytest.raises(RuntimeError, match="Exp: .* modified by an in-place operation"):
        h.sum().backward()


def test_differentiable_setitem():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf([10.0])
    h = x * 2
    h[1:2] = v * 5
    (h * mt.tensor([1.0, 2.0, 3.0], dtype=mt.float64)).sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 6.0]
    assert v.grad.tolist() == [10.0]


def test_setitem_without_grad_writes_memory_and_bumps_version():
    x = mt.zeros(3)
    view = x[:]
    x[1] = 5.0
    assert view.tolist() == [0.0, 5.0, 0.0]
    assert x._version == 1


def test_bad_in_place_shape_names_op_and_shapes_and_changes_nothing():
    x = mt.zeros(3)
    expected = r"add_: the result has shape \(2, 3\) but the tensor being modified in place has shape \(3,\)"
    with pytest.raises(ValueError, match=expected):
        x.add_(mt.ones(2, 3))
    assert x.tolist() == [0.0, 0.0, 0.0] and x._version == 0


def test_bad_in_place_shape_while_recording_changes_nothing():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 1
    fn = h.grad_fn
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 3\)"):
        h.add_(mt.ones(2, 3, dtype=mt.float64))
    assert h.grad_fn is fn and h.tolist() == [1.0, 2.0, 3.0]


def test_int_tensor_in_place_float_is_refused():
    x = mt.tensor([1, 2])
    with pytest.raises(TypeError, match="add_"):
        x.add_(0.5)
    assert x.tolist() == [1, 2]


def test_zero_fill_copy_and_augmented_assignment():
    x = mt.ones(3)
    x *= 4
    x /= 2
    x -= 1
    assert x.tolist() == [1.0, 1.0, 1.0]
    x.copy_(mt.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1.0, 2.0, 3.0]
    assert x.zero_().tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("written", [False, True])
def test_a_view_made_before_its_leaf_base_required_grad(written):
    """PyTorch: such a view is a leaf of its own (its gradient stops there), unless the memory
    was written in place since, which rebuilds it from the base, in the graph (found by the
    oracle's dev profile)."""
    base = mt.tensor([1.0, 2.0, 3.0], dtype=mt.float64)
    view = base.reshape(-1)
    if written:
        with mt.no_grad():
            base.add_(0.0)
    base.requires_grad_()
    assert view.requires_grad and view.is_leaf is not written
    (view * 2).sum().backward()
    assert (base.grad is not None) is written
    if written:
        assert base.grad.tolist() == [2.0, 2.0, 2.0]


def test_a_view_made_a_leaf_refuses_in_place_writes_as_pytorch():
    view = mt.zeros(3, dtype=mt.float64).reshape(-1)
    view.requires_grad_()
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        view.zero_()


def test_a_view_made_a_leaf_and_moved_into_the_graph_is_refused_by_backward():
    base = mt.zeros(4, dtype=mt.float64)
    written, leaf_view = base.reshape(-1), base.reshape(-1)
    leaf_view.requires_grad_()
    written.copy_(leaf_view)  # recorded: the base is rebuilt, and the leaf view with it
    with pytest.raises(RuntimeError, match="leaf variable has been moved into the graph interior"):
        (leaf_view * 1).sum().backward()


def test_the_reshape_of_an_empty_tensor_is_a_view_as_pytorch():
    empty = mt.zeros(0, 3)
    view = empty.reshape(-1)
    empty.requires_grad_()
    assert view.requires_grad  # a view made before its leaf base required grad
