"""Gradient clipping against hand-computed norms and scaled gradients."""

import math

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils import clip_grad_norm_, clip_grad_value_


def with_grads(*grads, dtype=mt.float64):
    params = []
    for g in grads:
        p = mt.zeros(np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = mt.tensor(g, dtype=dtype)
        params.append(p)
    return params


def test_norm_is_taken_over_all_gradients_together():
    a, b = with_grads([3.0, 0.0], [[4.0], [12.0]])  # joint 2-norm sqrt(9 + 16 + 144) = 13
    total = clip_grad_norm_([a, b], max_norm=6.5)
    assert isinstance(total, mt.Tensor) and total.shape == () and total.dtype == mt.float64
    np.testing.assert_allclose(total.item(), 13.0, rtol=1e-15)
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.array, [3.0 * scale, 0.0], rtol=1e-15)
    np.testing.assert_allclose(b.grad.array, [[4.0 * scale], [12.0 * scale]], rtol=1e-15)


def test_a_norm_under_the_limit_leaves_gradients_alone():
    (a,) = with_grads([3.0, 4.0])
    grad = a.grad
    version = grad._version
    assert clip_grad_norm_(a, max_norm=5.0 + 1e-5).item() == 5.0  # a single tensor is accepted
    assert a.grad is grad and a.grad.tolist() == [3.0, 4.0] and grad._version == version


def test_scaling_is_in_place():
    (a,) = with_grads([30.0, 40.0])
    grad, data = a.grad, a.grad.array
    clip_grad_norm_([a], 1.0)
    assert a.grad is grad and a.grad.array is data


@pytest.mark.parametrize("norm_type, expected", [
    (1.0, 3 + 4 + 12 + 2),
    (3.0, (27 + 64 + 1728 + 8) ** (1 / 3)),
    (math.inf, 12.0),
    ("inf", 12.0),
])
def test_other_norms(norm_type, expected):
    a, b = with_grads([3.0, -4.0], [-12.0, 2.0])
    total = clip_grad_norm_([a, b], max_norm=1.0, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), expected, rtol=1e-14)
    np.testing.assert_allclose(b.grad.array, np.array([-12.0, 2.0]) / (expected + 1e-6),
                               rtol=1e-14)


def test_parameters_without_grad_are_ignored():
    (a,) = with_grads([3.0, 4.0])
    b = mt.ones(5, dtype=mt.float64, requires_grad=True)
    assert clip_grad_norm_(iter([a, b]), 1.0).item() == 5.0
    assert b.grad is None


def test_no_gradients_at_all_gives_a_zero_norm():
    assert clip_grad_norm_([mt.ones(2, requires_grad=True)], 1.0).item() == 0.0


def test_the_norm_keeps_the_gradient_dtype():
    a, b = with_grads([3.0, 4.0], [1.0], dtype=mt.float32)
    total = clip_grad_norm_([a, b], 1.0)
    assert total.dtype == mt.float32 and a.grad.dtype == mt.float32


def test_non_finite_norm():
    a, b = with_grads([1.0, math.nan], [2.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert b.grad.tolist() == [2.0]  # untouched by the refusal
    assert math.isnan(clip_grad_norm_([a, b], 1.0).item())
    assert math.isnan(b.grad.item())  # as PyTorch: scaled by the nan norm


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_norm=-1.0), "max_norm must be >= 0, got -1.0"),
])
def test_bad_arguments(kwargs, message):
    (a,) = with_grads([3.0, 4.0])
    with pytest.raises(ValueError, match=message):
        clip_grad_norm_([a], **kwargs)
    assert a.grad.tolist() == [3.0, 4.0]


def test_clip_value_clamps_each_element():
    a, b = with_grads([-5.0, 0.5], [[2.0, -0.25]])
    b_data = b.grad.array
    clip_grad_value_([a, b], 1.0)
    assert a.grad.tolist() == [-1.0, 0.5] and b.grad.tolist() == [[1.0, -0.25]]
    assert b.grad.array is b_data


def test_clip_value_accepts_a_single_tensor_and_skips_missing_grads():
    (a,) = with_grads([3.0])
    clip_grad_value_(a, 2)
    assert a.grad.tolist() == [2.0]
    clip_grad_value_([mt.ones(1, requires_grad=True)], 1.0)


