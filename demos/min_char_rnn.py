"""Karpathy's min-char-rnn, written with microtensor's engine ops only.

A vanilla tanh RNN reads text one character at a time and learns to predict the
next one. Every line of the forward pass is an ordinary tensor op, and the
backward pass through time is nothing but ``loss.backward()``: the engine
unrolls the 25 steps, so there is no hand-written BPTT here.

By default it trains on the English documentation text that ships with every
CPython (``pydoc_data.topics``), so nothing is downloaded:

    python -m demos.min_char_rnn                 # about a minute on a laptop CPU
    python -m demos.min_char_rnn --text FILE     # any UTF-8 text instead

Ctrl-C (or SIGTERM) stops after the current step and prints a last sample.
"""

from __future__ import annotations

import time

import numpy as np

import microtensor as mt
import microtensor.nn.functional as F
from demos.common import (
    NonFiniteLossError,
    StopOnInterrupt,
    check_finite,
    check_memory,
    exit_diverged,
    fail,
    make_parser,
    non_negative_int,
    positive_float,
    positive_int,
    run_main,
)
from models.text import read_text


def default_corpus() -> str:
    """The pydoc topics text bundled with CPython (about 0.5 MB of English prose and code)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def load_text(path: str | None) -> str:
    if path is None:
        return default_corpus()
    try:
        return read_text(path)
    except ValueError as err:
        fail(f"--text: {err}")


class CharRNN:
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h);  y_t = W_hy h_t + b_y."""

    def __init__(self, vocab: int, hidden: int) -> None:
        def param(*shape: int, scale: float = 0.01) -> mt.Tensor:
            return (mt.randn(*shape, dtype=mt.float64) * scale).requires_grad_()

        self.W_xh, self.W_hh, self.W_hy = param(hidden, vocab), param(hidden, hidden), param(vocab, hidden)
        self.b_h = mt.zeros(hidden, 1, dtype=mt.float64, requires_grad=True)
        self.b_y = mt.zeros(vocab, 1, dtype=mt.float64, requires_grad=True)
        self.params = [self.W_xh, self.W_hh, self.W_hy, self.b_h, self.b_y]

    def step(self, x_onehot: mt.Tensor, h: mt.Tensor) -> tuple[mt.Tensor, mt.Tensor]:
        h = (self.W_xh @ x_onehot + self.W_hh @ h + self.b_h).tanh()
        return self.W_hy @ h + self.b_y, h

    def loss(self, inputs: list[int], targets: list[int], h: mt.Tensor) -> tuple[mt.Tensor, mt.Tensor]:
        """Summed cross-entropy over the chunk, and the last hidden state."""
        eye = np.eye(self.W_xh.shape[1])
        total = 0.0
        for x, y in zip(inputs, targets):
            logits, h = self.step(mt.from_numpy(eye[:, [x]]), h)
            total = total + F.cross_entropy(logits.T, np.array([y]), reduction="sum")
        return total, h

    @mt.no_grad()
    def sample(self, h: mt.Tensor, seed_ix: int, n: int, rng: np.random.Generator) -> list[int]:
        eye = np.eye(self.W_xh.shape[1])
        x, out = seed_ix, []
        for _ in range(n):
            logits, h = self.step(mt.from_numpy(eye[:, [x]]), h)
            p = logits.softmax(0).numpy().ravel()
            x = int(rng.choice(len(p), p=p))
            out.append(x)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("python -m demos.min_char_rnn", __doc__)
    parser.add_argument("--text", help="UTF-8 text file to train on (default: CPython's pydoc topics)")
    parser.add_argument("--steps", type=positive_int, default=5000, help="training steps")
    parser.add_argument("--hidden", type=positive_int, default=100, help="hidden units")
    parser.add_argument("--seq-len", type=positive_int, default=25, help="BPTT length")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="Adagrad learning rate")
    parser.add_argument("--sample-every", type=positive_int, default=1000,
                        help="print a sample every N steps")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    args = parser.parse_args(argv)

    text = load_text(args.text)
    chars = sorted(set(text))
    # float64 weights, their gradients and Adagrad's memory; about 12 saved arrays per step.
    check_memory(8 * (3 * (2 * len(chars) + args.hidden + 2) * args.hidden
                      + 12 * args.seq_len * (args.hidden + len(chars))), "--hidden or --seq-len")
    ix = {c: i for i, c in enumerate(chars)}
    data = [ix[c] for c in text]
    print(f"{len(text):,} characters, {len(chars)} distinct; hidden {args.hidden}, "
          f"unrolled {args.seq_len} steps")

    mt.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = CharRNN(len(chars), args.hidden)
    memory = [np.zeros_like(p.array) for p in model.params]  # Adagrad, as in min-char-rnn
    smooth = -np.log(1.0 / len(chars)) * args.seq_len  # the loss of uniform guessing
    h = mt.zeros(args.hidden, 1, dtype=mt.float64)
    pos, start, step = 0, time.perf_counter(), 0
    with StopOnInterrupt() as stop:
        while step < args.steps and not stop.requested:
            step += 1
            if pos + args.seq_len + 1 >= len(data):
                pos, h = 0, mt.zeros(args.hidden, 1, dtype=mt.float64)
            chunk = data[pos:pos + args.seq_len + 1]
            loss, h = model.loss(chunk[:-1], chunk[1:], h)
            try:
                check_finite(loss.item(), step)  # before the update: the weights stay usable
            except NonFiniteLossError as err:
                exit_diverged(err, f"try a lower --lr than {args.lr:g}")
            loss.backward()
            h = h.detach()  # truncated BPTT: carry the state, not the graph
            with mt.no_grad():
                for p, m in zip(model.params, memory):
                    g = np.clip(p.grad.array, -5, 5)  # min-char-rnn's clipping
                    m += g * g
                    p.sub_(args.lr * g / np.sqrt(m + 1e-8))
                    p.grad = None
            smooth = 0.999 * smooth + 0.001 * loss.item()
            pos += args.seq_len
            if step % args.sample_every == 0 or step == args.steps or stop.requested:
                rate = step * args.seq_len / (time.perf_counter() - start)
                print(f"step {step}: loss {smooth / args.seq_len:.3f} nats/char, {rate:,.0f} chars/s")
                sample = model.sample(h, chunk[-1], 200, rng)
                print("----\n" + "".join(chars[i] for i in sample) + "\n----")
    return stop.exit_code


if __name__ == "__main__":
    run_main(main)
