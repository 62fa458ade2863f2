"""An LSTM learns something only memory can do: repeat the symbol it saw ``DELAY`` steps ago.

Chance is 1 in ``SYMBOLS``; a model without memory cannot beat it, because every
symbol is drawn independently. Small enough to train in a few seconds.
"""

import numpy as np

import microtensor as mt
import microtensor.nn.functional as F
from microtensor import nn
from microtensor.optim import Adam

SYMBOLS, DELAY, SEQ, BATCH, HIDDEN = 4, 3, 10, 32, 24


class Echo(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(SYMBOLS, 8)
        self.lstm = nn.LSTM(8, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, SYMBOLS)

    def forward(self, tokens):
        output, _ = self.lstm(self.embed(tokens))
        return self.head(output)  # (batch, seq, symbols)


def _batch(rng):
    tokens = rng.integers(0, SYMBOLS, size=(BATCH, SEQ))
    return mt.tensor(tokens), tokens[:, :-DELAY]  # the answer at step t is the input at t - DELAY


def _loss_and_accuracy(model, tokens, targets):
    logits = model(tokens)[:, DELAY:].reshape(-1, SYMBOLS)
    flat = targets.reshape(-1)
    accuracy = (logits.array.argmax(-1) == flat).mean()
    return F.cross_entropy(logits, flat), accuracy


def test_lstm_learns_to_echo_a_symbol_seen_three_steps_ago():
    mt.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Echo()
    optimizer = Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss, _ = _loss_and_accuracy(model, *_batch(rng))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.eval()
    with mt.no_grad():
        _, accuracy = _loss_and_accuracy(model, *_batch(np.random.default_rng(1)))
    assert accuracy > 0.9, f"accuracy {accuracy:.2f} after training (chance is {1 / SYMBOLS})"
