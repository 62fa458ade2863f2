"""Ops that move, select and join elements: reshapes, transposes, indexing (basic,
integer arrays with repeats, masks), gather, ``__setitem__``, cat, stack, split, chunk."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck, shapes, tensors


def assert_forward(out, expected):
    assert out.dtype == mt.float64
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.array, expected)


small_tensors = tensors(shapes(max_dims=4, max_side=4))
nd_tensors = tensors(shapes(min_dims=1, max_dims=4, max_side=4))


# --------------------------------------------------------------------- reshapes
@st.composite
def reshapes(draw):
    """A tensor and a new shape for it: its dims shuffled, with 1s inserted and maybe a -1."""
    x = draw(small_tensors, label="x")
    new = list(draw(st.permutations(x.shape)))
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return x, tuple(new)


@given(case=reshapes())
def test_reshape_and_view(case):
    x, shape = case
    assert_forward(x.reshape(shape), x.array.reshape(shape))
    assert_forward(x.view(*shape), x.array.reshape(shape))
    assert_forward(mt.reshape(x, shape), x.array.reshape(shape))
    assert gradcheck(lambda x: x.reshape(shape), [x])


@given(x=small_tensors, data=st.data())
def test_flatten(x, data):
    if x.ndim == 0:
        start = end = 0
        expected = x.array.reshape(1)
    else:
        start = data.draw(st.integers(-x.ndim, x.ndim - 1), label="start_dim")
        end = data.draw(st.integers(start % x.ndim, x.ndim - 1), label="end_dim")
        s = start % x.ndim
        expected = x.array.reshape(x.shape[:s] + (-1,) + x.shape[end + 1:])
    assert_forward(x.flatten(start, end), expected)
    assert gradcheck(lambda x: mt.flatten(x, start, end), [x])


@given(x=nd_tensors, data=st.data())
def test_permute(x, data):
    dims = data.draw(st.permutations(range(x.ndim)), label="dims")
    assert_forward(x.permute(*dims), x.array.transpose(dims))
    assert_forward(mt.permute(x, dims), x.array.transpose(dims))
    assert gradcheck(lambda x: x.permute(dims), [x])


@given(x=nd_tensors, data=st.data())
def test_transpose(x, data):
    dim0, dim1 = (data.draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    assert_forward(x.transpose(dim0, dim1), np.swapaxes(x.array, dim0, dim1))
    assert gradcheck(lambda x: mt.transpose(x, dim0, dim1), [x])


@given(x=small_tensors)
def test_capital_t_reverses_the_dims(x):
    assert_forward(x.T, x.array.T)
    assert gradcheck(lambda x: x.T, [x])


@given(x=tensors(shapes(max_dims=4, max_side=2)), data=st.data())
def test_squeeze(x, data):
    assert_forward(x.squeeze(), np.squeeze(x.array))
    assert gradcheck(lambda x: mt.squeeze(x), [x])
    if x.ndim:
        dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
        # A dim that is not of size 1 is kept, as in PyTorch.
        expected = np.squeeze(x.array, dim) if x.shape[dim] == 1 else x.array
        assert_forward(x.squeeze(dim), expected)
        assert gradcheck(lambda x: x.squeeze(dim), [x])


@given(x=small_tensors, data=st.data())
def test_unsqueeze(x, data):
    dim = data.draw(st.integers(-x.ndim - 1, x.ndim), label="dim")
    assert_forward(x.unsqueeze(dim), np.expand_dims(x.array, dim))
    assert gradcheck(lambda x: mt.unsqueeze(x, dim), [x])


@st.composite
def expansions(draw):
    """A tensor and sizes it expands to: its 1s stretched, other dims kept or -1, and new
    leading dims."""
    x = draw(tensors(shapes(max_dims=3, max_side=3)), label="x")
    sizes = [draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1]))
             for n in x.shape]
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    return x, (*lead, *sizes)


@given(case=expansions())
def test_expand(case):
    x, sizes = case
    target = tuple(x.shape[i - (len(sizes) - x.ndim)] if n == -1 else n
                   for i, n in enumerate(sizes))
    assert_forward(x.expand(*sizes), np.broadcast_to(x.array, target))
    assert gradcheck(lambda x: x.expand(sizes), [x])


# --------------------------------------------------------------------- indexing
def forward_steps(index):
    """The index with each negative slice step made positive: PyTorch has none."""
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(slice(p.start, p.stop, -p.step) if isinstance(p, slice) and p.step and p.step < 0
                 else p for p in parts)


@given(x=small_tensors, data=st.data())
def test_basic_indexing_with_ints_slices_none_and_ellipsis(x, data):
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True)
                      .map(forward_steps), label="index")
    assert_forward(x[index], x.array[index])
    assert gradcheck(lambda x: x[index], [x])


@given(x=nd_tensors, data=st.data())
def test_integer_array_indexing_adds_up_repeated_indices(x, data):
    index = data.draw(hnp.integer_array_indices(
        x.shape, result_shape=shapes(min_dims=1, max_dims=2, max_side=6)), label="index")
    assert_forward(x[index], x.array[index])
    assert gradcheck(lambda x: x[index], [x])


def test_repeated_indices_scatter_add_their_gradients():
    x = mt.tensor([1.0, 2.0, 3.0], dtype=mt.float64, requires_grad=True)
    index = mt.tensor([2, 0, 2, 2])
    (dx,) = mt.grad(x[index], x, grad_outputs=mt.tensor([1.0, 10.0, 100.0, 1000.0],
                                                        dtype=mt.float64))
    assert dx.tolist() == [10.0, 0.0, 1101.0]


@given(x=tensors(shapes(min_dims=2, max_dims=3, max_side=4)), data=st.data())
def test_integer_array_mixed_with_slices(x, data):
    rows = data.draw(hnp.arrays(np.int64, st.integers(1, 6), elements=st.integers(
        -x.shape[0], x.shape[0] - 1)), label="rows")
    index = (slice(None), rows % x.shape[1]) if data.draw(st.booleans()) else (rows, 1 % x.shape[1])
    assert_forward(x[index], x.array[index])
    assert gradcheck(lambda x: x[index], [x])


@given(x=small_tensors, data=st.data())
def test_boolean_mask_indexing(x, data):
    mask = data.draw(hnp.arrays(np.bool_, x.shape), label="mask")
    assert_forward(x[mt.tensor(mask)], x.array[mask])
    assert gradcheck(lambda x: x[mask], [x])


@st.composite
def gathers(draw):
    """A tensor, a dim, and an index of the tensor's shape but for its size along dim."""
    x = draw(nd_tensors, label="x")
    dim = draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    shape = list(x.shape)
    shape[dim] = draw(st.integers(1, 5))
    index = draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(0, x.shape[dim] - 1)))
    return x, dim, index


