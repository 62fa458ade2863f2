"""Sorting, indexing and shape methods (``sort``, ``topk``, ``flip``, ``roll``, ``tril``,
``repeat``, ``repeat_interleave``, ``index_select``, ``scatter``, ``index_add``, ``mT``): their
gradients against central differences, and the orders PyTorch defines (stable ties, nan as the
largest value) on rows longer than the oracle draws."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck, shapes, tensors

MATRICES = shapes(min_dims=2, max_dims=3, max_side=4)


@given(x=tensors(unique=True), descending=st.booleans())
def test_sort_values_differentiate_to_the_entries_they_came_from(x, descending):
    assert gradcheck(lambda t: t.sort(descending=descending).values, [x])


@given(x=tensors(shape=shapes(min_dims=1, max_dims=3), unique=True), data=st.data())
def test_topk_gradient(x, data):
    k, largest = data.draw(st.integers(0, x.shape[-1])), data.draw(st.booleans())
    assert gradcheck(lambda t: t.topk(k, largest=largest).values, [x])


@given(x=tensors(shape=MATRICES), diagonal=st.integers(-3, 3))
def test_triangles_gradient(x, diagonal):
    assert gradcheck(lambda t: t.tril(diagonal), [x])
    assert gradcheck(lambda t: mt.triu(t, diagonal), [x])


@given(x=tensors(shape=shapes(min_dims=1, max_dims=3, max_side=3)), data=st.data())
def test_flip_roll_repeat_gradients(x, data):
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    shift = data.draw(st.integers(-4, 4))
    assert gradcheck(lambda t: t.flip(d), [x])
    assert gradcheck(lambda t: t.roll(shift, d), [x])
    assert gradcheck(lambda t: t.roll(shift), [x])
    assert gradcheck(lambda t: t.repeat(2, *[1] * (x.ndim - 1), 3), [x])


@given(x=tensors(shape=shapes(min_dims=1, max_dims=2, max_side=3)), data=st.data())
def test_repeated_picks_add_their_gradients(x, data):
    n = x.shape[0]
    index = mt.tensor(data.draw(st.lists(st.integers(0, n - 1), max_size=5)), dtype=mt.int64)
    counts = mt.tensor(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    assert gradcheck(lambda t: t.index_select(0, index), [x])
    assert gradcheck(lambda t: t.repeat_interleave(counts, dim=0), [x])
    assert gradcheck(lambda t: t.repeat_interleave(2), [x])


@given(x=tensors(shape=(3, 4)), src=tensors(shape=(2, 5)), data=st.data())
def test_scatter_and_index_add_gradients(x, src, data):
    places = [data.draw(st.permutations(range(4)))[:3] for _ in range(2)]
    index = mt.tensor(np.array(places, dtype=np.int64))  # distinct in a row: one write each
    assert gradcheck(lambda a, b: a.scatter(1, index, b), [x, src])
    repeated = mt.tensor(np.array(data.draw(st.lists(st.integers(0, 3), min_size=6, max_size=6)),
                                  dtype=np.int64).reshape(2, 3))
    assert gradcheck(lambda a, b: a.scatter_add(1, repeated, b), [x, src])
    assert gradcheck(lambda a: a.scatter(1, index, 2.5), [x])
    rows = mt.tensor([2, 0, 2])
    assert gradcheck(lambda a, b: a.index_add(0, rows, b, alpha=-1.5), [x, src[:, :4].repeat(2, 1)[:3]])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf]), min_size=17, max_size=40),
       descending=st.booleans())
def test_sort_ties_and_nan_in_pytorch_stable_order(torch, values, descending):
    """Rows longer than 16, where PyTorch's unstable sort leaves insertion sort: ``stable=True``
    is PyTorch's order exactly, and microtensor gives that order for ``stable=False`` too."""
    array = np.array(values)
    theirs = torch.sort(torch.from_numpy(array), descending=descending, stable=True)
    for stable in (True, False):
        mine = mt.tensor(array).sort(descending=descending, stable=stable)
        np.testing.assert_array_equal(mine.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(mine.values.numpy(), theirs.values.numpy())


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=1, max_size=40),
       data=st.data())
def test_topk_with_ties_picks_pytorchs_values(torch, values, data):
    k, largest = data.draw(st.integers(0, len(values))), data.draw(st.booleans())
    mine = mt.tensor(values).topk(k, largest=largest)
    theirs = torch.tensor(values).topk(k, largest=largest)
    np.testing.assert_array_equal(mine.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(np.asarray(values)[mine.indices.numpy()], mine.values.numpy())


def test_named_pairs_and_errors():
    x = mt.tensor([[3.0, 1.0, 2.0]])
    assert x.sort().indices.tolist() == [[1, 2, 0]] and mt.sort(x, 1).values.tolist() == [[1, 2, 3]]
    assert x.topk(1).indices.tolist() == [[0]]
    with pytest.raises(RuntimeError, match="selected index k"):
        x.topk(4)
    with pytest.raises(mt.DtypeError, match="int64 for index"):
        x.scatter(1, mt.tensor([[0]], dtype=mt.int32), 1.0)
    with pytest.raises(RuntimeError, match="out of bounds for dimension 1 with size 3"):
        x.scatter(1, mt.tensor([[3]]), 1.0)
    with pytest.raises(IndexError, match="index out of range"):
        x.index_select(1, mt.tensor([-1]))
    with pytest.raises(RuntimeError, match="only supported on matrices"):
        mt.ones(3).mT  # noqa: B018
    assert mt.zeros(2, 3, 4).mT.shape == (2, 4, 3)


def test_cat_skips_the_legacy_empty_vector():
    x = mt.ones(2, 2, requires_grad=True)
    empty = mt.tensor([], requires_grad=True)
    out = mt.cat([empty, x, empty], dim=1)
    assert out.shape == (2, 2)
    out.sum().backward()
    assert empty.grad.shape == (0,) and x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert mt.cat([mt.tensor([]), mt.ones(1, 2, dtype=mt.int64)]).dtype == mt.float32
