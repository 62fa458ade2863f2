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
# # The LSTM's gates
#
# A tanh RNN rewrites its whole memory at every step, `h' = tanh(W_ih x + W_hh h + b)`, and
# the gradient that flows back through that rewrite shrinks step after step (tutorial 3). The
# LSTM (long short-term memory, Hochreiter and Schmidhuber 1997; the forget gate is from Gers,
# Schmidhuber and Cummins 2000) keeps a second state beside `h`: the **cell state** `c`, which
# changes only by an elementwise product and a sum. Four **gates**, vectors with one value per
# unit, decide that change at every step:
#
# | PyTorch's name | what it computes | the classic explanation |
# |---|---|---|
# | forget gate `f` | how much of the old `c` to keep (0 erase, 1 keep) | forget gate |
# | input gate `i` | how much of the new information to let in | learn gate: *ignore* |
# | candidate `g` (PyTorch: cell gate) | the new information itself, in (-1, 1) | learn gate: *new* |
# | output gate `o` | how much of the memory to show as `h` | use gate |
# | cell state `c'` | `f ⊙ c + i ⊙ g` | remember gate |
#
# This page opens one small LSTM, trained on the four sentences of tutorial 1 ("soup is good",
# "tea is hot", ...), computes one of its steps by hand with the layer's own weights, checks
# the result against `mt.nn.LSTMCell`, and then looks at what each gate does on those
# sentences. A paragraph on the GRU closes it.

# %%
import sys
from pathlib import Path

# The demos' packages (demos/, models/) sit beside microtensor in the repository root: put the
# root on the path, whether this runs as a script from the root or as a notebook from docs/tutorials/.
root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "models" / "word_lm.py").is_file())
sys.path.insert(0, str(root))

import time

import matplotlib

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import microtensor as mt
from demos.soup import SENTENCES
from models.word_lm import WordLM

started = time.process_time()
np.set_printoptions(precision=2, suppress=True, floatmode="fixed", sign=" ")
_ = mt.manual_seed(0)  # the same weights at every run (it returns the generator)

# %% [markdown]
# ## A trained LSTM to open
#
# `WordLM` (from `models/word_lm.py`, the model of `python -m demos.soup`) reads one-hot words
# with a 4-unit recurrent layer and predicts the next word. After "is" the right answer depends
# on the first word, so the network must carry that word across "is". We train the LSTM version
# with the soup demo's settings: 200 Adam steps on the four sentences, learning rate 0.05.

# %%
sentences = [s.split() for s in SENTENCES]
model = WordLM.from_sentences(sentences, hidden_size=4, cell="lstm")
optimizer = mt.optim.Adam(model.parameters(), lr=0.05)
losses = []
for _ in range(200):
    optimizer.zero_grad()
    loss = sum(model.loss(s) for s in sentences) / len(sentences)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} at the first step, {losses[-1]:.4f} after {len(losses)} steps")
print("vocabulary:", model.vocab)
for s in sentences:
    print(f"  {' '.join(s[:2])!r:<10} -> {model.predict_next(s[:2])}")

# %% [markdown]
# ## Four blocks of weights
#
# The recurrent layer is an `mt.nn.LSTM`. Its input weights `weight_ih_l0` hold all four
# gates at once: four blocks of `hidden_size` rows, stacked in PyTorch's order **i, f, g, o**.
# `weight_hh_l0` is stacked the same way, and so are the two bias vectors. An
# `mt.nn.LSTMCell` (one step, no time loop) has the same four parameters without the `_l0`
# suffix, so it can take the layer's weights as they are.

# %%
layer = model.rnn
H = layer.hidden_size
for name, p in layer.named_parameters():
    print(f"{name:<13} {p.shape}")

cell = mt.nn.LSTMCell(layer.input_size, H)
cell.load_state_dict({name.removesuffix("_l0"): p for name, p in layer.state_dict().items()})
print(cell)

# %% [markdown]
# ## One step by hand
#
# With `x` the word's one-hot vector and `(h, c)` the state after the previous word, PyTorch's
# documentation writes the step as
#
# ```
# i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate      (learn gate: ignore)
# f  = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate     (forget gate)
# g  = tanh   (W_ig x + b_ig + W_hg h + b_hg)      candidate       (learn gate: new)
# o  = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate     (use gate)
# c' = f * c + i * g                               new cell state  (remember gate)
# h' = o * tanh(c')                                new hidden state
# ```
#
# where `W_ii` is the first block of rows of `weight_ih`, `W_if` the second, and so on. Below,
# the same thing in numpy, from the cell's weights. It returns every gate, so we can look at
# them.

# %%
W_ih, W_hh, b_ih, b_hh = (p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh,
                                                       cell.bias_ih, cell.bias_hh))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_by_hand(x, h, c):
    """One LSTM step in numpy: the four gates and the new state, by name."""
    z = W_ih @ x + b_ih + W_hh @ h + b_hh  # all four gates' pre-activations, (4 * H,)
    i = sigmoid(z[0:H])  # PyTorch's order: i, f, g, o
    f = sigmoid(z[H:2 * H])
    g = np.tanh(z[2 * H:3 * H])
    o = sigmoid(z[3 * H:4 * H])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return {"forget": f, "input": i, "candidate": g, "output": o, "c": c_new, "h": h_new}


