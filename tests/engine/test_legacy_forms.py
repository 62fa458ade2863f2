"""Forms old PyTorch code uses (issue 19): a tensor as a Python index, autograd.Variable."""

from __future__ import annotations

import pytest

import microtensor as mt


def test_a_one_element_integer_tensor_is_a_python_index(torch):
    for lib in (mt, torch):
        assert "abc"[lib.tensor(1)] == "b" and [1, 2, 3][lib.tensor([2])] == 3
        assert "abc"[lib.tensor(True)] == "b"
        for bad in (lib.tensor(1.0), lib.tensor([1, 2])):
            with pytest.raises(TypeError, match="only integer tensors of a single element"):
                "abc"[bad]


def test_variable_is_a_new_leaf_sharing_memory(torch):
    x = mt.ones(2)
    v = mt.autograd.Variable(x, requires_grad=True)
    assert v.array is x.array and v.is_leaf and v.requires_grad and not x.requires_grad
    y = mt.ones(2, requires_grad=True) * 2
    w = mt.autograd.Variable(y)
    tx = torch.ones(2, requires_grad=True) * 2
    tw = torch.autograd.Variable(tx)
    assert (w.requires_grad, w.is_leaf) == (tw.requires_grad, tw.is_leaf) == (False, True)


def test_data_is_a_tensor_sharing_memory_outside_autograd(torch):
    for lib in (mt, torch):
        w = lib.ones(3, requires_grad=True)
        d = w.data
        assert type(d) is lib.Tensor and not d.requires_grad and d.is_leaf
        d[0] = 5.0  # no "leaf variable requires grad" error: .data is outside autograd
        d.add_(lib.ones(3), alpha=-0.5)
        assert w.tolist() == [4.5, 0.5, 0.5] and w.requires_grad and w.grad_fn is None
    p = mt.nn.Parameter(mt.zeros(2))
    assert type(p.data) is mt.Tensor and p.data.array is p.array


def test_data_can_be_set_to_another_tensor(torch):
    for lib in (mt, torch):
        x = lib.ones(3, requires_grad=True)
        new = lib.zeros(2, 2, dtype=lib.float64)
        x.data = new
        assert x.shape == (2, 2) and x.dtype == new.dtype and x.requires_grad
        new[0, 0] = 7.0
        assert x[0, 0].item() == 7.0  # shares the new tensor's memory
        with pytest.raises(TypeError, match="has to be"):
            x.data = [1.0, 2.0]
        with pytest.raises(RuntimeError, match="floating point"):
            x.data = lib.zeros(2, dtype=lib.int64)
        y = lib.ones(2)
        y.data = lib.arange(2)
        assert y.tolist() == [0, 1]


def test_a_hand_written_sgd_step_as_old_tutorials_write_it(torch):
    """``p.data.add_(p.grad.data, alpha=-lr)``, and the legacy ``p.data.add_(-lr, p.grad.data)``."""
    results = []
    for lib in (mt, torch):
        w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        for step in range(3):
            loss = (w * w).sum()
            loss.backward()
            if step % 2:
                with pytest.warns(UserWarning, match="overload of add_ is deprecated"):
                    w.data.add_(-0.1, w.grad.data)
            else:
                w.data.add_(w.grad.data, alpha=-0.1)
            w.grad.data.zero_()
        results.append(w.tolist())
    assert results[0] == pytest.approx(results[1], rel=1e-6)


def test_legacy_alpha_first_also_for_sub_(torch):
    t = torch.ones(2)
    t.sub_(0.5, torch.full((2,), 2.0))  # PyTorch warns once per process
    p = mt.ones(2)
    with pytest.warns(UserWarning, match="overload of sub_ is deprecated"):
        p.sub_(0.5, mt.full((2,), 2.0))
    assert p.tolist() == t.tolist() == [0.0, 0.0]


def test_a_write_through_data_to_a_saved_value_is_caught():
    """Deliberately unlike PyTorch, which then differentiates with the new values silently:
    microtensor counts writes per memory, so ``.data`` writes are seen as ``detach()``'s are."""
    w = mt.ones(2, requires_grad=True)
    loss = (w * w).sum()
    w.data.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