@given(case=gathers())
def test_gather(case):
    x, dim, index = case
    assert_forward(x.gather(dim, index), np.take_along_axis(x.array, index, axis=dim))
    assert gradcheck(lambda x: x.gather(dim, mt.tensor(index)), [x])


def test_gather_with_an_index_narrower_than_the_input():
    x = mt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=mt.float64, requires_grad=True)
    index = np.array([[1], [0]])
    out = x.gather(0, index)
    assert out.tolist() == [[4.0], [1.0]]  # torch.gather: the output has the index's shape
    assert gradcheck(lambda x: x.gather(0, index), [x])


def test_gather_refuses_float_indices():
    with pytest.raises(TypeError, match="gather: index must be integers, got float64"):
        mt.ones(2, 2).gather(0, np.zeros((2, 2)))


@st.composite
def assignments(draw):
    """A tensor, an index into it (basic, or a boolean mask), and a value that broadcasts
    into the selected part."""
    x = draw(small_tensors, label="x")
    if draw(st.booleans()):
        index = draw(hnp.basic_indices(x.shape, allow_ellipsis=True).map(forward_steps),
                     label="index")
    else:
        index = draw(hnp.arrays(np.bool_, x.shape), label="mask")
    target = x.array[index].shape
    # Broadcasting *to* the target: each side kept or 1, leading dims maybe dropped.
    shape = tuple(draw(st.sampled_from([n, 1])) for n in target)
    value = draw(tensors(shape[draw(st.integers(0, len(shape))):]), label="value")
    return x, index, value


