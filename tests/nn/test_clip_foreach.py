"""``foreach`` of the clipping functions: accepted with any value, as PyTorch's, and the
result is PyTorch's whatever it is (numpy has one code path)."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils import clip_grad_norm_, clip_grad_value_


@pytest.mark.parametrize("foreach", [None, False, True])
def test_foreach_is_accepted_and_changes_nothing(torch, foreach):
    grads = [np.array([3.0, -4.0]), np.array([[0.5], [12.0]])]
    results = []
    for lib, norm, value in ((mt, clip_grad_norm_, clip_grad_value_),
                             (torch, torch.nn.utils.clip_grad_norm_,
                              torch.nn.utils.clip_grad_value_)):
        params = [lib.zeros(g.shape, dtype=lib.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g)
        total = norm(params, 2.0, foreach=foreach)
        value(params, 0.1, foreach=foreach)
        results.append([float(total)] + [p.grad.numpy().copy() for p in params])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-15)
