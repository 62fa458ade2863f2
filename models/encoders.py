"""Encoders for sequence-to-sequence models: a source in, one vector per source position out.

Both read their source with a bidirectional GRU, so the vector at position ``s`` knows
the whole source, read up to ``s`` from the left and from the right. That is what an
attention decoder looks at (the ``keys``); a decoder without attention gets only the
``summary``: the last forward state joined with the first reverse state.

- ``WordEncoder``: word ids through an embedding (English number words);
- ``ColumnEncoder``: an image read as a sequence of columns; each position sees a window
  of ``window`` columns through one linear layer (a patch embedding), every ``stride``
  columns, then the GRU runs along the strip.

Sources of different lengths share a batch as a ``PackedSequence``: padding is never
read, and the reverse direction starts at each source's own last element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import nn
from microtensor.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .sequences import WordVocabulary


@dataclass
class Encoded:
    """An encoded batch: ``keys`` (batch, S, size), ``mask`` (batch, S) bool numpy array
    (True at real positions) and ``summary`` (batch, size)."""

    keys: mt.Tensor
    mask: np.ndarray
    summary: mt.Tensor

    def select(self, rows: np.ndarray) -> Encoded:
        """The batch rows ``rows`` (repeats allowed: beam search keeps one copy per beam)."""
        return Encoded(self.keys[rows], self.mask[rows], self.summary[rows])


def read_both_ways(rnn: nn.GRU, x: mt.Tensor, lengths: np.ndarray) -> tuple[mt.Tensor, mt.Tensor]:
    """Run a bidirectional, batch-first ``rnn`` over padded ``x`` (batch, S, features) whose
    rows have ``lengths`` real steps, packed so that padding is never read.

    Returns the outputs (batch, S, 2 * hidden), forward half first and zero at padding, and
    the summary (batch, 2 * hidden): each row's forward state after its own last element
    and reverse state after its first.

    >>> import microtensor as mt
    >>> rnn = mt.nn.GRU(3, 4, batch_first=True, bidirectional=True)
    >>> out, summary = read_both_ways(rnn, mt.randn(2, 5, 3), np.array([2, 5]))
    >>> out.shape, summary.shape, out[0, 2:].abs().sum().item()
    ((2, 5, 8), (2, 8), 0.0)
    """
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = rnn(packed)
    padded, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return padded, mt.cat([h_n[0], h_n[1]], dim=-1)


class WordEncoder(nn.Module):
    """Word ids (batch, S) and their lengths to ``Encoded`` keys of size 2 * hidden_size.

    >>> enc = WordEncoder(vocab_size=10, embed_size=4, hidden_size=6)
    >>> e = enc(np.array([[3, 4, 5], [6, 0, 0]]), np.array([3, 1]))
    >>> e.keys.shape, e.mask.tolist(), enc.output_size
    ((2, 3, 12), [[True, True, True], [True, False, False]], 12)
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int) -> None:
        super().__init__()
        self.output_size = 2 * hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=WordVocabulary.pad)
        self.rnn = nn.GRU(embed_size, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, ids: Any, lengths: np.ndarray) -> Encoded:
        ids, lengths = np.asarray(ids), np.asarray(lengths)
        if ids.ndim != 2 or lengths.shape != ids.shape[:1]:
            raise ValueError(f"WordEncoder: expected ids (batch, S) and lengths (batch,), got "
                             f"{ids.shape} and {lengths.shape}")
        with mt.scope(layer="encoder"):
            keys, summary = read_both_ways(self.rnn, self.embedding(ids), lengths)
        return Encoded(keys, np.arange(ids.shape[1]) < lengths[:, None], summary)


class ColumnEncoder(nn.Module):
    """Image columns (batch, W, height) and their widths to ``Encoded`` keys, one position
    every ``stride`` columns (position p is centred between columns p*stride and
    p*stride + stride - 1 and sees ``window`` columns).

    >>> enc = ColumnEncoder(height=8, embed_size=16, hidden_size=6)
    >>> e = enc(np.zeros((2, 20, 8), np.float32), np.array([20, 9]))
    >>> e.keys.shape, e.mask.sum(axis=1).tolist()
    ((2, 10, 12), [10, 5])
    """

    def __init__(self, height: int, embed_size: int, hidden_size: int, window: int = 8,
                 stride: int = 2) -> None:
        super().__init__()
        if window < stride or (window - stride) % 2:
            raise ValueError(f"ColumnEncoder: window must be stride plus an even number of "
                             f"columns, got window={window}, stride={stride}")
        self.height, self.window, self.stride = height, window, stride
        self.output_size = 2 * hidden_size
        self.patch = nn.Linear(height * window, embed_size)
        self.rnn = nn.GRU(embed_size, hidden_size, batch_first=True, bidirectional=True)

    def positions(self, widths: np.ndarray) -> np.ndarray:
        """How many positions a strip of each width gets: ceil(width / stride)."""
        return -(-np.asarray(widths) // self.stride)

    def windows(self, columns: np.ndarray) -> np.ndarray:
        """(batch, positions, window * height): the columns each position sees, zero outside."""
        batch, width, height = columns.shape
        count = -(-width // self.stride)
        margin = (self.window - self.stride) // 2
        padded = np.zeros((batch, count * self.stride + 2 * margin, height), columns.dtype)
        padded[:, margin:margin + width] = columns
        starts = np.arange(count) * self.stride
        take = starts[:, None] + np.arange(self.window)  # (positions, window)
        return padded[:, take].reshape(batch, count, self.window * height)

    def forward(self, columns: Any, widths: np.ndarray) -> Encoded:
        columns, widths = np.asarray(columns), np.asarray(widths)
        if columns.ndim != 3 or columns.shape[2] != self.height or widths.shape != columns.shape[:1]:
            raise ValueError(f"ColumnEncoder: expected columns (batch, W, {self.height}) and widths "
                             f"(batch,), got {columns.shape} and {widths.shape}")
        lengths = self.positions(widths)
        with mt.scope(layer="encoder"):
            patches = self.patch(mt.tensor(self.windows(columns), dtype=self.patch.weight.dtype)).tanh()
            keys, summary = read_both_ways(self.rnn, patches, lengths)
        return Encoded(keys, np.arange(patches.shape[1]) < lengths[:, None], summary)
