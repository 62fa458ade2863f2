"""Adagrad against hand-computed steps and a textbook re-statement of the update."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import Adagrad

GRADS = [np.array([1.0, -2.0]), np.array([0.5, 3.0]), np.array([-1.5, 0.25])]


def reference(p0, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
              eps=1e-10, maximize=False):
    p, total, out = p0.copy(), np.full_like(p0, initial_accumulator_value), []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g**2
        p = p - clr * g / (np.sqrt(total) + eps)
        out.append(p)
    return out


def test_steps_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    got = run(Adagrad([w], lr=1.0, eps=0.0), w, [np.array([3.0]), np.array([4.0])])
    # sum 9 -> step 3/3 = 1; sum 25 -> step 4/5
    np.testing.assert_allclose(np.concatenate(got), [-1.0, -1.8], rtol=1e-15)


@pytest.mark.parametrize("options", [
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.5),
    dict(lr=0.1, weight_decay=0.3, initial_accumulator_value=0.7),
    dict(lr=0.2, eps=0.1, maximize=True),
])
def test_matches_reference(options, run):
    p0 = np.array([0.5, -1.0])
    w = mt.tensor(p0, requires_grad=True)
    got = run(Adagrad([w], **options), w, GRADS)
    np.testing.assert_allclose(got, reference(p0, GRADS, **options), rtol=1e-14)


def test_defaults_are_torchs():
    group = Adagrad([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert (group["lr"], group["lr_decay"], group["weight_decay"],
            group["initial_accumulator_value"], group["eps"]) == (1e-2, 0, 0, 0, 1e-10)


@pytest.mark.parametrize("name", ["lr", "lr_decay", "weight_decay", "initial_accumulator_value",
                                  "eps"])
def test_negative_options_are_refused(name):
    with pytest.raises(ValueError, match=f"Adagrad: {name} must be a number >= 0"):
        Adagrad([mt.ones(1, requires_grad=True)], **{name: -0.1})
