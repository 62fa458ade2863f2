"""nn.utils: parameters as one vector, unpad_sequence/unpack_sequence, and the arguments
PyTorch accepts (float lengths, mixed dtypes in pad_sequence, norm types <= 0 in
clip_grad_norm_), against hand-computed values and live PyTorch."""

import math
import re

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils import (
    parameters_to_vector,
    vector_to_parameters,
)
from microtensor.nn.utils.rnn import (
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def arange(*shape, dtype=mt.float64, start=0.0, requires_grad=False):
    data = np.arange(start, start + math.prod(shape)).reshape(shape)
    return mt.tensor(data, dtype=dtype, requires_grad=requires_grad)


# -------------------------------------------------------------- parameters_to_vector
def test_parameters_to_vector_flattens_in_order_and_passes_gradients():
    w, b = arange(2, 3, requires_grad=True), arange(2, start=10.0, requires_grad=True)
    v = parameters_to_vector(iter([w, b]))
    assert v.shape == (8,) and v.dtype == mt.float64
    assert v.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0]
    (v * mt.arange(8, dtype=mt.float64)).sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and b.grad.tolist() == [6.0, 7.0]


def test_parameters_to_vector_of_a_module_matches_pytorch(torch):
    mt.manual_seed(0)
    ours = mt.nn.LSTM(3, 4, num_layers=2)
    theirs = torch.nn.LSTM(3, 4, num_layers=2)
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})
    v, t = parameters_to_vector(ours.parameters()), torch.nn.utils.parameters_to_vector(
        theirs.parameters())
    np.testing.assert_array_equal(v.array, t.detach().numpy())
    weights = np.linspace(-1, 1, v.shape[0]).astype(np.float32)
    (v * mt.tensor(weights)).sum().backward()
    (t * torch.tensor(weights)).sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.array, q.grad.numpy(), err_msg=name)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32"),
                                    ("float16", "float32"), ("int64", "float32")])
def test_parameters_to_vector_promotes_as_pytorch(torch, dtypes):
    ours = parameters_to_vector([mt.ones(2, dtype=d) for d in dtypes])
    theirs = torch.nn.utils.parameters_to_vector(
        [torch.ones(2, dtype=getattr(torch, d)) for d in dtypes])
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_parameters_to_vector_of_one_tensor_iterates_it_as_pytorch():
    # A tensor is an iterable of its rows, so the result is the tensor flattened
    assert parameters_to_vector(arange(2, 3)).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_parameters_to_vector_errors():
    with pytest.raises(ValueError, match="parameters_to_vector: expected at least one "
                                         "parameter, got none"):
        parameters_to_vector([])
    with pytest.raises(TypeError, match="parameters_to_vector: parameter 1 is a list, not a "
                                        "tensor"):
        parameters_to_vector([mt.ones(2), [1.0]])


# -------------------------------------------------------------- vector_to_parameters
def test_vector_to_parameters_makes_parameters_views_of_the_vector():
    w = mt.zeros(2, 2, requires_grad=True)
    b = mt.zeros(1, requires_grad=True)
    vec = arange(6)  # float64, one entry more than needed: ignored, as PyTorch
    assert vector_to_parameters(vec, [w, b]) is None
    assert w.tolist() == [[0.0, 1.0], [2.0, 3.0]] and b.tolist() == [4.0]
    # As PyTorch's param.data = ...: the vector's dtype, its memory, no graph
    assert w.dtype == mt.float64 and w.requires_grad and w.grad_fn is None
    vec.array[0] = 100.0
    assert w.tolist()[0][0] == 100.0


def test_vector_to_parameters_round_trip_through_a_module():
    mt.manual_seed(1)
    layer = mt.nn.Linear(3, 2)
    vec = parameters_to_vector(layer.parameters()).detach()
    for p in layer.parameters():
        mt.nn.init.zeros_(p)
    vector_to_parameters(vec, layer.parameters())
    np.testing.assert_array_equal(parameters_to_vector(layer.parameters()).array, vec.array)


def test_vector_to_parameters_matches_pytorch(torch):
    ours = [mt.zeros(2, 3), mt.zeros(4), mt.zeros(1, 1, 2)]
    theirs = [torch.zeros(2, 3), torch.zeros(4), torch.zeros(1, 1, 2)]
    vec = np.linspace(0, 1, 13)
    vector_to_parameters(mt.tensor(vec), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), theirs)
    for p, q in zip(ours, theirs, strict=True):
        assert p.dtype == mt.float64 and q.dtype == torch.float64
        np.testing.assert_array_equal(p.array, q.numpy())


def test_vector_to_parameters_slices_a_matrix_along_its_rows_as_pytorch():
    w, b = mt.zeros(2), mt.zeros(1, 1)
    vector_to_parameters(arange(4, 1), [w, b])
    assert w.tolist() == [0.0, 1.0] and b.tolist() == [[2.0]]


