"""Port of PyTorch's tutorial "NLP From Scratch: Classifying Names with a Character-Level RNN",
its current form with ``nn.RNN``, a ``Dataset`` and mini-batches
(intermediate_source/char_rnn_classification_tutorial.py), written for microtensor's tests on
synthetic names: the same API usage, our own code and data.

Only the import lines may differ between the libraries (tests/tutorials/tutorial_loader.py).
"""

# The tutorials' own style, kept on purpose (camelCase names, super(Class, self), %-formatting,
# `input` and `iter` as names): the port shows that code written that way runs unchanged.
# ruff: noqa: A001, A002, B007, B008, N801, N802, N803, N806, UP008, UP031
import random
import string

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset

device = torch.device('cpu')
if torch.cuda.is_available():
    device = torch.device('cuda')

allowed_characters = string.ascii_letters + " .,;'" + "_"
n_letters = len(allowed_characters)

# Each made-up language builds names from its own syllables (the tutorial reads one file of
# real surnames per language); random.Random(seed) makes them the same for both libraries.
SYLLABLES = {
    "Arkan": ["kar", "tu", "mok", "ra"],
    "Belish": ["li", "sel", "wen", "a"],
    "Corvan": ["zog", "ix", "bru", "o"],
    "Dalmic": ["dre", "ul", "vin", "e"],
}


def makeNames(seed, names_per_language=30):
    rng = random.Random(seed)
    return {language: ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()
                       for _ in range(names_per_language)]
            for language, syllables in SYLLABLES.items()}


def letterToIndex(letter):
    # Letters outside the alphabet share the last index, "_".
    if letter not in allowed_characters:
        return allowed_characters.find("_")
    return allowed_characters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for position, letter in enumerate(line):
        tensor[position][0][letterToIndex(letter)] = 1
    return tensor


class NamesDataset(Dataset):
    def __init__(self, names_by_language):
        self.labels_uniq = sorted(names_by_language)
        self.data, self.data_tensors, self.labels, self.labels_tensors = [], [], [], []
        for label in self.labels_uniq:
            for name in names_by_language[label]:
                self.data.append(name)
                self.data_tensors.append(lineToTensor(name))
                self.labels.append(label)
                self.labels_tensors.append(
                    torch.tensor([self.labels_uniq.index(label)], dtype=torch.long))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.labels_tensors[idx], self.data_tensors[idx], self.labels[idx], self.data[idx]


def splitData(dataset, seed=2024):
    return torch.utils.data.random_split(
        dataset, [.85, .15], generator=torch.Generator(device=device).manual_seed(seed))


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(CharRNN, self).__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        return self.softmax(self.h2o(hidden[0]))


def train(rnn, training_data, n_epoch=10, n_batch_size=16, learning_rate=0.2, criterion=nn.NLLLoss()):
    """Mini-batch SGD with gradient clipping; the mean loss of every batch, in order."""
    batch_losses = []
    rnn.train()
    optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
    for epoch in range(n_epoch):
        rnn.zero_grad()
        order = list(range(len(training_data)))
        random.shuffle(order)
        for batch in np.array_split(order, len(order) // n_batch_size):
            batch_loss = 0
            for i in batch:
                label_tensor, text_tensor, label, text = training_data[i]
                output = rnn.forward(text_tensor)
                batch_loss += criterion(output, label_tensor)
            batch_loss.backward()
            nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            batch_losses.append(batch_loss.item() / len(batch))
    return batch_losses


def label_from_output(output, output_labels):
    top_n, top_i = output.topk(1)
    label_i = top_i[0].item()
    return output_labels[label_i], label_i


def evaluate(rnn, testing_data, classes):
    """The confusion matrix in counts: rows the true language, columns the guess."""
    confusion = torch.zeros(len(classes), len(classes))
    rnn.eval()
    with torch.no_grad():
        for i in range(len(testing_data)):
            label_tensor, text_tensor, label, text = testing_data[i]
            guess, guess_i = label_from_output(rnn(text_tensor), classes)
            confusion[classes.index(label)][guess_i] += 1
    return confusion


def main(n_epoch=3):
    alldata = NamesDataset(makeNames(seed=11))
    train_set, test_set = splitData(alldata)
    rnn = CharRNN(n_letters, 32, len(alldata.labels_uniq)).to(device)
    losses = train(rnn, train_set, n_epoch=n_epoch)
    confusion = evaluate(rnn, test_set, alldata.labels_uniq)
    accuracy = sum(confusion[i][i].item() for i in range(len(confusion))) / confusion.sum().item()
    print('final loss %.4f, test accuracy %.3f' % (losses[-1], accuracy))
    return losses, accuracy
