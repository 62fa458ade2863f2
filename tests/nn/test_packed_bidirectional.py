"""Bidirectional layers and packed sequences: each direction is a unidirectional layer on the
(reversed) sequence, each packed sequence runs as if alone, padding changes nothing and gets no
gradient; fused steps agree; live comparison with PyTorch where it is installed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)
from microtensor.testing import gradcheck

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")

F64 = mt.float64
KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INPUT, HIDDEN = 3, 4


@st.composite
def setups(draw, bidirectional=None):
    kind = draw(st.sampled_from(sorted(KINDS)), label="kind")
    layers = draw(st.integers(1, 3), label="num_layers")
    bidir = draw(st.booleans(), label="bidirectional") if bidirectional is None else bidirectional
    batch = draw(st.integers(1, 4), label="batch")
    lengths = draw(st.lists(st.integers(1, 5), min_size=batch, max_size=batch), label="lengths")
    return kind, layers, bidir, np.array(lengths)


def make(kind, layers, bidirectional, seed=0, **options):
    mt.manual_seed(seed)
    return KINDS[kind](INPUT, HIDDEN, num_layers=layers, bidirectional=bidirectional, dtype=F64,
                       **options)


def states(kind, count, batch, seed=1):
    mt.manual_seed(seed)
    hx = [mt.randn(count, batch, HIDDEN, dtype=F64, requires_grad=True)
          for _ in KINDS[kind].state_names]
    return tuple(hx) if kind == "lstm" else hx[0]


def as_tuple(final):
    return final if isinstance(final, tuple) else (final,)


@given(setup=setups(), data=st.data())
def test_packed_batch_equals_each_sequence_run_alone(setup, data):
    kind, layers, bidir, lengths = setup
    directions = 2 if bidir else 1
    layer = make(kind, layers, bidir)
    seq = int(lengths.max())
    x = mt.randn(seq, len(lengths), INPUT, dtype=F64, requires_grad=True)
    hx = states(kind, layers * directions, len(lengths))
    sort = data.draw(st.booleans(), label="sort first")
    if sort:  # enforce_sorted=True needs decreasing lengths
        order = np.argsort(-lengths, kind="stable")
        lengths, x = lengths[order], x[:, order].detach().requires_grad_()
    packed = pack_padded_sequence(x, lengths, enforce_sorted=sort)
    out, final = layer(packed, hx)
    assert isinstance(out, PackedSequence) and out.data.shape == (lengths.sum(), directions * HIDDEN)
    y, got_lengths = pad_packed_sequence(out, total_length=seq)
    np.testing.assert_array_equal(got_lengths.array, lengths)
    for b, length in enumerate(lengths):
        alone_hx = tuple(s[:, b:b + 1] for s in as_tuple(hx))
        alone_y, alone_final = layer(x[:length, b:b + 1], alone_hx if kind == "lstm" else alone_hx[0])
        np.testing.assert_allclose(y.array[:length, b:b + 1], alone_y.array, rtol=1e-12, atol=1e-12)
        assert not y.array[length:, b].any()
        for got, want in zip(as_tuple(final), as_tuple(alone_final)):
            np.testing.assert_allclose(got.array[:, b:b + 1], want.array, rtol=1e-12, atol=1e-12)
    upstream = mt.randn(*y.shape, dtype=F64)
    ((y * upstream).sum() + sum((s * s).sum() for s in as_tuple(final))).backward()
    padding = np.arange(seq)[:, None] >= lengths[None, :]
    assert not x.grad.array[padding].any()


@given(setup=setups(bidirectional=True))
def test_each_direction_is_a_unidirectional_layer(setup):
    kind, layers, _, lengths = setup
    bi = make(kind, 1, True)
    forward, backward = make(kind, 1, False), make(kind, 1, False)
    params = bi.state_dict()
    forward.load_state_dict({k: v for k, v in params.items() if not k.endswith("_reverse")})
    backward.load_state_dict({k.removesuffix("_reverse"): v for k, v in params.items()
                              if k.endswith("_reverse")})
    x = mt.randn(int(lengths.max()), len(lengths), INPUT, dtype=F64)
    out, final = bi(x)
    out_f, final_f = forward(x)
    flipped = x[np.arange(x.shape[0])[::-1]]
    out_b, final_b = backward(flipped)
    np.testing.assert_allclose(out.array[..., :HIDDEN], out_f.array, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.array[..., HIDDEN:], out_b.array[::-1], rtol=1e-12, atol=1e-12)
    for got, f, b in zip(as_tuple(final), as_tuple(final_f), as_tuple(final_b)):
        np.testing.assert_allclose(got.array, np.concatenate([f.array, b.array]), rtol=1e-12)


@given(setup=setups(), batch_first=st.booleans())
def test_fused_steps_agree_bidirectional_and_packed(setup, batch_first):
    kind, layers, bidir, lengths = setup
    composed = make(kind, layers, bidir, batch_first=batch_first)
    fused = make(kind, layers, bidir, batch_first=batch_first, fused=True)
    fused.load_state_dict(composed.state_dict())
    shape = (len(lengths), int(lengths.max()), INPUT) if batch_first else (
        int(lengths.max()), len(lengths), INPUT)
    x = mt.randn(*shape, dtype=F64)
    for inputs in (x, pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)):
        results = []
        for layer in (composed, fused):
            out, final = layer(inputs)
            out = out.data if isinstance(out, PackedSequence) else out
            grads = mt.grad((out * out).sum() + sum(s.sum() for s in as_tuple(final)),
                            list(layer.parameters()))
            results.append([out, *as_tuple(final), *grads])
        for got, want in zip(*results):
            np.testing.assert_allclose(got.array, want.array, rtol=1e-12, atol=1e-12)


@needs_torch
@given(setup=setups(), packed=st.booleans(), batch_first=st.booleans())
def test_live_parity_with_pytorch(setup, packed, batch_first):
    kind, layers, bidir, lengths = setup
    directions = 2 if bidir else 1
    ours = make(kind, layers, bidir, batch_first=batch_first)
    theirs = getattr(torch.nn, kind.upper())(INPUT, HIDDEN, num_layers=layers, bidirectional=bidir,
                                              batch_first=batch_first).double()
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})
    seq, batch = int(lengths.max()), len(lengths)
    x_np = np.random.default_rng(int(lengths.sum())).standard_normal(
        (batch, seq, INPUT) if batch_first else (seq, batch, INPUT))
    hx = as_tuple(states(kind, layers * directions, batch))
    x, t_x = mt.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    t_hx = tuple(torch.tensor(s.array, requires_grad=True) for s in hx)
    if packed:
        our_in = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
        their_in = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths), batch_first,
                                                           enforce_sorted=False)
        np.testing.assert_array_equal(our_in.data.array, their_in.data.detach().numpy())
    else:
        our_in, their_in = x, t_x
    out, final = ours(our_in, hx if kind == "lstm" else hx[0])
    t_out, t_final = theirs(their_in, t_hx if kind == "lstm" else t_hx[0])
    if packed:
        out, t_out = out.data, t_out.data
    rng = np.random.default_rng(7)
    upstream = rng.standard_normal(out.shape)
    ups = [rng.standard_normal(s.shape) for s in as_tuple(final)]
    ((out * mt.tensor(upstream)).sum() + sum((s * mt.tensor(u)).sum()
                                              for s, u in zip(as_tuple(final), ups))).backward()
    ((t_out * torch.tensor(upstream)).sum() + sum((s * torch.tensor(u)).sum()
                                                  for s, u in zip(as_tuple(t_final), ups))).backward()
    pairs = [(out, t_out), *zip(as_tuple(final), as_tuple(t_final)), (x.grad, t_x.grad),
             *zip([s.grad for s in hx], [s.grad for s in t_hx]),
             *((p.grad, q.grad) for p, q in zip(ours.parameters(), theirs.parameters()))]
    for got, want in pairs:
        np.testing.assert_allclose(got.array, want.detach().numpy(), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------- the utilities
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), batch_first=st.booleans(),
       side=st.sampled_from(["right", "left"]), value=st.sampled_from([0.0, -1.5]))
def test_pad_sequence_places_each_sequence_and_passes_gradients(lengths, batch_first, side, value):
    sequences = [mt.randn(n, 2, dtype=F64, requires_grad=True) for n in lengths]
    padded = pad_sequence(sequences, batch_first, value, side)
    longest = max(lengths)
    assert padded.shape == ((len(lengths), longest, 2) if batch_first else (longest, len(lengths), 2))
    rows = padded.array if batch_first else padded.array.transpose(1, 0, 2)
    for row, s, n in zip(rows, sequences, lengths):
        real = row[:n] if side == "right" else row[longest - n:]
        pad = row[n:] if side == "right" else row[:longest - n]
        np.testing.assert_array_equal(real, s.array)
        assert (pad == value).all()
    padded.sum().backward()
    assert all((s.grad.array == 1).all() for s in sequences)


@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), batch_first=st.booleans())
def test_pack_then_pad_is_the_identity_on_real_steps(lengths, batch_first):
    sequences = [mt.randn(n, 3, dtype=F64) for n in lengths]
    packed = pack_sequence(sequences, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [sum(n > t for n in lengths) for t in range(max(lengths))]
    padded, got = pad_packed_sequence(packed, batch_first, padding_value=7.0)
    assert got.tolist() == lengths
    np.testing.assert_array_equal(padded.array, pad_sequence(sequences, batch_first, 7.0).array)
    repacked = pack_padded_sequence(padded, got, batch_first, enforce_sorted=False)
    np.testing.assert_array_equal(repacked.data.array, packed.data.array)


@needs_torch
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5), batch_first=st.booleans())
def test_packing_matches_pytorch_layout(lengths, batch_first):
    seq, batch = max(lengths), len(lengths)
    x = np.random.default_rng(0).standard_normal((batch, seq, 2) if batch_first else (seq, batch, 2))
    ours = pack_padded_sequence(mt.tensor(x), lengths, batch_first, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths),
                                                     batch_first, enforce_sorted=False)
    np.testing.assert_array_equal(ours.batch_sizes.array, theirs.batch_sizes.numpy())
    np.testing.assert_array_equal(ours.data.array, theirs.data.numpy())
    padded, _ = pad_packed_sequence(ours, batch_first, total_length=seq + 1)
    t_padded, _ = torch.nn.utils.rnn.pad_packed_sequence(theirs, batch_first, total_length=seq + 1)
    np.testing.assert_array_equal(padded.array, t_padded.numpy())


def test_packing_errors_name_the_problem():
    x = mt.zeros(4, 3, 2)
    with pytest.raises(ValueError, match=r"lengths \[2, 4, 1\] must be sorted in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match="every sequence must have at least one step"):
        pack_padded_sequence(x, [4, 0, 0], enforce_sorted=False)
    with pytest.raises(ValueError, match="a length of 5 is longer than the 4 steps"):
        pack_padded_sequence(x, [5, 1, 1])
    with pytest.raises(ValueError, match="expected 3 lengths"):
        pack_padded_sequence(x, [4, 1])
    with pytest.raises(ValueError, match="total_length=2 is shorter than the longest sequence"):
        pad_packed_sequence(pack_padded_sequence(x, [4, 2, 1]), total_length=2)
    with pytest.raises(ValueError, match="sequence 1 has shape"):
        pad_sequence([mt.zeros(2, 3), mt.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape PackedSequence data"):
        nn.LSTM(3, 4)(pack_padded_sequence(mt.zeros(4, 2, 5), [4, 2]))


def test_bidirectional_parameters_and_state_shapes_follow_pytorch():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in gru.named_parameters()]
    assert names[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                         "bias_hh_l0_reverse"]
    assert gru.weight_ih_l1.shape == (12, 8) and repr(gru) == "GRU(3, 4, num_layers=2, bidirectional=True)"
    out, h_n = gru(mt.randn(5, 3))  # unbatched
    assert out.shape == (5, 8) and h_n.shape == (4, 4)
    with pytest.raises(ValueError, match=r"GRU: expected h0 of shape \(4, 2, 4\), got \(2, 2, 4\)"):
        gru(mt.randn(5, 2, 3), mt.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        nn.RNN(3, 4, bidirectional=1)


def test_reverse_steps_are_tagged_as_their_own_layer():
    lstm = nn.LSTM(2, 3, bidirectional=True)
    with mt.viz.record() as rec:
        out, _ = lstm(mt.randn(4, 1, 2, requires_grad=True))
    layers = {n.layer for n in mt.viz.trace(out.sum(), rec).nodes.values() if n.kind == "op"}
    assert {"lstm.l0", "lstm.l0_reverse"} <= layers


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dropout_acts_between_layers_of_both_directions(kind):
    layer = make(kind, 2, True, dropout=1.0)  # p=1: the second layer sees zeros in training
    x = mt.randn(4, 2, INPUT, dtype=F64, requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    assert not x.grad.array.any()
    x.grad = None
    layer.eval()(x)[0].sum().backward()
    assert x.grad.array.any()


@settings(max_examples=6)  # finite differences over every parameter: a few examples suffice
@given(setup=setups())
def test_packed_layer_gradients_check(setup):
    kind, layers, bidir, lengths = setup
    layer = make(kind, min(layers, 2), bidir)
    x = mt.randn(int(lengths.max()), len(lengths), INPUT, dtype=F64, requires_grad=True)
    hx = as_tuple(states(kind, layer.num_layers * (2 if bidir else 1), len(lengths)))
    params = list(layer.parameters())

    def run(x, *tensors):
        # gradcheck passes fresh tensors for the perturbed parameters: put them in place
        states, weights = tensors[:len(hx)], tensors[len(hx):]
        saved = dict(layer._parameters)
        layer._parameters.update(zip(saved, weights))
        try:
            out, final = layer(pack_padded_sequence(x, lengths, enforce_sorted=False),
                               states if kind == "lstm" else states[0])
        finally:
            layer._parameters.update(saved)
        return mt.cat([out.data.reshape(-1), *(s.reshape(-1) for s in as_tuple(final))])

    assert gradcheck(run, [x, *hx, *params])
