"""Encoders and the encoder-decoder: padding changes nothing, attention respects the mask,
the loss skips padding, greedy and beam search decode what the model scores best."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from models.encoders import ColumnEncoder, WordEncoder
from models.seq2seq import Seq2Seq
from models.sequences import WordVocabulary, make_batch, pad_ids

lengths_lists = st.lists(st.integers(1, 6), min_size=1, max_size=4)


def _word_model(attention="additive", vocab=9, hidden=5, seed=0):
    mt.manual_seed(seed)
    return Seq2Seq(WordEncoder(12, 4, hidden), vocab_size=vocab, embed_size=3, hidden_size=hidden,
                   attention=attention)


def _random_ids(lengths, rng, high=12):
    return [rng.integers(3, high, n).tolist() for n in lengths]


@given(lengths=lengths_lists, seed=st.integers(0, 2**32 - 1))
def test_word_encoder_rows_do_not_see_padding(lengths, seed):
    """Each row's keys and summary are those of the row encoded alone, whatever the padding holds."""
    mt.set_default_dtype(mt.float64)
    rng = np.random.default_rng(seed)
    encoder = WordEncoder(12, 3, 4)
    sources = _random_ids(lengths, rng)
    ids = pad_ids(sources)
    ids[ids == 0] = rng.integers(3, 12, (ids == 0).sum())  # junk in the padding
    encoded = encoder(ids, np.array(lengths))
    for row, source in enumerate(sources):
        alone = encoder(np.array([source]), np.array([len(source)]))
        np.testing.assert_allclose(encoded.keys.array[row, :len(source)], alone.keys.array[0], atol=1e-12)
        np.testing.assert_allclose(encoded.summary.array[row], alone.summary.array[0], atol=1e-12)
        assert encoded.mask[row].sum() == len(source)


@given(widths=st.lists(st.integers(1, 21), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_column_encoder_rows_do_not_see_padding(widths, seed):
    mt.set_default_dtype(mt.float64)
    rng = np.random.default_rng(seed)
    encoder = ColumnEncoder(height=3, embed_size=4, hidden_size=3, window=4, stride=2)
    columns = rng.random((len(widths), max(widths), 3))
    clean = columns * (np.arange(max(widths)) < np.array(widths)[:, None])[..., None]
    encoded = encoder(clean, np.array(widths))
    for row, width in enumerate(widths):
        alone = encoder(columns[row:row + 1, :width], np.array([width]))
        n = -(-width // 2)
        assert encoded.mask[row].sum() == n == alone.keys.shape[1]
        np.testing.assert_allclose(encoded.keys.array[row, :n], alone.keys.array[0], atol=1e-12)
        np.testing.assert_allclose(encoded.summary.array[row], alone.summary.array[0], atol=1e-12)


def test_column_windows_are_centred_and_zero_outside():
    encoder = ColumnEncoder(height=1, embed_size=2, hidden_size=2, window=4, stride=2)
    windows = encoder.windows(np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1))
    assert windows[0].tolist() == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 0, 0]]
    with pytest.raises(ValueError, match="window must be stride plus an even number"):
        ColumnEncoder(1, 2, 2, window=5, stride=2)
    with pytest.raises(ValueError, match=r"expected columns \(batch, W, 1\) and widths"):
        encoder(np.zeros((2, 5, 3)), np.array([5, 5]))


@given(lengths=lengths_lists, seed=st.integers(0, 2**32 - 1))
def test_attention_is_a_distribution_over_real_positions(lengths, seed):
    rng = np.random.default_rng(seed)
    model = _word_model(seed=seed % 1000)
    decoded = model.greedy(pad_ids(_random_ids(lengths, rng)), np.array(lengths), max_steps=4)
    weights = decoded.attention
    assert weights.shape[::2] == (len(lengths), max(lengths))
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
    mask = np.arange(max(lengths)) < np.array(lengths)[:, None]
    assert (weights[~np.broadcast_to(mask[:, None], weights.shape)] == 0).all()


