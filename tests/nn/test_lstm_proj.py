"""``LSTM(..., proj_size=...)`` against PyTorch (same weights, outputs and gradients compared:
stacked, bidirectional, batch_first, packed, fused), its checks, the recurrent layers' and
cells' positional arguments in PyTorch's order, and the renderer on a projected LSTM."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def _pair(torch, input_size, hidden, proj, layers, bidirectional, batch_first, fused):
    theirs = torch.nn.LSTM(input_size, hidden, layers, batch_first=batch_first,
                           bidirectional=bidirectional, proj_size=proj, dtype=torch.float64)
    ours = mt.nn.LSTM(input_size, hidden, layers, batch_first=batch_first,
                      bidirectional=bidirectional, proj_size=proj, dtype=mt.float64, fused=fused)
    assert ([(n, p.shape) for n, p in ours.named_parameters()]
            == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()])
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(data=st.data(), hidden=st.integers(2, 5), layers=st.integers(1, 3),
       bidirectional=st.booleans(), batch_first=st.booleans(), fused=st.booleans(),
       with_state=st.booleans())
def test_projected_lstm_matches_pytorch(torch, data, hidden, layers, bidirectional, batch_first,
                                        fused, with_state):
    proj = data.draw(st.integers(1, hidden - 1))
    steps, batch = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    ours, theirs = _pair(torch, 3, hidden, proj, layers, bidirectional, batch_first, fused)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3))
    directions = 2 if bidirectional else 1
    states = (rng.standard_normal((layers * directions, batch, proj)),
              rng.standard_normal((layers * directions, batch, hidden)))
    ours_in = [mt.tensor(a, requires_grad=True) for a in (x, *states)]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in (x, *states)]
    out, (h, c) = ours(ours_in[0], tuple(ours_in[1:]) if with_state else None)
    t_out, (t_h, t_c) = theirs(theirs_in[0], tuple(theirs_in[1:]) if with_state else None)
    assert out.shape[-1] == directions * proj and h.shape[-1] == proj and c.shape[-1] == hidden
    for a, b in ((out, t_out), (h, t_h), (c, t_c)):
        _close(a, b)
    weights = [rng.standard_normal(a.shape) for a in (out, h, c)]
    sum((a * w).sum() for a, w in zip((out, h, c), weights)).backward()
    sum((a * torch.tensor(w)).sum() for a, w in zip((t_out, t_h, t_c), weights)).backward()
    used = ours_in if with_state else ours_in[:1]
    for a, b in zip(used, theirs_in):
        _close(a.grad, b.grad)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        _close(p.grad, q.grad)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_projected_lstm_runs_packed_sequences_as_pytorch(torch, bidirectional):
    ours, theirs = _pair(torch, 3, 4, 2, 2, bidirectional, True, False)
    x = np.random.default_rng(1).standard_normal((3, 5, 3))
    lengths = [2, 5, 3]  # unsorted
    outs = []
    for layer, tensor, pack, pad in (
            (ours, mt.tensor(x, requires_grad=True), pack_padded_sequence, pad_packed_sequence),
            (theirs, torch.tensor(x, requires_grad=True),
             torch.nn.utils.rnn.pack_padded_sequence, torch.nn.utils.rnn.pad_packed_sequence)):
        packed = pack(tensor, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = layer(packed)
        padded, _ = pad(out, batch_first=True)
        (padded.sum() + (h * h).sum() + c.sum()).backward()
        outs.append((padded, h, c, tensor.grad, layer.weight_hr_l1.grad))
    for a, b in zip(*outs):
        _close(a, b)


@pytest.mark.parametrize("proj, error, match", [
    (4, ValueError, "proj_size has to be smaller than hidden_size"),
    (7, ValueError, "proj_size has to be smaller than hidden_size"),
    (-1, ValueError, "proj_size should be a positive integer or zero"),
])
def test_bad_proj_sizes_are_refused_as_pytorch(torch, proj, error, match):
    for lib in (mt, torch):
        with pytest.raises(error, match=match):
            lib.nn.LSTM(3, 4, proj_size=proj)


@pytest.mark.parametrize("layer", ["RNN", "GRU"])
def test_proj_size_is_for_lstm_only(torch, layer):
    for lib in (mt, torch):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            getattr(lib.nn, layer)(3, 4, proj_size=2)
    # Positionally PyTorch builds a GRU that fails in forward; it is refused at once here.
    with pytest.raises(ValueError, match="only supported for LSTM"):
        mt.nn.GRU(3, 4, 1, True, False, 0.0, False, 2)
    with pytest.raises(TypeError, match="proj_size must be an int"):
        mt.nn.LSTM(3, 4, proj_size=2.0)


def test_a_projected_state_of_the_wrong_width_names_it():
    lstm = mt.nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(mt.ShapeError, match=r"expected h0 of shape \(1, 5, 2\)"):
        lstm(mt.zeros(6, 5, 3), (mt.zeros(1, 5, 4), mt.zeros(1, 5, 4)))
    with pytest.raises(mt.ShapeError, match=r"expected c0 of shape \(6, 4\)"):
        lstm.__class__(3, 4, 3, proj_size=2, bidirectional=True)(
            mt.zeros(6, 3), (mt.zeros(6, 2), mt.zeros(6, 2)))


def test_positional_arguments_mean_what_they_mean_in_pytorch(torch):
    cases = [
        ("RNN", (3, 4, 2, "relu", False, True, 0.25, True)),
        ("LSTM", (3, 4, 2, False, True, 0.25, True, 2, "cpu", None)),
        ("GRU", (3, 4, 2, False, True, 0.25, True, 0, "cpu")),
        ("RNNCell", (3, 4, False, "relu", "cpu")),
        ("LSTMCell", (3, 4, False, "cpu")),
        ("GRUCell", (3, 4, False, None, None)),
    ]
    settings = ("num_layers", "nonlinearity", "bias", "batch_first", "dropout", "bidirectional",
                "proj_size")
    for name, args in cases:
        ours, theirs = getattr(mt.nn, name)(*args), getattr(torch.nn, name)(*args)
        for setting in settings:
            if hasattr(theirs, setting):
                assert getattr(ours, setting) == getattr(theirs, setting), (name, setting)
        assert ([(n, p.shape) for n, p in ours.named_parameters()]
                == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()])
    double = mt.nn.LSTM(3, 4, 1, True, False, 0.0, False, 0, None, mt.float64)
    assert double.weight_ih_l0.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        mt.nn.LSTMCell(3, 4, True, "cuda")
    with pytest.raises(TypeError):
        mt.nn.LSTM(3, 4, 1, True, False, 0.0, False, 0, None, None, True)  # fused: keyword only


def test_a_projected_lstm_repr_as_pytorch(torch):
    for args, kwargs in (((3, 4), {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
                         ((3, 4), {"proj_size": 1})):
        assert repr(mt.nn.LSTM(*args, **kwargs)) == repr(torch.nn.LSTM(*args, **kwargs))


@pytest.mark.parametrize("fused", [False, True])
def test_a_projected_lstm_records_and_draws(fused):
    lstm = mt.nn.LSTM(3, 5, num_layers=2, proj_size=2, fused=fused)
    with mt.viz.record() as rec:
        output, (h, c) = lstm(mt.randn(4, 2, 3))
        loss = (output ** 2).sum()
        loss.backward()
    graph = mt.viz.trace(loss, rec)
    norms = graph.layer_norms()
    assert sorted(norms) == ["lstm.l0", "lstm.l1"] and all(len(v) == 4 for v in norms.values())
    assert {n.shape for n in graph.named("h")} == {(2, 2)}
    assert {n.shape for n in graph.named("c")} == {(2, 5)}
    dot = mt.viz.draw_graph(loss, rec)
    assert "cluster_step3" in dot.source
