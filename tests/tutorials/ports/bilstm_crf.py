"""Port of PyTorch's tutorial "Advanced: Making Dynamic Decisions and the Bi-LSTM CRF"
(beginner_source/nlp/advanced_tutorial.py): a bidirectional LSTM under a CRF trained on the
forward algorithm's negative log-likelihood and decoded with Viterbi, written for microtensor's
tests on synthetic sentences: the same API usage, our own code and data.

Only the import lines may differ between the libraries (tests/tutorials/tutorial_loader.py).
"""

# The tutorials' own style, kept on purpose (camelCase names, super(Class, self), %-formatting,
# `input` and `iter` as names): the port shows that code written that way runs unchanged.
# ruff: noqa: A001, A002, B007, B008, N801, N802, N803, N806, UP008, UP031
import random

import torch
import torch.nn as nn
import torch.optim as optim

torch.manual_seed(1)

START_TAG = "<START>"
STOP_TAG = "<STOP>"


def argmax(vec):
    _, idx = torch.max(vec, 1)
    return idx.item()


def prepare_sequence(seq, to_ix):
    return torch.tensor([to_ix[w] for w in seq], dtype=torch.long)


# Log of the sum of exponentials of a (1, n) row, stable: the largest entry is taken out first.
def log_sum_exp(vec):
    max_score = vec[0, argmax(vec)]
    max_score_broadcast = max_score.view(1, -1).expand(1, vec.size()[1])
    return max_score + torch.log(torch.sum(torch.exp(vec - max_score_broadcast)))


