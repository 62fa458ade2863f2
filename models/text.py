"""Text for a character-level language model: the corpus, its vocabulary, the
train/validation split, minibatches for truncated backpropagation through time, and
the bigram baseline a model has to beat.

Batches are laid out as in Karpathy's char-rnn: the training text is cut into
``batch_size`` contiguous streams, one per batch row, and each minibatch is the next
``seq_len`` characters of every stream. Row ``b`` of chunk ``i + 1`` continues row
``b`` of chunk ``i``, so the hidden state a model ends a chunk with is the right state
to start the next one from (detached: backpropagation stops at the chunk boundary).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def default_corpus() -> str:
    """The English documentation text that ships inside every CPython
    (``pydoc_data.topics``, about 465 KB): nothing to download.

    >>> text = default_corpus()
    >>> len(text) > 100_000, "list comprehension" in text.lower()
    (True, True)
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def read_text(path: str | Path) -> str:
    """The UTF-8 text in ``path``; ``ValueError`` naming the file and the problem if it
    cannot be read, is not UTF-8, or is too short to learn from (under 2 characters).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty.txt"
    >>> _ = path.write_text("")
    >>> read_text(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...empty.txt holds 0 characters; at least 2 are needed
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    if len(text) < 2:
        raise ValueError(f"{path} holds {len(text)} characters; at least 2 are needed")
    return text


class Vocabulary:
    """The characters a model knows, each with an index (sorted by code point).

    Stored in checkpoints as ``codepoints``, an int array, so a saved model needs no
    pickle and no side file to turn indices back into text.

    >>> vocab = Vocabulary.from_text("hello")
    >>> len(vocab), vocab.encode("ole").tolist(), vocab.decode([3, 1])
    (4, [3, 2, 0], 'oh')
    >>> Vocabulary(vocab.codepoints) == vocab
    True
    """

    def __init__(self, codepoints: np.ndarray | list[int]) -> None:
        codepoints = np.asarray(codepoints)
        if codepoints.ndim != 1 or codepoints.size == 0 or codepoints.dtype.kind not in "iu":
            raise ValueError(f"Vocabulary: expected a non-empty 1-d array of integer code "
                             f"points, got dtype {codepoints.dtype} and shape {codepoints.shape}")
        if np.any(np.diff(codepoints) <= 0) or codepoints.min() < 0 or codepoints.max() > 0x10FFFF:
            raise ValueError("Vocabulary: code points must be distinct, sorted and valid Unicode")
        self.codepoints = codepoints.astype(np.int32)
        self.chars = "".join(map(chr, self.codepoints))
        self._index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Every distinct character in ``text``.

        >>> Vocabulary.from_text("abba").chars
        'ab'
        """
        return cls(sorted(map(ord, set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.chars == other.chars

    __hash__ = None  # mutable-looking container semantics, as list: equal but unhashable

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} characters: {self.chars[:40]!r}{'...' if len(self) > 40 else ''})"

    def encode(self, text: str) -> np.ndarray:
        """Indices (int64) of the characters of ``text``; ``ValueError`` names any unknown one.

        >>> Vocabulary.from_text("ab").encode("abc")
        Traceback (most recent call last):
        ...
        ValueError: Vocabulary: 'c' is not one of the model's 2 characters
        """
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"Vocabulary: {err.args[0]!r} is not one of the model's "
                             f"{len(self)} characters") from None

    def decode(self, indices: np.ndarray | list[int]) -> str:
        """The text that ``indices`` stand for.

        >>> Vocabulary.from_text("ab").decode([1, 0, 1])
        'bab'
        """
        return "".join(self.chars[i] for i in np.asarray(indices).ravel())


def split(data: np.ndarray, train_fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """The first ``train_fraction`` of ``data`` for training, the rest for validation (no
    shuffling: the validation text is text the model has never read a piece of).

    >>> train, val = split(np.arange(20))
    >>> len(train), val.tolist()
    (18, [18, 19])
    """
    if not 0 < train_fraction < 1:
        raise ValueError(f"split: train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(len(data) * train_fraction)
    if cut < 2 or len(data) - cut < 2:
        raise ValueError(f"split: {len(data)} characters leave {cut} for training and "
                         f"{len(data) - cut} for validation; each needs at least 2")
    return data[:cut], data[cut:]


class Streams:
    """``data`` as ``batch_size`` contiguous streams read ``seq_len`` characters at a time:
    chunk ``i`` is ``(inputs, targets)``, both (batch_size, seq_len) int64, with targets
    the inputs shifted by one character.

    The tail that does not fill a whole chunk in every stream is left out, so every chunk
    has the same shape (as char-rnn does).

    >>> streams = Streams(np.arange(14), batch_size=2, seq_len=3)
    >>> streams.streams.tolist()  # 14 characters: two streams of 7
    [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13]]
    >>> len(streams)
    2
    >>> inputs, targets = streams[1]
    >>> inputs.tolist(), targets.tolist()
    ([[3, 4, 5], [10, 11, 12]], [[4, 5, 6], [11, 12, 13]])
    """

    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int) -> None:
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"Streams: batch_size and seq_len must be positive, got "
                             f"{batch_size} and {seq_len}")
        length = len(data) // batch_size
        if length < seq_len + 1:
            raise ValueError(f"Streams: {len(data)} characters make {batch_size} streams of "
                             f"{length}, too short for one chunk of seq_len {seq_len} (each "
                             f"stream needs {seq_len + 1}); use a smaller batch size or "
                             "sequence length, or more text")
        self.seq_len = seq_len
        self.streams = np.asarray(data[:length * batch_size], dtype=np.int64).reshape(batch_size, length)

    def __len__(self) -> int:
        return (self.streams.shape[1] - 1) // self.seq_len

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(f"Streams: chunk {i} out of range [0, {len(self)})")
        start = i * self.seq_len
        window = self.streams[:, start:start + self.seq_len + 1]
        return window[:, :-1], window[:, 1:]

    @property
    def batch_size(self) -> int:
        return self.streams.shape[0]


def bigram_loss(train: np.ndarray, val: np.ndarray, vocab_size: int, alpha: float = 1.0) -> float:
    """Validation cross-entropy (nats per character) of a bigram model fitted on ``train``
    with add-``alpha`` smoothing: ``P(b | a) = (count(a b) + alpha) / (count(a) + alpha V)``.

    It predicts ``val[1:]`` from ``val[:-1]``, the same characters a model is scored on.
    A recurrent model that cannot beat this has learned nothing beyond one character of
    context.

    >>> # train "abab": a->b twice, b->a once; P(a | b) = (1 + 1) / (1 + 2)
    >>> round(bigram_loss(np.array([0, 1, 0, 1]), np.array([1, 0]), vocab_size=2), 4)
    0.4055
    """
    if alpha <= 0:
        raise ValueError(f"bigram_loss: alpha must be > 0, got {alpha}")
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    counts += alpha
    log_probs = np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))
    return float(-log_probs[val[:-1], val[1:]].mean())
