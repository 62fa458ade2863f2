"""GELU, Softmax, LogSoftmax, Identity, Flatten and the losses L1Loss, BCELoss,
BCEWithLogitsLoss, SmoothL1Loss, HuberLoss and KLDivLoss, beside PyTorch's modules (same inputs,
outputs and gradients, float64), with their options, reprs, buffers and one-line errors; and the
errors of the ``nn.functional`` forms (values and gradients are in the oracle's table)."""

import math
import warnings

import numpy as np
import pytest

import microtensor as mt
import microtensor.nn.functional as F
from microtensor import nn


def pair(torch, array: np.ndarray):
    """The same float64 values as a microtensor and a PyTorch leaf that require grad."""
    return (mt.tensor(array.copy(), requires_grad=True),
            torch.tensor(array.copy(), requires_grad=True))


def run_both(torch, build, inputs, constants=(), **options):
    """``build(lib)(*inputs, *constants)`` in each library; returns (mine, theirs) outputs and
    the gradients of the inputs after the same random upstream gradient."""
    rng = np.random.default_rng(0)
    ours = [pair(torch, a) for a in inputs]
    mine_in, torch_in = [m for m, _ in ours], [t for _, t in ours]
    mine = build(mt)(*mine_in, *[mt.tensor(c) for c in constants])
    theirs = build(torch)(*torch_in, *[torch.tensor(c) for c in constants])
    upstream = rng.standard_normal(tuple(theirs.shape))
    mine.backward(mt.tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    return mine, theirs, [m.grad for m in mine_in], [t.grad for t in torch_in]


def assert_same(torch, mine, theirs, mine_grads, torch_grads):
    assert tuple(mine.shape) == tuple(theirs.shape)
    assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    for m, t in zip(mine_grads, torch_grads):
        np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 3, 5)) * 3
X[0, 0, :3] = [0.0, -0.0, 1.0]  # gelu and the losses' kinks


@pytest.mark.parametrize("make", [
    lambda nn_: nn_.GELU(), lambda nn_: nn_.GELU(approximate="tanh"),
    lambda nn_: nn_.Softmax(dim=1), lambda nn_: nn_.LogSoftmax(dim=-1),
    lambda nn_: nn_.Identity(3, key="ignored"), lambda nn_: nn_.Flatten(),
    lambda nn_: nn_.Flatten(0, 1), lambda nn_: nn_.Flatten(-2),
], ids=["GELU", "GELU-tanh", "Softmax", "LogSoftmax", "Identity", "Flatten", "Flatten01",
        "Flatten-2"])
def test_layer_modules_match_pytorch(torch, make):
    mine, theirs, mg, tg = run_both(torch, lambda lib: make(lib.nn), [X])
    assert_same(torch, mine, theirs, mg, tg)
    assert repr(make(nn)) == repr(make(torch.nn))


def test_softmax_modules_without_dim_warn_as_pytorch(torch):
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        mine = nn.Softmax()(mt.tensor(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Softmax()(torch.tensor(X))
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


TARGET = RNG.standard_normal((4, 3, 5)) * 3
TARGET[0, 0, :3] = [0.0, 1.0, 1.5]  # a difference of exactly 1: the kink of SmoothL1 and Huber
PROBS = 1 / (1 + np.exp(-X))
LABELS = (RNG.random((4, 3, 5)) > 0.5).astype(np.float64)
LABELS[1, 1, :2] = [0.25, 0.75]  # soft labels too
WEIGHT = RNG.random((3, 5)) + 0.5
POS_WEIGHT = RNG.random(5) * 3


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", [
    ("L1Loss", {}, X, TARGET, ()),
    ("SmoothL1Loss", {}, X, TARGET, ()),
    ("SmoothL1Loss", {"beta": 0.5}, X, TARGET, ()),
    ("SmoothL1Loss", {"beta": 0.0}, X, TARGET, ()),
    ("HuberLoss", {}, X, TARGET, ()),
    ("HuberLoss", {"delta": 2.5}, X, TARGET, ()),
    ("BCELoss", {}, PROBS, LABELS, ()),
    ("BCELoss", {"weight": WEIGHT}, PROBS, LABELS, ()),
    ("BCEWithLogitsLoss", {}, X, LABELS, ()),
    ("BCEWithLogitsLoss", {"weight": WEIGHT, "pos_weight": POS_WEIGHT}, X, LABELS, ()),
    ("KLDivLoss", {}, np.log(PROBS), PROBS[::-1].copy(), ()),
    ("KLDivLoss", {"log_target": True}, np.log(PROBS), np.log(PROBS[::-1]), ()),
], ids=lambda c: f"{c[0]}{''.join(sorted(c[1]))}")
def test_loss_modules_match_pytorch(torch, case, reduction):
    name, options, inputs, target, _ = case

    def build(lib):
        opts = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
        return getattr(lib.nn, name)(**opts, reduction=reduction)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KLDivLoss's "mean" warns in both
        mine, theirs, mg, tg = run_both(torch, build, [inputs, target])
    assert_same(torch, mine, theirs, mg, tg)
    mine_module, torch_module = build(mt), build(torch)
    assert repr(mine_module) == repr(torch_module)
    assert sorted(mine_module.state_dict()) == sorted(torch_module.state_dict())


