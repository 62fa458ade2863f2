"""The example of testing a custom op (docs/engine/adding_an_op.md), as a user would write it."""

import numpy as np
from hypothesis import given

import microtensor as mt
from microtensor.testing import gradcheck, tensors


class Softplus(mt.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.logaddexp(0, x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + np.exp(-x))


@given(x=tensors(min_value=-20, max_value=20))
def test_softplus(x):
    np.testing.assert_allclose(Softplus.apply(x).array, np.log1p(np.exp(x.array)))
    assert gradcheck(Softplus.apply, [x])
