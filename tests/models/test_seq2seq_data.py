"""Vocabularies, padded batches, number pairs and digit strips for the seq2seq demos."""

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.digit_strips import (
    CAPTION_VOCAB,
    DIGIT_NAMES,
    DIGITS_FILE,
    load_digits,
    make_strips,
    split_digits,
)
from models.sequences import IGNORE, WordVocabulary, make_batch, pad_ids

id_lists = st.lists(st.lists(st.integers(3, 20), min_size=1, max_size=7), min_size=1, max_size=6)


@given(sources=id_lists, targets=id_lists)
def test_batches_pad_every_row_and_keep_its_words(sources, targets):
    targets = (targets * len(sources))[:len(sources)]
    batch = make_batch(pad_ids(sources), [len(s) for s in sources], targets)
    assert batch.source.shape == (len(sources), max(map(len, sources)))
    assert batch.target_in.shape == batch.target_out.shape == (len(sources), max(map(len, targets)) + 1)
    for row, (source, target) in enumerate(zip(sources, targets)):
        assert batch.source[row, :len(source)].tolist() == source
        assert not batch.source[row, len(source):].any()
        assert batch.source_mask[row].sum() == len(source)
        n = len(target)
        assert batch.target_in[row, :n + 1].tolist() == [WordVocabulary.bos, *target]
        assert batch.target_out[row, :n + 1].tolist() == [*target, WordVocabulary.eos]
        assert (batch.target_out[row, n + 1:] == IGNORE).all()
        assert (batch.target_in[row, n + 1:] == WordVocabulary.pad).all()


def test_vocabulary_round_trip_and_errors():
    vocab = WordVocabulary(["b", "a", "a"])
    assert vocab.decode(vocab.encode(["a", "b", "a"])) == ["a", "b", "a"]
    assert vocab.decode([vocab.bos, 3, vocab.pad, 4, vocab.eos, 3]) == ["a", "b"]
    with pytest.raises(KeyError, match="unknown word 'c'"):
        vocab.encode(["a", "c"])
    with pytest.raises(ValueError, match="2 sources, 1 lengths and 2 targets"):
        make_batch(pad_ids([[3], [4]]), [1], [[3], [4]])
    with pytest.raises(ValueError, match=r"source lengths must be in \[1, 1\], got 0..1"):
        make_batch(pad_ids([[3], [4]]), [0, 1], [[3], [4]])


def test_the_shipped_digits_are_the_documented_file():
    import hashlib
    digest = hashlib.sha256(DIGITS_FILE.read_bytes()).hexdigest()
    assert digest in (DIGITS_FILE.parent / "README.md").read_text()
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() == 1 and set(labels.tolist()) == set(range(10))


def test_a_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, pictures=np.zeros(3))
    with pytest.raises(ValueError, match=f"cannot read the digits from {path}"):
        load_digits(path)


@given(n=st.integers(1, 8), low=st.integers(1, 5), extra=st.integers(0, 3), gap=st.integers(0, 4),
       seed=st.integers(0, 2**32 - 1))
def test_strips_hold_their_digits_where_they_say(n, low, extra, gap, seed):
    images, labels = load_digits()
    pick = np.arange(0, 1797, 37)
    strips = make_strips(images[pick], labels[pick], n, np.random.default_rng(seed), (low, low + extra), gap)
    assert strips.pixels.shape == (n, 8, strips.widths.max())
    for row, (digits, starts) in enumerate(zip(strips.digits, strips.starts)):
        assert low <= len(digits) <= low + extra
        assert strips.widths[row] == starts[-1] + 8
        assert not strips.pixels[row, :, strips.widths[row]:].any()
        for digit, start in zip(digits, starts):
            piece = strips.pixels[row, :, start:start + 8]
            candidates = images[pick][labels[pick] == digit]
            assert any(np.array_equal(piece, c) for c in candidates)
        gaps = np.diff([-8, *starts]) - 8
        assert ((gaps >= 0) & (gaps <= gap)).all()
    batch = strips.batch()
    assert batch.source.shape == (n, strips.widths.max(), 8)
    assert [CAPTION_VOCAB.decode(t[t != IGNORE]) for t in batch.target_out] == strips.captions()
    assert all(w in DIGIT_NAMES for c in strips.captions() for w in c)


def test_digit_split_is_disjoint_and_complete():
    train, test = split_digits(1797, 0.2, np.random.default_rng(0))
    assert len(test) == 359 and not set(train) & set(test)
    assert sorted([*train, *test]) == list(range(1797))
    with pytest.raises(ValueError, match="held_out must be between 0 and 1"):
        split_digits(10, 1.5, np.random.default_rng(0))


def test_strip_errors():
    images, labels = load_digits()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="lengths must be"):
        make_strips(images, labels, 2, rng, lengths=(3, 2))
    with pytest.raises(ValueError, match="max_gap must be at least 0"):
        make_strips(images, labels, 2, rng, max_gap=-1)
    with pytest.raises(ValueError, match=r"expected images \(n, 8, 8\)"):
        make_strips(images[:, :4], labels, 2, rng)


def test_number_pairs():
    pytest.importorskip("num2words", reason="the number pairs need num2words")
    from models.numbers import NumberPairs, number_words, split_numbers

    assert number_words(71, "fr") == ["soixante", "et", "onze"]
    assert number_words(9999, "en") == ["nine", "thousand", "nine", "hundred", "and", "ninety", "nine"]
    train, test = split_numbers(10_000, 0.1, np.random.default_rng(0))
    assert len(test) == 1000 and not set(train) & set(test)
    pairs = NumberPairs.build(test[:50], vocab_numbers=range(10_000))
    batch = pairs.batch(range(50))
    for row in range(50):
        words = [pairs.source_vocab.words[i] for i in batch.source[row, :batch.source_lengths[row]]]
        assert words == number_words(int(test[row]), "en")
        target = batch.target_out[row]
        assert pairs.target_vocab.decode(target[target != IGNORE]) == number_words(int(test[row]), "fr")
    with pytest.raises(ValueError, match="lang must be one of"):
        number_words(3, "de")
    with pytest.raises(ValueError, match="held_out must be between 0 and 1"):
        split_numbers(10, 0.0, np.random.default_rng(0))


@given(number=st.integers(0, 9_999))
def test_number_words_are_plain_words_of_the_shared_vocabularies(number):
    pytest.importorskip("num2words", reason="the number pairs need num2words")
    from models.numbers import NumberPairs, number_words

    vocab = _full_range_pairs()
    for lang, words in (("en", vocab.source_vocab.words), ("fr", vocab.target_vocab.words)):
        written = number_words(number, lang)
        assert written and all(w.isalpha() and w.islower() for w in written)
        assert set(written) <= set(words)
    assert NumberPairs.build([number]).batch([0]).source_lengths[0] == len(number_words(number, "en"))


@functools.cache
def _full_range_pairs():
    from models.numbers import NumberPairs
    return NumberPairs.build([], vocab_numbers=range(10_000))


def test_missing_num2words_is_named(monkeypatch):
    import sys

    from models.numbers import number_words
    monkeypatch.setitem(sys.modules, "num2words", None)
    with pytest.raises(ModuleNotFoundError,
                       match=r"need the num2words package: pip install 'microtensor\[demos\]'"):
        number_words(3, "en")
