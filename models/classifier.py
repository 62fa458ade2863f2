"""A many-to-one sequence model: read a whole sequence, decide from the last hidden state.

The recurrent layer runs over every element; only the hidden state after the last one
reaches the output layer. Whatever the label depends on (a "never" twenty words back,
a number marked at the start) must therefore survive in that state, and the gradient
that teaches it must travel back through every step in between.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import microtensor as mt
from microtensor import nn
from microtensor.nn.recurrent import RNNBase

from . import CELLS


def recurrent_layer(cell: str, input_size: int, hidden_size: int, **options: Any) -> RNNBase:
    """``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` by name (the RNN uses tanh).

    >>> recurrent_layer("gru", 3, 5)
    GRU(3, 5)
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden_size, **options)


class SequenceClassifier(nn.Module):
    """Sequence in, one score vector out: ``head(h_T)``, with ``h_T`` the recurrent layer's
    hidden state after the last element.

    Inputs are batch first: word ids (batch, length) when ``vocab_size`` is given (they
    go through an ``Embedding`` of size ``input_size``), or feature vectors
    (batch, length, input_size) otherwise. With ``num_classes=1`` the single score
    serves as a regression output (the adding problem).

    >>> import microtensor as mt
    >>> model = SequenceClassifier(input_size=4, hidden_size=8, num_classes=2, cell="lstm",
    ...                            vocab_size=10)
    >>> model(mt.tensor([[1, 2, 3], [4, 5, 6]])).shape
    (2, 2)
    >>> SequenceClassifier(2, 8, 1, cell="rnn")(mt.zeros(5, 50, 2)).shape
    (5, 1)
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, cell: str = "lstm",
                 vocab_size: int | None = None) -> None:
        super().__init__()
        self.cell = cell
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, input_size)
        self.rnn = recurrent_layer(cell, input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Any) -> mt.Tensor:
        if self.embedding is not None:
            ids = np.asarray(x.array if isinstance(x, mt.Tensor) else x)
            if ids.ndim != 2:
                raise ValueError(f"SequenceClassifier: expected word ids of shape (batch, length), "
                                 f"got shape {ids.shape}")
            x = self.embedding(ids)
        output, _ = self.rnn(x)
        return self.head(output[:, -1])

    @mt.no_grad()
    def predict(self, x: Any) -> np.ndarray:
        """The highest-scoring class of each sequence, as an int64 array (batch,).

        >>> import microtensor as mt
        >>> SequenceClassifier(2, 4, 3, cell="gru").predict(mt.zeros(6, 7, 2)).shape
        (6,)
        """
        return self(x).array.argmax(axis=-1)
