"""Text utilities of the char-level model: vocabulary, split, truncated-BPTT batches, bigram baseline."""

import math

import numpy as np
import pytest

from models.text import Streams, Vocabulary, bigram_loss, default_corpus, read_text, split


def test_default_corpus_is_cpython_pydoc_text():
    text = default_corpus()
    assert 300_000 < len(text) < 2_000_000
    assert 60 < len(set(text)) < 200


def test_vocabulary_round_trips_text_and_codepoints():
    text = "Hello, wörld!\n"
    vocab = Vocabulary.from_text(text)
    assert vocab.chars == "".join(sorted(set(text)))
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.encode(text).dtype == np.int64
    again = Vocabulary(vocab.codepoints)
    assert again == vocab and again.codepoints.dtype == np.int32


def test_vocabulary_rejects_unknown_characters_and_bad_codepoints():
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(ValueError, match="'z' is not one of the model's 2 characters"):
        vocab.encode("az")
    with pytest.raises(ValueError, match="distinct, sorted"):
        Vocabulary([98, 97])
    with pytest.raises(ValueError, match="non-empty 1-d array of integer"):
        Vocabulary(np.array([97.0]))


def test_read_text_errors_name_the_file_and_problem(tmp_path):
    with pytest.raises(ValueError, match="cannot read .*missing.txt"):
        read_text(tmp_path / "missing.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(ValueError, match="binary.txt is not UTF-8"):
        read_text(binary)
    one = tmp_path / "one.txt"
    one.write_text("a")
    with pytest.raises(ValueError, match="holds 1 characters; at least 2"):
        read_text(one)


def test_split_keeps_order_first_ninety_percent_for_training():
    data = np.arange(1000)
    train, val = split(data)
    assert train.tolist() == list(range(900)) and val.tolist() == list(range(900, 1000))
    with pytest.raises(ValueError, match="each needs at least 2"):
        split(np.arange(5))
    with pytest.raises(ValueError, match="train_fraction"):
        split(data, 1.0)


def test_streams_are_contiguous_per_row_and_continue_across_chunks():
    data = np.arange(103)  # 4 streams of 25; the last 3 characters are dropped
    streams = Streams(data, batch_size=4, seq_len=6)
    assert len(streams) == 4  # (25 - 1) // 6 full chunks
    seen = [[] for _ in range(4)]
    for i in range(len(streams)):
        inputs, targets = streams[i]
        assert inputs.shape == targets.shape == (4, 6)
        np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])  # shifted by one
        for row in range(4):
            seen[row].extend(inputs[row].tolist())
    for row in range(4):  # each row reads its own stretch of the text, in order
        assert seen[row] == list(range(25 * row, 25 * row + 24))


def test_streams_reject_settings_the_text_cannot_fill():
    with pytest.raises(ValueError, match="too short for one chunk of seq_len 10"):
        Streams(np.arange(40), batch_size=4, seq_len=10)
    with pytest.raises(IndexError, match="chunk 3 out of range"):
        Streams(np.arange(40), batch_size=2, seq_len=6)[3]


def test_bigram_loss_matches_a_hand_computation():
    # train "aab" (a=0, b=1): pairs aa, ab; counts from a: a 1, b 1; from b: none.
    # Add-one, V = 2: P(a|a) = 2/4, P(b|a) = 2/4, P(a|b) = 1/2, P(b|b) = 1/2.
    # val "abb": pairs ab (1/2), bb (1/2)  ->  loss ln 2.
    assert bigram_loss(np.array([0, 0, 1]), np.array([0, 1, 1]), 2) == pytest.approx(math.log(2))
    # train "abab": a->b twice, b->a once. val "ba": P(a|b) = (1+1)/(1+2).
    assert bigram_loss(np.array([0, 1, 0, 1]), np.array([1, 0]), 2) == pytest.approx(-math.log(2 / 3))
    # Smaller alpha trusts the counts more: P(a|b) = (1 + 0.5) / (1 + 1).
    assert bigram_loss(np.array([0, 1, 0, 1]), np.array([1, 0]), 2, alpha=0.5) == pytest.approx(
        -math.log(0.75))


def test_bigram_loss_is_below_uniform_on_real_text():
    vocab = Vocabulary.from_text(text := default_corpus())
    train, val = split(vocab.encode(text))
    loss = bigram_loss(train, val, len(vocab))
    assert 1.5 < loss < math.log(len(vocab))
