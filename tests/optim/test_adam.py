"""Adam and AdamW against hand-computed steps and a textbook re-statement of the update."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import Adam, AdamW

# The large first gradient then small ones make v shrink, so amsgrad's maximum matters.
GRADS = [np.array([4.0, -2.0]), np.array([0.5, 3.0]), np.array([-0.1, 0.25])]


def reference(p0, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
              maximize=False, decoupled=False):
    """Kingma & Ba's algorithm with PyTorch's placement of eps and of the decays."""
    b1, b2 = betas
    p, out = p0.copy(), []
    m, v, v_max = np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        m_hat = m / (1 - b1**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_constant_gradient_moves_lr_per_step(run):
    # With a constant g the bias-corrected moments are exactly g and g**2.
    w = mt.tensor([0.0, 0.0], dtype=mt.float64, requires_grad=True)
    got = run(Adam([w], lr=0.1, eps=1e-3), w, [np.array([2.0, -0.5])] * 3)
    step = 0.1 * np.array([2.0 / 2.001, -0.5 / 0.501])
    np.testing.assert_allclose(got, [-step, -2 * step, -3 * step], rtol=1e-12)


def test_amsgrad_keeps_the_largest_second_moment_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = Adam([w], lr=1.0, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    got = run(opt, w, [np.array([2.0]), np.array([0.0]), np.array([1.0])])
    # 1: m=2, v=2, v_hat=2/0.5=4, p=-1.  2: m=0, no move (v=1, v_max stays 2).
    # 3: m=1, v=1 but v_max=2, v_hat=2/0.875=16/7 (plain Adam would use 8/7).
    np.testing.assert_allclose(np.concatenate(got), [-1.0, -1.0, -1.0 - 1 / np.sqrt(16 / 7)],
                               rtol=1e-15)


@pytest.mark.parametrize("options", [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.5, 0.9), eps=1e-4),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True),
])
def test_adam_matches_reference(options, run):
    p0 = np.array([0.5, -1.0])
    w = mt.tensor(p0, requires_grad=True)
    got = run(Adam([w], **options), w, GRADS)
    np.testing.assert_allclose(got, reference(p0, GRADS, **options), rtol=1e-13)


@pytest.mark.parametrize("options", [
    dict(lr=0.01),
    dict(lr=0.01, weight_decay=0.5, betas=(0.8, 0.99)),
    dict(lr=0.01, amsgrad=True, maximize=True),
])
def test_adamw_matches_reference(options, run):
    p0 = np.array([0.5, -1.0])
    w = mt.tensor(p0, requires_grad=True)
    got = run(AdamW([w], **options), w, GRADS)
    options.setdefault("weight_decay", 1e-2)
    np.testing.assert_allclose(got, reference(p0, GRADS, decoupled=True, **options), rtol=1e-13)


def test_adamw_decays_even_a_zero_gradient_by_hand(run):
    w = mt.tensor([2.0], dtype=mt.float64, requires_grad=True)
    run(AdamW([w], lr=0.1, weight_decay=0.5), w, [np.zeros(1), np.zeros(1)])
    np.testing.assert_allclose(w.item(), 2.0 * 0.95**2, rtol=1e-15)


def test_defaults_are_torchs():
    w = mt.ones(1, requires_grad=True)
    adam, adamw = Adam([w]).param_groups[0], AdamW([w]).param_groups[0]
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"], adam["amsgrad"]) == (
        1e-3, (0.9, 0.999), 1e-8, 0, False)
    assert (adamw["lr"], adamw["weight_decay"], adamw["decoupled_weight_decay"]) == (
        1e-3, 1e-2, True)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1e-3), "Adam: lr must be a number >= 0"),
    (dict(eps=-1.0), "Adam: eps must be"),
    (dict(betas=(1.0, 0.999)), r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, -0.1)), r"Adam: beta2 must be in \[0, 1\)"),
    (dict(betas=0.9), "betas must be a pair"),
    (dict(weight_decay=-0.1), "weight_decay must be"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        Adam([mt.ones(1, requires_grad=True)], **options)


def test_adamw_names_itself_in_errors():
    with pytest.raises(ValueError, match="AdamW: beta1"):
        AdamW([mt.ones(1, requires_grad=True)], betas=(1.5, 0.9))
