"""The task generators: shapes, the adding problem's 1/6 baseline, negation distance, seeds."""

import numpy as np
import pytest

from models.tasks import (
    ADDING_BASELINE_MSE,
    BLANK,
    MIN_NEGATION_DISTANCE,
    NEGATION,
    NEGATION_VOCAB,
    NEGATIVE,
    POSITIVE,
    adding_problem,
    copy_task,
    negation_sentences,
)


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------ adding problem
def test_adding_problem_marks_one_value_in_each_half():
    x, y = adding_problem(200, 11, rng())
    assert x.shape == (200, 11, 2) and y.shape == (200, 1)
    assert x.dtype == y.dtype == np.float32
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :5].sum(axis=1) == 1).all() and (markers[:, 5:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()


def test_predicting_the_mean_scores_one_sixth():
    n = 100_000
    _, y = adding_problem(n, 4, rng(1))
    mse = float(np.mean((y - 1.0) ** 2))
    # The squared error of U(0,1)+U(0,1) around 1 has std sqrt(E[e^4] - 1/36) = sqrt(1/15 - 1/36),
    # so the mean of n of them is within 4 standard errors of 1/6 but for a 1 in 15,000 fluke.
    standard_error = np.sqrt(1 / 15 - 1 / 36) / np.sqrt(n)
    assert abs(mse - ADDING_BASELINE_MSE) < 4 * standard_error
    assert pytest.approx(1 / 6) == ADDING_BASELINE_MSE


def test_adding_problem_is_reproducible_from_the_seed():
    a, b, c = adding_problem(3, 8, rng(5)), adding_problem(3, 8, rng(5)), adding_problem(3, 8, rng(6))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("batch, length", [(0, 5), (2, 1), (2, 2.5), (True, 5)])
def test_adding_problem_rejects_bad_sizes(batch, length):
    with pytest.raises(ValueError, match="adding_problem"):
        adding_problem(batch, length, rng())


# ----------------------------------------------------------------------------- copy task
def test_copy_task_layout():
    x, y = copy_task(50, n_symbols=4, copy_length=3, delay=6, rng=rng())
    assert x.shape == y.shape == (50, 12) and x.dtype == y.dtype == np.int64
    symbols = x[:, :3]
    assert ((symbols >= 1) & (symbols <= 4)).all()
    np.testing.assert_array_equal(y[:, -3:], symbols)  # the answer is the symbols, in order
    assert (y[:, :-3] == BLANK).all()
    assert (x[:, 3 + 6 - 1] == 5).all()  # the cue comes after delay - 1 blanks
    blank = np.ones(12, dtype=bool)
    blank[[0, 1, 2, 8]] = False
    assert (x[:, blank] == BLANK).all()


def test_copy_task_rejects_zero_delay():
    with pytest.raises(ValueError, match="copy_task: delay"):
        copy_task(2, 3, 2, 0, rng())


# -------------------------------------------------------------------- negation sentences
@pytest.mark.parametrize("distance", [MIN_NEGATION_DISTANCE, 6, 7, 9, 23, 60])
def test_the_negation_sits_exactly_distance_words_before_the_end(distance):
    s = negation_sentences(40, distance, rng(distance))
    assert s.distance == distance
    for words, negated in zip(s.words, s.negated):
        assert len(words) == distance + 2  # subject, negation or affirmation, then distance words
        assert (words[1] == NEGATION) == negated
        assert NEGATION not in words[2:]
    assert s.ids().shape == (40, distance + 2)


def test_labels_follow_adjective_and_negation():
    s = negation_sentences(300, 12, rng(3))
    for words, label, negated in zip(s.words, s.labels, s.negated):
        assert words[-1] in POSITIVE + NEGATIVE
        assert label == ((words[-1] in POSITIVE) != negated)
    # both classes and both kinds of sentence are common
    assert 0.4 < s.labels.mean() < 0.6 and 0.4 < s.negated.mean() < 0.6


def test_only_the_negation_and_the_adjective_carry_sentiment():
    """Everything but those two words is drawn independently of the label: the filler
    word counts are alike in positive and negative sentences."""
    s = negation_sentences(2000, 15, rng(4))
    middle = [" ".join(w[2:-1]) for w in s.words]
    for phrase in ("which we ordered", "here", "after a long day"):
        share = [np.mean([phrase in m for m, l in zip(middle, s.labels) if l == label])
                 for label in (0, 1)]
        assert abs(share[0] - share[1]) < 0.06


def test_ids_index_the_fixed_vocabulary():
    s = negation_sentences(5, 10, rng())
    ids = s.ids()
    assert [[NEGATION_VOCAB[i] for i in row] for row in ids] == s.words
    assert len(set(NEGATION_VOCAB)) == len(NEGATION_VOCAB)


def test_negation_sentences_are_reproducible_from_the_seed():
    a = negation_sentences(20, 10, rng(7))
    b = negation_sentences(20, 10, rng(7))
    assert a.words == b.words and np.array_equal(a.labels, b.labels)
    assert a.words != negation_sentences(20, 10, rng(8)).words


def test_negation_sentences_reject_a_distance_too_short_for_a_sentence():
    with pytest.raises(ValueError, match="distance must be at least 5"):
        negation_sentences(3, MIN_NEGATION_DISTANCE - 1, rng())


def test_negation_rate_sets_the_share_of_negated_sentences():
    s = negation_sentences(4000, 6, rng(9), negation_rate=0.2)
    assert abs(s.negated.mean() - 0.2) < 0.03
    assert not negation_sentences(50, 6, rng(), negation_rate=0.0).negated.any()
    with pytest.raises(ValueError, match="negation_rate must be in"):
        negation_sentences(3, 6, rng(), negation_rate=1.5)
