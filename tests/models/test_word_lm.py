"""WordLM: one-hot words in, next-word scores out; it learns to carry the first word."""

import numpy as np
import pytest

import microtensor as mt
from models.word_lm import WordLM

SENTENCES = [s.split() for s in ("soup is good", "tea is hot", "ice is cold", "cake is sweet")]


def test_vocabulary_keeps_the_order_of_first_use():
    model = WordLM.from_sentences(SENTENCES)
    assert model.vocab == ("soup", "is", "good", "tea", "hot", "ice", "cold", "cake", "sweet")
    one_hot = model.one_hot(["is", "sweet"])
    assert one_hot.dtype == np.float32
    np.testing.assert_array_equal(one_hot.array, np.eye(9, dtype=np.float32)[[1, 8]])


def test_the_first_step_is_the_rnn_formula_with_a_one_hot_input():
    """A one-hot input times W_ih just picks the word's column."""
    model = WordLM.from_sentences(SENTENCES, hidden_size=3)
    _, hidden = model(["tea"])
    rnn = model.rnn
    expected = np.tanh(rnn.weight_ih_l0.array[:, 3] + rnn.bias_ih_l0.array + rnn.bias_hh_l0.array)
    np.testing.assert_allclose(hidden.array[0], expected, rtol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_output_shapes(cell):
    model = WordLM.from_sentences(SENTENCES, hidden_size=5, cell=cell)
    logits, hidden = model(["soup", "is", "good"])
    assert logits.shape == (3, 9) and hidden.shape == (3, 5)
    assert sum(model.next_word_probs(["soup"]).values()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_learns_to_carry_the_first_word_through_is(cell):
    """After "is", the right adjective depends on the word before it: the hidden state has
    to remember it, and the gradient that teaches this crosses one step back in time."""
    mt.manual_seed(0)
    model = WordLM.from_sentences(SENTENCES, hidden_size=6, cell=cell)
    optimizer = mt.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = sum(model.loss(s) for s in SENTENCES) / len(SENTENCES)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 < np.log(9) * 0.9 < losses[0]
    assert [model.predict_next(s[:2]) for s in SENTENCES] == ["good", "hot", "cold", "sweet"]


def test_clear_errors():
    model = WordLM.from_sentences(SENTENCES)
    with pytest.raises(ValueError, match="'soupp' is not in the vocabulary"):
        model.predict_next(["soupp"])
    with pytest.raises(ValueError, match="at least two words"):
        model.loss(["soup"])
    with pytest.raises(ValueError, match="no words to read"):
        model([])
    with pytest.raises(ValueError, match="distinct words"):
        WordLM(["a", "a"])
    with pytest.raises(ValueError, match="cell must be one of"):
        WordLM(["a"], cell="transformer")
