"""CharLM: shapes, carried state, gradients, sampling, evaluation and checkpoints."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn import functional as F
from models.char_lm import CharLM, detach, evaluate, next_char_probs
from models.text import Vocabulary

VOCAB = Vocabulary.from_text("abcd\n")


def tokens(batch, seq, seed=0):
    return np.random.default_rng(seed).integers(0, len(VOCAB), size=(batch, seq))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embedding_dim", [None, 3])
def test_forward_shapes_dtypes_and_state(cell, embedding_dim):
    model = CharLM(VOCAB, hidden_size=6, num_layers=2, cell=cell, embedding_dim=embedding_dim)
    logits, state = model(tokens(3, 7))
    assert logits.shape == (3, 7, len(VOCAB)) and logits.dtype == np.float32
    states = state if cell == "lstm" else (state,)
    assert all(s.shape == (2, 3, 6) for s in states)
    assert [type(m).__name__ for m in model.children()] == (
        ["Embedding"] if embedding_dim else []) + [cell.upper(), "Dropout", "Linear"]


def test_one_chunk_at_a_time_with_carried_state_equals_one_long_pass():
    model = CharLM(VOCAB, hidden_size=5, num_layers=2, dtype=mt.float64)
    x = tokens(2, 12)
    whole, _ = model(x)
    first, state = model(x[:, :5])
    second, _ = model(x[:, 5:], detach(state))
    np.testing.assert_allclose(mt.cat([first, second], dim=1).array, whole.array, atol=1e-12)


def test_bad_inputs_and_settings_are_named():
    model = CharLM(VOCAB, hidden_size=4)
    with pytest.raises(ValueError, match=r"CharLM: expected integer characters of shape \(batch, seq\)"):
        model(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(batch, seq\), got dtype int64 and shape \(3,\)"):
        model(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="cell must be one of"):
        CharLM(VOCAB, cell="transformer")
    with pytest.raises(ValueError, match="embedding_dim must be positive or None"):
        CharLM(VOCAB, embedding_dim=0)


def test_gradients_match_finite_differences_in_float64():
    model = CharLM(VOCAB, hidden_size=4, num_layers=2, embedding_dim=3, dtype=mt.float64)
    x, y = tokens(2, 5, seed=1), tokens(2, 5, seed=2)

    def loss():
        logits, _ = model(x)
        return F.cross_entropy(logits.reshape(10, -1), y.reshape(-1))

    loss().backward()
    rng = np.random.default_rng(0)
    for name, param in model.named_parameters():
        for _ in range(3):
            k = tuple(rng.integers(0, n) for n in param.shape)
            saved = param.array[k]
            param.array[k] = saved + 1e-6
            up = loss().item()
            param.array[k] = saved - 1e-6
            down = loss().item()
            param.array[k] = saved
            assert param.grad.array[k] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8), name


def test_sample_length_alphabet_and_reproducibility():
    model = CharLM(VOCAB, hidden_size=8)
    text = model.sample("ab", 50, generator=np.random.default_rng(1))
    assert len(text) == 50 and set(text) <= set(VOCAB.chars)
    assert text == model.sample("ab", 50, generator=np.random.default_rng(1))
    assert model.sample("a", 0) == ""
    assert model.training  # sampling switches to eval mode and back


def test_top_k_of_one_is_greedy_whatever_the_generator():
    model = CharLM(VOCAB, hidden_size=8)
    greedy = model.sample("a", 20, top_k=1, generator=np.random.default_rng(1))
    assert greedy == model.sample("a", 20, top_k=1, generator=np.random.default_rng(2))
    # The same text by hand: feed the argmax back in, one character at a time.
    with mt.no_grad():
        logits, state = model(VOCAB.encode("a")[None])
        expected = []
        for _ in range(20):
            expected.append(int(logits.array[0, -1].argmax()))
            logits, state = model(np.array([[expected[-1]]]), state)
    assert greedy == VOCAB.decode(expected)


def test_next_char_probs_temperature_and_top_k():
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    plain = next_char_probs(logits)
    np.testing.assert_allclose(plain, np.exp(logits) / np.exp(logits).sum())
    sharp, flat = next_char_probs(logits, temperature=0.5), next_char_probs(logits, temperature=2.0)
    assert sharp[0] > plain[0] > flat[0] and flat[3] > plain[3] > sharp[3]
    top2 = next_char_probs(logits, top_k=2)
    assert top2[2] == top2[3] == 0 and top2.sum() == pytest.approx(1)
    np.testing.assert_allclose(top2[:2], plain[:2] / plain[:2].sum())
    assert next_char_probs(logits, top_k=10).tolist() == plain.tolist()


def test_sample_rejects_bad_requests():
    model = CharLM(VOCAB, hidden_size=4)
    with pytest.raises(ValueError, match="prefix must hold at least one character"):
        model.sample("", 5)
    with pytest.raises(ValueError, match="'z' is not one of the model's 5 characters"):
        model.sample("z", 5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.sample("a", 5, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        model.sample("a", 5, top_k=0)


def test_evaluate_is_the_mean_cross_entropy_of_one_long_pass():
    model = CharLM(VOCAB, hidden_size=6, dtype=mt.float64)
    data = tokens(1, 41)[0]
    with mt.no_grad():
        logits, _ = model(data[None, :-1])
        expected = F.cross_entropy(logits[0], data[1:]).item()
    assert evaluate(model, data, batch_size=1, seq_len=7) == pytest.approx(expected, rel=1e-12)
    # Two streams: the second half is predicted from its own start, so the loss differs a little.
    assert evaluate(model, data, batch_size=2, seq_len=7) == pytest.approx(expected, rel=0.2)


def test_checkpoint_round_trip_through_mt_save_keeps_vocab_weights_and_samples(tmp_path):
    model = CharLM(Vocabulary.from_text("héllo wörld\n"), hidden_size=6, num_layers=2,
                   cell="gru", embedding_dim=4)
    path = tmp_path / "model.ckpt"
    mt.save({"config": model.config(), "model": model.state_dict()}, path)
    saved = mt.load(path)
    mt.manual_seed(123)  # the copy starts from different random weights
    copy = CharLM.from_config(saved["config"])
    copy.load_state_dict(saved["model"])
    assert copy.vocab == model.vocab and copy.config()["cell"] == "gru"
    x = np.array([[0, 3, 5, 1]])
    np.testing.assert_array_equal(copy(x)[0].array, model(x)[0].array)
    assert (copy.sample("h", 30, generator=np.random.default_rng(0))
            == model.sample("h", 30, generator=np.random.default_rng(0)))


def test_dropout_reaches_a_one_layer_models_output_in_training_only():
    mt.manual_seed(0)
    model = CharLM(Vocabulary.from_text("abc"), hidden_size=16, num_layers=1, dropout=0.5)
    x = np.zeros((2, 5), dtype=np.int64)
    first, _ = model(x)
    second, _ = model(x)
    assert not np.allclose(first.array, second.array)  # two draws of the mask
    model.eval()
    third, _ = model(x)
    fourth, _ = model(x)
    np.testing.assert_array_equal(third.array, fourth.array)
    assert "output_dropout" not in dict(model.named_parameters())
