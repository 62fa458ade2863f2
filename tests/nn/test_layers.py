"""Linear, Embedding, Dropout and nn.init."""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.testing import gradcheck


# ------------------------------------------------------------------------ Linear
def test_linear_shapes_init_bounds_and_repr():
    layer = nn.Linear(16, 5)
    assert layer.weight.shape == (5, 16) and layer.bias.shape == (5,)
    bound = 1 / math.sqrt(16)
    for param in layer.parameters():
        assert np.all(np.abs(param.array) <= bound)
    assert np.abs(layer.weight.array).max() > bound / 2  # drawn from the whole range, not ~0
    assert repr(layer) == "Linear(in_features=16, out_features=5, bias=True)"


def test_linear_matches_numpy_with_and_without_bias():
    x = mt.randn(4, 3)
    layer = nn.Linear(3, 2)
    expected = x.array @ layer.weight.array.T + layer.bias.array
    np.testing.assert_allclose(layer(x).array, expected, rtol=1e-6)
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and len(list(no_bias.parameters())) == 1
    np.testing.assert_allclose(no_bias(x).array, x.array @ no_bias.weight.array.T, rtol=1e-6)
    assert "bias=False" in repr(no_bias)


def test_linear_takes_any_leading_dimensions():
    assert nn.Linear(3, 2)(mt.ones(7, 4, 3)).shape == (7, 4, 2)
    assert nn.Linear(3, 2)(mt.ones(3)).shape == (2,)


@given(batch=st.integers(1, 3), fan_in=st.integers(1, 4), fan_out=st.integers(1, 4))
def test_linear_gradients(batch, fan_in, fan_out):
    layer = nn.Linear(fan_in, fan_out, dtype=mt.float64)
    x = mt.randn(batch, fan_in, dtype=mt.float64, requires_grad=True)
    weight = layer.weight.detach().requires_grad_()
    bias = layer.bias.detach().requires_grad_()
    assert gradcheck(lambda x, w, b: x @ w.T + b, [x, weight, bias])
    # and the layer's own backward reaches its parameters with the same values
    upstream = mt.randn(batch, fan_out, dtype=mt.float64)
    (layer(x) * upstream).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.array, upstream.array.T @ x.array)
    np.testing.assert_allclose(layer.bias.grad.array, upstream.array.sum(0))


def test_linear_rejects_a_wrong_input_size():
    with pytest.raises(ValueError, match=r"Linear: expected input with last dimension 3, "
                       r"got shape \(2, 4\)"):
        nn.Linear(3, 2)(mt.ones(2, 4))
    with pytest.raises(ValueError, match="non-negative"):
        nn.Linear(-1, 2)


# --------------------------------------------------------------------- Embedding
def test_embedding_looks_up_rows_and_accumulates_repeated_gradients():
    emb = nn.Embedding(6, 3)
    tokens = mt.tensor([[1, 4], [1, 0]])
    out = emb(tokens)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.array[0, 1], emb.weight.array[4])
    out.sum().backward()
    assert emb.weight.grad.array[:, 0].tolist() == [1.0, 2.0, 0.0, 0.0, 1.0, 0.0]
    assert repr(emb) == "Embedding(6, 3)"


def test_embedding_init_is_standard_normal():
    weight = nn.Embedding(2000, 10).weight.array
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02


def test_embedding_errors_come_from_the_functional_checks():
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(3, 2)(mt.tensor([3]))
    with pytest.raises(TypeError, match="integers"):
        nn.Embedding(3, 2)(mt.tensor([1.0]))


# ----------------------------------------------------------------------- Dropout
def test_dropout_is_active_only_in_training():
    drop = nn.Dropout(0.25)
    x = mt.ones(20000)
    out = drop(x).array
    assert set(np.unique(out).tolist()) == {0.0, float(np.float32(1 / 0.75))}
    assert abs((out == 0).mean() - 0.25) < 0.02
    drop.eval()
    assert drop(x) is x
    assert repr(drop) == "Dropout(p=0.25)"


def test_dropout_gradient_flows_through_the_kept_elements_only():
    x = mt.ones(1000, requires_grad=True)
    out = nn.Dropout(0.5)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.array, out.array)  # 2 where kept, 0 where dropped


def test_dropout_is_reproducible_under_manual_seed():
    mt.manual_seed(7)
    a = nn.Dropout()(mt.ones(50)).array
    mt.manual_seed(7)
    b = nn.Dropout()(mt.ones(50)).array
    np.testing.assert_array_equal(a, b)


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


# -------------------------------------------------------------------------- init
def test_init_functions_fill_in_place_without_recording():
    w = mt.zeros(3, 4, requires_grad=True)
    assert nn.init.uniform_(w, -2, -1) is w
    assert w.is_leaf and np.all((w.array >= -2) & (w.array < -1))
    nn.init.normal_(w, 5.0, 0.0)
    assert np.all(w.array == 5.0)
    nn.init.zeros_(w)
    assert not w.array.any()
    nn.init.constant_(w, 0.5)
    assert np.all(w.array == 0.5) and w.dtype == np.float32


def test_init_uses_the_seeded_generator():
    mt.manual_seed(3)
    a = nn.LSTM(3, 4).state_dict()
    mt.manual_seed(3)
    b = nn.LSTM(3, 4).state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name].array, b[name].array)


def test_init_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lower bound"):
        nn.init.uniform_(mt.zeros(2), 1, 0)
    with pytest.raises(ValueError, match="std"):
        nn.init.normal_(mt.zeros(2), std=-1)


@given(data=st.data(), rows=st.integers(1, 6), padding_idx=st.integers(-6, 5))
def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient(data, rows, padding_idx):
    padding_idx = padding_idx % rows - rows if padding_idx < 0 else padding_idx % rows
    emb = nn.Embedding(rows, 3, padding_idx=padding_idx, dtype=mt.float64)
    row = padding_idx % rows
    assert emb.padding_idx == row and not emb.weight.array[row].any()
    with mt.no_grad():
        emb.weight[row] = 5.0  # a padding row set by hand is looked up as it is
    idx = data.draw(hnp.arrays(np.int64, st.tuples(st.integers(1, 3), st.integers(1, 4)),
                               elements=st.integers(0, rows - 1)), label="idx")
    out = emb(mt.tensor(idx))
    np.testing.assert_array_equal(out.array, emb.weight.array[idx])
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(mt.tensor(upstream))
    expected = np.zeros((rows, 3))
    np.add.at(expected, idx, upstream)
    expected[row] = 0
    np.testing.assert_allclose(emb.weight.grad.array, expected, rtol=1e-12, atol=1e-12)


def test_embedding_padding_idx_errors_and_repr():
    assert repr(nn.Embedding(4, 2, padding_idx=-1)) == "Embedding(4, 2, padding_idx=3)"
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be an integer in \[-4, 4\)"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be an integer"):
        mt.nn.functional.embedding(mt.tensor([0]), mt.ones(4, 2), padding_idx=1.5)
