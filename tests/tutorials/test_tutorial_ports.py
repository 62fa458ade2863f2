"""PyTorch's recurrent-network tutorials, ported to small synthetic data (``ports/``), run on
microtensor with only their import lines changed (``tutorial_loader``).

For each port: it runs end to end on microtensor; from the same initial weights (PyTorch's
``state_dict`` loaded into microtensor's model through numpy) a short run gives PyTorch's
losses; and a longer run ends with PyTorch's accuracy or decoded outputs. Both libraries see
the same data and the same random choices: the ports draw their data from
``random.Random(seed)``, and the tests seed Python's ``random`` (the tutorials' shuffles and
picks) the same way before each library's run. Where a tutorial draws from the library's own
random stream (dropout, a split, a sampler, the BiLSTM-CRF's random initial state), the test
makes the draws the same or switches dropout off (``eval()``), as each test says.

Tolerance: the runs are float32, as in the tutorials, and the two libraries round in different
orders (fused kernels, summation order), so losses agree to ``RTOL`` relative, not bit for bit.
"""

import math
import random
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from tutorial_loader import load

import microtensor as mt

# Relative difference allowed between the two libraries' float32 losses over a short run (6 to
# 36 training steps); the worst seen over these ports is 2.0e-7, a few float32 roundings.
RTOL = 2e-6


def both(torch: ModuleType, name: str) -> tuple[ModuleType, ModuleType]:
    """Port ``name`` loaded with PyTorch and with microtensor behind its ``torch`` names."""
    torch.set_num_threads(1)  # the models are tiny; threads only add noise on shared cores
    torch.manual_seed(0)  # PyTorch draws the initial weights: the same, whatever ran before
    return load(name, "torch"), load(name, "microtensor")


def weights(torch_model: Any) -> dict[str, np.ndarray]:
    """A copy of a PyTorch model's weights as numpy arrays, taken before it trains."""
    return {key: value.detach().numpy().copy() for key, value in torch_model.state_dict().items()}


def start_from(port: ModuleType, model: Any, initial: dict[str, np.ndarray]) -> None:
    """Load ``initial`` (from ``weights``) into ``model``, built by ``port`` with either library."""
    model.load_state_dict({key: port.torch.tensor(value) for key, value in initial.items()})


def assert_losses_match(mt_losses: list[float], torch_losses: list[float]) -> None:
    assert len(mt_losses) == len(torch_losses) > 0
    np.testing.assert_allclose(mt_losses, torch_losses, rtol=RTOL)


