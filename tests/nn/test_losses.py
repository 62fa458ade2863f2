"""cross_entropy and nll_loss with weight, ignore_index and label_smoothing, the module forms,
against a numpy transcription of PyTorch's definition and, where it is installed, PyTorch."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
import microtensor.nn.functional as F
from microtensor import nn
from microtensor.testing import gradcheck, tensors

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")

REDUCTIONS = ["mean", "sum", "none"]
IGNORE = -100


@st.composite
def loss_cases(draw):
    """Scores (N, C, d...) or (C,), targets with some ignored, and maybe class weights."""
    classes = draw(st.integers(1, 4), label="classes")
    shape = draw(st.sampled_from([(), (3,), (2, 3), (2, 2, 2)]), label="target shape")
    input_shape = (classes,) if shape == () else (shape[0], classes, *shape[1:])
    scores = draw(tensors(input_shape, min_value=-5, max_value=5), label="scores")
    target = draw(hnp.arrays(np.int64, shape, elements=st.sampled_from([*range(classes), IGNORE])),
                  label="target")
    weight = draw(st.none() | hnp.arrays(np.float64, (classes,), elements=st.floats(0.1, 2.0)),
                  label="weight")
    return scores, target, weight


def reference(scores, target, weight, reduction, smoothing, log_probs=None):
    """PyTorch's cross_entropy, transcribed into numpy (classes along dim 1, or dim 0 if 1-D)."""
    dim = 1 if scores.ndim >= 2 else 0
    classes = scores.shape[dim]
    if log_probs is None:
        shifted = scores - scores.max(axis=dim, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    lp = np.moveaxis(log_probs, dim, -1)
    w = np.ones(classes) if weight is None else weight
    valid = target != IGNORE
    safe = np.where(valid, target, 0)
    w_n = np.where(valid, w[safe], 0.0)
    nll = -np.take_along_axis(lp, safe[..., None], -1)[..., 0] * w_n
    smooth = -(lp * w).sum(-1) * valid
    if reduction == "mean":
        nll, smooth = nll.sum() / w_n.sum(), smooth.sum() / w_n.sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - smoothing) * nll + smoothing / classes * smooth


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=loss_cases(), smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_matches_the_definition_and_its_gradient_checks(reduction, case, smoothing):
    scores, target, weight = case
    with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: 0 / 0 is nan, as torch
        expected = reference(scores.array, target, weight, reduction, smoothing)
    out = F.cross_entropy(scores, mt.tensor(target), weight=weight, reduction=reduction,
                          label_smoothing=smoothing)
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)
    if np.isfinite(expected).all():
        assert gradcheck(lambda s: F.cross_entropy(s, target, weight, IGNORE, reduction,
                                                   smoothing), [scores])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=loss_cases())
def test_nll_loss_matches_the_definition(reduction, case):
    log_probs, target, weight = case  # linear in its input: any values will do
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = reference(log_probs.array, target, weight, reduction, 0.0, log_probs.array)
    out = F.nll_loss(log_probs, target, weight=weight, reduction=reduction)
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)
    if np.isfinite(expected).all():
        assert gradcheck(lambda lp: F.nll_loss(lp, target, weight, reduction=reduction), [log_probs])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=loss_cases(), smoothing=st.sampled_from([0.0, 0.25]),
       ignore_index=st.sampled_from([IGNORE, 0]))
