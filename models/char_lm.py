"""A character-level language model: read text one character at a time, predict the next.

    characters -> embedding (or one-hot) -> RNN / LSTM / GRU, any depth -> linear readout -> logits

Everything is a ``microtensor.nn`` layer, so backpropagation through time is the
engine's ordinary ``loss.backward()``. The vocabulary travels with the model:
``config()`` holds its code points as an int array, so a checkpoint alone is enough
to generate text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import microtensor as mt
from microtensor import nn
from microtensor.generators import generator as default_generator
from microtensor.nn import functional as F

from . import CELLS
from .text import Vocabulary

#: A recurrent state: ``h`` (RNN, GRU) or ``(h, c)`` (LSTM), each (num_layers, batch, hidden).
State = Any


class CharLM(nn.Module):
    """Embedding (or one-hot when ``embedding_dim`` is None), a ``cell`` layer of
    ``num_layers`` and a linear readout to one logit per vocabulary character.

    ``forward(inputs, state)`` takes integer characters (batch, seq) and returns logits
    (batch, seq, vocab) and the state after the last character, to pass to the next chunk.

    >>> import microtensor as mt
    >>> from models.text import Vocabulary
    >>> _ = mt.manual_seed(0)  # returns the default generator, as PyTorch
    >>> model = CharLM(Vocabulary.from_text("abc"), hidden_size=8, num_layers=2, cell="gru")
    >>> logits, state = model(np.zeros((4, 5), dtype=np.int64))
    >>> logits.shape, state.shape, logits.dtype
    ((4, 5, 3), (2, 4, 8), dtype('float32'))
    """

    def __init__(self, vocab: Vocabulary, hidden_size: int = 256, num_layers: int = 1,
                 cell: str = "lstm", embedding_dim: int | None = None, dropout: float = 0.0,
                 dtype: Any = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: cell must be one of {sorted(CELLS)}, got {cell!r}")
        if embedding_dim is not None and embedding_dim < 1:
            raise ValueError(f"CharLM: embedding_dim must be positive or None (one-hot), "
                             f"got {embedding_dim}")
        self.vocab, self.cell = vocab, cell
        size = len(vocab)
        self.embedding = None if embedding_dim is None else nn.Embedding(size, embedding_dim, dtype=dtype)
        self.rnn = CELLS[cell](embedding_dim or size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout, dtype=dtype)
        # Dropout on the connections that are not recurrent (Zaremba et al., 2014): between
        # layers inside the RNN, and here on the top layer's output, so one layer gets it too.
        self.output_dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, size, dtype=dtype)

    @property
    def dtype(self) -> np.dtype:
        return self.readout.weight.dtype

    def forward(self, inputs: Any, state: State = None) -> tuple[mt.Tensor, State]:
        """Logits (batch, seq, vocab) for the character after each input, and the final state."""
        inputs = np.asarray(inputs.array if isinstance(inputs, mt.Tensor) else inputs)
        if inputs.ndim != 2 or inputs.dtype.kind not in "iu":
            raise ValueError(f"CharLM: expected integer characters of shape (batch, seq), got "
                             f"dtype {inputs.dtype} and shape {inputs.shape}")
        if self.embedding is not None:
            x = self.embedding(inputs)
        else:
            x = F.one_hot(inputs, len(self.vocab)).to(self.dtype)
        hidden, state = self.rnn(x, state)
        hidden = self.output_dropout(hidden)
        batch, seq, size = hidden.shape
        logits = self.readout(hidden.reshape(batch * seq, size))  # one 2-d matmul
        return logits.reshape(batch, seq, len(self.vocab)), state

    @mt.no_grad()
    def sample(self, prefix: str, n: int, temperature: float = 1.0, top_k: int | None = None,
               generator: np.random.Generator | None = None) -> str:
        """``n`` characters drawn one at a time after reading ``prefix`` (not included).

        ``temperature`` below 1 sharpens the distribution, above 1 flattens it; ``top_k``
        draws only from the k likeliest characters. ``generator`` defaults to the one
        ``mt.manual_seed`` seeds.

        >>> import microtensor as mt
        >>> from models.text import Vocabulary
        >>> _ = mt.manual_seed(0)  # returns the default generator, as PyTorch
        >>> model = CharLM(Vocabulary.from_text("ab\\n"), hidden_size=4)
        >>> text = model.sample("a", 10, temperature=0.8, top_k=2)
        >>> len(text), set(text) <= set("ab\\n")
        (10, True)
        """
        if not prefix:
            raise ValueError("CharLM.sample: prefix must hold at least one character to "
                             "start from")
        if n < 0:
            raise ValueError(f"CharLM.sample: n must be >= 0, got {n}")
        check_sampling(temperature, top_k)
        generator = default_generator() if generator is None else generator
        was_training = self.training
        self.eval()
        try:
            logits, state = self(self.vocab.encode(prefix)[None, :])
            chosen = []
            for _ in range(n):
                probs = next_char_probs(logits.array[0, -1], temperature, top_k)
                chosen.append(int(generator.choice(len(probs), p=probs)))
                logits, state = self(np.array([[chosen[-1]]]), state)
        finally:
            self.train(was_training)
        return self.vocab.decode(chosen)

    # ------------------------------------------------------------------ checkpoints
    def config(self) -> dict[str, Any]:
        """What ``from_config`` needs to rebuild this model (vocabulary included), in
        types ``mt.save`` stores without pickle.

        >>> from models.text import Vocabulary
        >>> config = CharLM(Vocabulary.from_text("ab"), hidden_size=4).config()
        >>> config["vocab"].tolist(), config["cell"], config["hidden_size"]
        ([97, 98], 'lstm', 4)
        """
        return {"vocab": self.vocab.codepoints, "hidden_size": self.rnn.hidden_size,
                "num_layers": self.rnn.num_layers, "cell": self.cell,
                "embedding_dim": None if self.embedding is None else self.embedding.embedding_dim,
                "dropout": self.rnn.dropout, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CharLM:
        """A freshly initialised model shaped as ``config`` says; load weights into it with
        ``load_state_dict``.

        >>> from models.text import Vocabulary
        >>> model = CharLM(Vocabulary.from_text("ab"), hidden_size=4, cell="rnn")
        >>> CharLM.from_config(model.config()).rnn
        RNN(2, 4, batch_first=True)
        """
        settings = dict(config)
        vocab = Vocabulary(settings.pop("vocab"))
        return cls(vocab, **settings)


def next_char_probs(logits: np.ndarray, temperature: float = 1.0,
                    top_k: int | None = None) -> np.ndarray:
    """The distribution to draw the next character from: ``softmax(logits / temperature)``,
    restricted to the ``top_k`` largest logits. Float64, so it sums to 1 for numpy's
    ``choice``.

    >>> next_char_probs(np.log(np.array([0.5, 0.3, 0.2]))).round(2).tolist()
    [0.5, 0.3, 0.2]
    >>> next_char_probs(np.log(np.array([0.5, 0.3, 0.2])), top_k=2).round(3).tolist()
    [0.625, 0.375, 0.0]
    >>> next_char_probs(np.array([1.0, 0.0]), temperature=0.1).round(4).tolist()  # near argmax
    [1.0, 0.0]
    >>> next_char_probs(np.array([1.0, 0.0]), temperature=1e-320).tolist()  # argmax, no overflow
    [1.0, 0.0]
    """
    check_sampling(temperature, top_k)
    logits = np.asarray(logits, dtype=np.float64)
    # Shifted before dividing: a tiny temperature then gives -inf, never inf - inf = nan.
    with np.errstate(over="ignore"):
        scores = (logits - logits.max()) / temperature
    if top_k is not None and top_k < scores.size:
        threshold = np.partition(scores, -top_k)[-top_k]
        scores = np.where(scores >= threshold, scores, -np.inf)
    scores = np.exp(scores - scores.max())
    return scores / scores.sum()


def check_sampling(temperature: float, top_k: int | None) -> None:
    """``ValueError`` unless ``temperature`` > 0 and ``top_k`` is None or >= 1.

    >>> check_sampling(0.0, None)
    Traceback (most recent call last):
    ...
    ValueError: sampling: temperature must be > 0, got 0.0
    """
    if not temperature > 0:
        raise ValueError(f"sampling: temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"sampling: top_k must be >= 1 or None, got {top_k}")


def detach(state: State) -> State:
    """The state with its history cut off: what truncated BPTT carries to the next chunk.

    >>> import microtensor as mt
    >>> h = mt.ones(1, 2, requires_grad=True) * 2
    >>> [s.requires_grad for s in detach((h, h))]
    [False, False]
    """
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


@mt.no_grad()
def evaluate(model: CharLM, data: np.ndarray, batch_size: int = 64, seq_len: int = 256) -> float:
    """Mean cross-entropy (nats per character) of ``model`` predicting ``data``.

    ``data`` is read as ``batch_size`` contiguous streams, the state carried along each,
    so every character but the first of each stream (and the few left over at the end)
    is predicted from all the text before it in its stream.

    >>> import microtensor as mt
    >>> from models.text import Vocabulary
    >>> model = CharLM(Vocabulary.from_text("ab"), hidden_size=4)
    >>> 0 < evaluate(model, np.array([0, 1] * 50), batch_size=2, seq_len=8) < 2
    True
    """
    length = len(data) // batch_size
    if length < 2:
        raise ValueError(f"evaluate: {len(data)} characters are too few for {batch_size} "
                         "streams of at least 2")
    was_training = model.training
    model.eval()
    streams = np.asarray(data[:length * batch_size], dtype=np.int64).reshape(batch_size, length)
    total, count, state = 0.0, 0, None
    for start in range(0, length - 1, seq_len):
        window = streams[:, start:start + seq_len + 1]
        logits, state = model(window[:, :-1], state)
        targets = window[:, 1:].reshape(-1)
        total += F.cross_entropy(logits.reshape(targets.size, -1), targets, reduction="sum").item()
        count += targets.size
    model.train(was_training)
    return total / count
