# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Words as vectors and a memory
#
# A recurrent network reads a sentence one word at a time. Before it can read anything, a
# word has to become numbers; and since it sees only one word per step, whatever it keeps
# of the words before has to live somewhere. That somewhere is the **hidden state** `h`: a
# handful of numbers the network carries from one step to the next, its only memory.
#
# This page builds both by hand on the classic example, "soup is good": one-hot vectors,
# then a 4-unit tanh RNN run step by step with its hidden state printed after each word,
# then a short training run that shows what the memory is for. It runs in a few seconds.
#
# The first cell makes the repository's `demos` and `models` packages importable (they sit
# beside `microtensor` in the repository root, whether this page runs as a script from the
# root or as a notebook from `docs/tutorials/`).

# %%
import sys
from pathlib import Path

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "demos" / "soup.py").is_file())
sys.path.insert(0, str(root))

import numpy as np

import microtensor as mt
from microtensor.nn import functional as F

np.set_printoptions(precision=2, suppress=True, floatmode="fixed", sign=" ")
_ = mt.manual_seed(0)  # the same weights at every run (it returns the generator)

# %% [markdown]
# ## Words as one-hot vectors
#
# The vocabulary is every word of four short sentences (the `soup` demo's), in order of first
# use. Word number `i` becomes a vector of zeros with a single 1 at position `i`: a
# **one-hot** vector (`F.one_hot`, as `torch.nn.functional.one_hot`). Look at the table: each
# row has exactly one 1, and no two rows share it. One-hot vectors say *which* word, nothing
# more: "soup" is exactly as far from "tea" as from "is". Learned embeddings
# (`mt.nn.Embedding`) come later; one-hot vectors keep every number on this page readable.

# %%
from demos.soup import SENTENCES

sentences = [s.split() for s in SENTENCES]
vocab = list(dict.fromkeys(word for sentence in sentences for word in sentence))
index = {word: i for i, word in enumerate(vocab)}
print(f"{len(sentences)} sentences: {' | '.join(SENTENCES)}")
print(f"vocabulary of {len(vocab)} words, so each word is a vector of {len(vocab)} numbers:")
one_hot = F.one_hot(mt.tensor(np.arange(len(vocab))), len(vocab))
for word, row in zip(vocab, one_hot.tolist()):
    print(f"  {word:>5}  {row}")

# %% [markdown]
# The sentence we will follow is "soup is good". As a matrix it is three of those rows, one
# per word, in reading order: shape (sequence length, vocabulary size).

# %%
soup = sentences[0]
x = F.one_hot(mt.tensor([index[w] for w in soup]), len(vocab)).float()
print(f"{' '.join(soup)!r} as one-hot rows, shape {x.shape}:")
print(x.array)

# %% [markdown]
# ## One step of a tanh RNN
#
# The simplest recurrent cell (Elman's RNN; PyTorch's `nn.RNNCell`) turns the current word
# `x_t` and the previous hidden state `h_{t-1}` into the new hidden state:
#
# ```
# h_t = tanh(W_ih · x_t + b_ih + W_hh · h_{t-1} + b_hh)
# ```
#
# `W_ih` (4 × 9 here) reads the word, `W_hh` (4 × 4) reads the memory, and `tanh` squashes
# every unit into (-1, 1). PyTorch calls them `weight_ih`, `weight_hh`, `bias_ih`,
# `bias_hh`, and so does `mt.nn.RNNCell`. Its weights start random, drawn uniformly from
# ±1/√hidden_size as PyTorch's: with 4 units, between -0.5 and 0.5 (the printed ranges).

# %%
hidden_size = 4
cell = mt.nn.RNNCell(len(vocab), hidden_size)  # nonlinearity="tanh" is the default
for name, p in cell.named_parameters():
    print(f"{name:<9} shape {str(p.shape):<7} values from {p.array.min():.2f} to {p.array.max():.2f}")

# %% [markdown]
# Before the first word there is nothing to remember: `h_{-1}` is zeros. The first step,
# once with the formula written out in numpy and once with the cell; the two rows printed
# must be the same numbers. Since `x_0` is one-hot, `W_ih x_0` just picks the column of
# `W_ih` that belongs to "soup".

# %%
W_ih, W_hh = cell.weight_ih.array, cell.weight_hh.array
b_ih, b_hh = cell.bias_ih.array, cell.bias_hh.array
h_prev = np.zeros(hidden_size, dtype=np.float32)
by_hand = np.tanh(W_ih @ x.array[0] + b_ih + W_hh @ h_prev + b_hh)
by_cell = cell(x[0])  # an unbatched step: input (9,), state (4,); hx defaults to zeros
print("by hand:  h_0 =", by_hand)
print("RNNCell:  h_0 =", by_cell.array)
print("column of W_ih for 'soup':", W_ih[:, index["soup"]])

# %% [markdown]
# ## Reading the sentence, step by step
#
# Now the loop a recurrent network is: feed each word together with the hidden state the
# previous step returned. Watch the hidden state change after every word. Its four numbers
# are all the network keeps of the sentence so far; nothing else is passed on.

# %%
h = mt.zeros(hidden_size)
states = []
with mt.no_grad():  # only reading here: no graph to record
    for t, word in enumerate(soup):
        h = cell(x[t], h)
        states.append(h)
        print(f"t={t}  reads {word!r:<7} h_{t} = {h.array}")