@pytest.mark.parametrize("vec, params, error, message", [
    ([1.0, 2.0], [mt.zeros(2)], TypeError, "vector_to_parameters: expected a tensor, got list"),
    (mt.tensor(1.0), [mt.zeros(1)], ValueError,
     "vector_to_parameters: vec must have at least one dimension to slice, got a 0-d tensor"),
    (mt.zeros(5), [mt.zeros(2), mt.zeros(2, 2)], ValueError,
     r"vector_to_parameters: parameter 1 of shape \(2, 2\) needs 4 entries, but vec\[2:6\] of "
     r"vec of shape \(5,\) has 3"),
    (mt.zeros(5, 2), [mt.zeros(2, 2)], ValueError, r"needs 4 entries, but vec\[0:4\] of vec of "
     r"shape \(5, 2\) has 8"),
])
def test_vector_to_parameters_errors(vec, params, error, message):
    with pytest.raises(error, match=message):
        vector_to_parameters(vec, params)


# ---------------------------------------------------------- unpad_sequence, unpack_sequence
@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_undoes_pad_sequence_and_passes_gradients(batch_first):
    sequences = [arange(3, 2), arange(1, 2, start=10.0), arange(4, 2, start=20.0)]
    padded = pad_sequence(sequences, batch_first, padding_value=-1.0).detach().requires_grad_()
    before = padded.array.copy()
    pieces = unpad_sequence(padded, mt.tensor([3, 1, 4]), batch_first)
    assert [p.tolist() for p in pieces] == [s.tolist() for s in sequences]
    np.testing.assert_array_equal(padded.array, before)  # the input is left as it was
    pieces[0].array[0, 0] = 99.0  # each piece is a copy
    assert padded.array.max() == 27.0
    sum(((k + 1) * p).sum() for k, p in enumerate(pieces)).backward()
    grad = padded.grad.array if batch_first else padded.grad.array.transpose(1, 0, 2)
    expected = [[1, 1, 1, 0], [2, 0, 0, 0], [3, 3, 3, 3]]
    np.testing.assert_array_equal(grad, np.repeat(np.array(expected)[..., None], 2, axis=2))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[3, 1, 2], [2.5, 0.2, 7.0], [0, -1, 3], [1, 1, 1]])
def test_unpad_sequence_matches_pytorch(torch, batch_first, lengths):
    x = np.arange(24.0).reshape((3, 4, 2) if batch_first else (4, 3, 2))  # 3 sequences of 4
    theirs = torch.nn.utils.rnn.unpad_sequence(torch.tensor(x), torch.tensor(lengths),
                                               batch_first)
    for lens in (lengths, mt.tensor(lengths)):
        ours = unpad_sequence(mt.tensor(x), lens, batch_first)
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert o.shape == tuple(t.shape)
            np.testing.assert_array_equal(o.array, t.numpy())


def test_unpad_sequence_errors():
    with pytest.raises(ValueError, match=r"unpad_sequence: expected 2 lengths, one per sequence "
                                         r"of the batch, got 3"):
        unpad_sequence(mt.zeros(4, 2), [1, 2, 3])
    with pytest.raises(ValueError, match=r"unpad_sequence: padded_sequences must be a tensor "
                                         r"\(seq, batch, \*\) or \(batch, seq, \*\), got \(3,\)"):
        unpad_sequence(mt.zeros(3), [1, 2, 3], batch_first=True)
    with pytest.raises(TypeError, match="unpad_sequence: lengths must be a 1-d list or tensor "
                                        "of numbers, got <U1"):
        unpad_sequence(mt.zeros(3, 1), ["3"])


@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_unpack_sequence_undoes_pack_sequence(enforce_sorted):
    sequences = [arange(3, 2, requires_grad=True), arange(2, 2, requires_grad=True),
                 arange(1, 2, requires_grad=True)]
    if not enforce_sorted:
        sequences = sequences[::-1]
    packed = pack_sequence(sequences, enforce_sorted)
    pieces = unpack_sequence(packed)
    assert [p.tolist() for p in pieces] == [s.tolist() for s in sequences]
    sum((p * (k + 1)).sum() for k, p in enumerate(pieces)).backward()
    for k, s in enumerate(sequences):
        assert np.all(s.grad.array == k + 1)


def test_unpack_sequence_matches_pytorch(torch):
    lengths = [2, 5, 1, 5, 3]
    sequences = [np.random.default_rng(k).normal(size=(n, 3)) for k, n in enumerate(lengths)]
    ours = unpack_sequence(pack_sequence([mt.tensor(s) for s in sequences], False))
    theirs = torch.nn.utils.rnn.unpack_sequence(
        torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in sequences], False))
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(o.array, t.numpy())


