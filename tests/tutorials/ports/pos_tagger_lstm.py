"""Port of PyTorch's tutorial "Sequence Models and Long Short-Term Memory Networks", its LSTM
part-of-speech tagger (beginner_source/nlp/sequence_models_tutorial.py), written for
microtensor's tests on synthetic sentences: the same API usage, our own code and data.

Only the import lines may differ between the libraries (tests/tutorials/tutorial_loader.py).
"""

# The tutorials' own style, kept on purpose (camelCase names, super(Class, self), %-formatting,
# `input` and `iter` as names): the port shows that code written that way runs unchanged.
# ruff: noqa: A001, A002, B007, B008, N801, N802, N803, N806, UP008, UP031
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

torch.manual_seed(1)


def lstmStepByStep():
    """An LSTM fed one step at a time, then the whole sequence at once from the same state:
    the two last outputs and states, which must agree."""
    lstm = nn.LSTM(3, 3)
    inputs = [torch.randn(1, 3) for _ in range(5)]
    hidden = (torch.randn(1, 1, 3), torch.randn(1, 1, 3))
    start = hidden
    for step in inputs:
        out, hidden = lstm(step.view(1, 1, -1), hidden)
    whole = torch.cat(inputs).view(len(inputs), 1, -1)
    all_out, whole_hidden = lstm(whole, start)
    return (out, hidden), (all_out[-1:], whole_hidden)


# Sentences of a tiny grammar, determiner noun verb determiner noun, with "watch" both a noun
# and a verb (the tutorial has two hand-written sentences); random.Random(seed) makes them the
# same for both libraries.
DETERMINERS = ["the", "a", "every"]
NOUNS = ["dog", "apple", "book", "watch", "cat"]
VERBS = ["ate", "read", "watch", "saw"]


def makeTrainingData(seed, n_sentences=12):
    rng = random.Random(seed)
    data = []
    for _ in range(n_sentences):
        words = [rng.choice(DETERMINERS), rng.choice(NOUNS), rng.choice(VERBS),
                 rng.choice(DETERMINERS), rng.choice(NOUNS)]
        data.append((words, ["DET", "NN", "V", "DET", "NN"]))
    return data


training_data = makeTrainingData(seed=2)
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
ix_to_tag = {ix: tag for tag, ix in tag_to_ix.items()}

EMBEDDING_DIM = 6
HIDDEN_DIM = 6


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


class LSTMTagger(nn.Module):
    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        return F.log_softmax(tag_space, dim=1)


def train(model, data, epochs, lr=0.1):
    """SGD over the sentences in order; the loss of every sentence, in order."""
    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for sentence, tags in data:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = prepare_sequence(tags, tag_to_ix)
            tag_scores = model(sentence_in)
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def tagSentence(model, sentence):
    with torch.no_grad():
        tag_scores = model(prepare_sequence(sentence, word_to_ix))
        return [ix_to_tag[ix.item()] for ix in tag_scores.argmax(dim=1)]


def main(epochs=30):
    model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
    losses = train(model, training_data, epochs)
    tagged = [tagSentence(model, sentence) for sentence, tags in training_data]
    accuracy = sum(guess == tags for guess, (sentence, tags) in zip(tagged, training_data)) / len(tagged)
    print('last loss %.4f, sentences tagged right %.3f' % (losses[-1], accuracy))
    return losses, tagged
