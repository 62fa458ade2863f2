"""RAdam against live PyTorch (many steps, options, dtypes, groups, a state_dict round trip
mid-run), by hand, and its option errors."""

import numpy as np
import pytest
from torch_side_by_side import (
    check_matches_pytorch,
    check_round_trip_matches_pytorch,
    check_state_dict_mirrors_pytorchs,
)

import microtensor as mt
from microtensor.optim import RAdam

# beta2 = 0.9, 0.99 and 0.999 rectify from step 6 on; beta2 = 0.5 or 0 never (rho_inf <= 5).
OPTIONS = [
    ({}, {}),
    (dict(lr=0.05), {"lr": 0.01, "betas": (0.5, 0.9)}),
    (dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1), {"maximize": True}),
    (dict(lr=0.03, weight_decay=0.2, decoupled_weight_decay=True),
     {"maximize": True, "betas": (0.0, 0.9)}),
    (dict(lr=0.03, maximize=True, weight_decay=0.05), {"decoupled_weight_decay": True}),
    (dict(lr=0.01, betas=(0.9, 0.5)), {"betas": (0.9, 0.0)}),  # never rectified: rho_inf <= 5
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS)
def test_matches_pytorch(options, group_options, dtype):
    check_matches_pytorch("RAdam", options, group_options, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS[1:4])
def test_state_dict_round_trip_mid_run_matches_pytorch(options, group_options, dtype, tmp_path):
    check_round_trip_matches_pytorch("RAdam", options, group_options, dtype, tmp_path)


def test_state_dict_mirrors_pytorchs():
    check_state_dict_mirrors_pytorchs("RAdam")


def test_steps_by_hand(run):
    # beta2 = 0.5: rho_inf = 3, so every step is momentum SGD on the bias-corrected m.
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    got = run(RAdam([w], lr=1.0, betas=(0.5, 0.5)), w, [np.array([2.0]), np.array([-2.0])])
    # 1: m = 1, m / 0.5 = 2.  2: m = -0.5, m / 0.75 = -2 / 3.
    np.testing.assert_allclose(np.concatenate(got), [-2.0, -2.0 + 2 / 3], rtol=1e-15)


def test_rectified_step_by_hand(run):
    # beta2 = 0.9: rho_inf = 19; a constant g makes m / (1 - b1**t) = g and v / (1 - b2**t) = g².
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    got = run(RAdam([w], lr=1.0, betas=(0.5, 0.9), eps=0.0), w, [np.array([3.0])] * 6)
    b2, rho_inf = 0.9, 19.0
    rho_6 = rho_inf - 2 * 6 * b2**6 / (1 - b2**6)
    assert rho_6 > 5 > rho_inf - 2 * 5 * b2**5 / (1 - b2**5)  # only the last step rectifies
    rect = np.sqrt((rho_6 - 4) * (rho_6 - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_6))
    # five SGD steps of g = 3, then Adam's step of 1 (m_hat / sqrt(v_hat)) times rect
    np.testing.assert_allclose(np.concatenate(got), [-3.0, -6.0, -9.0, -12.0, -15.0, -15.0 - rect],
                               rtol=1e-14)


def test_decoupled_weight_decay_shrinks_the_weight(run):
    w = mt.tensor([2.0], dtype=mt.float64, requires_grad=True)
    run(RAdam([w], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True), w, [np.zeros(1)] * 2)
    np.testing.assert_allclose(w.item(), 2.0 * 0.95**2, rtol=1e-15)


def test_defaults_are_torchs():
    group = RAdam([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False, foreach=None,
        capturable=False, decoupled_weight_decay=False, differentiable=False)


def test_options_after_decoupled_weight_decay_are_keyword_only():
    with pytest.raises(TypeError):
        RAdam([mt.ones(1, requires_grad=True)], 1e-3, (0.9, 0.999), 1e-8, 0, False, None)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1e-3), "RAdam: lr must be a number >= 0, got -0.001"),
    (dict(eps=-1.0), "RAdam: eps must be a number >= 0"),
    (dict(weight_decay=-0.1), "RAdam: weight_decay must be a number >= 0"),
    (dict(betas=(1.0, 0.999)), r"RAdam: beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, 1.0)), r"RAdam: beta2 must be in \[0, 1\)"),
    (dict(betas=(0.9,)), "RAdam: betas must be a pair"),
    (dict(foreach=False), r"RAdam: foreach=False is not supported \(only PyTorch's default"),
    (dict(capturable=True), "RAdam: capturable=True is not supported"),
    (dict(differentiable=True), "RAdam: differentiable=True is not supported"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        RAdam([mt.ones(1, requires_grad=True)], **options)


def test_invalid_group_option_names_the_optimizer():
    with pytest.raises(ValueError, match="RAdam: beta2 must be"):
        RAdam([{"params": [mt.ones(1, requires_grad=True)], "betas": (0.9, 1.5)}])