# %% [markdown]
# The sequence layer `mt.nn.RNN` (PyTorch's `nn.RNN`) runs this same loop for you over a
# whole sequence and returns every step's hidden state (its `output`) and the last one
# (`h_n`). Give it the cell's weights (the layer names them with the layer number,
# `weight_ih_l0`, ...) and it must print the same three rows.

# %%
layer = mt.nn.RNN(len(vocab), hidden_size)
layer.load_state_dict({f"{name}_l0": p for name, p in cell.state_dict().items()})
with mt.no_grad():
    output, h_n = layer(x)  # unbatched: (sequence, input) -> output (sequence, hidden)
print("nn.RNN output, one row per word:")
print(output.array)
print("largest difference from the loop above:",
      float(np.abs(output.array - np.stack([s.array for s in states])).max()))

# %% [markdown]
# ## What the memory is for
#
# An untrained network's hidden state is a random function of the words. Training gives it a
# job. In the four sentences the word after "is" depends on the *first* word: "soup is good",
# "tea is hot", "ice is cold", "cake is sweet". At the step that reads "is", the input is the
# same one-hot vector in all four sentences; the only thing that differs is `h_{t-1}`. So a
# network that predicts the next word correctly *must* carry the first word through "is" in
# its hidden state.
#
# `models.word_lm.WordLM` is the `soup` demo's model: one-hot words → a 4-unit tanh
# `nn.RNN` → a linear layer scoring every vocabulary word as the next one, trained with the
# cross-entropy of each next word (PyTorch's `F.cross_entropy`). `demos.soup.train` runs
# Adam on the four sentences for 200 steps.

# %%
from demos.soup import numbers, show_predictions, train
from models.word_lm import WordLM

mt.manual_seed(0)
model = WordLM.from_sentences(sentences, hidden_size=hidden_size, cell="rnn")
losses = train(model, sentences, steps=200, lr=0.05)
print(f"a uniform guess among {len(vocab)} words would score ln {len(vocab)} = {np.log(len(vocab)):.3f}")

# %% [markdown]
# The loss printed above starts near that of a uniform guess among the nine words and ends
# near zero. Now the hidden state after "is" in each sentence. The input at that step is the same
# one-hot vector for "is" in all four, yet the four rows differ, and from them the output
# layer reads the right last word:

# %%
with mt.no_grad():
    after_is = {s[0]: model(s[:2])[1].array[-1] for s in sentences}
for first, h_is in after_is.items():
    print(f"after {first + ' is':<9} h = {numbers(h_is)}")
show_predictions(model, sentences)

# %% [markdown]
# How different are they? The distances between the hidden states after "is", for every
# pair of first words (the units live in (-1, 1), so 4 units are at most 4 apart):

# %%
firsts = list(after_is)
pairs = [(a, b, float(np.linalg.norm(after_is[a] - after_is[b])))
         for i, a in enumerate(firsts) for b in firsts[i + 1:]]
for a, b, d in pairs:
    print(f"  |h('{a} is') - h('{b} is')| = {d:.2f}")
print(f"smallest distance: {min(d for *_, d in pairs):.2f}")

# %% [markdown]
# ## The hidden state as a memory highway
#
# Picture the steps side by side: the hidden state is the one road that runs through all of
# them. Every step reads the word in front of it and *rewrites* the road: `h_t` is made from
# `h_{t-1}` by one matrix product and one squashing `tanh`. Whatever the network knows of the
# first word has to survive each of those rewrites.
#
# That is also the road the *gradient* travels when the network learns (backpropagation
# through time, the next tutorial): to teach step 0 what to store, the error at the last
# step has to come back along the same road, through every `W_hh` and every `tanh'`.
#
# One experiment shows how far a plain RNN's memory reaches. Start the trained model on
# "soup" and on "tea", then keep feeding it the same word, "is", over and over: from the
# second step on both runs read identical inputs, so any difference left in `h` is memory of
# the first word. Look at how the distance between the two hidden states changes with the
# number of steps since the first word.

# %%
repeats = 12
with mt.no_grad():
    h_soup = model(["soup"] + ["is"] * repeats)[1].array
    h_tea = model(["tea"] + ["is"] * repeats)[1].array
gap = np.linalg.norm(h_soup - h_tea, axis=1)
for t in range(repeats + 1):
    print(f"  {t:>2} steps after the first word: |h_soup - h_tea| = {gap[t]:.2e}")
shrink = (gap[repeats] / gap[2]) ** (1 / (repeats - 2))
print(f"from step 2 to {repeats} the gap shrinks by {shrink:.2f} per step on average")

# %% [markdown]
# Trained on sentences of three words, the network never had to remember anything for long,
# and the distances printed above show what happens beyond that. At step 1, after "is", the
# trained network holds the two sentences far apart: that is where the next word depends on
# the first. From then on the gap shrinks step after step, by the average factor printed on
# the last line, as the same input read again and again pulls both runs toward the same
# state: the memory of "soup" against "tea" fades geometrically.
#
# Carrying a memory over many steps is exactly what plain tanh RNNs are bad at; the third
# tutorial measures why, and the LSTM's cell state (a second road, rewritten by gates rather
# than squashed) is the fix.
#
# **What to remember:** a word goes in as a one-hot vector; the hidden state is the network's
# whole memory of what came before; `nn.RNN` is the loop over `nn.RNNCell`; and training is
# what decides what that memory holds.
