"""SGD against hand-computed steps and a textbook re-statement of the update."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import SGD

GRADS = [np.array([1.0, -2.0]), np.array([0.5, 3.0]), np.array([-1.5, 0.25])]


def reference(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False):
    """The algorithm box of torch.optim.SGD, one line per line."""
    p, buf, out = p0.copy(), None, []
    for t, g in enumerate(grads):
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def test_plain_steps_by_hand():
    w = mt.tensor([1.0, -2.0], dtype=mt.float64, requires_grad=True)
    a = mt.tensor([1.0, 3.0], dtype=mt.float64)
    opt = SGD([w], lr=0.1)
    for expected in ([0.9, -1.4], [0.81, -0.98]):  # gradient a * w: w *= 1 - 0.1 * a
        opt.zero_grad()
        (0.5 * a * w * w).sum().backward()
        opt.step()
        np.testing.assert_allclose(w.array, expected, rtol=1e-15)


def test_momentum_with_constant_gradient_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    # buf: 1, 1.9, 2.71  ->  w: -0.1, -0.29, -0.561
    np.testing.assert_allclose(np.concatenate(run(opt, w, [np.ones(1)] * 3)),
                               [-0.1, -0.29, -0.561], rtol=1e-14)


@pytest.mark.parametrize("options", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.2),
    dict(lr=0.1, momentum=0.5, weight_decay=0.1, nesterov=True, maximize=True),
])
def test_matches_reference(options, run):
    p0 = np.array([0.5, -1.0])
    w = mt.tensor(p0, requires_grad=True)
    got = run(SGD([w], **options), w, GRADS)
    np.testing.assert_allclose(got, reference(p0, GRADS, **options), rtol=1e-14, atol=1e-15)


def test_default_lr_is_torchs():
    w = mt.tensor([1.0], dtype=mt.float64, requires_grad=True)
    assert SGD([w]).param_groups[0]["lr"] == 1e-3


def test_maximize_climbs(run):
    w = mt.tensor([1.0], dtype=mt.float64, requires_grad=True)
    run(SGD([w], lr=0.5, maximize=True), w, [np.array([2.0])])
    assert w.item() == 2.0


@pytest.mark.parametrize("options, message", [
    (dict(lr=-0.1), "lr must be a number >= 0"),
    (dict(lr=0.1, momentum=-0.5), "momentum must be"),
    (dict(lr=0.1, weight_decay=-1), "weight_decay must be"),
    (dict(lr=0.1, nesterov=True), "nesterov momentum needs momentum > 0"),
    (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (dict(lr="fast"), "lr must be a number"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        SGD([mt.ones(1, requires_grad=True)], **options)
