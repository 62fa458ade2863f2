"""Synthetic sequence tasks that need long memory, generated from a seeded numpy Generator.

Each task is built so that the answer depends on something far back in the sequence,
which is exactly what a tanh RNN's vanishing gradient makes hard to learn:

- ``adding_problem``: add the two marked numbers of a long sequence (Hochreiter and
  Schmidhuber, 1997). Guessing the mean (1.0) scores an MSE of 1/6.
- ``copy_task``: reproduce a few symbols after a long blank delay.
- ``negation_sentences``: short reviews whose sentiment is flipped by a "never" that
  sits a chosen number of words before the end.

Every generator takes ``rng`` (``np.random.default_rng(seed)``), so a seed fixes the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: MSE of always predicting 1.0 on the adding problem: the variance of U(0,1) + U(0,1) is 2/12.
ADDING_BASELINE_MSE = 1 / 6


def _check_positive(task: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{task}: {name} must be a positive integer, got {value!r}")


# ------------------------------------------------------------------------ adding problem
def adding_problem(batch: int, length: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` sequences of (value, marker) pairs and the sum of the two marked values.

    Values are U(0, 1); one marker sits in the first half of the sequence and one in
    the second half, so the network must carry a number for at least ``length / 2``
    steps. Returns inputs (batch, length, 2) and targets (batch, 1), both float32.

    >>> import numpy as np
    >>> x, y = adding_problem(4, 10, np.random.default_rng(0))
    >>> x.shape, y.shape, x.dtype
    ((4, 10, 2), (4, 1), dtype('float32'))
    >>> bool(np.allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=1)))
    True
    """
    _check_positive("adding_problem", batch=batch, length=length)
    if length < 2:
        raise ValueError(f"adding_problem: length must be at least 2 (one marker per half), "
                         f"got {length}")
    values = rng.random((batch, length), dtype=np.float32)
    markers = np.zeros((batch, length), dtype=np.float32)
    rows = np.arange(batch)
    half = length // 2
    markers[rows, rng.integers(0, half, batch)] = 1
    markers[rows, rng.integers(half, length, batch)] = 1
    targets = (values * markers).sum(axis=1, keepdims=True)
    return np.stack([values, markers], axis=-1), targets


# ----------------------------------------------------------------------------- copy task
#: Symbol ids of the copy task: 0 is the blank, 1..n_symbols the symbols, then the cue.
BLANK = 0


