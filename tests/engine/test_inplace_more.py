"""In-place forms of the sorting, indexing and shape methods: what they write, the version
ticks, the graph they record (through views too), and what PyTorch refuses."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt


def leaf(values):
    return mt.tensor(values, dtype=mt.float64, requires_grad=True)


WRITES = {
    "masked_fill_": lambda t: t.masked_fill_(t > 1, -1.0),
    "clamp_": lambda t: t.clamp_(0.5, 2.5),
    "clip_": lambda t: t.clip_(max=1.5),
    "index_add_": lambda t: t.index_add_(1, t.new_tensor([0, 0]).long(), t[:, :2] * 3, alpha=2),
    "scatter_": lambda t: t.scatter_(1, t.new_tensor([[2], [0]]).long(), t[:, :1] + 10),
    "scatter_value_": lambda t: t.scatter_(1, t.new_tensor([[2], [0]]).long(), 7.0),
    "scatter_add_": lambda t: t.scatter_add_(0, t.new_tensor([[1, 1, 0]]).long(), t[:1] * 2),
    "unsqueeze_": lambda t: t.unsqueeze_(1),
    "squeeze_": lambda t: t.unsqueeze_(0).squeeze_(),
    "t_": lambda t: t.t_(),
    "transpose_": lambda t: t.transpose_(0, -1),
}


@pytest.mark.parametrize("name", WRITES)
def test_values_versions_and_gradients_as_pytorch(torch, name):
    """On a recorded copy, each method returns the tensor itself with PyTorch's values and
    version, and the gradient reaches the leaf as PyTorch's does."""
    values = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    outcomes = []
    for lib, make in ((mt, lambda: leaf(values)), (torch, lambda: torch.tensor(values, requires_grad=True))):
        x = make()
        y = x.clone()
        returned = WRITES[name](y)
        upstream = np.arange(np.prod(y.shape), dtype=np.float64).reshape(tuple(y.shape))
        y.backward(lib.tensor(upstream))
        outcomes.append((returned is y, tuple(y.shape), y.detach().numpy().tolist(), y._version,
                         x.grad.numpy().tolist()))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("name", WRITES)
def test_a_leaf_that_requires_grad_refuses(name):
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="leaf"):
        WRITES[name](x)
    with mt.no_grad():
        WRITES[name](x)  # as optimizers write


def test_the_version_tick_of_a_shape_method_fails_a_backward_that_saved_the_value():
    x = leaf([1.0, 2.0])
    y = x.clone()
    z = (y * y).sum()  # Mul saves y
    y.unsqueeze_(0)
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        z.backward()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 2), factor=st.floats(-3, 3))
def test_shape_methods_through_a_view_then_written(torch, row, factor):
    """A view given a new shape in place, then written: the base sees the write and the
    gradient splits between the write and the rest, as PyTorch's."""
    grads = []
    for lib in (mt, torch):
        x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        base = x.clone()
        view = base[row]
        view.unsqueeze_(0).t_()
        assert tuple(view.shape) == (4, 1)
        view.mul_(factor)
        (base * base).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_detach_in_place():
    y = leaf([1.0]) * 2
    assert y.detach_() is y and not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        mt.ones(2, 3)[0].detach_()


def test_masked_fill_in_place_keeps_the_shape():
    with pytest.raises(RuntimeError):
        mt.ones(3).masked_fill_(mt.ones(2, 3, dtype=mt.bool), 0.0)
    with pytest.raises(RuntimeError, match="can't be cast"):
        mt.tensor([1, 2]).clamp_(0.5)


def test_a_view_older_than_its_base_shape_change_refuses_instead_of_a_wrong_gradient():
    x = leaf(np.arange(6.0)).reshape(2, 3).clone()
    old_view = x[0]
    x.t_()
    with pytest.raises(RuntimeError, match="took a new shape in place"):
        old_view * 1
    x[0].sum().backward()  # a view taken after the change follows the graph