def assert_learned(losses: list[float], ratio: float = 0.7) -> None:
    """Finite losses whose last quarter averages below ``ratio`` times the first quarter."""
    quarter = max(1, len(losses) // 4)
    assert all(math.isfinite(loss) for loss in losses)
    assert np.mean(losses[-quarter:]) < ratio * np.mean(losses[:quarter])


# -- name classification, the hand-written RNN --------------------------------------------------

def test_name_classification_scratch_runs_on_microtensor() -> None:
    random.seed(0)
    losses, accuracy = load("name_classification_scratch", "microtensor").main(n_iters=40)
    assert len(losses) == 40 and all(math.isfinite(loss) for loss in losses)
    assert 0 <= accuracy <= 1


def run_scratch_classifier(port: ModuleType, initial: dict, iterations: int) -> tuple:
    start_from(port, port.rnn, initial)
    random.seed(1)
    losses = port.trainIterations(iterations)
    return losses, port.confusionMatrix().numpy(), port.predict("Karmok")


def test_name_classification_scratch_matches_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_classification_scratch")
    initial = weights(torch_port.rnn)
    torch_losses, _, _ = run_scratch_classifier(torch_port, initial, 30)
    mt_losses, _, _ = run_scratch_classifier(mt_port, initial, 30)
    assert_losses_match(mt_losses, torch_losses)


def test_name_classification_scratch_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_classification_scratch")
    for port in (torch_port, mt_port):
        port.learning_rate = 0.02  # the tutorial's rate needs 100000 steps; this needs 400
    initial = weights(torch_port.rnn)
    torch_losses, torch_confusion, torch_top = run_scratch_classifier(torch_port, initial, 400)
    mt_losses, mt_confusion, mt_top = run_scratch_classifier(mt_port, initial, 400)
    np.testing.assert_array_equal(mt_confusion, torch_confusion)
    assert np.trace(mt_confusion) / mt_confusion.sum() > 0.5  # 4 languages: chance is 0.25
    assert [name for _, name in mt_top] == [name for _, name in torch_top]
    np.testing.assert_allclose([v for v, _ in mt_top], [v for v, _ in torch_top], rtol=1e-3)


# -- name classification, nn.RNN -----------------------------------------------------------------

def test_name_classification_rnn_runs_on_microtensor() -> None:
    random.seed(0)
    losses, accuracy = load("name_classification_rnn", "microtensor").main(n_epoch=3)
    assert_learned(losses)
    assert 0 <= accuracy <= 1


def run_rnn_classifier(port: ModuleType, initial: dict, indices: list[int], n_epoch: int) -> tuple:
    """Train on the names at ``indices`` (the same split for both libraries: PyTorch's
    ``random_split`` draws from PyTorch's stream), evaluate on the others."""
    alldata = port.NamesDataset(port.makeNames(seed=11))
    test_indices = [i for i in range(len(alldata)) if i not in indices]
    subset = port.torch.utils.data.Subset
    rnn = port.CharRNN(port.n_letters, 32, len(alldata.labels_uniq))
    start_from(port, rnn, initial)
    random.seed(2)
    losses = port.train(rnn, subset(alldata, indices), n_epoch=n_epoch)
    return losses, port.evaluate(rnn, subset(alldata, test_indices), alldata.labels_uniq).numpy()


def rnn_classifier_setting(torch_port: ModuleType) -> tuple[dict, list[int]]:
    """PyTorch's initial weights and training indices for the nn.RNN classifier."""
    alldata = torch_port.NamesDataset(torch_port.makeNames(seed=11))
    train_set, _ = torch_port.splitData(alldata)
    model = torch_port.CharRNN(torch_port.n_letters, 32, len(alldata.labels_uniq))
    return weights(model), list(train_set.indices)


def test_name_classification_rnn_matches_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_classification_rnn")
    initial, indices = rnn_classifier_setting(torch_port)
    torch_losses, _ = run_rnn_classifier(torch_port, initial, indices, n_epoch=1)
    mt_losses, _ = run_rnn_classifier(mt_port, initial, indices, n_epoch=1)
    assert_losses_match(mt_losses, torch_losses)


def test_name_classification_rnn_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_classification_rnn")
    initial, indices = rnn_classifier_setting(torch_port)
    _, torch_confusion = run_rnn_classifier(torch_port, initial, indices, n_epoch=4)
    _, mt_confusion = run_rnn_classifier(mt_port, initial, indices, n_epoch=4)
    np.testing.assert_array_equal(mt_confusion, torch_confusion)
    assert np.trace(mt_confusion) / mt_confusion.sum() > 0.5  # 4 languages: chance is 0.25


# -- name generation ------------------------------------------------------------------------------

def test_name_generation_runs_on_microtensor() -> None:
    random.seed(0)
    losses, names = load("name_generation", "microtensor").main(n_iters=40)
    assert len(losses) == 40 and all(math.isfinite(loss) for loss in losses)
    assert all(name[0] in "KLZ" for sampled in names.values() for name in sampled)


def run_name_generator(port: ModuleType, initial: dict, iterations: int) -> tuple:
    # The tutorial's dropout draws from each library's own stream: switched off here (eval), as
    # for sampling after training.
    start_from(port, port.rnn, initial)
    port.rnn.eval()
    random.seed(3)
    losses = [port.train(*port.randomTrainingExample())[1] for _ in range(iterations)]
    return losses, {category: port.samples(category, "KLZ") for category in port.all_categories}


def test_name_generation_matches_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_generation")
    initial = weights(torch_port.rnn)
    torch_losses, _ = run_name_generator(torch_port, initial, 30)
    mt_losses, _ = run_name_generator(mt_port, initial, 30)
    assert_losses_match(mt_losses, torch_losses)


def test_name_generation_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "name_generation")
    for port in (torch_port, mt_port):
        port.learning_rate = 0.01  # the tutorial's rate needs 100000 steps; this needs 300
    initial = weights(torch_port.rnn)
    torch_losses, torch_names = run_name_generator(torch_port, initial, 300)
    mt_losses, mt_names = run_name_generator(mt_port, initial, 300)
    assert mt_names == torch_names
    assert_learned(mt_losses)


# -- translation with attention -------------------------------------------------------------------

def test_seq2seq_attention_runs_on_microtensor() -> None:
    mt.manual_seed(0)
    losses, translations = load("seq2seq_attention", "microtensor").main(n_epochs=3)
    assert_learned(losses, ratio=0.9)
    assert len(translations) == 4


