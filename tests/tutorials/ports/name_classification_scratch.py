"""Port of PyTorch's tutorial "Classifying Names with a Character-Level RNN", its earlier form
with a hand-written RNN cell (intermediate_source/char_rnn_classification_tutorial.py), written
for microtensor's tests on synthetic names: the same API usage, our own code and data.

Only the import lines may differ between the libraries (tests/tutorials/tutorial_loader.py).
"""

# The tutorials' own style, kept on purpose (camelCase names, super(Class, self), %-formatting,
# `input` and `iter` as names): the port shows that code written that way runs unchanged.
# ruff: noqa: A001, A002, B007, B008, N801, N802, N803, N806, UP008, UP031
import math
import random
import string
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)

# The tutorial reads one file of names per language; here each made-up language builds its
# names from its own syllables, drawn from random.Random(seed) so that both libraries train on
# the same names.
SYLLABLES = {
    "Arkan": ["kar", "tu", "mok", "ra"],
    "Belish": ["li", "sel", "wen", "a"],
    "Corvan": ["zog", "ix", "bru", "o"],
    "Dalmic": ["dre", "ul", "vin", "e"],
}


def makeCategoryLines(seed, names_per_language=25):
    rng = random.Random(seed)
    lines = {}
    for language, syllables in SYLLABLES.items():
        lines[language] = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()
                           for _ in range(names_per_language)]
    return lines


category_lines = makeCategoryLines(seed=7)
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


# One name as a <name_length x 1 x n_letters> tensor of one-hot rows (a batch of one).
def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for position, letter in enumerate(line):
        tensor[position][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        hidden = F.tanh(self.i2h(input) + self.h2h(hidden))
        output = self.softmax(self.h2o(hidden))
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


n_hidden = 32
rnn = RNN(n_letters, n_hidden, n_categories)
criterion = nn.NLLLoss()
learning_rate = 0.005


def categoryFromOutput(output):
    top_value, top_index = output.topk(1)
    category_i = top_index[0].item()
    return all_categories[category_i], category_i


def randomChoice(items):
    return items[random.randint(0, len(items) - 1)]


def randomTrainingExample():
    category = randomChoice(all_categories)
    line = randomChoice(category_lines[category])
    category_tensor = torch.LongTensor([all_categories.index(category)])
    return category, line, category_tensor, lineToTensor(line)


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    # Plain gradient descent, written out on each parameter's data.
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


def timeSince(since):
    seconds = time.time() - since
    minutes = math.floor(seconds / 60)
    return '%dm %ds' % (minutes, seconds - minutes * 60)


def trainIterations(n_iters, print_every=0):
    losses = []
    start = time.time()
    for iter in range(1, n_iters + 1):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        losses.append(loss)
        if print_every and iter % print_every == 0:
            guess, guess_i = categoryFromOutput(output)
            mark = 'yes' if guess == category else 'no (%s)' % category
            print('%d %d%% (%s) %.4f %s / %s %s' % (iter, iter / n_iters * 100, timeSince(start),
                                                    loss, line, guess, mark))
    return losses


def evaluate(line_tensor):
    hidden = rnn.initHidden()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    return output


# Rows: the true language; columns: the guess.
def confusionMatrix():
    confusion = torch.zeros(n_categories, n_categories)
    with torch.no_grad():
        for category in all_categories:
            for line in category_lines[category]:
                guess, guess_i = categoryFromOutput(evaluate(lineToTensor(line)))
                confusion[all_categories.index(category)][guess_i] += 1
    return confusion


def predict(input_line, n_predictions=3):
    predictions = []
    with torch.no_grad():
        output = evaluate(lineToTensor(input_line))
        topv, topi = output.topk(n_predictions, 1, True)
        for i in range(n_predictions):
            value = topv[0][i].item()
            predictions.append([value, all_categories[topi[0][i]]])
    return predictions


def main(n_iters=200):
    losses = trainIterations(n_iters, print_every=n_iters // 4)
    confusion = confusionMatrix()
    accuracy = sum(confusion[i][i].item() for i in range(n_categories)) / confusion.sum().item()
    print('accuracy %.3f' % accuracy, predict('Karmok'))
    return losses, accuracy