class BiLSTM_CRF(nn.Module):
    def __init__(self, vocab_size, tag_to_ix, embedding_dim, hidden_dim):
        super(BiLSTM_CRF, self).__init__()
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.tag_to_ix = tag_to_ix
        self.tagset_size = len(tag_to_ix)
        self.word_embeds = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, num_layers=1, bidirectional=True)
        self.hidden2tag = nn.Linear(hidden_dim, self.tagset_size)
        # transitions[i, j]: the score of moving from tag j to tag i.
        self.transitions = nn.Parameter(torch.randn(self.tagset_size, self.tagset_size))
        # Nothing moves into START, and nothing leaves STOP.
        self.transitions.data[tag_to_ix[START_TAG], :] = -10000
        self.transitions.data[:, tag_to_ix[STOP_TAG]] = -10000
        self.hidden = self.init_hidden()

    def init_hidden(self):
        return (torch.randn(2, 1, self.hidden_dim // 2),
                torch.randn(2, 1, self.hidden_dim // 2))

    # The partition function, in log space, by the forward algorithm.
    def _forward_alg(self, feats):
        init_alphas = torch.full((1, self.tagset_size), -10000.)
        init_alphas[0][self.tag_to_ix[START_TAG]] = 0.
        forward_var = init_alphas
        for feat in feats:
            alphas_t = []
            for next_tag in range(self.tagset_size):
                emit_score = feat[next_tag].view(1, -1).expand(1, self.tagset_size)
                trans_score = self.transitions[next_tag].view(1, -1)
                next_tag_var = forward_var + trans_score + emit_score
                alphas_t.append(log_sum_exp(next_tag_var).view(1))
            forward_var = torch.cat(alphas_t).view(1, -1)
        terminal_var = forward_var + self.transitions[self.tag_to_ix[STOP_TAG]]
        return log_sum_exp(terminal_var)

    def _get_lstm_features(self, sentence):
        self.hidden = self.init_hidden()
        embeds = self.word_embeds(sentence).view(len(sentence), 1, -1)
        lstm_out, self.hidden = self.lstm(embeds, self.hidden)
        lstm_out = lstm_out.view(len(sentence), self.hidden_dim)
        return self.hidden2tag(lstm_out)

    # The score of one given tag sequence.
    def _score_sentence(self, feats, tags):
        score = torch.zeros(1)
        tags = torch.cat([torch.tensor([self.tag_to_ix[START_TAG]], dtype=torch.long), tags])
        for i, feat in enumerate(feats):
            score = score + self.transitions[tags[i + 1], tags[i]] + feat[tags[i + 1]]
        return score + self.transitions[self.tag_to_ix[STOP_TAG], tags[-1]]

    def _viterbi_decode(self, feats):
        backpointers = []
        init_vvars = torch.full((1, self.tagset_size), -10000.)
        init_vvars[0][self.tag_to_ix[START_TAG]] = 0
        forward_var = init_vvars
        for feat in feats:
            bptrs_t = []
            viterbivars_t = []
            for next_tag in range(self.tagset_size):
                # The emission score is the same for every previous tag: it is added after the max.
                next_tag_var = forward_var + self.transitions[next_tag]
                best_tag_id = argmax(next_tag_var)
                bptrs_t.append(best_tag_id)
                viterbivars_t.append(next_tag_var[0][best_tag_id].view(1))
            forward_var = (torch.cat(viterbivars_t) + feat).view(1, -1)
            backpointers.append(bptrs_t)
        terminal_var = forward_var + self.transitions[self.tag_to_ix[STOP_TAG]]
        best_tag_id = argmax(terminal_var)
        path_score = terminal_var[0][best_tag_id]
        best_path = [best_tag_id]
        for bptrs_t in reversed(backpointers):
            best_tag_id = bptrs_t[best_tag_id]
            best_path.append(best_tag_id)
        start = best_path.pop()
        assert start == self.tag_to_ix[START_TAG]
        best_path.reverse()
        return path_score, best_path

    def neg_log_likelihood(self, sentence, tags):
        feats = self._get_lstm_features(sentence)
        return self._forward_alg(feats) - self._score_sentence(feats, tags)

    def forward(self, sentence):
        lstm_feats = self._get_lstm_features(sentence)
        return self._viterbi_decode(lstm_feats)


EMBEDDING_DIM = 5
HIDDEN_DIM = 4

# Sentences where names of companies (B I) and places (B) stand among other words (O), in the
# tutorial's BIO format; random.Random(seed) makes them the same for both libraries.
ENTITIES = [["acme", "corp"], ["globex", "inc"], ["paris"], ["lagos"]]
OTHER_WORDS = ["the", "met", "in", "today", "sold", "shares", "of"]


def makeTrainingData(seed, n_sentences=6):
    rng = random.Random(seed)
    data = []
    for _ in range(n_sentences):
        words, tags = [], []
        for _ in range(rng.randint(2, 3)):
            if rng.random() < 0.5:
                entity = rng.choice(ENTITIES)
                words += entity
                tags += ["B"] + ["I"] * (len(entity) - 1)
            else:
                words.append(rng.choice(OTHER_WORDS))
                tags.append("O")
        data.append((words, tags))
    return data


training_data = makeTrainingData(seed=4)
word_to_ix = {}
for sentence, tags in training_data:
    for word in sentence:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"B": 0, "I": 1, "O": 2, START_TAG: 3, STOP_TAG: 4}


def train(model, data, epochs, lr=0.01):
    """SGD with weight decay, one sentence at a time; the loss of every sentence, in order."""
    optimizer = optim.SGD(model.parameters(), lr=lr, weight_decay=1e-4)
    losses = []
    for epoch in range(epochs):
        for sentence, tags in data:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = torch.tensor([tag_to_ix[t] for t in tags], dtype=torch.long)
            loss = model.neg_log_likelihood(sentence_in, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def main(epochs=5):
    model = BiLSTM_CRF(len(word_to_ix), tag_to_ix, EMBEDDING_DIM, HIDDEN_DIM)
    losses = train(model, training_data, epochs, lr=0.05)
    with torch.no_grad():
        decoded = [model(prepare_sequence(sentence, word_to_ix)) for sentence, tags in training_data]
    print('last loss %.4f' % losses[-1], decoded[0])
    return losses, decoded
