"""Adamax against live PyTorch (many steps, options, dtypes, groups, a state_dict round trip
mid-run), by hand, and its option errors."""

import numpy as np
import pytest
from torch_side_by_side import (
    check_matches_pytorch,
    check_round_trip_matches_pytorch,
    check_state_dict_mirrors_pytorchs,
)

import microtensor as mt
from microtensor.optim import Adamax

OPTIONS = [
    ({}, {}),
    (dict(lr=0.05), {"lr": 0.01, "betas": (0.5, 0.9)}),
    (dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1), {"maximize": True}),
    (dict(lr=0.03, maximize=True, weight_decay=0.05), {"weight_decay": 0, "eps": 0.5}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS)
def test_matches_pytorch(options, group_options, dtype):
    check_matches_pytorch("Adamax", options, group_options, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS[1:3])
def test_state_dict_round_trip_mid_run_matches_pytorch(options, group_options, dtype, tmp_path):
    check_round_trip_matches_pytorch("Adamax", options, group_options, dtype, tmp_path)


def test_state_dict_mirrors_pytorchs():
    check_state_dict_mirrors_pytorchs("Adamax")


def test_steps_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = Adamax([w], lr=1.0, betas=(0.5, 0.5), eps=0.0)
    got = run(opt, w, [np.array([2.0]), np.array([-1.0])])
    # 1: m = 1, u = 2, step 1 / 0.5 * 1 / 2 = 1.  2: m = 0, no move (u = max(1, 1) = 1).
    np.testing.assert_allclose(np.concatenate(got), [-1.0, -1.0], rtol=1e-15)
    assert opt.state[w]["exp_inf"].item() == 1.0


def test_defaults_are_torchs():
    group = Adamax([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, maximize=False,
        differentiable=False, capturable=False)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1e-3), "Adamax: lr must be a number >= 0, got -0.001"),
    (dict(eps=-1.0), "Adamax: eps must be a number >= 0"),
    (dict(weight_decay=-0.1), "Adamax: weight_decay must be a number >= 0"),
    (dict(betas=(1.0, 0.999)), r"Adamax: beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, -0.1)), r"Adamax: beta2 must be in \[0, 1\)"),
    (dict(betas=0.9), "Adamax: betas must be a pair"),
    (dict(foreach=True), r"Adamax: foreach=True is not supported \(only PyTorch's default"),
    (dict(capturable=True), "Adamax: capturable=True is not supported"),
    (dict(differentiable=True), "Adamax: differentiable=True is not supported"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        Adamax([mt.ones(1, requires_grad=True)], **options)


def test_invalid_group_option_names_the_optimizer():
    with pytest.raises(ValueError, match="Adamax: eps must be"):
        Adamax([{"params": [mt.ones(1, requires_grad=True)], "eps": -1.0}])