def copy_task(batch: int, n_symbols: int, copy_length: int, delay: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The copy memory task: see ``copy_length`` symbols, wait, then write them out again.

    Input: the symbols (ids 1..n_symbols), ``delay - 1`` blanks (0), a cue
    (id ``n_symbols + 1``), then ``copy_length`` blanks during which the network answers.
    Target: blanks, then the symbols over the last ``copy_length`` steps. Both are int64
    of shape (batch, delay + 2 * copy_length); the input has ``n_symbols + 2`` classes.

    >>> import numpy as np
    >>> x, y = copy_task(1, n_symbols=3, copy_length=2, delay=3, rng=np.random.default_rng(1))
    >>> x.tolist(), y.tolist()
    ([[2, 2, 0, 0, 4, 0, 0]], [[0, 0, 0, 0, 0, 2, 2]])
    """
    _check_positive("copy_task", batch=batch, n_symbols=n_symbols, copy_length=copy_length,
                    delay=delay)
    symbols = rng.integers(1, n_symbols + 1, (batch, copy_length))
    total = delay + 2 * copy_length
    inputs = np.full((batch, total), BLANK, dtype=np.int64)
    targets = np.full((batch, total), BLANK, dtype=np.int64)
    inputs[:, :copy_length] = symbols
    inputs[:, copy_length + delay - 1] = n_symbols + 1
    targets[:, -copy_length:] = symbols
    return inputs, targets


# -------------------------------------------------------------------- negation sentences
NEGATION = "never"
AFFIRMATIONS = ("always", "really")
SUBJECTS = ("i", "we", "they")
VERBS = ("said", "thought", "felt")
NOUNS = ("soup", "pizza", "film", "book", "service", "coffee")
POSITIVE = ("good", "great", "tasty", "lovely")
NEGATIVE = ("bad", "awful", "bland", "terrible")
#: Phrases that may follow the noun ("the soup [here] [from the market] was good"), by length.
#: They carry no sentiment: only the negation and the adjective decide the label.
MODIFIERS = (
    ("here",), ("today",), ("again",), ("too",),
    ("at", "night"), ("for", "two"), ("with", "bread"), ("at", "noon"),
    ("from", "the", "market"), ("which", "we", "ordered"), ("on", "the", "train"),
    ("that", "my", "sister", "made"), ("in", "the", "blue", "bowl"),
    ("after", "a", "long", "day"), ("which", "we", "ordered", "late"),
    ("that", "the", "waiter", "brought", "us"),
)
#: Every word the sentences use, in a fixed order: word ids stay the same across runs.
NEGATION_VOCAB = tuple(dict.fromkeys(
    (NEGATION, *AFFIRMATIONS, *SUBJECTS, *VERBS, "the", *NOUNS, "was", *POSITIVE, *NEGATIVE,
     *(word for phrase in MODIFIERS for word in phrase))))
#: Words after the negation in the shortest sentence: "[never] said the soup was good".
MIN_NEGATION_DISTANCE = 5


@dataclass(frozen=True)
class Sentences:
    """Generated reviews: ``words`` per sentence, ``labels`` (1 positive, 0 negative),
    ``negated`` (whether "never" appears) and ``distance`` (words after the negation or
    the affirming word in its place, up to the end)."""

    words: list[list[str]]
    labels: np.ndarray
    negated: np.ndarray
    distance: int

    def ids(self) -> np.ndarray:
        """Word ids (into ``NEGATION_VOCAB``), shape (n, length): all sentences of one
        distance have the same length, so no padding is needed."""
        index = {word: i for i, word in enumerate(NEGATION_VOCAB)}
        return np.array([[index[w] for w in sentence] for sentence in self.words], dtype=np.int64)


def _modifiers(count: int, rng: np.random.Generator) -> list[str]:
    """Random noun modifiers totalling exactly ``count`` words (one-word phrases fill gaps)."""
    words: list[str] = []
    while len(words) < count:
        fitting = [p for p in MODIFIERS if len(p) <= count - len(words)]
        fresh = [p for p in fitting if not set(p) <= set(words)]  # "here here" reads badly
        choices = fresh or fitting
        words += choices[rng.integers(len(choices))]
    return words


def negation_sentences(n: int, distance: int, rng: np.random.Generator,
                       negation_rate: float = 0.5) -> Sentences:
    """``n`` reviews like "we never thought the soup from the market was good".

    The sentence is positive when its adjective is positive and it is not negated, or
    negative and negated ("i never said the pizza was bad" counts as positive). The
    negation (or, in affirmed sentences, "always"/"really") sits ``distance`` words before
    the end, so a model must carry one bit across ``distance`` words; the adjective is
    always the last word. Each sentence is negated with probability ``negation_rate``:
    at 0.5 neither word alone says anything about the label, below it the adjective
    alone is right on the affirmed majority, and only the negated sentences show whether
    a model remembers the negation.

    >>> import numpy as np
    >>> s = negation_sentences(2, distance=9, rng=np.random.default_rng(0))
    >>> for sentence, label in zip(s.words, s.labels):
    ...     print(label, " ".join(sentence))
    1 we always felt the book which we ordered too was lovely
    0 we never thought the book which we ordered late was tasty
    >>> s.ids().shape  # subject + 9 words after the negation + the negation itself
    (2, 11)
    """
    _check_positive("negation_sentences", n=n, distance=distance)
    if not 0 <= negation_rate <= 1:
        raise ValueError(f"negation_sentences: negation_rate must be in [0, 1], got {negation_rate}")
    if distance < MIN_NEGATION_DISTANCE:
        raise ValueError(f"negation_sentences: distance must be at least "
                         f"{MIN_NEGATION_DISTANCE} ('never said the soup was good'), got {distance}")
    negated = rng.random(n) < negation_rate
    positive_word = rng.random(n) < 0.5
    words = []
    for neg, pos in zip(negated, positive_word):
        polarity = NEGATION if neg else AFFIRMATIONS[rng.integers(len(AFFIRMATIONS))]
        adjective = (POSITIVE if pos else NEGATIVE)[rng.integers(len(POSITIVE))]
        words.append([SUBJECTS[rng.integers(len(SUBJECTS))], polarity,
                      VERBS[rng.integers(len(VERBS))], "the", NOUNS[rng.integers(len(NOUNS))],
                      *_modifiers(distance - MIN_NEGATION_DISTANCE, rng), "was", adjective])
    labels = (positive_word != negated).astype(np.int64)
    return Sentences(words, labels, negated, distance)
