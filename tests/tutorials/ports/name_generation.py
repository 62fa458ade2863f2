"""Port of PyTorch's tutorial "NLP From Scratch: Generating Names with a Character-Level RNN"
(intermediate_source/char_rnn_generation_tutorial.py), written for microtensor's tests on
synthetic names: the same API usage, our own code and data.

Only the import lines may differ between the libraries (tests/tutorials/tutorial_loader.py).
"""

# The tutorials' own style, kept on purpose (camelCase names, super(Class, self), %-formatting,
# `input` and `iter` as names): the port shows that code written that way runs unchanged.
# ruff: noqa: A001, A002, B007, B008, N801, N802, N803, N806, UP008, UP031
import random
import string

import torch
import torch.nn as nn

all_letters = string.ascii_letters + " .,;'-"
n_letters = len(all_letters) + 1  # and the end-of-name marker, the last index

# Made-up languages, each with its own syllables (the tutorial reads files of real surnames),
# drawn from random.Random(seed) so that both libraries see the same names.
SYLLABLES = {
    "Arkan": ["kar", "tu", "mok"],
    "Belish": ["li", "sel", "wen"],
    "Corvan": ["zog", "ix", "bru"],
}


def makeCategoryLines(seed, names_per_language=20):
    rng = random.Random(seed)
    return {language: ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()
                       for _ in range(names_per_language)]
            for language, syllables in SYLLABLES.items()}


category_lines = makeCategoryLines(seed=3)
all_categories = list(category_lines)
n_categories = len(all_categories)


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(0.1)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, input, hidden):
        input_combined = torch.cat((category, input, hidden), 1)
        hidden = self.i2h(input_combined)
        output = self.i2o(input_combined)
        output = self.o2o(torch.cat((hidden, output), 1))
        output = self.softmax(self.dropout(output))
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def randomChoice(items):
    return items[random.randint(0, len(items) - 1)]


def randomTrainingPair():
    category = randomChoice(all_categories)
    return category, randomChoice(category_lines[category])


def categoryTensor(category):
    tensor = torch.zeros(1, n_categories)
    tensor[0][all_categories.index(category)] = 1
    return tensor


# The letters of a name but the last, one-hot: <length x 1 x n_letters>.
def inputTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for position in range(len(line)):
        tensor[position][0][all_letters.find(line[position])] = 1
    return tensor


# Each letter's successor, the end marker after the last one.
def targetTensor(line):
    indexes = [all_letters.find(line[position]) for position in range(1, len(line))]
    indexes.append(n_letters - 1)
    return torch.LongTensor(indexes)


def randomTrainingExample():
    category, line = randomTrainingPair()
    return categoryTensor(category), inputTensor(line), targetTensor(line)


rnn = RNN(n_letters, 32, n_letters)
criterion = nn.NLLLoss()
learning_rate = 0.0005


def train(category_tensor, input_line_tensor, target_line_tensor):
    target_line_tensor.unsqueeze_(-1)
    hidden = rnn.initHidden()
    rnn.zero_grad()
    loss = torch.Tensor([0])
    for i in range(input_line_tensor.size(0)):
        output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
        loss += criterion(output, target_line_tensor[i])
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item() / input_line_tensor.size(0)


max_length = 12


def sample(category, start_letter='A'):
    with torch.no_grad():
        category_tensor = categoryTensor(category)
        input = inputTensor(start_letter)
        hidden = rnn.initHidden()
        output_name = start_letter
        for i in range(max_length):
            output, hidden = rnn(category_tensor, input[0], hidden)
            topv, topi = output.topk(1)
            topi = topi[0][0]
            if topi == n_letters - 1:
                break
            letter = all_letters[topi]
            output_name += letter
            input = inputTensor(letter)
        return output_name


def samples(category, start_letters='ABC'):
    return [sample(category, start_letter) for start_letter in start_letters]


def main(n_iters=100):
    losses = [train(*randomTrainingExample())[1] for _ in range(n_iters)]
    names = {category: samples(category, 'KLZ') for category in all_categories}
    print('mean loss %.4f' % (sum(losses) / n_iters), names)
    return losses, names
