"""A word-level next-word model for a handful of sentences: the classic "soup is good".

    word -> one-hot vector -> tiny RNN (or LSTM, GRU) -> scores for every vocabulary word

With a vocabulary of a few words, every number is small enough to print: the one-hot
vectors, the hidden state after each word, the probability of each next word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

import microtensor as mt
from microtensor import nn
from microtensor.nn import functional as F

from .classifier import recurrent_layer


class WordLM(nn.Module):
    """Reads words one at a time and scores every vocabulary word as the next one.

    ``vocab`` fixes the words and their order (word ``i`` is the one-hot vector with a 1
    at position ``i``). Build one from example sentences with ``from_sentences``.

    >>> import microtensor as mt
    >>> _ = mt.manual_seed(0)  # returns the default generator, as PyTorch
    >>> model = WordLM(["soup", "is", "good"], hidden_size=3)
    >>> model.one_hot(["soup", "good"]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> logits, hidden = model(["soup", "is"])
    >>> logits.shape, hidden.shape  # one row per word read
    ((2, 3), (2, 3))
    """

    def __init__(self, vocab: Sequence[str], hidden_size: int = 8, cell: str = "rnn") -> None:
        super().__init__()
        self.vocab = tuple(vocab)
        if not self.vocab or len(set(self.vocab)) != len(self.vocab):
            raise ValueError(f"WordLM: vocab must be a non-empty list of distinct words, got "
                             f"{list(vocab)}")
        self.index = {word: i for i, word in enumerate(self.vocab)}
        self.cell = cell
        self.rnn = recurrent_layer(cell, len(self.vocab), hidden_size)
        self.head = nn.Linear(hidden_size, len(self.vocab))

    @classmethod
    def from_sentences(cls, sentences: Iterable[Sequence[str]], hidden_size: int = 8,
                       cell: str = "rnn") -> WordLM:
        """A model whose vocabulary is every word of ``sentences``, in order of first use.

        >>> WordLM.from_sentences([["soup", "is", "good"], ["tea", "is", "hot"]]).vocab
        ('soup', 'is', 'good', 'tea', 'hot')
        """
        vocab = dict.fromkeys(word for sentence in sentences for word in sentence)
        return cls(list(vocab), hidden_size, cell)

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Each word's position in the vocabulary; ``ValueError`` names an unknown word."""
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise ValueError(f"WordLM: {unknown[0]!r} is not in the vocabulary {list(self.vocab)}")
        return np.array([self.index[w] for w in words], dtype=np.int64)

    def one_hot(self, words: Sequence[str]) -> mt.Tensor:
        """The words as one-hot rows (len(words), vocabulary size), in the model's dtype."""
        return F.one_hot(self.ids(words), len(self.vocab)).to(self.head.weight.dtype)

    def forward(self, words: Sequence[str]) -> tuple[mt.Tensor, mt.Tensor]:
        """Next-word scores after each word (len(words), vocab) and the hidden state after
        each word (len(words), hidden_size)."""
        if len(words) == 0:
            raise ValueError("WordLM: no words to read")
        hidden, _ = self.rnn(self.one_hot(words))  # unbatched: (seq, input) -> (seq, hidden)
        return self.head(hidden), hidden

    def loss(self, sentence: Sequence[str]) -> mt.Tensor:
        """Mean cross-entropy of predicting each word of ``sentence`` from the ones before.

        >>> import microtensor as mt
        >>> model = WordLM(["a", "b"])
        >>> round(model.loss(["a", "b"]).item(), 2) > 0
        True
        """
        if len(sentence) < 2:
            raise ValueError(f"WordLM: a sentence needs at least two words to predict one, "
                             f"got {list(sentence)}")
        logits, _ = self(sentence[:-1])
        return F.cross_entropy(logits, self.ids(sentence[1:]))

    @mt.no_grad()
    def next_word_probs(self, words: Sequence[str]) -> dict[str, float]:
        """The probability of each vocabulary word coming next, most likely first."""
        logits, _ = self(words)
        probs = logits[-1].softmax(-1).array
        order = np.argsort(-probs, kind="stable")
        return {self.vocab[i]: float(probs[i]) for i in order}

    def predict_next(self, words: Sequence[str]) -> str:
        """The most likely next word.

        >>> import microtensor as mt
        >>> _ = mt.manual_seed(0)  # returns the default generator, as PyTorch
        >>> model = WordLM.from_sentences([["soup", "is", "good"]], hidden_size=4)
        >>> opt = mt.optim.Adam(model.parameters(), lr=0.1)
        >>> for _ in range(30):
        ...     opt.zero_grad(); model.loss(["soup", "is", "good"]).backward(); opt.step()
        >>> model.predict_next(["soup", "is"])
        'good'
        """
        return next(iter(self.next_word_probs(words)))
