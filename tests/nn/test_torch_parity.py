"""Parity with PyTorch: the same parameters and inputs give the same outputs, final states,
loss and every gradient, to 1e-10 in float64.

The reference values come from ``tests/data/torch_rnn_lstm_golden.npz`` (made with
PyTorch 2.13; provenance and layout in ``tests/data/README.md``), so a clean clone runs these
tests without PyTorch installed.
"""

from pathlib import Path

import numpy as np
import pytest

import microtensor as mt

GOLDEN = Path(__file__).resolve().parents[1] / "data/torch_rnn_lstm_golden.npz"
TOLERANCE = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return dict(data)


def _load(model, golden, prefix):
    """Load the PyTorch parameters ``prefix.*`` through ``load_state_dict``, as plain arrays."""
    names = [k.split(".", 1)[1] for k in golden if k.startswith(prefix + ".weight")
             or k.startswith(prefix + ".bias")]
    model.load_state_dict({name: golden[f"{prefix}.{name}"] for name in names})
    return model


def _assert_close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOLERANCE)


def test_rnn_matches_pytorch(golden):
    rnn = _load(mt.nn.RNN(4, 6, num_layers=2, dtype=mt.float64), golden, "rnn")
    x = mt.tensor(golden["x"], requires_grad=True)
    h0 = mt.tensor(golden["rnn.h0"], requires_grad=True)

    y, hn = rnn(x, h0)
    loss = (y * mt.tensor(golden["R"])).sum() + hn.sum()
    loss.backward()

    _assert_close(y.array, golden["rnn.y"], "output")
    _assert_close(hn.array, golden["rnn.hn"], "h_n")
    _assert_close(loss.item(), golden["rnn.loss"], "loss")
    _assert_close(x.grad.array, golden["rnn.grad.x"], "grad x")
    _assert_close(h0.grad.array, golden["rnn.grad.h0"], "grad h0")
    for name, param in rnn.named_parameters():
        _assert_close(param.grad.array, golden[f"rnn.grad.{name}"], f"grad {name}")


def test_lstm_matches_pytorch(golden):
    lstm = _load(mt.nn.LSTM(4, 6, num_layers=2, dtype=mt.float64), golden, "lstm")
    x = mt.tensor(golden["x"], requires_grad=True)
    h0 = mt.tensor(golden["lstm.h0"], requires_grad=True)
    c0 = mt.tensor(golden["lstm.c0"], requires_grad=True)

    y, (hn, cn) = lstm(x, (h0, c0))
    loss = (y * mt.tensor(golden["R"])).sum() + hn.sum() + (cn ** 2).sum()
    loss.backward()

    _assert_close(y.array, golden["lstm.y"], "output")
    _assert_close(hn.array, golden["lstm.hn"], "h_n")
    _assert_close(cn.array, golden["lstm.cn"], "c_n")
    _assert_close(loss.item(), golden["lstm.loss"], "loss")
    _assert_close(x.grad.array, golden["lstm.grad.x"], "grad x")
    _assert_close(h0.grad.array, golden["lstm.grad.h0"], "grad h0")
    _assert_close(c0.grad.array, golden["lstm.grad.c0"], "grad c0")
    names = [name for name, _ in lstm.named_parameters()]
    assert len(names) == 8
    for name, param in lstm.named_parameters():
        _assert_close(param.grad.array, golden[f"lstm.grad.{name}"], f"grad {name}")


def test_batch_first_lstm_matches_pytorch(golden):
    """The same reference, fed batch-first: only the layout of input and output changes."""
    lstm = _load(mt.nn.LSTM(4, 6, num_layers=2, batch_first=True, dtype=mt.float64), golden,
                 "lstm")
    x = mt.tensor(golden["x"].transpose(1, 0, 2))
    y, (hn, cn) = lstm(x, (mt.tensor(golden["lstm.h0"]), mt.tensor(golden["lstm.c0"])))
    _assert_close(y.array, golden["lstm.y"].transpose(1, 0, 2), "output")
    _assert_close(hn.array, golden["lstm.hn"], "h_n")
    _assert_close(cn.array, golden["lstm.cn"], "c_n")