@given(lengths=lengths_lists, target_lengths=lengths_lists, seed=st.integers(0, 2**32 - 1))
def test_loss_is_the_mean_over_real_target_words(lengths, target_lengths, seed):
    """The batch loss weighs each row's own loss by its word count; padding adds nothing."""
    mt.set_default_dtype(mt.float64)
    rng = np.random.default_rng(seed)
    target_lengths = (target_lengths * len(lengths))[:len(lengths)]
    sources = _random_ids(lengths, rng)
    targets = _random_ids(target_lengths, rng, high=9)
    model = _word_model()
    batch = make_batch(pad_ids(sources), lengths, targets)
    alone = [model.loss(make_batch(pad_ids([s]), [len(s)], [t])).item() for s, t in zip(sources, targets)]
    words = np.array(target_lengths) + 1  # with </s>
    np.testing.assert_allclose(model.loss(batch).item(), np.dot(alone, words) / words.sum(), rtol=1e-9)


def test_what_the_decoder_reads_after_a_target_ends_changes_nothing():
    """Teacher forcing feeds <pad> after a short target's end; whatever is read there, the
    loss and every gradient are the same (those steps are ignored), and the padding row of
    the embedding gets no gradient."""
    mt.set_default_dtype(mt.float64)
    model = _word_model()
    batch = make_batch(pad_ids([[3, 4, 5], [6]]), [3, 1], [[3], [4, 5, 6, 7]])
    junk = batch.target_in.copy()
    junk[0, 2:] = [5, 6, 7]
    results = []
    for target_in in (batch.target_in, junk):
        model.zero_grad()
        loss = model.loss(type(batch)(batch.source, batch.source_lengths, target_in, batch.target_out))
        loss.backward()
        results.append((loss.item(), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    for name in grads_a:  # the embedding rows of the junk words included
        np.testing.assert_allclose(grads_a[name], grads_b[name], atol=1e-12, err_msg=name)
    assert not grads_a["decoder.embedding.weight"][WordVocabulary.pad].any()


def _log_prob(model, source, target):
    """log p(target + </s> | source), step by step."""
    with mt.no_grad():
        encoded = model.encoder(np.array([source]), np.array([len(source)]))
        state = model.decoder.start(encoded)
        total, previous = 0.0, WordVocabulary.bos
        for word in target:
            feature, state, _ = model.decoder.step(np.array([previous]), state, encoded)
            total += model.decoder.readout(feature).log_softmax(dim=-1).array[0, word]
            previous = word
    return total


@pytest.mark.parametrize("attention", ["additive", None])
def test_beam_search_with_a_wide_beam_finds_the_best_sequence(attention):
    """With a beam as wide as every prefix, beam search is exhaustive: it must return the
    highest-scoring sequence of up to 3 words, checked by enumerating them all."""
    mt.set_default_dtype(mt.float64)
    model = _word_model(attention=attention, vocab=5, seed=3)
    words, steps = (WordVocabulary.eos, 3, 4), 3
    for source in ([3, 4, 5], [7]):
        candidates = []
        for n in range(1, steps + 1):
            for seq in itertools.product(words, repeat=n):
                if WordVocabulary.eos in seq[:-1]:
                    continue
                finished = seq[-1] == WordVocabulary.eos
                if not finished and n < steps:
                    continue
                candidates.append((_log_prob(model, source, seq), [w for w in seq if w > 2]))
        best = max(candidates)[1]
        found = model.beam_search(np.array([source]), np.array([len(source)]), beam=27, max_steps=steps)
        assert found == [best]


@given(lengths=lengths_lists, seed=st.integers(0, 2**32 - 1))
def test_a_beam_of_one_is_greedy(lengths, seed):
    rng = np.random.default_rng(seed)
    model = _word_model(vocab=6, seed=seed % 1000)
    source = pad_ids(_random_ids(lengths, rng))
    greedy = model.greedy(source, np.array(lengths), max_steps=6).ids
    assert model.beam_search(source, np.array(lengths), beam=1, max_steps=6) == greedy


@given(lengths=lengths_lists, seed=st.integers(0, 2**32 - 1))
def test_each_row_decodes_as_it_would_alone(lengths, seed):
    """Greedy and beam search over a padded batch give every row what it gets on its own."""
    mt.set_default_dtype(mt.float64)
    rng = np.random.default_rng(seed)
    model = _word_model(vocab=6, seed=seed % 1000)
    sources = _random_ids(lengths, rng)
    batch_greedy = model.greedy(pad_ids(sources), np.array(lengths), max_steps=5)
    batch_beam = model.beam_search(pad_ids(sources), np.array(lengths), beam=3, max_steps=5)
    for row, source in enumerate(sources):
        alone = model.greedy(np.array([source]), np.array([len(source)]), max_steps=5)
        assert batch_greedy.ids[row] == alone.ids[0]
        steps = alone.attention.shape[1]
        np.testing.assert_allclose(batch_greedy.attention[row, :steps, :len(source)], alone.attention[0],
                                   atol=1e-12)
        assert batch_beam[row] == model.beam_search(np.array([source]), np.array([len(source)]), beam=3,
                                                    max_steps=5)[0]


def test_learns_to_reverse_short_sequences():
    """Reversal needs the decoder to find source word n-k at output step k: with attention
    it is learnt in a few hundred steps."""
    mt.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Seq2Seq(WordEncoder(8, 8, 16), vocab_size=8, embed_size=8, hidden_size=16)
    optimizer = mt.optim.Adam(model.parameters(), lr=0.02)

    def batch(n):
        lengths = rng.integers(1, 5, n)
        sources = [rng.integers(3, 8, k).tolist() for k in lengths]
        return make_batch(pad_ids(sources), lengths, [s[::-1] for s in sources]), sources

    for _ in range(250):
        optimizer.zero_grad()
        model.loss(batch(32)[0]).backward()
        optimizer.step()
    test, sources = batch(200)
    decoded = model.greedy(test.source, test.source_lengths, max_steps=6).ids
    assert np.mean([d == s[::-1] for d, s in zip(decoded, sources)]) > 0.9


def test_scope_tags_and_the_named_attention_weights():
    model = _word_model()
    batch = make_batch(pad_ids([[3, 4]]), [2], [[3, 4, 5]])
    with mt.viz.record() as recording:
        loss = model.loss(batch)
        loss.backward()
    graph = mt.viz.trace(loss, recording)
    layers = {node.layer or "" for node in graph.nodes.values() if node.kind == "op"}
    assert {layer.split(".")[0] for layer in layers} == {"encoder", "decoder", ""}  # "": the loss
    steps = {node.step for node in graph.nodes.values() if (node.layer or "").startswith("decoder")}
    assert steps == {0, 1, 2, 3}
    assert sum(node.name == "attention" for node in graph.nodes.values()) == 4


def test_clear_errors():
    with pytest.raises(ValueError, match="attention must be one of"):
        _word_model(attention="cosine")
    model = _word_model()
    with pytest.raises(ValueError, match="beam must be at least 1"):
        model.beam_search(np.array([[3]]), np.array([1]), beam=0, max_steps=2)
    with pytest.raises(ValueError, match=r"expected ids \(batch, S\) and lengths \(batch,\)"):
        model.encoder(np.array([3, 4]), np.array([2]))


class _Scopes:
    """An engine observer that keeps the scope tags of every recorded op."""

    def __init__(self):
        self.tags = []

    def forward(self, fn, output):
        self.tags.append(dict(fn.scope))


@given(target_lengths=st.lists(st.integers(0, 4), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_each_decoder_step_is_tagged_with_the_rows_whose_target_has_ended(target_lengths, seed):
    rng = np.random.default_rng(seed)
    batch = len(target_lengths)
    targets = [list(rng.integers(3, 9, n)) for n in target_lengths]
    model = _word_model()
    with mt.observe(_Scopes()) as seen:
        model(make_batch(pad_ids([[3, 4]] * batch), [2] * batch, targets))
    steps = {}
    for tags in seen.tags:
        if tags.get("layer") == "decoder":  # a step of the teacher-forced decoder
            steps.setdefault(tags["t"], set()).add((tags["padding"], tags["batch"]))
    steps_needed = max(target_lengths) + 1  # each target and its </s>
    assert sorted(steps) == list(range(steps_needed))
    for t, found in steps.items():  # past a row's </s> it is padding: computed, its loss masked out
        assert found == {(tuple(r for r, n in enumerate(target_lengths) if n + 1 <= t), batch)}
