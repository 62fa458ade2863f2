"""Before anything is timed, every variant must compute the same thing as the reference:
the same loss, the same gradient of every parameter, and the same parameters after one
optimizer step, to float64 round-off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Relative to the largest entry of the reference array: sums over 10,000 steps, done in
#: another order, differ by more than one rounding, but by far less than any real bug.
TOLERANCE = 1e-9


class DisagreementError(AssertionError):
    """A variant's loss, gradient or update differs from the reference's."""


@dataclass
class Agreement:
    """The largest differences of one variant from the reference, each relative to the
    reference's largest value."""

    label: str
    loss: float
    gradients: float
    update: float | None  # None for workloads without an optimizer step

    @property
    def worst(self) -> float:
        return max(self.loss, self.gradients, self.update or 0.0)


def relative_difference(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |actual - expected|`` over ``max |expected|`` (over 1 when that is below 1).

    >>> relative_difference(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    0.2
    """
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    return float(np.max(np.abs(np.asarray(actual) - expected), initial=0.0)) / scale


def compare(reference: Any, model: Any, label: str, update: bool) -> Agreement:
    """Run one ``forward_backward`` (and ``update`` if asked) on both and measure the
    differences; raise ``DisagreementError`` naming what differs if any exceeds
    ``TOLERANCE``. Both models are left one step further on.

    >>> from benchmarks.workloads import W4, make_problem
    >>> from benchmarks.reference import HandWrittenNumpy
    >>> problem = make_problem(W4(10))
    >>> compare(HandWrittenNumpy(problem), HandWrittenNumpy(problem), "copy", False).worst
    0.0
    """
    expected_loss, loss = reference.forward_backward(), model.forward_backward()
    expected, actual = reference.gradients(), model.gradients()
    if set(actual) != set(expected):
        raise DisagreementError(f"{label}: gradients for {sorted(actual)}, expected "
                                f"{sorted(expected)}")
    worst_grad = {name: relative_difference(actual[name], expected[name]) for name in expected}
    found = Agreement(label, relative_difference(np.array(loss), np.array(expected_loss)),
                      max(worst_grad.values()), None)
    problems = [f"loss {loss!r} vs {expected_loss!r}"] if found.loss > TOLERANCE else []
    problems += [f"gradient of {name} (relative difference {diff:.2e})"
                 for name, diff in worst_grad.items() if diff > TOLERANCE]
    if update and not problems:
        reference.update()
        model.update()
        before, after = reference.parameters(), model.parameters()
        diffs = {name: relative_difference(after[name], before[name]) for name in before}
        found.update = max(diffs.values())
        problems += [f"{name} after the optimizer step (relative difference {diff:.2e})"
                     for name, diff in diffs.items() if diff > TOLERANCE]
    if problems:
        raise DisagreementError(f"{label} disagrees with the reference: " + "; ".join(problems))
    return found
