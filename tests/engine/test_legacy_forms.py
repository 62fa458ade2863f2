"""Forms old PyTorch code uses (issue 19): a tensor as a Python index, autograd.Variable."""

from __future__ import annotations

import math

import numpy as np
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


TYPED = ["FloatTensor", "DoubleTensor", "HalfTensor", "ByteTensor", "CharTensor", "ShortTensor",
         "IntTensor", "LongTensor", "BoolTensor"]
LEGACY_CALLS = [((), {}), (([1, 2],), {}), (([[1.5, 2.7], [0.0, 3.2]],), {}), ((2, 3), {}),
                ((0,), {}), (([],), {}), (((1, 0),), {}), (([True, False],), {}),
                (([1, 2],), {"device": "cpu"})]


@pytest.mark.parametrize("name", ["Tensor", *TYPED])
@pytest.mark.parametrize(("args", "kwargs"), LEGACY_CALLS)
def test_legacy_constructors_make_what_pytorch_makes(torch, name, args, kwargs):
    ours, theirs = getattr(mt, name)(*args, **kwargs), getattr(torch, name)(*args, **kwargs)
    assert type(ours) is mt.Tensor and ours.shape == tuple(theirs.shape)
    assert str(theirs.dtype) == f"torch.{ours.dtype}".replace("bool_", "bool")
    if args and not isinstance(args[0], int):  # sizes: PyTorch's memory is uninitialised
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.type() == theirs.type() and not ours.requires_grad


def test_tensor_follows_the_default_dtype_and_the_typed_classes_do_not(torch):
    for lib in (mt, torch):
        lib.set_default_dtype(lib.float64)
        try:
            assert lib.Tensor([1]).dtype == lib.float64 and lib.FloatTensor([1]).dtype == lib.float32
        finally:
            lib.set_default_dtype(lib.float32)


def test_legacy_constructors_share_a_numpy_array_of_their_dtype(torch):
    for lib in (mt, torch):
        same, other = np.zeros(2, np.float32), np.zeros(2, np.float64)
        a, b = lib.Tensor(same), lib.Tensor(other)
        same[0] = other[0] = 5.0
        assert a.tolist() == [5.0, 0.0] and b.tolist() == [0.0, 0.0]


def test_tensor_of_a_tensor_is_an_alias_in_the_graph(torch):
    for lib in (mt, torch):
        x = lib.ones(2, requires_grad=True)
        y = lib.Tensor(x)
        assert y.requires_grad and not y.is_leaf
        (y * 2).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
        y.detach()[0] = 7.0
        assert x[0].item() == 7.0
        ints = lib.tensor([1, 2])
        assert lib.Tensor(ints).dtype == ints.dtype  # any dtype, as PyTorch
        assert lib.LongTensor(ints).tolist() == [1, 2]


def test_isinstance_and_type_speak_pytorch_s_type_names(torch):
    for lib in (mt, torch):
        x = lib.tensor([1.5, -2.5])
        assert isinstance(x, lib.FloatTensor) and not isinstance(x, lib.LongTensor)
        assert isinstance(x, lib.Tensor) and not isinstance(np.zeros(2), lib.FloatTensor)
        assert x.type() == "torch.FloatTensor"
        for target in (lib.int64, lib.LongTensor, "torch.LongTensor"):
            assert x.type(target).tolist() == [1, -2] and x.type(target).dtype == lib.int64


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.Tensor(2.5), TypeError, "Tensor: data must be a sequence, got float"),
    (lambda lib: lib.Tensor("ab"), TypeError, "data must be a sequence, got str"),
    (lambda lib: lib.Tensor(2, 3.0), TypeError, "takes sizes .integers. or one sequence"),
    (lambda lib: lib.Tensor(-1), RuntimeError, "negative dimension -1"),
    (lambda lib: lib.LongTensor(lib.ones(2)), (TypeError, RuntimeError),
     "LongTensor: expected a tensor of dtype int64, got float32"),
    (lambda lib: lib.ByteTensor([300]), RuntimeError, "converted to type uint8 without overflow"),
    (lambda lib: lib.LongTensor([math.nan]), RuntimeError, "to type int64 without overflow"),
    (lambda lib: lib.Tensor([1.0], requires_grad=True), TypeError, "requires_grad"),
    (lambda lib: lib.FloatTensor(2, device="cuda"), RuntimeError, "cuda"),
])
def test_legacy_constructors_refuse_what_pytorch_refuses(torch, call, error, message):
    for lib in (mt, torch):
        with pytest.raises(error, match=message if lib is mt else None):
            call(lib)
