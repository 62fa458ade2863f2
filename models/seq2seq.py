"""An encoder-decoder that writes a word sequence, with or without attention.

The encoder (``models.encoders``) turns the source into one vector per position (the
keys) and a summary. The decoder is an LSTM cell that writes one word per step. At step
t it reads the previous word and a context vector, then scores the next word from its
new state and that context:

- with attention (Bahdanau et al., 2015), the context is a weighted average of the keys,
  the weights a softmax over source positions of how well each key matches the decoder's
  previous state: each output word can look at the source words it depends on;
- without (``attention=None``, after Cho et al., 2014), the context is the encoder's
  summary at every step: the whole source squeezed into one vector.

Training uses teacher forcing (the decoder reads the true previous word); ``greedy``
and ``beam_search`` decode from the model's own words. The decoder's ops run in
``mt.scope(layer="decoder", t=t)`` and the attention weights are named "attention", so
a recorded graph shows each step and its weights; in training, each step also carries
the tags ``padding`` (the rows whose target has ended) and ``batch``, so the graph shows
which steps are padding for which rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import microtensor as mt
from microtensor import nn
from microtensor.nn import functional as F

from .encoders import ColumnEncoder, Encoded, WordEncoder
from .sequences import IGNORE, Batch, WordVocabulary

ATTENTION_SCORES = ("additive", "dot", "general")


@dataclass
class Decoded:
    """Decoded word ids per row (without ``</s>``) and, for greedy decoding, the attention
    weights (batch, steps, S) of each step (None without attention)."""

    ids: list[list[int]]
    attention: np.ndarray | None


class Decoder(nn.Module):
    """An LSTM cell that writes one word per step, looking at the source through attention
    (``attention`` one of ATTENTION_SCORES) or through the encoder's summary (None).

    Its parameters live under ``decoder.`` in a ``Seq2Seq``, so every op it records is
    tagged ``layer="decoder..."``.

    >>> dec = Decoder(key_size=6, vocab_size=7, embed_size=4, hidden_size=5)
    >>> dec.cell, dec.readout
    (LSTMCell(10, 5), Linear(in_features=11, out_features=7, bias=True))
    """

    def __init__(self, key_size: int, vocab_size: int, embed_size: int, hidden_size: int,
                 attention: str | None = "additive") -> None:
        super().__init__()
        if attention is not None and attention not in ATTENTION_SCORES:
            raise ValueError(f"Decoder: attention must be one of {ATTENTION_SCORES} or None, "
                             f"got {attention!r}")
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=WordVocabulary.pad)
        self.bridge = nn.Linear(key_size, hidden_size)  # encoder summary -> first decoder state
        self.attention = (None if attention is None
                          else nn.Attention(hidden_size, key_size, score=attention))
        self.cell = nn.LSTMCell(embed_size + key_size, hidden_size)
        self.readout = nn.Linear(hidden_size + key_size, vocab_size)

    def start(self, encoded: Encoded) -> tuple[mt.Tensor, mt.Tensor]:
        """The first state (h, c) from the encoder's summary."""
        h = self.bridge(encoded.summary).tanh()
        return h, mt.zeros_like(h)

    def step(self, words: np.ndarray, state: tuple[mt.Tensor, mt.Tensor], encoded: Encoded
             ) -> tuple[mt.Tensor, tuple[mt.Tensor, mt.Tensor], mt.Tensor | None]:
        """Read the previous ``words`` (batch,): returns the features the readout scores
        (batch, hidden + key), the new state and the attention weights (batch, S) or None."""
        h, c = state
        if self.attention is None:
            context, weights = encoded.summary, None
        else:
            context, weights = self.attention(h, encoded.keys, mask=encoded.mask)
            weights.name = "attention"
        h, c = self.cell(mt.cat([self.embedding(words), context], dim=-1), (h, c))
        return mt.cat([h, context], dim=-1), (h, c), weights

    def next_word_log_probs(self, feature: mt.Tensor) -> np.ndarray:
        """log p(next word) (batch, vocab) as an array, with <pad> and <s> ruled out: they
        are never targets, so the readout's scores for them were never trained."""
        logp = self.readout(feature).log_softmax(dim=-1).array
        logp[:, [WordVocabulary.pad, WordVocabulary.bos]] = -np.inf
        return logp


