"""Parity with PyTorch for bidirectional and packed RNN/LSTM/GRU, Embedding(padding_idx) and
LayerNorm: outputs, final states, losses and every gradient to 1e-10 in float64.

The reference values are ``tests/data/torch_seq_golden.npz`` (PyTorch 2.13; provenance and
layout in ``tests/data/README.md``), so these run without PyTorch. The schedulers' golden
curves are checked in ``tests/optim/test_lr_scheduler.py``.
"""

from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
from microtensor import nn
from microtensor.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GOLDEN = Path(__file__).resolve().parents[1] / "data/torch_seq_golden.npz"
TOLERANCE = dict(rtol=1e-10, atol=1e-10)
F64 = mt.float64
SECTIONS = {
    "birnn": (nn.RNN, dict(num_layers=2, bidirectional=True)),
    "bilstm": (nn.LSTM, dict(num_layers=2, bidirectional=True)),
    "bigru": (nn.GRU, dict(num_layers=1, bidirectional=True)),
    "packed_lstm": (nn.LSTM, dict(num_layers=2)),
    "packed_bigru": (nn.GRU, dict(num_layers=2, bidirectional=True)),
}


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return dict(data)


def section(golden, name):
    prefix = f"{name}."
    return {k[len(prefix):]: v for k, v in golden.items() if k.startswith(prefix)}


def max_abs_diff(got, want):
    return float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want))) if np.size(want) else 0.0


@pytest.mark.parametrize("name", SECTIONS)
def test_recurrent_layers_match_pytorch(golden, name, record_property):
    g = section(golden, name)
    cls, options = SECTIONS[name]
    layer = cls(3, 5, dtype=F64, **options)
    params = {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))}
    layer.load_state_dict(params)  # strict: names and shapes are PyTorch's, _reverse included
    lstm = cls is nn.LSTM
    x = mt.tensor(g["x"], requires_grad=True)
    h0 = mt.tensor(g["h0"], requires_grad=True)
    c0 = mt.tensor(g["c0"], requires_grad=True) if lstm else None
    if "lengths" in g:
        packed = pack_padded_sequence(x, g["lengths"], enforce_sorted=False)
        for key in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            np.testing.assert_array_equal(getattr(packed, key).array, g[f"pack.{key}"])
        np.testing.assert_array_equal(packed.data.array, g["pack.data"])
        out, final = layer(packed, (h0, c0) if lstm else h0)
        np.testing.assert_allclose(out.data.array, g["y_packed"], **TOLERANCE)
        y, lengths = pad_packed_sequence(out, total_length=x.shape[0])
        np.testing.assert_array_equal(lengths.array, g["lengths"])
    else:
        y, final = layer(x, (h0, c0) if lstm else h0)
    hn, cn = final if lstm else (final, None)
    loss = (y * mt.tensor(g["R"])).sum() + (hn * mt.tensor(g["Rh"])).sum()
    if lstm:
        loss = loss + (cn * cn).sum()
    loss.backward()

    got = {"y": y, "hn": hn, "loss": loss, "grad.x": x.grad, "grad.h0": h0.grad}
    if lstm:
        got |= {"cn": cn, "grad.c0": c0.grad}
    got |= {f"grad.{n}": p.grad for n, p in layer.named_parameters()}
    assert set(got) == {k for k in g if k in ("y", "hn", "cn", "loss") or k.startswith("grad.")}
    worst = 0.0
    for key, value in got.items():
        np.testing.assert_allclose(value.array, g[key], err_msg=f"{name}.{key}", **TOLERANCE)
        worst = max(worst, max_abs_diff(value.array, g[key]))
    record_property("max_abs_diff", worst)
    if "lengths" in g:  # padding steps changed nothing and got no gradient
        padding = np.arange(x.shape[0])[:, None] >= g["lengths"][None, :]
        assert not x.grad.array[padding].any() and not y.array[padding].any()


def test_embedding_padding_idx_matches_pytorch(golden, record_property):
    g = section(golden, "emb")
    emb = nn.Embedding(10, 5, padding_idx=0, dtype=F64)
    assert not emb.weight.array[0].any()  # PyTorch's init zeroes the padding row too
    emb.load_state_dict({"weight": g["weight"]})
    y = emb(mt.tensor(g["idx"]))
    loss = (y * mt.tensor(g["R"])).sum()
    loss.backward()
    for got, key in ((y, "y"), (loss, "loss"), (emb.weight.grad, "grad.weight")):
        np.testing.assert_allclose(got.array, g[key], **TOLERANCE)
    assert not emb.weight.grad.array[0].any()
    record_property("max_abs_diff", max_abs_diff(emb.weight.grad.array, g["grad.weight"]))


def test_layer_norm_matches_pytorch(golden, record_property):
    g = section(golden, "ln")
    norm = nn.LayerNorm(5, dtype=F64)
    norm.load_state_dict({"weight": g["weight"], "bias": g["bias"]})
    x = mt.tensor(g["x"], requires_grad=True)
    y = norm(x)
    loss = (y * mt.tensor(g["R"])).sum()
    loss.backward()
    worst = 0.0
    for got, key in ((y, "y"), (loss, "loss"), (x.grad, "grad.x"), (norm.weight.grad, "grad.weight"),
                     (norm.bias.grad, "grad.bias")):
        np.testing.assert_allclose(got.array, g[key], err_msg=key, **TOLERANCE)
        worst = max(worst, max_abs_diff(got.array, g[key]))
    record_property("max_abs_diff", worst)
