"""English number words and their French translation, for a sequence-to-sequence model.

    ninety seven                    -> quatre vingt dix sept
    three hundred and forty five    -> trois cent quarante cinq
    seven thousand and seventy one  -> sept mille soixante et onze

The pairs come from the ``num2words`` package (the optional ``demos`` extra), with hyphens
and commas turned into word breaks. French counts in twenties from sixty to ninety-nine
("quatre vingt dix sept" is 4 x 20 + 10 + 7) and puts "et" into 21, 31, ... 71, so a word
of the output often depends on two words of the input, and not always the same two: a
decoder that can look back at the source (attention) has it much easier than one that
must carry the whole number in one state vector.

The held-out numbers are a random subset of 0..limit-1, never seen in training.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .sequences import Batch, WordVocabulary, make_batch, pad_ids

LANGUAGES = ("en", "fr")


def _num2words():
    try:
        from num2words import num2words
    except ImportError:
        raise ModuleNotFoundError("the number pairs need the num2words package: "
                                  "pip install 'microtensor[demos]'") from None
    return num2words


def number_words(number: int, lang: str) -> list[str]:
    """``number`` written out in ``lang`` ("en" or "fr") as a list of words.

    >>> number_words(97, "en"), number_words(97, "fr")
    (['ninety', 'seven'], ['quatre', 'vingt', 'dix', 'sept'])
    >>> " ".join(number_words(1100, "en"))
    'one thousand one hundred'
    """
    if lang not in LANGUAGES:
        raise ValueError(f"number_words: lang must be one of {LANGUAGES}, got {lang!r}")
    if not isinstance(number, (int, np.integer)) or number < 0:
        raise ValueError(f"number_words: expected a non-negative integer, got {number!r}")
    text = _num2words()(int(number), lang=lang)
    return text.replace("-", " ").replace(",", " ").split()


def split_numbers(limit: int, held_out: float, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """0..limit-1 shuffled into training and held-out numbers (a ``held_out`` fraction,
    at least one of each), each part sorted.

    >>> train, test = split_numbers(20, 0.1, np.random.default_rng(0))
    >>> len(train), len(test), sorted([*train, *test]) == list(range(20))
    (18, 2, True)
    """
    if limit < 2:
        raise ValueError(f"split_numbers: limit must be at least 2, got {limit}")
    if not 0 < held_out < 1:
        raise ValueError(f"split_numbers: held_out must be between 0 and 1, got {held_out}")
    order = rng.permutation(limit)
    n_test = min(limit - 1, max(1, round(held_out * limit)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


@dataclass
class NumberPairs:
    """English/French word lists for some numbers, with the vocabularies of both sides.

    >>> pairs = NumberPairs.build([21, 80, 345])
    >>> pairs.english[1], pairs.french[1]
    (['eighty'], ['quatre', 'vingts'])
    >>> batch = pairs.batch([0, 2])
    >>> batch.source.shape, batch.source_lengths.tolist(), batch.target_out.shape
    ((2, 5), [2, 5], (2, 5))
    """

    numbers: np.ndarray
    english: list[list[str]]
    french: list[list[str]]
    source_vocab: WordVocabulary
    target_vocab: WordVocabulary

    @classmethod
    def build(cls, numbers: Iterable[int], vocab_numbers: Iterable[int] | None = None) -> NumberPairs:
        """The pairs of ``numbers``; the vocabularies cover ``vocab_numbers`` (default: the
        same numbers), so held-out pairs can share the training vocabularies."""
        numbers = np.asarray(list(numbers), dtype=np.int64)
        english = [number_words(n, "en") for n in numbers]
        french = [number_words(n, "fr") for n in numbers]
        if vocab_numbers is None:
            en_words, fr_words = english, french
        else:
            vocab_numbers = list(vocab_numbers)
            en_words = [number_words(n, "en") for n in vocab_numbers]
            fr_words = [number_words(n, "fr") for n in vocab_numbers]
        return cls(numbers, english, french,
                   WordVocabulary(w for ws in en_words for w in ws),
                   WordVocabulary(w for ws in fr_words for w in ws))

    def __len__(self) -> int:
        return len(self.numbers)

    def batch(self, rows: Iterable[int]) -> Batch:
        """The pairs at ``rows`` as a padded ``Batch``: English in, French out."""
        rows = list(rows)
        sources = [self.source_vocab.encode(self.english[i]) for i in rows]
        targets = [self.target_vocab.encode(self.french[i]) for i in rows]
        return make_batch(pad_ids(sources, WordVocabulary.pad), [len(s) for s in sources], targets)