def test_kl_div_batchmean_and_its_mean_warning(torch):
    logp, target = np.log(PROBS), PROBS[::-1].copy()
    mine, theirs, mg, tg = run_both(torch, lambda lib: lib.nn.KLDivLoss(reduction="batchmean"),
                                    [logp, target])
    assert_same(torch, mine, theirs, mg, tg)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        nn.KLDivLoss()(mt.tensor(logp), mt.tensor(target))


def test_bce_gradient_at_zero_and_one_is_finite_as_pytorch(torch):
    x, t = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    mine, theirs, mg, tg = run_both(torch, lambda lib: lib.nn.BCELoss(reduction="sum"), [x, t])
    assert mine.item() == theirs.item() == pytest.approx(200 + math.log(2))  # logs clamp at -100
    np.testing.assert_array_equal(mg[0].numpy(), tg[0].numpy())  # +-1e12 at the ends
    np.testing.assert_array_equal(mg[1].numpy(), tg[1].numpy())  # inf and -inf: unclamped


@pytest.mark.parametrize("pos_weight", [None, 0.5, 1.0, 2.0])
def test_bce_with_logits_gradients_at_infinite_scores_match_pytorch(torch, pos_weight):
    x = np.array([-math.inf, math.inf, -40.0, 40.0, 0.0])
    t = np.array([0.3, 1.0, 0.7, 0.2, 0.5])
    kw = {} if pos_weight is None else {"pos_weight": np.full(5, pos_weight)}

    def build(lib):
        extra = {k: lib.tensor(v) for k, v in kw.items()}
        return lambda a, b: lib.nn.functional.binary_cross_entropy_with_logits(
            a, b, reduction="none", **extra)

    mine, theirs, mg, tg = run_both(torch, build, [x, t])
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-14)
    for m, g in zip(mg, tg):  # finite, or infinite, where composed formulas would give nan
        np.testing.assert_allclose(m.numpy(), g.numpy(), rtol=1e-14)


def test_bce_with_logits_is_stable_for_large_scores():
    x = mt.tensor([1000.0, -1000.0, 0.0], dtype=mt.float64)
    losses = F.binary_cross_entropy_with_logits(x, mt.tensor([1.0, 0.0, 1.0], dtype=mt.float64),
                                                reduction="none")
    np.testing.assert_allclose(losses.numpy(), [0.0, 0.0, math.log(2)])


def test_legacy_size_average_and_reduce_become_a_reduction_with_a_warning():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        loss = nn.L1Loss(size_average=False)
    assert loss.reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.l1_loss(mt.ones(2), mt.zeros(2), None, False)
    assert out.tolist() == [1.0, 1.0]