@pytest.mark.parametrize("clip_value", [-1.0, math.nan, "1"])
def test_clip_value_must_be_a_non_negative_number(clip_value):
    with pytest.raises(ValueError, match="clip_value must be a number >= 0"):
        clip_grad_value_(with_grads([1.0]), clip_value)


# ------------------------------------------------------------ clip_grad_norm_, norm_type <= 0
@pytest.mark.parametrize("norm_type, total", [
    # 0: each gradient's count of nonzeros (1 and 3), then the count of nonzero counts
    (0, 2.0),
    # negative: (sum |x|^p)^(1/p) per gradient, 0 as soon as one element is 0; then over those
    (-1, 0.0), (-0.5, 0.0), (-math.inf, 0.0),
])
def test_norm_types_at_most_zero(norm_type, total):
    a, b = with_grads([3.0, 0.0], [-4.0, 2.0, 0.5])
    assert clip_grad_norm_([a, b], max_norm=1.0, norm_type=norm_type).item() == total
    scale = min(1.0 / (total + 1e-6), 1.0)
    np.testing.assert_allclose(b.grad.array, np.array([-4.0, 2.0, 0.5]) * scale, rtol=1e-15)


@pytest.mark.parametrize("norm_type", [-1, -2, -math.inf])
def test_negative_norm_types_without_zeros(norm_type):
    a, b = with_grads([3.0, -6.0], [-4.0, 2.0, 1.0])
    got = clip_grad_norm_([a, b], max_norm=0.1, norm_type=norm_type).item()
    if norm_type == -math.inf:
        expected = 1.0
    else:
        per = [sum(abs(x) ** norm_type for x in g) ** (1 / norm_type)
               for g in ([3.0, -6.0], [-4.0, 2.0, 1.0])]
        expected = sum(n**norm_type for n in per) ** (1 / norm_type)
    assert got == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(a.grad.array, np.array([3.0, -6.0]) * 0.1 / (expected + 1e-6),
                               rtol=1e-14)


@pytest.mark.parametrize("norm_type", [math.inf, -1.0, -math.inf])
def test_orders_without_an_identity_refuse_an_empty_gradient(norm_type):
    a, b = with_grads(np.zeros(0), [1.0, 2.0])
    with pytest.raises(RuntimeError, match=rf"clip_grad_norm_: cannot compute the norm of order "
                                           rf"{norm_type} of a gradient with no elements"):
        clip_grad_norm_([a, b], 1.0, norm_type)
    assert b.grad.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("norm_type", [0, 2.0, 0.5])
def test_other_orders_of_an_empty_gradient_are_zero(norm_type):
    a, b = with_grads(np.zeros(0), [3.0, 4.0])
    assert clip_grad_norm_([a], 1.0, norm_type).item() == 0.0
    assert clip_grad_norm_([a, b], 1.0, norm_type).item() == clip_grad_norm_(
        with_grads([3.0, 4.0]), 1.0, norm_type).item()


@pytest.mark.parametrize("norm_type", [0, 0.0, -1, -2, -0.5, -math.inf, math.nan, 0.5])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("empty", [False, True])
def test_clip_norm_types_match_pytorch(torch, norm_type, dtype, zeros, empty):
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=(3, 4)) * 1e-2, rng.normal(size=5), rng.normal(size=(2,))]
    if zeros:
        grads[1][2] = 0.0
    if empty:
        grads.append(np.zeros((0, 3)))
    grads = [g.astype(dtype) for g in grads]
    ours = with_grads(*grads, dtype=dtype)
    theirs = [torch.zeros(g.shape, dtype=getattr(torch, dtype), requires_grad=True)
              for g in grads]
    for t, g in zip(theirs, grads, strict=True):
        t.grad = torch.tensor(g)
    try:
        their_total = torch.nn.utils.clip_grad_norm_(theirs, 0.05, norm_type)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="no elements"):
            clip_grad_norm_(ours, 0.05, norm_type)
        return
    our_total = clip_grad_norm_(ours, 0.05, norm_type)
    assert our_total.dtype == np.dtype(dtype)
    rtol = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-14}[dtype]
    np.testing.assert_allclose(our_total.array, their_total.numpy(), rtol=rtol)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.grad.array, t.grad.numpy(), rtol=rtol)
