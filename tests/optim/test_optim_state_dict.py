"""state_dict / load_state_dict: same trajectory after a round trip, and refusal of bad state."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import SGD, Adagrad, Adam, AdamW, RMSprop

CONFIGS = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.1)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    (AdamW, dict(lr=0.01, betas=(0.8, 0.95))),
]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [mt.tensor(rng.standard_normal((3, 2)), requires_grad=True),
            mt.tensor(rng.standard_normal(2), requires_grad=True)]


def train(opt, params, steps, start):
    """Steps with gradients that depend on the step number and the parameters."""
    for t in range(start, start + steps):
        opt.zero_grad()
        loss = sum(((p * p * (t + 1)).sum() + p.sum() * np.cos(t)) for p in params)
        loss.backward()
        opt.step()


def grouped(opt_class, options, params):
    """Two groups, the second with its own lr, so group options travel too."""
    return opt_class([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], **options)


@pytest.mark.parametrize("opt_class, options", CONFIGS)
def test_round_trip_continues_the_same_trajectory_bit_exactly(opt_class, options):
    params = make_params()
    opt = grouped(opt_class, options, params)
    train(opt, params, 3, start=0)
    saved = opt.state_dict()

    clones = [mt.tensor(p.array, requires_grad=True) for p in params]
    restored = grouped(opt_class, {**options, "lr": 123.0}, clones)  # options come from the dict
    restored.load_state_dict(saved)
    train(opt, params, 3, start=3)
    train(restored, clones, 3, start=3)
    for p, q in zip(params, clones):
        assert np.array_equal(p.array, q.array)
    assert [g["lr"] for g in restored.param_groups] == [g["lr"] for g in opt.param_groups]


def test_state_dict_is_torch_shaped():
    w, b = make_params()
    opt = Adam([{"params": [w]}, {"params": [b], "lr": 0.5}])
    w.grad = mt.ones_like(w)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"]) == [0]  # b has no gradient, so no state yet
    assert sd["state"][0]["step"] == 1 and sd["state"][0]["exp_avg"].shape == (3, 2)
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)


def test_state_dict_is_a_snapshot_and_loading_copies():
    (w, _) = make_params()
    opt = Adam([w])
    w.grad = mt.ones_like(w)
    opt.step()
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    opt.step()
    assert np.array_equal(sd["state"][0]["exp_avg"], before)
    opt.load_state_dict(sd)
    opt.step()
    assert np.array_equal(sd["state"][0]["exp_avg"], before)


def test_loaded_state_takes_the_parameter_dtype():
    w64 = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    opt = Adam([w64])
    w64.grad = mt.ones(2, dtype=mt.float64)
    opt.step()
    w32 = mt.tensor([1.0, 2.0], requires_grad=True)
    restored = Adam([w32])
    restored.load_state_dict(opt.state_dict())
    assert restored.state[w32]["exp_avg"].dtype == np.float32


def test_tensors_are_accepted_as_saved_buffers():
    (w, _) = make_params()
    opt = SGD([w], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {"momentum_buffer": mt.ones(3, 2)}},
                         "param_groups": [{**opt.param_groups[0], "params": [0]}]})
    assert isinstance(opt.state[w]["momentum_buffer"], np.ndarray)


def good_state(opt_class=Adam, **options):
    params = make_params()
    opt = opt_class(params, **options)
    for p in params:
        p.grad = mt.ones_like(p)
    opt.step()
    return opt, opt.state_dict()


def broken(change):
    def apply(sd):
        change(sd)
        return sd
    return apply


@pytest.mark.parametrize("corrupt, message", [
    (lambda sd: {"state": sd["state"]}, "expected a dict with keys 'state' and 'param_groups'"),
    (broken(lambda sd: sd["param_groups"].append({"params": []})),
     "has 2 parameter groups but the optimizer has 1"),
    (broken(lambda sd: sd["param_groups"][0]["params"].pop()),
     "group 0 has 1 parameters in the state dict but 2 in the optimizer"),
    (broken(lambda sd: sd["param_groups"].__setitem__(0, [0, 1])), "must be a dict with a 'params'"),
    (broken(lambda sd: sd["param_groups"][0].update(lr=-1.0)), "Adam: lr must be a number >= 0"),
    (broken(lambda sd: sd["state"].__setitem__(7, sd["state"][0])),
     "state for parameter 7, which no parameter group lists"),
    (broken(lambda sd: sd["state"][1].__setitem__("exp_avg", np.zeros(3))),
     r"state 'exp_avg' of parameter 1 has shape \(3,\), but the parameter has shape \(2,\)"),
    (broken(lambda sd: sd["state"][0].pop("exp_avg_sq")),
     r"has entries \['exp_avg', 'step'\], but with these options it should have"),
    (broken(lambda sd: sd.__setitem__("state", [1, 2])), "'state' must be a dict"),
    (broken(lambda sd: sd["state"].__setitem__(0, 5)), "state of parameter 0 must be a dict"),
])
def test_bad_state_dicts_are_refused_and_change_nothing(corrupt, message):
    opt, sd = good_state()
    groups, state = opt.param_groups, opt.state
    snapshot = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(corrupt(sd))
    assert opt.param_groups is groups and opt.state is state
    after = opt.state_dict()
    assert after["param_groups"] == snapshot["param_groups"]
    for i, s in snapshot["state"].items():
        assert all(np.array_equal(s[k], after["state"][i][k]) for k in s)


def test_another_optimizers_state_is_refused():
    _, sgd_state = good_state(SGD, lr=0.1, momentum=0.9)
    opt, _ = good_state(Adam)
    sgd_state["param_groups"][0] = {**opt.param_groups[0], "params": [0, 1]}
    with pytest.raises(ValueError, match="another optimizer's state dict"):
        opt.load_state_dict(sgd_state)