def test_functional_forms_match_pytorch_on_a_few_calls(torch):
    x, w, b = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal(4)
    mine, theirs, mg, tg = run_both(torch, lambda lib: lib.nn.functional.linear, [x, w, b])
    assert_same(torch, mine, theirs, mg, tg)
    mine, theirs, mg, tg = run_both(
        torch, lambda lib: lambda t: lib.nn.functional.pad(t, (1, -1, 2, 0), value=3.5), [x])
    assert_same(torch, mine, theirs, mg, tg)
    for p in (1, 2, 3, math.inf):
        mine, theirs, mg, tg = run_both(
            torch, lambda lib, p=p: lambda t: lib.nn.functional.normalize(t, p=p, dim=0), [x])
        assert_same(torch, mine, theirs, mg, tg)
    zero = np.zeros((2, 3))  # a zero vector: zeros out, gradient 1/eps, as PyTorch
    mine, theirs, mg, tg = run_both(torch, lambda lib: lib.nn.functional.normalize, [zero])
    assert_same(torch, mine, theirs, mg, tg)
    some_zeros = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]])  # p < 1: no nan at the zeros
    for p in (0.5, 1.5, 3):
        mine, theirs, mg, tg = run_both(
            torch, lambda lib, p=p: lambda t: lib.nn.functional.normalize(t, p=p), [some_zeros])
        assert_same(torch, mine, theirs, mg, tg)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.gelu(mt.ones(2), approximate="exact"), RuntimeError, "none or tanh"),
    (lambda: F.gelu(mt.tensor([1, 2])), RuntimeError, "floating point"),
    (lambda: F.l1_loss(mt.ones(2), mt.ones(2), reduction="avg"), ValueError, "reduction"),
    (lambda: F.l1_loss(mt.ones(2), mt.ones(2), weight=mt.ones(2)), NotImplementedError, "weight"),
    (lambda: F.smooth_l1_loss(mt.ones(2), mt.ones(2), beta=-1), RuntimeError, "negative"),
    (lambda: F.smooth_l1_loss(mt.tensor([1]), mt.tensor([2])), RuntimeError, "floating"),
    (lambda: F.huber_loss(mt.ones(2), mt.ones(2), delta=0), RuntimeError, "non-positive"),
    (lambda: F.huber_loss(mt.tensor([1]), mt.ones(1)), RuntimeError, "can't be cast"),
    (lambda: F.binary_cross_entropy(mt.tensor([1.5]), mt.ones(1)), RuntimeError, "between 0"),
    (lambda: F.binary_cross_entropy(mt.tensor([0.5]), mt.ones(1, 1)), ValueError, "size"),
    (lambda: F.binary_cross_entropy(mt.tensor([0.5]), mt.tensor([1])), RuntimeError, "dtype"),
    (lambda: F.binary_cross_entropy(mt.tensor([0.5]), mt.ones(1),
                                    weight=mt.ones(1, requires_grad=True)),
     RuntimeError, "not differentiable"),
    (lambda: F.binary_cross_entropy_with_logits(mt.ones(2), mt.ones(3)), ValueError, "size"),
    (lambda: F.binary_cross_entropy_with_logits(mt.ones(2), mt.ones(2), weight=mt.ones(3, 1)),
     RuntimeError, "broadcast"),
    (lambda: F.binary_cross_entropy_with_logits(mt.ones(2), mt.ones(2),
                                                pos_weight=mt.ones(2, requires_grad=True)),
     RuntimeError, "not differentiable"),
    (lambda: F.kl_div(mt.tensor([1]), mt.tensor([1])), RuntimeError, "integral"),
    (lambda: F.kl_div(mt.ones(1), mt.ones(1), reduction="avg"), ValueError, "batchmean"),
    (lambda: F.pad(mt.ones(2, 2), (1,)), RuntimeError, "divisible by 2"),
    (lambda: F.pad(mt.ones(2, 2), (1,) * 6), RuntimeError, "two times"),
    (lambda: F.pad(mt.ones(2, 2), (-2, -1)), RuntimeError, "negative output size"),
    (lambda: F.pad(mt.ones(2, 2), (1, 1), mode="reflect"), NotImplementedError, "constant"),
    (lambda: F.normalize(mt.tensor([1, 2]), dim=0), RuntimeError, "floating"),
    (lambda: F.normalize(mt.ones(2), p=0, dim=0), NotImplementedError, "positive"),
    (lambda: F.linear(mt.ones(2, 3), mt.ones(4, 2)), RuntimeError, ""),
])
def test_functional_errors_are_one_line_and_catchable_as_pytorch(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message) as info:
            call()
    assert "\n" not in str(info.value)


def test_relu_in_place_writes_its_input_and_records_the_write():
    x = mt.tensor([-1.0, 2.0], requires_grad=True)
    y = x * 1
    out = F.relu(y, inplace=True)
    assert out is y and y.tolist() == [0.0, 2.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0]
