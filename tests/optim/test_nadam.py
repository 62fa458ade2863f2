"""NAdam against live PyTorch (many steps, options, dtypes, groups, a state_dict round trip
mid-run), by hand, and its option errors."""

import numpy as np
import pytest
from torch_side_by_side import (
    assert_close,
    check_matches_pytorch,
    check_round_trip_matches_pytorch,
    check_state_dict_mirrors_pytorchs,
    oracle,
    run_both,
)

import microtensor as mt
from microtensor.optim import NAdam

OPTIONS = [
    ({}, {}),
    (dict(lr=0.05), {"lr": 0.01, "betas": (0.5, 0.9), "momentum_decay": 0.1}),
    (dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1), {"maximize": True}),
    (dict(lr=0.03, weight_decay=0.2, decoupled_weight_decay=True, momentum_decay=0.0),
     {"maximize": True, "betas": (0.0, 0.9)}),
    (dict(lr=0.03, maximize=True, weight_decay=0.05), {"decoupled_weight_decay": True}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS)
def test_matches_pytorch(options, group_options, dtype):
    check_matches_pytorch("NAdam", options, group_options, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS[1:4])
def test_state_dict_round_trip_mid_run_matches_pytorch(options, group_options, dtype, tmp_path):
    # float64: PyTorch's load_state_dict casts mu_product to float64 here, so the product
    # is rounded differently afterwards, in PyTorch as in microtensor
    check_round_trip_matches_pytorch("NAdam", options, group_options, dtype, tmp_path,
                                     exact=dtype == "float32")


def test_default_float64_keeps_mu_product_in_float64():
    torch = oracle()
    old_ours, old_theirs = mt.get_default_dtype(), torch.get_default_dtype()
    mt.set_default_dtype(mt.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours, theirs = run_both("NAdam", *OPTIONS[1], "float32")
        opt = NAdam([mt.ones(1, requires_grad=True)])
        opt.param_groups[0]["params"][0].grad = mt.ones(1)
        opt.step()
        assert type(opt.state[opt.param_groups[0]["params"][0]]["mu_product"]) is np.float64
    finally:
        mt.set_default_dtype(old_ours)
        torch.set_default_dtype(old_theirs)
    assert_close(ours, theirs, "float32")


def test_state_dict_mirrors_pytorchs():
    torch = oracle()
    sd_ours, sd_theirs = check_state_dict_mirrors_pytorchs("NAdam")
    mu_product = sd_ours["state"][0]["mu_product"]
    assert type(mu_product) is np.float32 and sd_theirs["state"][0]["mu_product"].dtype == torch.float32
    assert mu_product == sd_theirs["state"][0]["mu_product"].item()


def test_loading_gives_mu_product_the_parameters_dtype():
    torch = oracle()
    w = mt.ones(2, dtype=mt.float64, requires_grad=True)
    t = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt, topt = NAdam([w]), torch.optim.NAdam([t])
    w.grad, t.grad = mt.ones(2, dtype=mt.float64), torch.ones(2, dtype=torch.float64)
    opt.step()
    topt.step()
    opt.load_state_dict(opt.state_dict())
    topt.load_state_dict(topt.state_dict())
    assert type(opt.state[w]["mu_product"]) is np.float64
    assert topt.state[t]["mu_product"].dtype == torch.float64


def stepped_once():
    """A float32 parameter, its NAdam after one step, and that NAdam's state dict."""
    w = mt.ones(3, requires_grad=True)
    opt = NAdam([w])
    w.grad = mt.ones(3)
    opt.step()
    return w, opt, opt.state_dict()


def test_mu_product_as_a_0d_array_or_a_number_loads():
    w, opt, sd = stepped_once()
    for value in [np.array(0.5), mt.tensor(0.5), 0.5]:
        sd["state"][0]["mu_product"] = value
        opt.load_state_dict(sd)
        assert opt.state[w]["mu_product"] == 0.5 and type(opt.state[w]["mu_product"]) is np.float32


def test_mu_product_that_is_not_a_number_is_refused():
    _, opt, sd = stepped_once()
    sd["state"][0]["mu_product"] = "0.5"
    with pytest.raises(ValueError, match="NAdam.load_state_dict: state 'mu_product' of parameter "
                                         "0 must be a number, got '0.5'"):
        opt.load_state_dict(sd)


def test_steps_by_hand(run):
    # momentum_decay = 0: mu_t = b1 / 2 = 0.25 every step, so the products are 0.25**t
    # (exact even in mu_product's float32).
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = NAdam([w], lr=1.0, betas=(0.5, 0.5), eps=0.0, momentum_decay=0.0)
    got = run(opt, w, [np.array([2.0]), np.array([2.0])])
    # 1: m = 1, sqrt(v / 0.5) = 2: (0.75 / 0.75 * 2 + 0.25 / (1 - 1 / 16) * 1) / 2
    step1 = (2 + 0.25 / (15 / 16)) / 2
    # 2: m = 1.5, v = 3, sqrt(v / 0.75) = 2: (0.75 / (15/16) * 2 + 0.25 / (63/64) * 1.5) / 2
    step2 = (0.75 / (15 / 16) * 2 + 0.25 / (63 / 64) * 1.5) / 2
    np.testing.assert_allclose(np.concatenate(got), [-step1, -step1 - step2], rtol=1e-15)


def test_decoupled_weight_decay_shrinks_the_weight(run):
    w = mt.tensor([2.0], dtype=mt.float64, requires_grad=True)
    run(NAdam([w], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True), w, [np.zeros(1)] * 2)
    np.testing.assert_allclose(w.item(), 2.0 * 0.95**2, rtol=1e-15)


def test_defaults_are_torchs():
    group = NAdam([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
        decoupled_weight_decay=False, maximize=False, foreach=None, capturable=False,
        differentiable=False)


def test_options_after_decoupled_weight_decay_are_keyword_only():
    with pytest.raises(TypeError):
        NAdam([mt.ones(1, requires_grad=True)], 2e-3, (0.9, 0.999), 1e-8, 0, 4e-3, False, None)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1e-3), "NAdam: lr must be a number >= 0, got -0.001"),
    (dict(eps=-1.0), "NAdam: eps must be a number >= 0"),
    (dict(weight_decay=-0.1), "NAdam: weight_decay must be a number >= 0"),
    (dict(momentum_decay=-4e-3), "NAdam: momentum_decay must be a number >= 0, got -0.004"),
    (dict(betas=(1.0, 0.999)), r"NAdam: beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, 1.0)), r"NAdam: beta2 must be in \[0, 1\)"),
    (dict(betas=None), "NAdam: betas must be a pair"),
    (dict(foreach=True), r"NAdam: foreach=True is not supported \(only PyTorch's default"),
    (dict(capturable=True), "NAdam: capturable=True is not supported"),
    (dict(differentiable=True), "NAdam: differentiable=True is not supported"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        NAdam([mt.ones(1, requires_grad=True)], **options)


def test_invalid_group_option_names_the_optimizer():
    with pytest.raises(ValueError, match="NAdam: momentum_decay must be"):
        NAdam([{"params": [mt.ones(1, requires_grad=True)], "momentum_decay": -1.0}])
