"""A lazy gradient's norm equals its dense form's: what a recording keeps of every gradient."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from microtensor.lazy import OuterGrad, SparseGrad

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)


def dense_norm(grad):
    return float(np.sqrt(np.sum(np.square(grad.dense(), dtype=np.float64))))


@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.data())
def test_an_outer_products_norm_is_its_products(rows, k, n, data):
    left = data.draw(arrays(np.float64, (rows, k), elements=finite))
    right = data.draw(arrays(np.float64, (rows, n), elements=finite))
    grad = OuterGrad(left, right)
    assert np.isclose(grad.norm(), dense_norm(grad), rtol=1e-9, atol=1e-9)


@given(st.integers(2, 6), st.data())
def test_a_sparse_gradients_norm_is_its_dense_forms(size, data):
    values = data.draw(arrays(np.float64, (3,), elements=finite))
    index = np.array(data.draw(st.lists(st.integers(0, size - 1), min_size=3, max_size=3)))
    for advanced, where in ((True, index), (False, slice(0, 3) if size >= 3 else None)):
        if where is None:
            continue
        grad = SparseGrad((size,) if advanced else (max(size, 3),), where, values, advanced)
        assert np.isclose(grad.norm(), dense_norm(grad), rtol=1e-12, atol=1e-12)  # repeats add first