def seq2seq_setting(torch_port: ModuleType, decoder_class: str = "AttnDecoderRNN",
                    hidden_size: int = 24) -> tuple:
    """PyTorch's initial weights of the encoder and the decoder (with attention or without)."""
    input_lang, output_lang, pairs = torch_port.prepareData(torch_port.makeLines(seed=5))
    encoder = torch_port.EncoderRNN(input_lang.n_words, hidden_size)
    decoder = getattr(torch_port, decoder_class)(hidden_size, output_lang.n_words)
    return weights(encoder), weights(decoder), decoder_class, hidden_size


def seq2seq_models(port: ModuleType, setting: tuple) -> tuple:
    initial_encoder, initial_decoder, decoder_class, hidden_size = setting
    input_lang, output_lang, pairs = port.prepareData(port.makeLines(seed=5))
    encoder = port.EncoderRNN(input_lang.n_words, hidden_size)
    decoder = getattr(port, decoder_class)(hidden_size, output_lang.n_words)
    start_from(port, encoder, initial_encoder)
    start_from(port, decoder, initial_decoder)
    # Dropout draws from each library's own stream: switched off for the comparison.
    encoder.eval()
    decoder.eval()
    # The batches in one order for both libraries (the tutorial's RandomSampler draws from the
    # library's stream): the port's dataset, cut into batches of 8 in a random.Random order.
    inputs, targets = port.get_dataloader(8, input_lang, output_lang, pairs).dataset.tensors
    order = list(range(len(pairs)))
    random.Random(6).shuffle(order)
    batches = [(inputs[order[i:i + 8]], targets[order[i:i + 8]]) for i in range(0, len(order), 8)]
    return encoder, decoder, batches, (input_lang, output_lang, pairs)


@pytest.mark.parametrize("decoder_class", ["AttnDecoderRNN", "DecoderRNN"])
def test_seq2seq_attention_matches_pytorch(torch: ModuleType, decoder_class: str) -> None:
    torch_port, mt_port = both(torch, "seq2seq_attention")
    setting = seq2seq_setting(torch_port, decoder_class)
    losses = {}
    for port in (torch_port, mt_port):
        encoder, decoder, batches, _ = seq2seq_models(port, setting)
        encoder_optimizer = port.optim.Adam(encoder.parameters(), lr=0.01)
        decoder_optimizer = port.optim.Adam(decoder.parameters(), lr=0.01)
        criterion = port.nn.NLLLoss()
        losses[port] = [port.train_epoch([batch], encoder, decoder, encoder_optimizer,
                                         decoder_optimizer, criterion)
                        for _ in range(2) for batch in batches]
    assert_losses_match(losses[mt_port], losses[torch_port])


def test_seq2seq_attention_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "seq2seq_attention")
    setting = seq2seq_setting(torch_port)
    translations, guesses = {}, {}
    for port in (torch_port, mt_port):
        encoder, decoder, batches, (input_lang, output_lang, pairs) = seq2seq_models(port, setting)
        losses = port.train(batches, encoder, decoder, n_epochs=20, learning_rate=0.01)
        assert_learned(losses, ratio=0.25)
        # The tutorial's evaluate(): one sentence, unpadded, greedy decoding.
        translations[port] = [port.evaluate(encoder, decoder, source, input_lang, output_lang)[0]
                              for source, target in pairs]
        # Greedy decoding of the padded training batches, as the model was trained on them.
        with port.torch.no_grad():
            guesses[port] = [(decoder(*encoder(inputs))[0].argmax(dim=-1).numpy(), targets.numpy())
                             for inputs, targets in batches]
    assert translations[mt_port] == translations[torch_port]
    for (mt_guess, _), (torch_guess, _) in zip(guesses[mt_port], guesses[torch_port]):
        np.testing.assert_array_equal(mt_guess, torch_guess)
    accuracy = np.mean([np.mean(guess == targets) for guess, targets in guesses[mt_port]])
    assert accuracy > 0.9


# -- LSTM part-of-speech tagger -------------------------------------------------------------------

def test_pos_tagger_lstm_runs_on_microtensor() -> None:
    port = load("pos_tagger_lstm", "microtensor")
    (step_out, step_state), (whole_out, whole_state) = port.lstmStepByStep()
    for stepped, whole in zip((step_out, *step_state), (whole_out, *whole_state)):
        np.testing.assert_allclose(stepped.detach().numpy(), whole.detach().numpy(), rtol=1e-6)
    losses, tagged = port.main(epochs=30)
    assert_learned(losses, ratio=0.9)
    assert len(tagged) == len(port.training_data)


