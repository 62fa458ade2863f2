"""Learning-rate schedulers: PyTorch's golden curves, live PyTorch with drawn options, exact
resumption through state_dict and mt.save, and errors."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.optim import SGD
from microtensor.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    SequentialLR,
    StepLR,
)

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")

GOLDEN = Path(__file__).resolve().parents[1] / "data/torch_seq_golden.npz"


def inverse_epoch(epoch):
    return 1 / (1 + epoch)


def golden_factories(lib):
    """The schedules of torch_seq_golden.npz, built from ``lib`` (ours or torch's module)."""
    return {
        "steplr": lambda o: lib.StepLR(o, step_size=7, gamma=0.5),
        "exponentiallr": lambda o: lib.ExponentialLR(o, gamma=0.9),
        "cosineannealinglr": lambda o: lib.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
        "linearlr": lambda o: lib.LinearLR(o, start_factor=0.1, total_iters=5),
        "sequentiallr": lambda o: lib.SequentialLR(
            o, schedulers=[lib.LinearLR(o, start_factor=0.1, total_iters=5),
                           lib.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
        "lambdalr": lambda o: lib.LambdaLR(o, lr_lambda=inverse_epoch),
    }


def optimizer(lr=0.1):
    return SGD([mt.zeros(1, requires_grad=True)], lr=lr)


def curve(opt, scheduler, epochs):
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(lrs)


@pytest.mark.parametrize("name", list(golden_factories(None)))
def test_schedules_match_pytorch_golden_curves(name, record_property):
    with np.load(GOLDEN) as data:
        expected = data[f"sched.{name}"]
    opt = optimizer()
    got = curve(opt, golden_factories(mt.optim.lr_scheduler)[name](opt), len(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    record_property("max_abs_diff", float(np.max(np.abs(got - expected))))


@st.composite
def schedules(draw):
    """A scheduler factory for ``lib`` (ours or torch's), with drawn options."""
    kind = draw(st.sampled_from(["step", "exp", "cos", "linear", "lambda", "sequential"]))
    step_size, t_max, iters = (draw(st.integers(1, 8)) for _ in range(3))
    gamma = draw(st.floats(0.1, 1.0))
    eta_min = draw(st.sampled_from([0.0, 0.001, 0.05]))
    start, end = draw(st.floats(0.05, 1.0)), draw(st.floats(0.0, 1.0))
    milestone = draw(st.integers(1, 10))

    def make(lib, opt):
        return {
            "step": lambda: lib.StepLR(opt, step_size, gamma),
            "exp": lambda: lib.ExponentialLR(opt, gamma),
            "cos": lambda: lib.CosineAnnealingLR(opt, t_max, eta_min),
            "linear": lambda: lib.LinearLR(opt, start, end, iters),
            "lambda": lambda: lib.LambdaLR(opt, inverse_epoch),
            "sequential": lambda: lib.SequentialLR(
                opt, [lib.LinearLR(opt, start, end, iters), lib.CosineAnnealingLR(opt, t_max, eta_min)],
                [milestone]),
        }[kind]()

    return make


@needs_torch
@given(make=schedules(), lr=st.sampled_from([0.1, 1.0, 3e-3]))
def test_schedules_match_live_pytorch(make, lr):
    ours_opt = optimizer(lr)
    theirs_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    ours = curve(ours_opt, make(mt.optim.lr_scheduler, ours_opt), 40)
    theirs = curve(theirs_opt, make(torch.optim.lr_scheduler, theirs_opt), 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@given(make=schedules(), stop=st.integers(0, 25))
def test_a_resumed_schedule_continues_on_the_same_curve(make, stop, tmp_path_factory):
    opt = optimizer()
    straight = curve(opt, make(mt.optim.lr_scheduler, opt), 30)

    opt = optimizer()
    scheduler = make(mt.optim.lr_scheduler, opt)
    first = curve(opt, scheduler, stop)
    path = tmp_path_factory.mktemp("ckpt") / "sched.ckpt"
    mt.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, path)

    opt = optimizer()
    scheduler = make(mt.optim.lr_scheduler, opt)  # built first, then both states loaded
    checkpoint = mt.load(path)
    opt.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    rest = curve(opt, scheduler, 30 - stop)
    np.testing.assert_array_equal(np.concatenate([first, rest]), straight)


def test_lambda_state_keeps_callable_objects_state():
    class Warmup:
        def __init__(self):
            self.length = 3

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.length)

    opt = optimizer()
    scheduler = LambdaLR(opt, Warmup())
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"length": 3}]
    other = LambdaLR(optimizer(), Warmup())
    other.lr_lambdas[0].length = 10
    other.load_state_dict(state)
    assert other.lr_lambdas[0].length == 3 and "lr_lambdas" in state


def test_each_parameter_group_follows_its_own_base_rate():
    a, b = mt.zeros(1, requires_grad=True), mt.zeros(1, requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    scheduler = LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1.0])
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 1.0]


def test_scheduler_errors_name_the_problem():
    opt = optimizer()
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        StepLR([], 3)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer, got 0"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\], got 0"):
        LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive integer"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="ExponentialLR: gamma must be a number >= 0"):
        ExponentialLR(opt, gamma=-1)
    with pytest.raises(ValueError, match="LambdaLR: expected 1 lr_lambdas, one per parameter group"):
        LambdaLR(opt, [inverse_epoch, inverse_epoch])
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        StepLR(optimizer(), 3, last_epoch=4)
    with pytest.raises(ValueError, match="expected 1 milestones for 2 schedulers"):
        SequentialLR(opt, [StepLR(opt, 2), ExponentialLR(opt, 0.5)], milestones=[])
    with pytest.raises(ValueError, match=r"schedulers\[0\] \(StepLR\) belongs to another optimizer"):
        SequentialLR(opt, [StepLR(optimizer(), 2)], milestones=[])
    with pytest.raises(ValueError, match=r"unexpected keys \['gamma', 'step_size'\]"):
        LambdaLR(opt, inverse_epoch).load_state_dict(StepLR(optimizer(), 2).state_dict())
    with pytest.warns(UserWarning, match="epoch parameter in scheduler.step"):
        StepLR(opt, 2).step(5)
