"""RMSprop against hand-computed steps and a textbook re-statement of the update."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import RMSprop

GRADS = [np.array([1.0, -2.0]), np.array([0.5, 3.0]), np.array([-1.5, 0.25])]


def reference(p0, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
              centered=False, maximize=False):
    p, out = p0.copy(), []
    v, mean, buf = np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            mean = alpha * mean + (1 - alpha) * g
            denom = np.sqrt(v - mean**2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return out


def test_steps_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    got = run(RMSprop([w], lr=0.1, alpha=0.5, eps=0.0), w, [np.array([2.0]), np.array([2.0])])
    # v = 0.5 * 4 = 2: step 0.1 * 2 / sqrt(2); then v = 3: step 0.1 * 2 / sqrt(3)
    np.testing.assert_allclose(np.concatenate(got),
                               [-0.2 / np.sqrt(2), -0.2 / np.sqrt(2) - 0.2 / np.sqrt(3)],
                               rtol=1e-15)


def test_centered_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    run(RMSprop([w], lr=1.0, alpha=0.5, eps=0.0, centered=True), w, [np.array([2.0])])
    # v = 2, mean = 1: the centred second moment is 2 - 1 = 1, so the step is the gradient
    assert w.item() == -2.0


@pytest.mark.parametrize("options", [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9, eps=1e-3),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, maximize=True),
])
def test_matches_reference(options, run):
    p0 = np.array([0.5, -1.0])
    w = mt.tensor(p0, requires_grad=True)
    got = run(RMSprop([w], **options), w, GRADS)
    np.testing.assert_allclose(got, reference(p0, GRADS, **options), rtol=1e-13)


def test_defaults_are_torchs():
    group = RMSprop([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert (group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
            group["centered"]) == (1e-2, 0.99, 1e-8, 0, 0, False)


@pytest.mark.parametrize("name", ["lr", "alpha", "eps", "weight_decay", "momentum"])
def test_negative_options_are_refused(name):
    with pytest.raises(ValueError, match=f"RMSprop: {name} must be a number >= 0"):
        RMSprop([mt.ones(1, requires_grad=True)], **{name: -0.1})