# %% [markdown]
# We take the second step of "soup is good": the state after "soup" comes in, the word "is"
# is read. The first step (from zeros) gives the state; the second is the one we look at.

# %%
soup = sentences[0]
x = model.one_hot(soup).detach().numpy()  # (3 words, 9): one one-hot row per word
zeros = np.zeros(H, dtype=np.float32)
first = lstm_step_by_hand(x[0], zeros, zeros)
step = lstm_step_by_hand(x[1], first["h"], first["c"])
for name in ("forget", "input", "candidate", "output", "c", "h"):
    print(f"{name:>9} = {step[name]}")

# %% [markdown]
# Now the library's answers for the same step: the cell given the same input and state, and
# the layer reading the whole sentence (its output row 1 is `h` after "is"). The differences
# are float32 rounding, nothing more.

# %%
h_cell, c_cell = cell(mt.tensor(x[1]), (mt.tensor(first["h"]), mt.tensor(first["c"])))
with mt.no_grad():
    h_layer, _ = layer(mt.tensor(x))  # (3 words, H): h after each word
print("largest |difference| from the cell,  h:", np.abs(h_cell.detach().numpy() - step["h"]).max(),
      " c:", np.abs(c_cell.detach().numpy() - step["c"]).max())
print("largest |difference| from the layer, h:", np.abs(h_layer.numpy()[1] - step["h"]).max())
assert np.allclose(h_cell.detach().numpy(), step["h"], atol=1e-5)
assert np.allclose(c_cell.detach().numpy(), step["c"], atol=1e-5)
assert np.allclose(h_layer.numpy()[1], step["h"], atol=1e-5)

# %% [markdown]
# ## The names, from the cell itself
#
# Each cell class declares its gates (`gate_names`, in the order a picture shows them, the
# classic explanation's order) and the classic explanation's words for them (`gate_labels`).
# The explorer's "gate names" switch reads the same declaration. The table below is built
# from it; the letter and the block of rows are PyTorch's.

# %%
pytorch = {"input": ("i", "sigmoid"), "forget": ("f", "sigmoid"), "candidate": ("g", "tanh"),
           "output": ("o", "sigmoid")}
print(f"{'gate_names':<11} {'PyTorch':<8} {'rows of weight_ih':<18} {'activation':<11} gate_labels (classic)")
for name in cell.gate_names:
    letter, activation = pytorch[name]
    block = "ifgo".index(letter)
    rows = f"{block * H}:{(block + 1) * H}"
    print(f"{name:<11} {letter:<8} {rows:<18} {activation:<11} {cell.gate_labels.get(name, '-')}")
for state in cell.state_names:
    print(f"{state:<11} {state:<8} {'(a state)':<18} {'':<11} {cell.gate_labels.get(state, '-')}")

# %% [markdown]
# ## What the gates do on the four sentences
#
# We run every sentence through the hand-written step, checking each step against the cell,
# and keep every gate's values: one value per unit (column) and word (row).

# %%
def run(words):
    """Every gate and state after each word of ``words``, as arrays (words, H)."""
    x = model.one_hot(words).detach().numpy()
    h, c = zeros, zeros
    state = None
    rows = []
    for t in range(len(words)):
        values = lstm_step_by_hand(x[t], h, c)
        state = cell(mt.tensor(x[t]), state)  # the library's step, for the check
        assert np.allclose(state[0].detach().numpy(), values["h"], atol=1e-5)
        rows.append(values)
        h, c = values["h"], values["c"]
    return {name: np.stack([r[name] for r in rows]) for name in rows[0]}


gates = {" ".join(s): run(s) for s in sentences}
for text, values in gates.items():
    print(text)
    for name in ("forget", "input", "candidate", "output", "c", "h"):
        cells = "  ".join(f"{w}: {v}" for w, v in zip(text.split(), values[name]))
        print(f"  {name:>9}  {cells}")

# %% [markdown]
# The same numbers for "soup is good" as pictures: one panel per gate or state, words down,
# units across. Gates that are sigmoids sit in (0, 1); the candidate and `h` in (-1, 1); `c`
# is not squashed and can grow past 1.

# %%
names = ("forget", "input", "candidate", "output", "c", "h")
values = gates[" ".join(soup)]
fig, axes = plt.subplots(1, len(names), figsize=(12, 2.6), sharey=True)
for ax, name in zip(axes, names):
    sigmoid_gate = name in ("forget", "input", "output")
    ax.imshow(values[name], cmap="viridis" if sigmoid_gate else "coolwarm",
                      vmin=0 if sigmoid_gate else -2, vmax=1 if sigmoid_gate else 2)
    ax.set_title(f"{name}\n({cell.gate_labels.get(name, 'hidden state')})", fontsize=9)
    ax.set_xticks(range(H), [f"u{u}" for u in range(H)], fontsize=8)
    ax.set_yticks(range(len(soup)), soup)
    for (t, u), v in np.ndenumerate(values[name]):
        ax.text(u, t, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="white" if sigmoid_gate and v < 0.5 else "black")
