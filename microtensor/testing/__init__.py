"""Tools for testing ops and custom ``Function``s: ``gradcheck``, ``gradgradcheck``,
``check_op`` (all of an op's property tests in one call) and hypothesis strategies.

A custom op is tested in a few lines: draw float64 tensors, compare the forward pass
with numpy, and let ``gradcheck`` compare ``backward`` with finite differences.

>>> import numpy as np
>>> import microtensor as mt
>>> from hypothesis import given
>>> from microtensor.testing import gradcheck, tensors
>>>
>>> class Softplus(mt.Function):
...     def forward(self, x):
...         self.save_for_backward(x)
...         return np.logaddexp(0, x)
...
...     def backward(self, grad):
...         (x,) = self.saved_tensors
...         return grad / (1 + np.exp(-x))
>>>
>>> @given(x=tensors(min_value=-20, max_value=20))
... def test_softplus(x):
...     np.testing.assert_allclose(Softplus.apply(x).array, np.log1p(np.exp(x.array)))
...     assert gradcheck(Softplus.apply, [x])
>>> test_softplus()
"""

from .check_op import check_op
from .gradcheck import GradcheckError, gradcheck
from .gradgradcheck import gradgradcheck
from .strategies import away_from, broadcastable_shapes, shapes, tensor_pairs, tensors

__all__ = ["GradcheckError", "away_from", "broadcastable_shapes", "check_op", "gradcheck",
           "gradgradcheck", "shapes", "tensor_pairs", "tensors"]
