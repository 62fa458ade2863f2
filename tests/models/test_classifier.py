"""SequenceClassifier: many-to-one, deciding from the hidden state after the last element."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn import functional as F
from models.classifier import SequenceClassifier, recurrent_layer


@pytest.mark.parametrize("cell, layer", [("rnn", mt.nn.RNN), ("lstm", mt.nn.LSTM), ("gru", mt.nn.GRU)])
def test_cell_selects_the_recurrent_layer(cell, layer):
    model = SequenceClassifier(3, 4, 2, cell=cell)
    assert type(model.rnn) is layer and model.rnn.batch_first


def test_scores_come_from_the_last_hidden_state():
    model = SequenceClassifier(input_size=4, hidden_size=5, num_classes=3, cell="lstm",
                               vocab_size=7)
    ids = np.array([[1, 2, 3, 4], [6, 5, 0, 0]])
    output, (h_n, _) = model.rnn(model.embedding(ids))
    expected = model.head(h_n[0]).array
    np.testing.assert_allclose(model(ids).array, expected, rtol=1e-6)
    np.testing.assert_allclose(model(mt.tensor(ids)).array, expected, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(ids), expected.argmax(axis=1))


def test_feature_inputs_and_a_single_output_for_regression():
    model = SequenceClassifier(2, 6, 1, cell="rnn")
    assert model.embedding is None
    assert model(mt.zeros(3, 9, 2)).shape == (3, 1)


def test_learns_a_label_given_by_the_first_element():
    """The label is the sign of the first of five numbers: it must survive four steps."""
    mt.manual_seed(0)
    rng = np.random.default_rng(0)
    model = SequenceClassifier(1, 8, 2, cell="lstm")
    optimizer = mt.optim.Adam(model.parameters(), lr=0.02)

    def batch(n):
        x = rng.standard_normal((n, 5, 1)).astype(np.float32)
        return mt.tensor(x), (x[:, 0, 0] > 0).astype(np.int64)

    for _ in range(150):
        x, y = batch(32)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    x, y = batch(500)
    assert (model.predict(x) == y).mean() > 0.95


def test_clear_errors():
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_layer("cnn", 2, 3)
    model = SequenceClassifier(3, 4, 2, vocab_size=5)
    with pytest.raises(ValueError, match=r"word ids of shape \(batch, length\), got shape \(4,\)"):
        model(np.arange(4))
    with pytest.raises(IndexError, match="embedding: index out of range"):
        model(np.array([[1, 9]]))
