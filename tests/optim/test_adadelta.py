"""Adadelta against live PyTorch (many steps, options, dtypes, groups, a state_dict round trip
mid-run), by hand, and its option errors."""

import numpy as np
import pytest
from torch_side_by_side import (
    check_matches_pytorch,
    check_round_trip_matches_pytorch,
    check_state_dict_mirrors_pytorchs,
)

import microtensor as mt
from microtensor.optim import Adadelta

OPTIONS = [
    ({}, {}),
    (dict(lr=0.5), {"lr": 2.0, "rho": 0.5}),
    (dict(rho=0.95, eps=1e-3, weight_decay=0.1), {"maximize": True, "rho": 1.0}),
    (dict(lr=0.3, maximize=True, weight_decay=0.05), {"weight_decay": 0, "eps": 0.5, "rho": 0.0}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS)
def test_matches_pytorch(options, group_options, dtype):
    check_matches_pytorch("Adadelta", options, group_options, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS[1:3])
def test_state_dict_round_trip_mid_run_matches_pytorch(options, group_options, dtype, tmp_path):
    check_round_trip_matches_pytorch("Adadelta", options, group_options, dtype, tmp_path)


def test_state_dict_mirrors_pytorchs():
    check_state_dict_mirrors_pytorchs("Adadelta")


def test_steps_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = Adadelta([w], rho=0.5, eps=1.0)
    got = run(opt, w, [np.array([2.0]), np.array([2.0])])
    # 1: v = 2, d = sqrt(1) / sqrt(3) * 2, u = d * d / 2 = 2 / 3.
    # 2: v = 3, d = sqrt(5 / 3) / sqrt(4) * 2 = sqrt(5 / 3).
    d1 = 2 / np.sqrt(3)
    np.testing.assert_allclose(np.concatenate(got), [-d1, -d1 - np.sqrt(5 / 3)], rtol=1e-15)


def test_rho_one_never_forgets_and_is_allowed(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    run(Adadelta([w], rho=1.0, eps=0.25), w, [np.array([3.0])] * 2)
    # the running averages stay 0: each step is sqrt(eps) / sqrt(eps) * g = g
    assert w.item() == -6.0


def test_defaults_are_torchs():
    group = Adadelta([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False, capturable=False,
        foreach=None, differentiable=False)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1.0), "Adadelta: lr must be a number >= 0, got -1.0"),
    (dict(eps=-1.0), "Adadelta: eps must be a number >= 0"),
    (dict(weight_decay=-0.1), "Adadelta: weight_decay must be a number >= 0"),
    (dict(rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
    (dict(rho=-0.1), r"Adadelta: rho must be in \[0, 1\]"),
    (dict(rho="0.9"), r"Adadelta: rho must be in \[0, 1\], got '0.9'"),
    (dict(foreach=True), r"Adadelta: foreach=True is not supported \(only PyTorch's default"),
    (dict(capturable=True), "Adadelta: capturable=True is not supported"),
    (dict(differentiable=True), "Adadelta: differentiable=True is not supported"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        Adadelta([mt.ones(1, requires_grad=True)], **options)


def test_invalid_group_option_names_the_optimizer():
    with pytest.raises(ValueError, match="Adadelta: rho must be"):
        Adadelta([{"params": [mt.ones(1, requires_grad=True)], "rho": 2.0}])