# ------------------------------------------------------------ float lengths when packing
@pytest.mark.parametrize("lengths, kept", [
    ([3.0, 1.0], [3, 1]), ([2.7, 1.2], [2, 1]), ([3, True], [3, 1]),
    (np.array([3.9, 2.0]), [3, 2]), (mt.tensor([3.0, 1.5]), [3, 1]),
    (mt.tensor([2.0, 2.0], dtype=mt.float16), [2, 2]),
])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_float_lengths_are_truncated(lengths, kept, enforce_sorted):
    x = arange(4, 2, 3)
    got = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    want = pack_padded_sequence(x, kept, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(got.data.array, want.data.array)
    assert got.batch_sizes.tolist() == want.batch_sizes.tolist()
    assert pad_packed_sequence(got)[1].tolist() == kept


@pytest.mark.parametrize("lengths", [[3.0, 1.0], [2.7, 1.2], [3, True], [3.9, 2.0]])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_float_lengths_match_pytorch(torch, lengths, as_tensor):
    x = np.arange(24.0).reshape(4, 2, 3)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths) if as_tensor else lengths, enforce_sorted=False)
    ours = pack_padded_sequence(mt.tensor(x), mt.tensor(lengths) if as_tensor else lengths,
                                enforce_sorted=False)
    np.testing.assert_array_equal(ours.data.array, theirs.data.numpy())
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
    assert ours.sorted_indices.tolist() == theirs.sorted_indices.tolist()


@pytest.mark.parametrize("lengths, error, message", [
    ([math.nan, 1.0], ValueError, r"pack_padded_sequence: lengths must be finite, got \[nan"),
    ([math.inf, 1.0], ValueError, "pack_padded_sequence: lengths must be finite"),
    ([3.0, 0.5], ValueError, "every sequence must have at least one step"),  # 0.5 is 0
    ([True, False], ValueError, "every sequence must have at least one step"),
    ([3 + 0j, 1.0], TypeError, "lengths must be a 1-d list or tensor of numbers, got complex"),
    (["3", "1"], TypeError, "lengths must be a 1-d list or tensor of numbers, got <U1"),
])
def test_bad_lengths(lengths, error, message):
    with pytest.raises(error, match=message):
        pack_padded_sequence(mt.zeros(4, 2), lengths)


# ------------------------------------------------------------- mixed dtypes in pad_sequence
MIXED = [("float32", "int64"), ("int64", "float32"), ("float32", "float64"),
         ("float64", "float32"), ("int64", "bool"), ("bool", "int64"), ("float16", "int64"),
         ("int8", "uint8")]


@pytest.mark.parametrize("dtypes", MIXED)
@pytest.mark.parametrize("padding_value", [0.0, 2.7, -1.0])
def test_pad_sequence_casts_to_the_first_dtype_as_pytorch(torch, dtypes, padding_value):
    values = [np.array([1.7, 0.0, 3.2]), np.array([5.9, 1.0])]
    ours = [mt.tensor(v.astype(d)) for v, d in zip(values, dtypes, strict=True)]
    try:
        theirs = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(v.astype(d)) for v, d in zip(values, dtypes, strict=True)],
            padding_value=padding_value)
    except RuntimeError:  # -1 into uint8
        with pytest.raises(RuntimeError, match="without overflow"):
            pad_sequence(ours, padding_value=padding_value)
        return
    ours = pad_sequence(ours, padding_value=padding_value)
    assert ours.dtype == np.dtype(dtypes[0]) and str(theirs.dtype) == f"torch.{dtypes[0]}"
    np.testing.assert_array_equal(ours.array, theirs.numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int64", "bool", "float16", "float32"])
@pytest.mark.parametrize("padding_value", [-0.5, -1, 127.5, 255.5, 256, 65519.0, 1e39,
                                           math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("needed", [True, False])
def test_pad_sequence_padding_value_must_fit_as_pytorch(torch, dtype, padding_value, needed):
    lengths = [1, 2] if needed else [2, 2]
    try:
        theirs = torch.nn.utils.rnn.pad_sequence(
            [torch.ones(n, dtype=getattr(torch, dtype)) for n in lengths],
            padding_value=padding_value)
    except RuntimeError as e:
        assert "without overflow" in str(e)
        message = f"pad_sequence: padding_value {padding_value} cannot be converted to {dtype}"
        with pytest.raises(RuntimeError, match=re.escape(message) + " without overflow"):
            pad_sequence([mt.ones(n, dtype=dtype) for n in lengths], padding_value=padding_value)
        return
    ours = pad_sequence([mt.ones(n, dtype=dtype) for n in lengths], padding_value=padding_value)
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_pad_sequence_mixed_dtypes_pass_gradients_back_in_each_dtype():
    a = mt.ones(2, dtype=mt.float32, requires_grad=True)
    b = mt.ones(3, dtype=mt.float64, requires_grad=True)
    padded = pad_sequence([a, b], batch_first=True)
    assert padded.dtype == mt.float32
    (padded * mt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert a.grad.dtype == mt.float32 and a.grad.tolist() == [1.0, 2.0]
    assert b.grad.dtype == mt.float64 and b.grad.tolist() == [4.0, 5.0, 6.0]