@given(case=assignments())
def test_setitem_on_a_non_leaf_is_differentiable(case):
    x, index, value = case
    expected = x.array.copy()
    expected[index] = value.array

    def assign(x, value):
        y = x * 1
        y[index] = value
        return y

    assert_forward(assign(x, value), expected)
    assert gradcheck(assign, [x, value])


@given(x=small_tensors)
def test_setitem_of_a_python_scalar(x):
    def assign(x):
        y = x * 2  # not x.exp(): Exp saves its output, and overwriting it is an error (PyTorch's too)
        y[...] = 0.5
        return y * x

    assert gradcheck(assign, [x])


# --------------------------------------------------------------------- joining
@st.composite
def joinable(draw, same_shape):
    """2-3 tensors equal in shape except (unless ``same_shape``) along ``dim``."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part = list(shape)
        if not same_shape:
            part[dim] = draw(st.integers(1, 3))
        parts.append(draw(tensors(tuple(part))))
    return parts, dim


@given(case=joinable(same_shape=False))
def test_cat(case):
    parts, dim = case
    assert_forward(mt.cat(parts, dim), np.concatenate([p.array for p in parts], axis=dim))
    assert gradcheck(lambda *parts: mt.cat(parts, dim=dim), parts)


@given(case=joinable(same_shape=True), data=st.data())
def test_stack(case, data):
    parts, _ = case
    dim = data.draw(st.integers(-parts[0].ndim - 1, parts[0].ndim), label="stack dim")
    assert_forward(mt.stack(parts, dim), np.stack([p.array for p in parts], axis=dim))
    assert gradcheck(lambda *parts: mt.stack(parts, dim=dim), parts)


def weighted_cat(pieces, dim):
    """Join the pieces again, each scaled differently, so a gradient routed to the wrong
    piece shows."""
    return mt.cat([p * (k + 1) for k, p in enumerate(pieces)], dim=dim)


@given(x=nd_tensors, data=st.data())
def test_split_into_pieces_of_one_size(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    size = data.draw(st.integers(1, x.shape[dim] + 1), label="size")
    pieces = x.split(size, dim)
    expected = np.split(x.array, range(size, x.shape[dim], size), axis=dim)
    assert len(pieces) == len(expected)
    for piece, want in zip(pieces, expected):
        assert_forward(piece, want)
    assert gradcheck(lambda x: weighted_cat(mt.split(x, size, dim), dim), [x])


@given(x=nd_tensors, data=st.data())
def test_split_into_listed_sizes(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    cuts = sorted(data.draw(st.lists(st.integers(0, x.shape[dim]), max_size=3), label="cuts"))
    sizes = np.diff([0, *cuts, x.shape[dim]]).tolist()
    pieces = x.split(sizes, dim)
    assert [p.shape[dim] for p in pieces] == sizes
    for piece, want in zip(pieces, np.split(x.array, cuts, axis=dim)):
        assert_forward(piece, want)
    assert gradcheck(lambda x: weighted_cat(x.split(sizes, dim), dim), [x])


def test_split_refuses_sizes_that_do_not_add_up():
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] do not add up to 3"):
        mt.ones(3).split([1, 1])


@given(x=nd_tensors, data=st.data())
def test_chunk(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    chunks = data.draw(st.integers(1, x.shape[dim] + 1), label="chunks")
    pieces = mt.chunk(x, chunks, dim)
    size = -(-x.shape[dim] // chunks)  # torch.chunk: pieces of ceil(n / chunks)
    assert [p.shape[dim] for p in pieces] == [
        min(size, x.shape[dim] - s) for s in range(0, x.shape[dim], size)]
    assert_forward(mt.cat(pieces, dim), x.array)
    assert gradcheck(lambda x: weighted_cat(x.chunk(chunks, dim), dim), [x])
