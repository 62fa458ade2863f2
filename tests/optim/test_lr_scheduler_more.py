"""Issue 19's schedulers (MultiStepLR, ConstantLR, PolynomialLR, MultiplicativeLR,
CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR, ReduceLROnPlateau, ChainedScheduler, and
CosineAnnealingLR with a float T_max): run beside PyTorch's on the same optimizer setup, every
group's rate (and momentum or beta1 where cycled) compared after every step; a run resumed
from a mid-run checkpoint continues identically; the errors name the scheduler and option.

The PyTorch comparisons skip (with one line saying why) when PyTorch is not installed.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.optim import SGD, Adagrad
from microtensor.optim import lr_scheduler as ours_lib
from microtensor.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    StepLR,
)


def build_optimizer(kind, torch=None):
    """Two parameter groups with different rates (and momenta), in microtensor or PyTorch."""
    lib = torch.optim if torch is not None else mt.optim
    make = torch.zeros if torch is not None else mt.zeros
    groups = [{"params": [make(2, requires_grad=True)]},
              {"params": [make(2, requires_grad=True)], "lr": 0.05}]
    if kind == "sgd":
        groups[1]["momentum"] = 0.5
        return lib.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "sgd_plain":
        return lib.SGD(groups, lr=0.1)
    if kind == "adam":
        groups[1]["betas"] = (0.8, 0.99)
        return lib.Adam(groups, lr=0.1)
    if kind == "adamw":
        return lib.AdamW(groups, lr=0.1)
    if kind == "rmsprop":
        return lib.RMSprop(groups, lr=0.1, momentum=0.3)
    raise AssertionError(kind)


def half(epoch):
    return 0.5 if epoch % 3 == 0 else 0.9


def decay(epoch):
    return 0.95


def sine_scale(x):
    return 0.5 * (1 + np.sin(x / 3))


# A loss curve with improvements, long plateaus (a fall of 0.001 from 8 is an improvement
# by the relative threshold 1e-4, not by the absolute 0.01) and a late improvement.
LOSSES = ([10 - 0.5 * i for i in range(5)] + [8.0] * 6 + [7.999] * 4 + [8.5] * 5 + [7.0]
          + [7.0] * 12 + [6.99999] * 6 + [5.0] + [5.2] * 9)

# name -> (optimizer kind, steps, factory(lib, opt), metrics or None)
CASES = {
    "multistep": ("sgd", 20, lambda lib, o: lib.MultiStepLR(o, milestones=[3, 7, 7, 12]), None),
    "multistep_unsorted_gamma": (
        "adam", 20, lambda lib, o: lib.MultiStepLR(o, milestones=[12, 0, 5], gamma=0.5), None),
    "constant": ("sgd", 12, lambda lib, o: lib.ConstantLR(o), None),
    "constant_long": ("adam", 15, lambda lib, o: lib.ConstantLR(o, factor=0.1, total_iters=9), None),
    "polynomial": ("sgd", 10, lambda lib, o: lib.PolynomialLR(o), None),
    "polynomial_power": ("sgd", 30, lambda lib, o: lib.PolynomialLR(o, total_iters=20, power=0.7), None),
    "polynomial_square": ("adam", 12, lambda lib, o: lib.PolynomialLR(o, total_iters=8, power=2.0), None),
    "multiplicative": ("sgd", 20, lambda lib, o: lib.MultiplicativeLR(o, decay), None),
    "multiplicative_per_group": (
        "sgd", 20, lambda lib, o: lib.MultiplicativeLR(o, [half, decay]), None),
    "cosine_float_tmax": ("sgd", 40, lambda lib, o: lib.CosineAnnealingLR(o, T_max=7.5), None),
    "cosine_float_tmax_eta": (
        "sgd", 40, lambda lib, o: lib.CosineAnnealingLR(o, T_max=2.5, eta_min=0.01), None),
    "warm_restarts": ("sgd", 30, lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=4), None),
    "warm_restarts_mult": (
        "adam", 50, lambda lib, o: lib.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.001),
        None),
    "one_cycle_sgd": ("sgd", 30, lambda lib, o: lib.OneCycleLR(o, max_lr=1.0, total_steps=30), None),
    "one_cycle_adam_linear": (
        "adam", 24, lambda lib, o: lib.OneCycleLR(o, max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=6,
                                                  anneal_strategy="linear", pct_start=0.25), None),
    "one_cycle_three_phase": (
        "rmsprop", 40, lambda lib, o: lib.OneCycleLR(
            o, 0.3, total_steps=40, three_phase=True, base_momentum=[0.7, 0.6],
            max_momentum=0.9, div_factor=10.0, final_div_factor=100.0), None),
    "one_cycle_no_momentum": (
        "sgd_plain", 20, lambda lib, o: lib.OneCycleLR(o, 0.4, total_steps=20,
                                                       cycle_momentum=False), None),
    "one_cycle_adamw": ("adamw", 15, lambda lib, o: lib.OneCycleLR(o, 0.1, total_steps=15,
                                                                   pct_start=0.5), None),
    "cyclic_triangular": (
        "sgd", 40, lambda lib, o: lib.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), None),
    "cyclic_triangular2": (
        "adam", 40, lambda lib, o: lib.CyclicLR(o, [0.01, 0.001], [0.1, 0.05], step_size_up=3,
                                                step_size_down=5, mode="triangular2"), None),
    "cyclic_exp_range": (
        "rmsprop", 40, lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="exp_range",
                                                   gamma=0.95, base_momentum=0.2,
                                                   max_momentum=[0.5, 0.4]), None),
    "cyclic_scale_fn": (
        "sgd", 40, lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=sine_scale,
                                               scale_mode="iterations"), None),
    "cyclic_no_momentum": (
        "sgd_plain", 30, lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                     cycle_momentum=False), None),
    "plateau": ("sgd", len(LOSSES), lambda lib, o: lib.ReduceLROnPlateau(o, patience=2), LOSSES),
    "plateau_abs_cooldown": (
        "sgd", len(LOSSES), lambda lib, o: lib.ReduceLROnPlateau(
            o, factor=0.5, patience=1, threshold=0.01, threshold_mode="abs", cooldown=3), LOSSES),
    "plateau_max_min_lr": (
        "adam", len(LOSSES), lambda lib, o: lib.ReduceLROnPlateau(
            o, mode="max", factor=0.3, patience=0, min_lr=[0.01, 0.002], cooldown=1),
        [-v for v in LOSSES]),
    "plateau_max_abs_eps": (
        "sgd", len(LOSSES), lambda lib, o: lib.ReduceLROnPlateau(
            o, mode="max", factor=0.7, threshold_mode="abs", threshold=0.5, patience=0, min_lr=0.02,
            eps=0.005), [-v for v in LOSSES]),
    "chained": ("sgd", 30, lambda lib, o: lib.ChainedScheduler(
        [lib.ConstantLR(o, factor=0.1, total_iters=5), lib.ExponentialLR(o, gamma=0.9)]), None),
    "chained_three": ("adam", 40, lambda lib, o: lib.ChainedScheduler(
        [lib.StepLR(o, 4, gamma=0.8), lib.MultiStepLR(o, [10, 20]),
         lib.CosineAnnealingLR(o, T_max=9, eta_min=0.001)], optimizer=o), None),
}


def momentum_of(group):
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum", 0.0)


def run(opt, scheduler, steps, metrics=None):
    """Every group's rate and momentum (beta1) and get_last_lr() after building and after
    every step, one row each."""
    rows = []

    def record():
        groups = opt.param_groups
        rows.append([g["lr"] for g in groups] + [momentum_of(g) for g in groups]
                    + [float(v) for v in scheduler.get_last_lr()])

    record()
    for i in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        record()
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_pytorch_step_by_step(torch, name):
    kind, steps, factory, metrics = CASES[name]
    ours_opt = build_optimizer(kind)
    ours = run(ours_opt, factory(ours_lib, ours_opt), steps, metrics)
    theirs_opt = build_optimizer(kind, torch)
    theirs = run(theirs_opt, factory(torch.optim.lr_scheduler, theirs_opt), steps, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    if metrics is not None:  # the metrics really made the rates move (and stop at the floor)
        assert len(np.unique(ours[:, 0])) > 2


@pytest.mark.parametrize("name", list(CASES))
def test_a_resumed_schedule_continues_identically(name, tmp_path):
    kind, steps, factory, metrics = CASES[name]
    opt = build_optimizer(kind)
    straight = run(opt, factory(ours_lib, opt), steps, metrics)

    for stop in sorted({1, steps // 3, steps // 2, steps - 1}):
        opt = build_optimizer(kind)
        scheduler = factory(ours_lib, opt)
        first = run(opt, scheduler, stop, metrics)
        path = tmp_path / f"sched{stop}.ckpt"
        mt.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, path)

        opt = build_optimizer(kind)
        scheduler = factory(ours_lib, opt)  # built first, then both states loaded
        checkpoint = mt.load(path)
        opt.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        rest = run(opt, scheduler, steps - stop, None if metrics is None else metrics[stop:])
        np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), straight,
                                      err_msg=f"resumed after {stop} steps")


def test_warm_restarts_with_fractional_epochs_match_pytorch(torch):

    def drive(lib, opt):
        scheduler = lib.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01)
        rows = []
        for epoch in range(12):
            for i in range(4):
                opt.step()
                scheduler.step(epoch + i / 4)
                rows.append([g["lr"] for g in opt.param_groups] + scheduler.get_last_lr()
                            + [scheduler.T_cur, scheduler.T_i, scheduler.last_epoch])
        scheduler.step(26)
        scheduler.step()  # on from epoch 26
        rows.append([g["lr"] for g in opt.param_groups] + [scheduler.T_cur, scheduler.T_i])
        scheduler.step(2)  # back into the first period
        rows.append([g["lr"] for g in opt.param_groups] + [scheduler.T_cur, scheduler.T_i])
        return rows

    ours = drive(ours_lib, build_optimizer("sgd"))
    theirs = drive(torch.optim.lr_scheduler, build_optimizer("sgd", torch))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_closed_forms_match_pytorch(torch):
    # step(epoch) jumps with the closed form (and warns, as PyTorch)
    factories = {
        "multistep": lambda lib, o: lib.MultiStepLR(o, [2, 5, 5], gamma=0.5),
        "constant": lambda lib, o: lib.ConstantLR(o, factor=0.25, total_iters=4),
        "polynomial": lambda lib, o: lib.PolynomialLR(o, total_iters=6, power=1.5),
        "cosine_float": lambda lib, o: lib.CosineAnnealingLR(o, T_max=4.5),
    }
    for name, factory in factories.items():
        for epoch in [0, 1, 3, 5, 6, 9]:
            got = []
            for lib, opt in ((ours_lib, build_optimizer("sgd")),
                             (torch.optim.lr_scheduler, build_optimizer("sgd", torch))):
                scheduler = factory(lib, opt)
                opt.step()
                with pytest.warns(UserWarning, match="epoch parameter"):
                    scheduler.step(epoch)
                got.append([g["lr"] for g in opt.param_groups])
            np.testing.assert_allclose(*got, rtol=0, atol=1e-12, err_msg=f"{name} at {epoch}")


def test_one_cycle_past_total_steps_raises_as_pytorch(torch):
    for lib, opt in ((ours_lib, build_optimizer("sgd")),
                     (torch.optim.lr_scheduler, build_optimizer("sgd", torch))):
        scheduler = lib.OneCycleLR(opt, 1.0, total_steps=5)
        for _ in range(5):
            opt.step()
            scheduler.step()
        with pytest.raises(ValueError, match=r"(?i)tried to step 6 times"):
            scheduler.step()


def test_plateau_takes_a_tensor_metric_and_reads_the_state():
    opt = build_optimizer("sgd")
    scheduler = ReduceLROnPlateau(opt, factor=0.5, patience=0, cooldown=2)
    scheduler.step(mt.tensor(1.0))
    scheduler.step(mt.tensor(2.0))
    assert scheduler.get_last_lr() == [0.05, 0.025]
    assert scheduler.in_cooldown and scheduler.best == 1.0


def test_plateau_follows_an_added_parameter_group():
    opt = build_optimizer("sgd")
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=0.001)
    opt.add_param_group({"params": [mt.zeros(1, requires_grad=True)], "lr": 1.0})
    scheduler.step(1.0)
    scheduler.step(1.0)
    assert scheduler.get_last_lr() == pytest.approx([0.01, 0.005, 0.1])

    opt = build_optimizer("sgd")
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=[0.001, 0.002])
    opt.add_param_group({"params": [mt.zeros(1, requires_grad=True)]})
    scheduler.step(1.0)
    with pytest.raises(RuntimeError, match="ReduceLROnPlateau: the optimizer has 3 parameter "
                                           "groups but min_lr lists 2"):
        scheduler.step(1.0)


def test_cyclic_scale_fn_object_state_round_trips():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, x):
            return self.rate ** x

    opt = build_optimizer("sgd")
    scheduler = CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=Decay())
    state = scheduler.state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.5}
    other = CyclicLR(build_optimizer("sgd"), 0.01, 0.1, step_size_up=2, scale_fn=Decay())
    other._scale_fn_custom.rate = 0.9
    other.load_state_dict(state)
    assert other._scale_fn_custom.rate == 0.5 and "_scale_fn_custom" in state
    assert CyclicLR(opt, 0.01, 0.1, scale_fn=sine_scale).state_dict()["_scale_fn_custom"] is None


def test_errors_name_the_scheduler_and_the_option():
    opt = build_optimizer("sgd")
    cases = [
        (lambda: MultiStepLR(opt, [2, -1]), ValueError,
         "MultiStepLR: milestones must be integers >= 0, got -1"),
        (lambda: MultiStepLR(opt, [2.5]), ValueError, "MultiStepLR: milestones must be integers"),
        (lambda: MultiStepLR(opt, [2], gamma=-0.5), ValueError,
         "MultiStepLR: gamma must be a number >= 0, got -0.5"),
        (lambda: ConstantLR(opt, factor=1.5), ValueError,
         r"ConstantLR: factor must be in \(0, 1\], got 1.5"),
        (lambda: ConstantLR(opt, factor=0), ValueError, r"ConstantLR: factor must be in \(0, 1\]"),
        (lambda: ConstantLR(opt, total_iters=0), ValueError,
         "ConstantLR: total_iters must be a positive integer, got 0"),
        (lambda: PolynomialLR(opt, total_iters=0), ValueError,
         "PolynomialLR: total_iters must be a positive integer, got 0"),
        (lambda: PolynomialLR(opt, power=-1), ValueError,
         "PolynomialLR: power must be a number >= 0, got -1"),
        (lambda: MultiplicativeLR(opt, [decay]), ValueError,
         "MultiplicativeLR: expected 2 lr_lambdas, one per parameter group, got 1"),
        (lambda: MultiplicativeLR(opt, 0.9), TypeError,
         "MultiplicativeLR: lr_lambda must be callable, got float"),
        (lambda: CosineAnnealingLR(opt, T_max=0.0), ValueError,
         "CosineAnnealingLR: T_max must be a positive integer or float, got 0.0"),
        (lambda: CosineAnnealingLR(opt, T_max=True), ValueError, "CosineAnnealingLR: T_max must"),
        (lambda: CosineAnnealingWarmRestarts(opt, T_0=0), ValueError,
         "CosineAnnealingWarmRestarts: T_0 must be a positive integer, got 0"),
        (lambda: CosineAnnealingWarmRestarts(opt, T_0=2.0), ValueError,
         "CosineAnnealingWarmRestarts: T_0 must be a positive integer, got 2.0"),
        (lambda: CosineAnnealingWarmRestarts(opt, 2, T_mult=0), ValueError,
         "CosineAnnealingWarmRestarts: T_mult must be an integer >= 1, got 0"),
        (lambda: CosineAnnealingWarmRestarts(opt, 2, eta_min="0"), ValueError,
         "CosineAnnealingWarmRestarts: eta_min must be a number >= 0, got '0'"),
        (lambda: CosineAnnealingWarmRestarts(opt, 2).step(-1), ValueError,
         r"CosineAnnealingWarmRestarts.step: epoch must be a number >= 0, got -1"),
        (lambda: OneCycleLR([], 0.1, total_steps=10), TypeError,
         "OneCycleLR: list is not an Optimizer"),
        (lambda: OneCycleLR(opt, 0.1), ValueError,
         "OneCycleLR: pass total_steps, or both epochs and steps_per_epoch"),
        (lambda: OneCycleLR(opt, 0.1, total_steps=0), ValueError,
         "OneCycleLR: total_steps must be a positive integer, got 0"),
        (lambda: OneCycleLR(opt, 0.1, epochs=2, steps_per_epoch=1.5), ValueError,
         "OneCycleLR: steps_per_epoch must be a positive integer, got 1.5"),
        (lambda: OneCycleLR(opt, 0.1, epochs=0, steps_per_epoch=3), ValueError,
         "OneCycleLR: epochs must be a positive integer, got 0"),
        (lambda: OneCycleLR(opt, 0.1, total_steps=10, pct_start=1.2), ValueError,
         r"OneCycleLR: pct_start must be a number in \[0, 1\], got 1.2"),
        (lambda: OneCycleLR(opt, 0.1, total_steps=10, anneal_strategy="cosine"), ValueError,
         "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'cosine'"),
        (lambda: OneCycleLR(opt, [0.1, 0.2, 0.3], total_steps=10), ValueError,
         "OneCycleLR: expected 2 values of max_lr, one per parameter group, got 3"),
        (lambda: OneCycleLR(opt, 0.1, total_steps=10, div_factor=0), ValueError,
         "OneCycleLR: div_factor must be a number > 0, got 0"),
        (lambda: OneCycleLR(opt, 0.1, total_steps=10, base_momentum=[0.8]), ValueError,
         "OneCycleLR: expected 2 values of base_momentum"),
        (lambda: OneCycleLR(Adagrad([mt.zeros(1, requires_grad=True)]), 0.1, total_steps=10),
         ValueError, "OneCycleLR: cycle_momentum needs an optimizer with momentum or betas "
                     r"\(SGD, RMSprop, Adam, AdamW\), got Adagrad"),
        (lambda: CyclicLR(opt, 0.01, 0.1, step_size_up=0), ValueError,
         "CyclicLR: step_size_up must be a number > 0, got 0"),
        (lambda: CyclicLR(opt, 0.01, 0.1, step_size_down=-2), ValueError,
         "CyclicLR: step_size_down must be a number > 0, got -2"),
        (lambda: CyclicLR(opt, 0.01, 0.1, mode="triangle"), ValueError,
         r"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' \(or pass "
         r"scale_fn\), got 'triangle'"),
        (lambda: CyclicLR(opt, 0.01, 0.1, scale_mode="epoch"), ValueError,
         "CyclicLR: scale_mode must be 'cycle' or 'iterations', got 'epoch'"),
        (lambda: CyclicLR(opt, 0.01, 0.1, scale_fn=3), TypeError,
         "CyclicLR: scale_fn must be callable, got int"),
        (lambda: CyclicLR(opt, [0.01], 0.1), ValueError,
         "CyclicLR: expected 2 values of base_lr, one per parameter group, got 1"),
        (lambda: CyclicLR(opt, 0.01, -0.1), ValueError,
         "CyclicLR: max_lr must be a number >= 0, got -0.1"),
        (lambda: CyclicLR(Adagrad([mt.zeros(1, requires_grad=True)]), 0.01, 0.1), ValueError,
         "CyclicLR: cycle_momentum needs an optimizer with momentum or betas"),
        (lambda: ReduceLROnPlateau(opt, factor=1.0), ValueError,
         r"ReduceLROnPlateau: factor must be in \[0, 1\), got 1.0"),
        (lambda: ReduceLROnPlateau([]), TypeError, "ReduceLROnPlateau: list is not an Optimizer"),
        (lambda: ReduceLROnPlateau(opt, mode="minimum"), ValueError,
         "ReduceLROnPlateau: mode must be 'min' or 'max', got 'minimum'"),
        (lambda: ReduceLROnPlateau(opt, threshold_mode="relative"), ValueError,
         "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'relative'"),
        (lambda: ReduceLROnPlateau(opt, patience=-1), ValueError,
         "ReduceLROnPlateau: patience must be an integer >= 0, got -1"),
        (lambda: ReduceLROnPlateau(opt, cooldown=1.5), ValueError,
         "ReduceLROnPlateau: cooldown must be an integer >= 0, got 1.5"),
        (lambda: ReduceLROnPlateau(opt, threshold=-1e-4), ValueError,
         "ReduceLROnPlateau: threshold must be a number >= 0, got -0.0001"),
        (lambda: ReduceLROnPlateau(opt, eps=-1), ValueError,
         "ReduceLROnPlateau: eps must be a number >= 0, got -1"),
        (lambda: ReduceLROnPlateau(opt, min_lr=[0.1]), ValueError,
         "ReduceLROnPlateau: expected 2 values of min_lr, one per parameter group, got 1"),
        (lambda: ReduceLROnPlateau(opt, min_lr=-0.1), ValueError,
         "ReduceLROnPlateau: min_lr must be a number >= 0, got -0.1"),
        (lambda: ReduceLROnPlateau(opt).step("low"), ValueError,
         "ReduceLROnPlateau.step: metrics must be a number or a one-element tensor, got 'low'"),
        (lambda: ReduceLROnPlateau(opt).step(None), TypeError,
         "ReduceLROnPlateau.step: metrics must be a number or a one-element tensor, got None"),
        (lambda: ChainedScheduler([]), ValueError,
         "ChainedScheduler: expected at least one scheduler, got none"),
        (lambda: ChainedScheduler([StepLR(opt, 2), "exp"]), TypeError,
         r"ChainedScheduler: schedulers\[1\] is a str, not a scheduler"),
        (lambda: ChainedScheduler([StepLR(opt, 2), ReduceLROnPlateau(opt)]), ValueError,
         r"ChainedScheduler: schedulers\[1\] is a ReduceLROnPlateau, whose step needs the metrics"),
        (lambda: ChainedScheduler([StepLR(opt, 2), ExponentialLR(build_optimizer("sgd"), 0.5)]),
         ValueError, r"ChainedScheduler: schedulers\[1\] \(ExponentialLR\) belongs to another "
                     "optimizer"),
        (lambda: ChainedScheduler([StepLR(opt, 2)], optimizer=build_optimizer("sgd")), ValueError,
         r"ChainedScheduler: schedulers\[0\] \(StepLR\) belongs to another optimizer"),
        (lambda: ChainedScheduler([StepLR(opt, 2)]).load_state_dict(
            ChainedScheduler([StepLR(opt, 2), StepLR(opt, 3)]).state_dict()), ValueError,
         "ChainedScheduler.load_state_dict: the state holds 2 schedulers, this one has 1"),
        (lambda: MultiStepLR(opt, [2]).load_state_dict(ConstantLR(opt).state_dict()), ValueError,
         r"MultiStepLR.load_state_dict: unexpected keys \['factor', 'total_iters'\]"),
        (lambda: ReduceLROnPlateau(opt).load_state_dict(StepLR(opt, 2).state_dict()), ValueError,
         "ReduceLROnPlateau.load_state_dict: unexpected keys"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()


def test_epoch_argument_warns_as_elsewhere():
    with pytest.warns(UserWarning, match="epoch parameter in scheduler.step"):
        ReduceLROnPlateau(build_optimizer("sgd")).step(1.0, epoch=3)
    with pytest.warns(UserWarning, match="epoch parameter in scheduler.step"):
        MultiStepLR(build_optimizer("sgd"), [2]).step(4)


def test_cycling_momentum_steers_the_optimizer():
    # The cycled momentum is what SGD's next step uses: two runs that differ only in the
    # scheduler's max_momentum move the parameter differently from the second step on.
    def trajectory(max_momentum):
        w = mt.zeros(1, requires_grad=True)
        opt = SGD([w], lr=0.1, momentum=0.9)
        scheduler = CyclicLR(opt, 0.1, 0.1, step_size_up=2, base_momentum=0.0,
                             max_momentum=max_momentum)
        out = []
        for _ in range(3):
            w.grad = mt.ones(1)
            opt.step()
            scheduler.step()
            out.append(w.item())
        return out

    low, high = trajectory(0.0), trajectory(0.9)
    assert low[0] == high[0] and low[1] != high[1]


@pytest.mark.parametrize("pct_start, total_steps, three_phase, fails_at",
                         [(0.1, 10, False, 0), (1.0, 4, False, 4), (0.6, 5, True, 5)])
def test_one_cycle_phase_without_steps_fails_where_pytorch_does(torch, pct_start, total_steps,
                                                                 three_phase, fails_at):
    # PyTorch divides by zero at the first step of an empty phase; so do we, saying why
    for lib, opt in ((ours_lib, build_optimizer("sgd")),
                     (torch.optim.lr_scheduler, build_optimizer("sgd", torch))):
        def build(lib=lib, opt=opt):
            return lib.OneCycleLR(opt, 1.0, total_steps=total_steps, pct_start=pct_start,
                                  three_phase=three_phase)

        if fails_at == 0:
            with pytest.raises(ZeroDivisionError):
                build()
            continue
        scheduler = build()
        for _ in range(fails_at - 1):
            opt.step()
            scheduler.step()
        opt.step()
        with pytest.raises(ZeroDivisionError):
            scheduler.step()
    with pytest.raises(ZeroDivisionError, match=r"OneCycleLR: phase 1 of the schedule has no "
                                                r"steps \(it starts and ends at step 0\); choose "
                                                "pct_start"):
        OneCycleLR(build_optimizer("sgd"), 1.0, total_steps=10, pct_start=0.1)


@st.composite
def drawn_cases(draw):
    """(optimizer kind, steps, factory(lib, opt), metrics): a scheduler with drawn options."""
    kind = draw(st.sampled_from(["sgd", "adam", "rmsprop", "sgd_plain"]))
    which = draw(st.sampled_from(["cyclic", "one_cycle", "plateau", "warm_restarts",
                                  "polynomial", "multistep", "constant", "cosine"]))
    steps, metrics = draw(st.integers(1, 50)), None
    momentum = kind != "sgd_plain" and draw(st.booleans())
    lrs = st.sampled_from([0.1, 1.0, [0.3, 0.05]])
    if which == "cyclic":
        kw = dict(base_lr=draw(st.sampled_from([0.0, 0.01, [0.01, 0.02]])), max_lr=draw(lrs),
                  step_size_up=draw(st.sampled_from([1, 2, 3, 7, 2.5])),
                  step_size_down=draw(st.sampled_from([None, 1, 4])),
                  mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
                  gamma=draw(st.floats(0.5, 1.0)), cycle_momentum=momentum,
                  base_momentum=draw(st.floats(0.0, 0.8)), max_momentum=draw(st.floats(0.8, 0.99)))
    elif which == "one_cycle":
        total = draw(st.integers(4, 40))
        steps = draw(st.integers(0, total))
        pct = draw(st.sampled_from([0.25, 0.3, 0.5, 0.75]))
        # a phase of no steps divides by zero (tested above): draw only schedules that have none
        three = draw(st.booleans()) and 2 * pct * total - 2 < total - 1
        kw = dict(max_lr=draw(lrs), total_steps=total, pct_start=pct, three_phase=three,
                  anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
                  cycle_momentum=momentum, div_factor=draw(st.floats(1.0, 30.0)),
                  final_div_factor=draw(st.floats(1.0, 1e4)))
        if pct * total <= 1:
            kw["pct_start"] = 0.5
    elif which == "plateau":
        metrics = draw(st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.5, 0.9, 1.0]),
                                min_size=steps, max_size=steps))
        kw = dict(mode=draw(st.sampled_from(["min", "max"])), factor=draw(st.floats(0.0, 0.9)),
                  patience=draw(st.integers(0, 3)), threshold=draw(st.sampled_from([0, 1e-4, 0.5])),
                  threshold_mode=draw(st.sampled_from(["rel", "abs"])),
                  cooldown=draw(st.integers(0, 3)),
                  min_lr=draw(st.sampled_from([0, 0.001, [0.01, 0.0]])),
                  eps=draw(st.sampled_from([1e-8, 0.01])))
    elif which == "warm_restarts":
        kw = dict(T_0=draw(st.integers(1, 6)), T_mult=draw(st.integers(1, 3)),
                  eta_min=draw(st.sampled_from([0, 0.001])))
    elif which == "polynomial":
        kw = dict(total_iters=draw(st.integers(1, 20)), power=draw(st.floats(0.0, 3.0)))
    elif which == "multistep":
        kw = dict(milestones=draw(st.lists(st.integers(0, 30), max_size=5)),
                  gamma=draw(st.floats(0.0, 1.0)))
    elif which == "constant":
        kw = dict(factor=draw(st.floats(0.01, 1.0)), total_iters=draw(st.integers(1, 20)))
    else:
        kw = dict(T_max=draw(st.one_of(st.integers(1, 10), st.floats(0.3, 10.0))),
                  eta_min=draw(st.sampled_from([0, 0.01])))
    name = {"cyclic": "CyclicLR", "one_cycle": "OneCycleLR", "plateau": "ReduceLROnPlateau",
            "warm_restarts": "CosineAnnealingWarmRestarts", "polynomial": "PolynomialLR",
            "multistep": "MultiStepLR", "constant": "ConstantLR", "cosine": "CosineAnnealingLR"}[which]
    if not momentum and which in ("cyclic", "one_cycle"):
        kw["cycle_momentum"] = False
    return kind, steps, lambda lib, o: getattr(lib, name)(o, **kw), metrics


# The torch fixture is the module, the same for every example: no state to reset between them.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=drawn_cases())
def test_drawn_options_match_pytorch(torch, case):
    kind, steps, factory, metrics = case
    ours_opt = build_optimizer(kind)
    ours = run(ours_opt, factory(ours_lib, ours_opt), steps, metrics)
    theirs_opt = build_optimizer(kind, torch)
    theirs = run(theirs_opt, factory(torch.optim.lr_scheduler, theirs_opt), steps, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