def test_cross_entropy_and_nll_loss_match_pytorch(reduction, case, smoothing, ignore_index):
    scores, target, weight = case
    target = np.where(target == IGNORE, ignore_index, target)
    t_scores = torch.tensor(scores.array, requires_grad=True)
    t_weight = None if weight is None else torch.tensor(weight)
    kwargs = dict(weight=t_weight, ignore_index=ignore_index, reduction=reduction)
    expected = torch.nn.functional.cross_entropy(t_scores, torch.tensor(target),
                                                 label_smoothing=smoothing, **kwargs)
    out = F.cross_entropy(scores, target, weight=weight, ignore_index=ignore_index,
                          reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    if expected.isfinite().all():
        upstream = np.random.default_rng(0).standard_normal(out.shape)
        expected.backward(torch.tensor(upstream))
        out.backward(mt.tensor(upstream))
        np.testing.assert_allclose(scores.grad.array, t_scores.grad.numpy(), rtol=1e-10, atol=1e-12)
    expected = torch.nn.functional.nll_loss(torch.tensor(scores.array), torch.tensor(target), **kwargs)
    out = F.nll_loss(scores, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    np.testing.assert_allclose(out.array, expected.numpy(), rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), smoothing=st.sampled_from([0.0, 0.3]), weighted=st.booleans())
def test_cross_entropy_with_class_probabilities_matches_pytorch(data, reduction, smoothing, weighted):
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 3, 2)]), label="shape")
    scores = data.draw(tensors(shape, min_value=-5, max_value=5), label="scores")
    rows = (*shape[:1], *shape[2:]) if len(shape) > 1 else ()  # every position but the classes
    probs = np.random.default_rng(1).dirichlet(np.ones(3), size=rows)
    probs = np.moveaxis(probs, -1, min(1, len(shape) - 1))
    weight = np.array([0.5, 1.0, 2.0]) if weighted else None
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(scores.array), torch.tensor(probs), None if weight is None else torch.tensor(weight),
        reduction=reduction, label_smoothing=smoothing)
    out = F.cross_entropy(scores, probs, weight, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(out.array, expected.numpy(), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda s: F.cross_entropy(s, probs, weight, reduction=reduction,
                                               label_smoothing=smoothing), [scores])


def test_ignored_targets_get_no_gradient_and_do_not_dilute_the_mean():
    scores = mt.randn(4, 3, dtype=mt.float64, requires_grad=True)
    target = mt.tensor([2, IGNORE, 0, IGNORE])
    loss = F.cross_entropy(scores, target)
    kept = F.cross_entropy(scores[[0, 2]], mt.tensor([2, 0]))
    assert loss.item() == pytest.approx(kept.item(), rel=1e-14)
    loss.backward()
    assert not scores.grad.array[[1, 3]].any() and scores.grad.array[[0, 2]].all()


def test_all_targets_ignored_gives_nan_under_mean_and_zero_under_sum():
    scores = mt.randn(2, 3)
    target = mt.tensor([IGNORE, IGNORE])
    assert np.isnan(F.cross_entropy(scores, target).item())
    assert F.cross_entropy(scores, target, reduction="sum").item() == 0.0


def test_loss_errors_name_the_problem():
    scores = mt.zeros(2, 3)
    with pytest.raises(IndexError, match=r"outside \[0, 3\) that is not ignore_index=-1: -100"):
        F.cross_entropy(scores, mt.tensor([0, -100]), ignore_index=-1)
    with pytest.raises(ValueError, match=r"weight must be a floating tensor of shape \(3,\)"):
        F.nll_loss(scores, mt.tensor([0, 1]), weight=mt.ones(2))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(scores, mt.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"must have the input's shape \(2, 3\)"):
        F.cross_entropy(scores, mt.zeros(2))
    with pytest.raises(ValueError, match=r"target \(N, d1, \.\.\.\); got input \(2, 3, 4\)"):
        F.cross_entropy(mt.zeros(2, 3, 4), mt.tensor([0, 1]))


@given(case=loss_cases(), reduction=st.sampled_from(REDUCTIONS))
def test_loss_modules_are_the_functions(case, reduction):
    scores, target, weight = case
    with np.errstate(invalid="ignore", divide="ignore"):
        for module, function in [
            (nn.CrossEntropyLoss(weight, reduction=reduction, label_smoothing=0.1),
             lambda: F.cross_entropy(scores, target, weight, reduction=reduction, label_smoothing=0.1)),
            (nn.NLLLoss(weight, reduction=reduction), lambda: F.nll_loss(scores, target, weight,
                                                                         reduction=reduction))]:
            np.testing.assert_array_equal(module(scores, target).array, function().array)
    target = scores.detach() * 0.5
    np.testing.assert_array_equal(nn.MSELoss(reduction=reduction)(scores, target).array,
                                  F.mse_loss(scores, target, reduction).array)