fig.suptitle("The LSTM reading “soup is good”: each gate per word (rows) and unit (columns)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Three things to look at.
#
# **The forget gate at the first word does nothing.** The cell state starts at zero, so
# `f ⊙ c` is zero whatever `f` is: the first word's `c` is only `i ⊙ g`. (This is why, in the
# soup demo's graph, the forget gate at t=0 gets no gradient.)

# %%
print("f * c_0 at the first word:", values["forget"][0] * zeros,
      "  so c after 'soup' = i * g =", values["input"][0] * values["candidate"][0])

# %% [markdown]
# **At "is" the forget gate splits the units.** "is" is the same word in every sentence, yet
# the next word depends on the first one: the memory of the first word has to cross "is". A
# unit can keep its cell state there (forget gate near 1), or erase it (near 0) and write
# something new with the input gate and the candidate. Which units do which is this run's
# choice, learned; the cell below finds them.

# %%
at_is = np.stack([v["forget"][1] for v in gates.values()])  # (4 sentences, H) forget gate at "is"
keep = [u for u in range(H) if at_is[:, u].min() > 0.9]
erase = [u for u in range(H) if at_is[:, u].max() < 0.1]
print("forget gate at 'is', one row per sentence:\n", at_is)
print(f"units that keep c across 'is' in all four sentences (f > 0.9): {keep}")
print(f"units that erase c at 'is' in all four sentences (f < 0.1):    {erase}")

# %% [markdown]
# **After "is", the cell state still tells the sentences apart.** The rows below are `c` after
# "soup is", "tea is", "ice is" and "cake is": the same last word, four different memories,
# and so four different predictions. The spread (standard deviation over the four sentences)
# shows which units carry the difference.

# %%
c_after_is = np.stack([v["c"][1] for v in gates.values()])
for text, row in zip(gates, c_after_is):
    print(f"  c after {' '.join(text.split()[:2])!r:<10} {row}")
print("  spread over the sentences", c_after_is.std(axis=0))

# %% [markdown]
# ## The GRU in a paragraph
#
# The gated recurrent unit (Cho et al. 2014) has one state, `h`, and three gates, in
# PyTorch's order **r, z, n**:
#
# ```
# r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
# z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
# n  = tanh   (W_in x + b_in + r * (W_hn h + b_hn))    new gate (the candidate)
# h' = (1 - z) * n + z * h
# ```
#
# The update gate `z` does the work of the LSTM's forget and input gates at once, coupled:
# what is kept (`z`) and what is written (`1 - z`) add up to one. The reset gate decides how
# much of the old state the candidate `n` may look at (note `r` multiplies `W_hn h + b_hn`,
# bias included, which is why the GRU keeps its two bias vectors apart). There is no output
# gate and no separate cell state: `h` is both the memory and the output. `mt.nn.GRUCell`
# declares the gates `reset, update, new` and no classic labels. The same check as for the
# LSTM, on a fresh cell:

# %%
gru = mt.nn.GRUCell(len(model.vocab), H)
print("gate_names:", gru.gate_names, " gate_labels:", dict(gru.gate_labels))
Wi, Wh, bi, bh = (p.detach().numpy() for p in (gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh))
h0 = np.full(H, 0.5, dtype=np.float32)
xi, xh = Wi @ x[0] + bi, Wh @ h0 + bh  # rows r, z, n of each
r = sigmoid(xi[:H] + xh[:H])
z = sigmoid(xi[H:2 * H] + xh[H:2 * H])
n = np.tanh(xi[2 * H:] + r * xh[2 * H:])
h1 = (1 - z) * n + z * h0
h1_cell = gru(mt.tensor(x[0]), mt.tensor(h0)).detach().numpy()
print("h' by hand:", h1, "\nh' by GRUCell:", h1_cell)
print("largest |difference|:", np.abs(h1 - h1_cell).max())
assert np.allclose(h1, h1_cell, atol=1e-5)

# %% [markdown]
# ## The same pass, drawn
#
# One recorded forward and backward pass of the trained LSTM on "soup is good", in the
# explorer (tutorial 2 shows how to read it). Each gate is a named box in every step; switch
# **gate names** at the top to "classic" to see the `gate_labels` above in place of PyTorch's
# names, and click a gate's box to see its values and its gradient.

# %%
model.zero_grad()
with mt.viz.record() as recording:
    loss = model.loss(soup)
    loss.backward()
try:
    explorer = mt.viz.explore(loss, recording, detail="op", title="The LSTM reading “soup is good”",
                              tokens=soup[:-1])
except mt.viz.GraphvizNotFoundError:
    explorer = None
    print("No Graphviz program: pip install 'microtensor[render]' to draw the explorer.")
print(f"loss on 'soup is good': {loss.item():.4f}")
explorer

# %%
print(f"CPU time for this page: {time.process_time() - started:.1f} s")
