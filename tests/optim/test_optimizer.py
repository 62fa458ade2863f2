"""What every optimizer shares: parameter groups, zero_grad, skipping, in-place updates, errors."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import SGD, Adagrad, Adam, AdamW, RMSprop

ALL = [SGD, Adagrad, RMSprop, Adam, AdamW]


def make_params():
    return [mt.tensor([1.0, -2.0], requires_grad=True), mt.tensor([[0.5]], requires_grad=True)]


def test_groups_take_their_own_options_and_fall_back_to_defaults():
    w, b = make_params()
    opt = SGD([{"params": [w]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    w.grad, b.grad = mt.ones(2), mt.ones(1, 1)
    opt.step()
    np.testing.assert_allclose(w.array, [0.9, -2.1])
    np.testing.assert_allclose(b.array, [[0.0]])


def test_params_can_be_a_generator():
    params = make_params()
    opt = Adam(p for p in params)
    assert opt.param_groups[0]["params"] == params


def test_add_param_group_validates_its_options():
    w, b = make_params()
    opt = SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be a number >= 0"):
        opt.add_param_group({"params": [b], "lr": -1})
    assert len(opt.param_groups) == 1


def test_parameters_without_grad_are_skipped():
    w, b = make_params()
    opt = Adam([w, b], lr=0.1)
    w.grad = mt.ones(2)
    opt.step()
    assert b.tolist() == [[0.5]] and b not in opt.state
    assert w.tolist() != [1.0, -2.0] and opt.state[w]["step"] == 1


@pytest.mark.parametrize("optimizer", ALL)
def test_updates_in_place_keep_dtype_and_bump_the_version(optimizer):
    w = mt.tensor([1.0, -2.0], requires_grad=True)  # float32
    data, version = w.array, w._version
    (w * w).sum().backward()
    optimizer([w], lr=0.1).step()
    assert w.array is data and w.dtype == mt.float32 and w._version > version
    assert not w.requires_grad or w.grad_fn is None  # still a leaf


@pytest.mark.parametrize("optimizer", ALL)
def test_state_keeps_the_parameter_dtype(optimizer):
    w = mt.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    opt = optimizer([w], lr=0.1, momentum=0.9) if optimizer in (SGD, RMSprop) else optimizer([w])
    opt.step()
    arrays = [v for v in opt.state[w].values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == np.float32 for a in arrays)


def test_a_graph_built_before_the_step_fails_loudly_after_it():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()  # saved w before the update
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


def test_step_records_no_graph():
    w = mt.tensor([1.0], requires_grad=True)
    w.grad = mt.ones(1)
    Adam([w], weight_decay=0.1).step()
    assert w.grad_fn is None and w.requires_grad


def test_zero_grad_drops_or_zeroes():
    w, b = make_params()
    opt = SGD([w, b])
    w.grad = mt.ones(2)
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0, 0.0] and b.grad is None
    opt.zero_grad()
    assert w.grad is None


def test_closure_runs_with_grad_and_its_loss_is_returned():
    w = mt.tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mt.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == 1.5


def test_a_gradient_of_the_wrong_shape_is_refused_before_any_update():
    w, b = make_params()
    opt = SGD([w, b], lr=0.1)
    w.grad, b.grad = mt.ones(2), mt.ones(1, 1)
    b.grad.array = np.ones(1)  # past the check at assignment (.grad = ...), not the optimizer's
    with pytest.raises(ValueError, match=r"shape \(1, 1\) has a gradient of shape \(1,\)"):
        opt.step()
    assert w.tolist() == [1.0, -2.0]


@pytest.mark.parametrize("params, error, message", [
    ([], ValueError, "empty parameter list"),
    (mt.ones(2, requires_grad=True), TypeError, "got a single Tensor; wrap it in a list"),
    ([np.ones(2)], TypeError, "params must be Tensors, got ndarray at position 0"),
    ({mt.ones(2, requires_grad=True)}, TypeError, "not a set"),
    ([mt.ones(2, requires_grad=True) * 2], ValueError, "cannot optimize a non-leaf tensor"),
    ([mt.tensor([1, 2])], TypeError, "floating point tensors, got dtype int64"),
    ([{"lr": 0.1}], TypeError, "a dict with a 'params' entry"),
])
def test_bad_params(params, error, message):
    with pytest.raises(error, match=message):
        SGD(params)


def test_a_parameter_may_appear_only_once():
    w, b = make_params()
    with pytest.raises(ValueError, match="same tensor more than once"):
        SGD([w, w])
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [w, b]}, {"params": [b]}])


def test_repr_lists_groups():
    w, b = make_params()
    text = repr(SGD([{"params": [w, b]}], lr=0.1))
    assert text.startswith("SGD (") and "group 0: 2 params, lr=0.1" in text


def test_trains_a_tiny_regression():
    mt.manual_seed(0)
    x = mt.randn(32, 3, dtype=mt.float64)
    y = x @ mt.tensor([[1.0], [-2.0], [0.5]], dtype=mt.float64)
    w = mt.zeros(3, 1, dtype=mt.float64, requires_grad=True)
    opt = Adam([w], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(w.array.ravel(), [1.0, -2.0, 0.5], atol=1e-3)
