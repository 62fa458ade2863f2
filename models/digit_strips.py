"""Strips of handwritten digits and their captions, for an image-to-words model.

A strip is 1 to 5 of the UCI 8x8 digits (``models/data/uci_digits_8x8.npz``, CC BY 4.0,
E. Alpaydin and C. Kaynak, UCI Machine Learning Repository; see ``models/data/README.md``)
drawn side by side with random blank columns before and between them; its caption is
the digits' names in reading order ("seven three nine"). Digit *images* are split into
training and held-out sets first, so a held-out strip is made of images never trained on.

A model reads a strip as a sequence of columns, (batch, width, 8), left to right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sequences import Batch, WordVocabulary, make_batch

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGITS_FILE = Path(__file__).parent / "data" / "uci_digits_8x8.npz"
HEIGHT = 8
#: The caption vocabulary: the ten digit names (plus <pad>, <s>, </s>).
CAPTION_VOCAB = WordVocabulary(DIGIT_NAMES)


def load_digits(path: str | Path = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The digit images scaled to [0, 1], float32 (n, 8, 8), and their labels, int64 (n,).

    >>> images, labels = load_digits()
    >>> images.shape, float(images.max()), labels[:5].tolist()
    ((1797, 8, 8), 1.0, [0, 1, 2, 3, 4])
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"cannot read the digits from {path}: {err}") from None
    return images.astype(np.float32) / 16, labels.astype(np.int64)


def split_digits(count: int, held_out: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Image indices 0..count-1 shuffled into training and held-out parts (a ``held_out``
    fraction), each sorted.

    >>> train, test = split_digits(10, 0.2, np.random.default_rng(0))
    >>> len(train), len(test), set(train) & set(test)
    (8, 2, set())
    """
    if not 0 < held_out < 1:
        raise ValueError(f"split_digits: held_out must be between 0 and 1, got {held_out}")
    order = rng.permutation(count)
    n_test = min(count - 1, max(1, round(held_out * count)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


@dataclass(frozen=True)
class Strips:
    """Generated strips: ``pixels`` (n, 8, width) zero-padded on the right to the widest,
    ``widths`` (n,) each strip's own width, ``digits`` the labels in reading order and
    ``starts`` the first column of each digit."""

    pixels: np.ndarray
    widths: np.ndarray
    digits: list[list[int]]
    starts: list[list[int]]

    def captions(self) -> list[list[str]]:
        """Each strip's caption as words.

        >>> Strips(np.zeros((1, 8, 16)), np.array([16]), [[7, 3]], [[0, 8]]).captions()
        [['seven', 'three']]
        """
        return [[DIGIT_NAMES[d] for d in ds] for ds in self.digits]

    def batch(self) -> Batch:
        """A ``Batch`` whose source is the columns (n, width, 8) and whose targets are the
        captions' ids."""
        columns = np.ascontiguousarray(self.pixels.transpose(0, 2, 1))
        return make_batch(columns, self.widths, [CAPTION_VOCAB.encode(c) for c in self.captions()])


def make_strips(images: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator,
                lengths: tuple[int, int] = (1, 5), max_gap: int = 3) -> Strips:
    """``n`` strips of ``lengths[0]`` to ``lengths[1]`` digits drawn from ``images``
    (with their ``labels``), with 0 to ``max_gap`` blank columns before each digit.

    >>> images, labels = load_digits()
    >>> s = make_strips(images, labels, 4, np.random.default_rng(0), lengths=(3, 3), max_gap=0)
    >>> s.pixels.shape, s.widths.tolist(), [len(d) for d in s.digits]
    ((4, 8, 24), [24, 24, 24, 24], [3, 3, 3, 3])
    >>> s.starts[0], s.captions()[0] == [DIGIT_NAMES[d] for d in s.digits[0]]
    ([0, 8, 16], True)
    """
    low, high = lengths
    if not 1 <= low <= high:
        raise ValueError(f"make_strips: lengths must be (low, high) with 1 <= low <= high, got {lengths}")
    if max_gap < 0:
        raise ValueError(f"make_strips: max_gap must be at least 0, got {max_gap}")
    if len(images) == 0 or images.shape[1:] != (HEIGHT, HEIGHT) or len(labels) != len(images):
        raise ValueError(f"make_strips: expected images (n, 8, 8) with n labels, got images "
                         f"{images.shape} and {len(labels)} labels")
    counts = rng.integers(low, high + 1, n)
    picks = [rng.integers(0, len(images), c) for c in counts]
    gaps = [rng.integers(0, max_gap + 1, c) for c in counts]
    widths = np.array([int(g.sum()) + HEIGHT * len(g) for g in gaps], dtype=np.int64)
    pixels = np.zeros((n, HEIGHT, widths.max(initial=0)), dtype=np.float32)
    starts = []
    for row, (pick, gap) in enumerate(zip(picks, gaps)):
        cols = np.cumsum(gap + HEIGHT) - HEIGHT
        for i, col in zip(pick, cols):
            pixels[row, :, col:col + HEIGHT] = images[i]
        starts.append(cols.tolist())
    return Strips(pixels, widths, [labels[p].tolist() for p in picks], starts)
