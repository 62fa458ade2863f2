"""A packed run tags each step with the rows of the caller's batch that are padding there
(``padding``) and the batch size (``batch``), in both directions; an unpacked run does not."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.nn.utils.rnn import pack_padded_sequence

KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Scopes:
    """An engine observer that keeps the scope tags of every recorded op."""

    def __init__(self):
        self.tags = []

    def forward(self, fn, output):
        self.tags.append(dict(fn.scope))


@given(kind=st.sampled_from(sorted(KINDS)), bidirectional=st.booleans(), layers=st.integers(1, 2),
       lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), enforce_sorted=st.booleans())
def test_packed_steps_carry_the_rows_that_are_padding(kind, bidirectional, layers, lengths, enforce_sorted):
    lengths = sorted(lengths, reverse=True) if enforce_sorted else lengths
    layer = KINDS[kind](3, 4, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
    x = mt.randn(max(lengths), len(lengths), 3, dtype=mt.float64, requires_grad=True)
    with mt.observe(Scopes()) as seen:
        layer(pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted))
    steps = {}
    for tags in seen.tags:
        if "t" in tags:
            steps.setdefault((tags["layer"], tags["t"]), set()).add((tags["padding"], tags["batch"]))
    names = [f"{kind}.l{k}{suffix}" for k in range(layers)
             for suffix in (("", "_reverse") if bidirectional else ("",))]
    assert sorted(steps) == sorted((name, t) for name in names for t in range(max(lengths)))
    for (_, t), found in steps.items():
        assert found == {(tuple(int(r) for r in np.flatnonzero(np.array(lengths) <= t)), len(lengths))}


def test_an_unpacked_run_has_no_padding_tags():
    with mt.observe(Scopes()) as seen:
        nn.GRU(3, 4, bidirectional=True)(mt.randn(5, 2, 3, requires_grad=True))
    assert seen.tags and not any("padding" in tags or "batch" in tags for tags in seen.tags)
