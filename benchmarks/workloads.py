"""The four workloads (W1-W4), and the seeded problem every variant starts from.

A ``Spec`` says what is computed; ``make_problem`` draws the weights (PyTorch's
initialisation, U(-1/sqrt(hidden), 1/sqrt(hidden))), inputs and targets once, as
float64 numpy arrays, so every variant starts from the same numbers. Parameters are
named as PyTorch's single-layer modules name them (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``) plus the readout's ``weight_out`` and ``bias_out``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SEED = 6


@dataclass(frozen=True)
class Spec:
    """One workload.

    ``readout`` workloads end in a linear readout and softmax cross-entropy against
    next-character targets and take an optimizer step; the others (deep unrolls) sum
    the hidden states as the loss and stop after backward.

    >>> W1.gates, W3.gates, W4(1000).name
    (1, 4, 'W4 T=1000')
    """

    key: str
    title: str
    cell: str  # "rnn" (tanh) or "lstm"
    input_size: int
    hidden: int
    seq_len: int
    batch: int
    readout: bool
    optimizer: str | None = None  # "adagrad" or "sgd"
    lr: float = 0.1
    reduction: str = "sum"  # of the cross-entropy over time and batch

    @property
    def gates(self) -> int:
        return 4 if self.cell == "lstm" else 1

    @property
    def name(self) -> str:
        return self.key if self.readout else f"{self.key} T={self.seq_len}"


W1 = Spec("W1", "char-RNN step (min-char-rnn): vocab 65, hidden 100, T 25, batch 1, Adagrad",
          "rnn", input_size=65, hidden=100, seq_len=25, batch=1, readout=True,
          optimizer="adagrad")
W2 = replace(W1, key="W2", batch=32,
             title="char-RNN step: vocab 65, hidden 100, T 25, batch 32, Adagrad")
W3 = Spec("W3", "LSTM language-model step: vocab 65, hidden 128, T 50, batch 32, SGD",
          "lstm", input_size=65, hidden=128, seq_len=50, batch=32, readout=True,
          optimizer="sgd", reduction="mean")

UNROLL_LENGTHS = (100, 1_000, 10_000)


def W4(seq_len: int) -> Spec:  # noqa: N802 - the workload's name, W4
    """The deep unroll: tanh RNN, hidden 32, batch 1, forward and backward only."""
    return Spec("W4", f"deep unroll: tanh RNN, hidden 32, batch 1, T {seq_len}", "rnn",
                input_size=32, hidden=32, seq_len=seq_len, batch=1, readout=False)


@dataclass
class Problem:
    """A workload's starting point: ``params`` by name, ``inputs`` (T, B, input_size)
    (one-hot characters for the readout workloads) and ``targets`` (T, B) class indices
    (the next characters; unused by the unrolls)."""

    spec: Spec
    params: dict[str, np.ndarray]
    inputs: np.ndarray
    targets: np.ndarray


def make_problem(spec: Spec, seed: int = SEED) -> Problem:
    """Draw the weights, inputs and targets of ``spec`` from ``seed``.

    >>> p = make_problem(W1)
    >>> p.inputs.shape, p.targets.shape, p.params["weight_hh"].shape
    ((25, 1, 65), (25, 1), (100, 100))
    >>> bool((p.inputs.sum(-1) == 1).all())  # one-hot characters
    True
    """
    rng = np.random.default_rng(seed)
    rows, hidden = spec.gates * spec.hidden, spec.hidden
    bound = 1 / np.sqrt(hidden)
    shapes = {"weight_ih": (rows, spec.input_size), "weight_hh": (rows, hidden),
              "bias_ih": (rows,), "bias_hh": (rows,)}
    if spec.readout:
        shapes |= {"weight_out": (spec.input_size, hidden), "bias_out": (spec.input_size,)}
    params = {name: rng.uniform(-bound, bound, shape) for name, shape in shapes.items()}
    if spec.readout:  # a character stream: each step's target is the next step's input
        text = rng.integers(0, spec.input_size, (spec.seq_len + 1, spec.batch))
        inputs = np.eye(spec.input_size)[text[:-1]]
        targets = text[1:]
    else:
        inputs = rng.standard_normal((spec.seq_len, spec.batch, spec.input_size))
        targets = np.zeros((spec.seq_len, spec.batch), dtype=np.int64)
    return Problem(spec, params, inputs, targets)