class Seq2Seq(nn.Module):
    """An encoder and a ``Decoder`` over ``vocab_size`` target words.

    >>> import microtensor as mt
    >>> from models.sequences import make_batch, pad_ids
    >>> _ = mt.manual_seed(0)  # returns the default generator, as PyTorch
    >>> model = Seq2Seq(WordEncoder(10, 4, 8), vocab_size=7, embed_size=4, hidden_size=8)
    >>> batch = make_batch(pad_ids([[3, 4, 5], [6]]), [3, 1], [[3, 4], [5, 6, 3]])
    >>> model(batch).shape                                   # (batch, target steps, vocab)
    (2, 4, 7)
    >>> loss = model.loss(batch); loss.backward()
    >>> out = model.greedy(batch.source, batch.source_lengths, max_steps=5)
    >>> len(out.ids), out.attention.shape
    (2, (2, 5, 3))
    """

    def __init__(self, encoder: WordEncoder | ColumnEncoder, vocab_size: int, embed_size: int,
                 hidden_size: int, attention: str | None = "additive") -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = Decoder(encoder.output_size, vocab_size, embed_size, hidden_size, attention)

    # ------------------------------------------------------------------ training
    def forward(self, batch: Batch) -> mt.Tensor:
        """Teacher-forced scores (batch, T, vocab) for ``batch.target_out``."""
        encoded = self.encoder(batch.source, batch.source_lengths)
        state = self.decoder.start(encoded)
        features = []
        rows = len(batch.target_in)
        for t in range(batch.target_in.shape[1]):
            # The rows whose target has ended: computed, but their loss is masked out.
            padding = tuple(int(r) for r in np.flatnonzero(batch.target_out[:, t] == IGNORE))
            with mt.scope(layer="decoder", t=t, padding=padding, batch=rows):
                feature, state, _ = self.decoder.step(batch.target_in[:, t], state, encoded)
            features.append(feature)
        return self.decoder.readout(mt.stack(features, dim=1))

    def loss(self, batch: Batch) -> mt.Tensor:
        """Mean cross-entropy per target word (``</s>`` included, padding excluded)."""
        logits = self(batch)
        return F.cross_entropy(logits.reshape(-1, self.decoder.vocab_size),
                               batch.target_out.reshape(-1), ignore_index=IGNORE)

    # ------------------------------------------------------------------ decoding
    @mt.no_grad()
    def greedy(self, source: np.ndarray, lengths: np.ndarray, max_steps: int) -> Decoded:
        """The likeliest next word at every step, until ``</s>`` or ``max_steps`` words."""
        encoded = self.encoder(source, lengths)
        state = self.decoder.start(encoded)
        batch = len(lengths)
        words = np.full(batch, WordVocabulary.bos)
        done = np.zeros(batch, dtype=bool)
        out: list[list[int]] = [[] for _ in range(batch)]
        weights_per_step = []
        for t in range(max_steps):
            with mt.scope(layer="decoder", t=t):
                feature, state, weights = self.decoder.step(words, state, encoded)
            words = self.decoder.next_word_log_probs(feature).argmax(axis=-1)
            if weights is not None:
                weights_per_step.append(weights.array)
            for row in np.flatnonzero(~done):
                if words[row] == WordVocabulary.eos:
                    done[row] = True
                else:
                    out[row].append(int(words[row]))
            if done.all():
                break
        attention = np.stack(weights_per_step, axis=1) if weights_per_step else None
        return Decoded(out, attention)

    @mt.no_grad()
    def beam_search(self, source: np.ndarray, lengths: np.ndarray, beam: int, max_steps: int
                    ) -> list[list[int]]:
        """The highest-scoring sequence (sum of word log-probabilities, ``</s>`` included)
        among ``beam`` hypotheses kept per row at every step."""
        if beam < 1:
            raise ValueError(f"beam_search: beam must be at least 1, got {beam}")
        batch = len(lengths)
        encoded = self.encoder(source, lengths).select(np.repeat(np.arange(batch), beam))
        state = self.decoder.start(encoded)
        words = np.full(batch * beam, WordVocabulary.bos)
        scores = np.full((batch, beam), -np.inf)
        scores[:, 0] = 0.0  # all beams start equal: keep one so the first step is not repeated
        done = np.zeros((batch, beam), dtype=bool)
        history = np.zeros((batch, beam, 0), dtype=np.int64)
        for t in range(max_steps):
            with mt.scope(layer="decoder", t=t):
                feature, state, _ = self.decoder.step(words, state, encoded)
            logp = self.decoder.next_word_log_probs(feature).reshape(batch, beam, -1)
            # a finished hypothesis keeps its score and writes only padding from now on
            logp[done] = -np.inf
            logp[done, WordVocabulary.pad] = 0.0
            total = (scores[:, :, None] + logp).reshape(batch, -1)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            parent, chosen = np.divmod(best, self.decoder.vocab_size)
            rows = np.arange(batch)[:, None]
            scores = total[rows, best]
            done = done[rows, parent] | (chosen == WordVocabulary.eos)
            history = np.concatenate([history[rows, parent], chosen[:, :, None]], axis=2)
            pick = (rows * beam + parent).reshape(-1)
            state = tuple(s[pick] for s in state)
            words = chosen.reshape(-1)
            if done.all():
                break
        winners = history[np.arange(batch), scores.argmax(axis=1)]
        return [[int(w) for w in row if w not in (WordVocabulary.pad, WordVocabulary.eos)]
                for row in winners]
