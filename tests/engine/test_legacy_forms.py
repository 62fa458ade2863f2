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
    assert v.data is x.data and v.is_leaf and v.requires_grad and not x.requires_grad
    y = mt.ones(2, requires_grad=True) * 2
    w = mt.autograd.Variable(y)
    tx = torch.ones(2, requires_grad=True) * 2
    tw = torch.autograd.Variable(tx)
    assert (w.requires_grad, w.is_leaf) == (tw.requires_grad, tw.is_leaf) == (False, True)
