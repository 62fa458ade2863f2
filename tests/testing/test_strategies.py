"""The strategies produce what they promise: bounded shapes, shapes that broadcast,
finite tensors in range, and values kept apart from ties and kinks."""

import math

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import away_from, broadcastable_shapes, shapes, tensor_pairs, tensors


@st.composite
def shape_bounds(draw):
    min_dims = draw(st.integers(0, 3))
    max_dims = draw(st.integers(min_dims, 4))
    min_side = draw(st.integers(0, 3))
    max_side = draw(st.integers(min_side, 5))
    return min_dims, max_dims, min_side, max_side


@given(st.data(), shape_bounds())
def test_shapes_stay_within_their_bounds(data, bounds):
    min_dims, max_dims, min_side, max_side = bounds
    shape = data.draw(shapes(min_dims, max_dims, min_side, max_side))
    assert min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(st.data(), shapes())
def test_broadcastable_shapes_broadcast_with_the_given_shape(data, shape):
    other = data.draw(broadcastable_shapes(shape))
    np.broadcast_shapes(shape, other)  # raises ValueError if they do not
    np.broadcast_to(np.zeros(shape), np.broadcast_shapes(shape, other))


@pytest.mark.parametrize("wanted", [
    pytest.param(lambda s: len(s) < 3, id="fewer dims"),
    pytest.param(lambda s: len(s) > 3, id="more dims"),
    pytest.param(lambda s: len(s) == 3 and s[0] == 1, id="size-1 where the shape has 4"),
    pytest.param(lambda s: len(s) >= 2 and s[-2] > 1, id="stretching the shape's size-1 dim"),
])
def test_broadcastable_shapes_cover_every_kind_of_broadcast(wanted):
    find(broadcastable_shapes((4, 1, 3)), wanted)


@given(tensors())
def test_tensors_default_to_float64_leaves_with_finite_normal_values_in_range(x):
    assert isinstance(x, mt.Tensor) and x.dtype == mt.float64
    assert x.requires_grad and x.is_leaf and x.grad is None
    assert len(x.shape) <= 4 and all(1 <= n <= 5 for n in x.shape)
    values = x.array
    assert np.isfinite(values).all() and (np.abs(values) <= 10).all()
    nonzero = np.abs(values[values != 0])
    assert (nonzero >= np.finfo(np.float64).tiny).all()  # no subnormals


@given(tensors(shape=(2, 3), dtype=mt.float32, min_value=0.1, max_value=0.2,
               requires_grad=False))
def test_tensors_in_float32_with_bounds_not_representable_in_it(x):
    assert x.shape == (2, 3) and x.dtype == mt.float32 and not x.requires_grad
    assert ((x.array >= 0.1) & (x.array <= 0.2)).all()


@given(tensors(shape=shapes(min_dims=2, max_dims=2, max_side=2)))
def test_tensors_take_a_shape_strategy(x):
    assert x.ndim == 2 and max(x.shape) <= 2


@given(tensors(shape=(), elements=st.sampled_from([1.0, 2.0])))
def test_tensors_take_an_elements_strategy(x):
    assert x.shape == () and x.item() in (1.0, 2.0)


@given(tensors(unique=True, min_value=-1, max_value=1))
def test_unique_values_are_distinct_and_a_grid_step_apart(x):
    assert x.dtype == mt.float64  # 0-d included
    values = np.sort(x.array.reshape(-1))
    assert (np.diff(values) >= 2 / (4 * x.numel()) * (1 - 1e-9)).all()
    assert ((values >= -1) & (values <= 1)).all()


def test_tensors_refuse_integer_dtypes_and_an_empty_range():
    with pytest.raises(TypeError, match="dtype must be floating point, got int64"):
        tensors(dtype=mt.int64)
    with pytest.raises(ValueError, match="min_value 2 is above max_value 1"):
        tensors(min_value=2, max_value=1)


@given(away_from(0.0, 1.0, margin=0.25, min_value=-2, max_value=2))
def test_away_from_keeps_its_margin(v):
    assert -2 <= v <= 2 and abs(v) >= 0.25 and abs(v - 1) >= 0.25


def test_away_from_refuses_a_range_it_cannot_fill():
    with pytest.raises(ValueError, match=r"no value in \[-0.5, 0.5\] is 1 away from \(0.0,\)"):
        away_from(0.0, margin=1, min_value=-0.5, max_value=0.5)


@given(tensor_pairs())
def test_tensor_pairs_broadcast_together(pair):
    a, b = pair
    np.broadcast_shapes(a.shape, b.shape)
    assert a.requires_grad and b.requires_grad and a.dtype == b.dtype == mt.float64


@given(tensor_pairs(broadcast=False, shape=(3, 2)))
def test_tensor_pairs_without_broadcasting_share_the_shape(pair):
    a, b = pair
    assert a.shape == b.shape == (3, 2)


@given(tensor_pairs(unique=True, min_value=-1, max_value=1))
def test_unique_tensor_pairs_share_no_value(pair):
    a, b = pair
    values = np.concatenate([a.array.reshape(-1), b.array.reshape(-1)])
    assert len(np.unique(values)) == values.size


def test_tensor_pairs_reach_both_directions_of_broadcasting():
    find(tensor_pairs(), lambda p: math.prod(p[0].shape) > math.prod(p[1].shape))
    find(tensor_pairs(), lambda p: math.prod(p[0].shape) < math.prod(p[1].shape))
