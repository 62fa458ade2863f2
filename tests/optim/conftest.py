"""Shared by the optimizer tests: run an optimizer over a fixed sequence of gradients."""

import pytest

import microtensor as mt


@pytest.fixture
def run():
    """``run(opt, p, grads)``: set ``p.grad`` to each gradient in turn, step, and return
    ``p``'s value after every step."""

    def run(opt, p, grads):
        trajectory = []
        for g in grads:
            p.grad = mt.tensor(g, dtype=mt.float64)
            opt.step()
            trajectory.append(p.array.copy())
        return trajectory

    return run
