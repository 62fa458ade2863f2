"""Word vocabularies and padded batches for sequence-to-sequence models.

A batch holds sequences of different lengths, padded at the end to the longest one. The
decoder is trained with teacher forcing: it reads ``<s> y1 y2 ... yn`` and learns to
write ``y1 y2 ... yn </s>``. Positions past a target's end hold ``IGNORE`` (-100, the
``ignore_index`` PyTorch's ``cross_entropy`` skips), so padding adds nothing to the loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
#: Target value of positions that must not count in the loss (PyTorch's default ignore_index).
IGNORE = -100


class WordVocabulary:
    """Words with an index each: ``<pad>`` 0, ``<s>`` 1, ``</s>`` 2, then the words sorted.

    >>> vocab = WordVocabulary(["trois", "cent", "trois"])
    >>> len(vocab), vocab.words
    (5, ('<pad>', '<s>', '</s>', 'cent', 'trois'))
    >>> vocab.encode(["trois", "cent"]), vocab.decode([4, 3, 2, 4])
    ([4, 3], ['trois', 'cent'])
    """

    pad, bos, eos = 0, 1, 2

    def __init__(self, words: Iterable[str]) -> None:
        self.words = (PAD, BOS, EOS, *sorted(set(words) - {PAD, BOS, EOS}))
        self._index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Sequence[str]) -> list[int]:
        """The ids of ``words``; ``KeyError`` naming the first unknown word."""
        try:
            return [self._index[w] for w in words]
        except KeyError as err:
            raise KeyError(f"WordVocabulary: unknown word {err.args[0]!r}") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids`` up to the first ``</s>``, without ``<pad>`` and ``<s>``."""
        words = []
        for i in ids:
            if i == self.eos:
                break
            if i not in (self.pad, self.bos):
                words.append(self.words[i])
        return words


def pad_ids(sequences: Sequence[Sequence[int]], value: int = 0) -> np.ndarray:
    """Integer sequences as one int64 array (batch, longest), padded at the end with ``value``.

    >>> pad_ids([[5, 6, 7], [8]]).tolist()
    [[5, 6, 7], [8, 0, 0]]
    """
    out = np.full((len(sequences), max(map(len, sequences), default=0)), value, dtype=np.int64)
    for row, seq in zip(out, sequences):
        row[:len(seq)] = seq
    return out


@dataclass(frozen=True)
class Batch:
    """One padded training batch.

    ``source`` is (batch, S) word ids or (batch, S, features) vectors, zero past each row's
    ``source_lengths``; ``target_in`` (batch, T) starts with ``<s>`` and is padded with
    ``<pad>``; ``target_out`` (batch, T) ends with ``</s>`` and holds ``IGNORE`` past it.
    """

    source: np.ndarray
    source_lengths: np.ndarray
    target_in: np.ndarray
    target_out: np.ndarray

    @property
    def source_mask(self) -> np.ndarray:
        """(batch, S) bool, True at real (not padded) source positions."""
        return np.arange(self.source.shape[1]) < self.source_lengths[:, None]


def make_batch(source: np.ndarray, source_lengths: Sequence[int],
               targets: Sequence[Sequence[int]]) -> Batch:
    """A ``Batch`` from a padded ``source``, its lengths and the target id lists (no
    ``<s>``/``</s>``: they are added here).

    >>> b = make_batch(pad_ids([[7, 8], [9]]), [2, 1], [[4, 5], [6]])
    >>> b.target_in.tolist(), b.target_out.tolist()
    ([[1, 4, 5], [1, 6, 0]], [[4, 5, 2], [6, 2, -100]])
    >>> b.source_mask.tolist()
    [[True, True], [True, False]]
    """
    lengths = np.asarray(source_lengths, dtype=np.int64)
    if len(lengths) != len(source) or len(targets) != len(source):
        raise ValueError(f"make_batch: {len(source)} sources, {len(lengths)} lengths and "
                         f"{len(targets)} targets; expected one each")
    if len(lengths) and (lengths.min() < 1 or lengths.max() > source.shape[1]):
        raise ValueError(f"make_batch: source lengths must be in [1, {source.shape[1]}], "
                         f"got {lengths.min()}..{lengths.max()}")
    target_in = pad_ids([[WordVocabulary.bos, *t] for t in targets], WordVocabulary.pad)
    target_out = pad_ids([[*t, WordVocabulary.eos] for t in targets], IGNORE)
    return Batch(source, lengths, target_in, target_out)