def run_pos_tagger(port: ModuleType, initial: dict, epochs: int) -> tuple:
    model = port.LSTMTagger(port.EMBEDDING_DIM, port.HIDDEN_DIM, len(port.word_to_ix),
                            len(port.tag_to_ix))
    start_from(port, model, initial)
    losses = port.train(model, port.training_data, epochs)
    return losses, [port.tagSentence(model, sentence) for sentence, tags in port.training_data]


def pos_tagger_initial(torch_port: ModuleType) -> dict:
    return weights(torch_port.LSTMTagger(torch_port.EMBEDDING_DIM, torch_port.HIDDEN_DIM,
                                         len(torch_port.word_to_ix), len(torch_port.tag_to_ix)))


def test_pos_tagger_lstm_matches_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "pos_tagger_lstm")
    initial = pos_tagger_initial(torch_port)
    torch_losses, _ = run_pos_tagger(torch_port, initial, epochs=3)
    mt_losses, _ = run_pos_tagger(mt_port, initial, epochs=3)
    assert_losses_match(mt_losses, torch_losses)


def test_pos_tagger_lstm_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "pos_tagger_lstm")
    initial = pos_tagger_initial(torch_port)
    torch_losses, torch_tags = run_pos_tagger(torch_port, initial, epochs=60)
    mt_losses, mt_tags = run_pos_tagger(mt_port, initial, epochs=60)
    assert mt_tags == torch_tags
    right = sum(guess == tags for guess, (_, tags) in zip(mt_tags, mt_port.training_data))
    assert right > 0.8 * len(mt_tags)


# -- BiLSTM-CRF -----------------------------------------------------------------------------------

def test_bilstm_crf_runs_on_microtensor() -> None:
    losses, decoded = load("bilstm_crf", "microtensor").main(epochs=3)
    assert all(math.isfinite(loss) for loss in losses)
    assert all(len(path) == len(sentence) for (score, path), (sentence, tags)
               in zip(decoded, load("bilstm_crf", "microtensor").training_data))


def same_initial_states(port: ModuleType, model: Any) -> None:
    """The tutorial draws the LSTM's initial state from ``torch.randn`` at every sentence; here
    both libraries draw it from one numpy stream, so they see the same states."""
    rng = np.random.default_rng(8)
    shape = (2, 1, model.hidden_dim // 2)
    model.init_hidden = lambda: tuple(port.torch.tensor(rng.standard_normal(shape).astype(np.float32))
                                      for _ in range(2))


def run_bilstm_crf(port: ModuleType, initial: dict, epochs: int, lr: float) -> tuple:
    model = port.BiLSTM_CRF(len(port.word_to_ix), port.tag_to_ix, port.EMBEDDING_DIM,
                            port.HIDDEN_DIM)
    start_from(port, model, initial)
    same_initial_states(port, model)
    losses = port.train(model, port.training_data, epochs, lr=lr)
    with port.torch.no_grad():
        decoded = [model(port.prepare_sequence(sentence, port.word_to_ix))
                   for sentence, tags in port.training_data]
    return losses, [(score.item(), path) for score, path in decoded]


def bilstm_crf_initial(torch_port: ModuleType) -> dict:
    return weights(torch_port.BiLSTM_CRF(len(torch_port.word_to_ix), torch_port.tag_to_ix,
                                         torch_port.EMBEDDING_DIM, torch_port.HIDDEN_DIM))


def test_bilstm_crf_matches_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "bilstm_crf")
    initial = bilstm_crf_initial(torch_port)
    torch_losses, _ = run_bilstm_crf(torch_port, initial, epochs=2, lr=0.01)
    mt_losses, _ = run_bilstm_crf(mt_port, initial, epochs=2, lr=0.01)
    assert_losses_match(mt_losses, torch_losses)


def test_bilstm_crf_trains_as_pytorch(torch: ModuleType) -> None:
    torch_port, mt_port = both(torch, "bilstm_crf")
    initial = bilstm_crf_initial(torch_port)
    torch_losses, torch_decoded = run_bilstm_crf(torch_port, initial, epochs=25, lr=0.05)
    mt_losses, mt_decoded = run_bilstm_crf(mt_port, initial, epochs=25, lr=0.05)
    assert [path for _, path in mt_decoded] == [path for _, path in torch_decoded]
    np.testing.assert_allclose([score for score, _ in mt_decoded],
                               [score for score, _ in torch_decoded], rtol=1e-4)
    assert_learned(mt_losses)
    gold = [[mt_port.tag_to_ix[tag] for tag in tags] for _, tags in mt_port.training_data]
    assert sum(path == tags for (_, path), tags in zip(mt_decoded, gold)) > len(gold) // 2
