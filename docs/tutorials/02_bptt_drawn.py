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
# # Backprop through time, drawn
#
# A recurrent network uses the same weights at every step, so training it means asking how
# the loss depends on each step's hidden state, all the way back to the first word.
# **Backpropagation through time** (BPTT) is ordinary reverse-mode autodiff run over the
# unrolled loop: the gradient enters at the loss and walks back step by step along the
# hidden state, and every step adds its own term to the gradient of the shared weights.
#
# On this page: one forward and backward pass of a small tanh RNN over a ten-word sentence,
# recorded; BPTT written out by hand in numpy and checked against the engine; then the
# **explorer**, an interactive page right here in the notebook where you can play the
# backward pass one box at a time and read the heat strip of `‖∂L/∂h_t‖`.
#
# The first cell makes the repository's `demos` and `models` packages importable.

# %%
import sys
from pathlib import Path

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "demos" / "soup.py").is_file())
sys.path.insert(0, str(root))

import numpy as np

import microtensor as mt
from microtensor.nn import functional as F

np.set_printoptions(precision=3, suppress=False)

# %% [markdown]
# ## A sentence and a small model
#
# The sentence is one of the `sentiment` demo's reviews: the label (1 positive, 0 negative)
# depends on the last word *and* on a "never" eight words before it. The model is
# `models.classifier.SequenceClassifier`, the sentiment demo's many-to-one network: an
# embedding (each word id picks a learned vector of 8 numbers: a one-hot vector times a
# matrix, done as a lookup; PyTorch's `nn.Embedding`), a tanh `nn.RNN` with 6 hidden units,
# and a linear layer that reads **only the last hidden state** and scores the two classes.
# So the loss touches the sequence at one place, the last step, and every other step hears
# from it only through the hidden state. The model is untrained: this page is about how the
# gradient flows, not about what it learns.

# %%
from models.classifier import SequenceClassifier
from models.tasks import NEGATION_VOCAB

words = ["we", "never", "thought", "the", "soup", "from", "the", "market", "was", "good"]
label = 0  # "never ... good": negative
ids = np.array([[NEGATION_VOCAB.index(w) for w in words]])  # (batch 1, 10 steps)

mt.manual_seed(0)
model = SequenceClassifier(input_size=8, hidden_size=6, num_classes=2, cell="rnn",
                           vocab_size=len(NEGATION_VOCAB))
print(model)
print(f"{len(words)} steps, word ids {ids[0].tolist()}")

# %% [markdown]
# ## Recording one pass
#
# `mt.viz.record()` is a context manager: inside it the engine reports every op it runs,
# forward and backward, to a `Recording` (outside it, recording costs nothing). Run the
# forward pass, the loss (`F.cross_entropy`, as PyTorch's) and `loss.backward()` inside it.
# `mt.viz.trace(loss, rec)` then turns the recorded graph into plain data: nodes (every op's
# output, with its value and gradient) and edges.

# %%
with mt.viz.record() as rec:
    logits = model(ids)
    loss = F.cross_entropy(logits, mt.tensor([label]))
    loss.backward()
graph = mt.viz.trace(loss, rec)
print(f"loss {loss.item():.4f}; the traced graph has {len(graph.nodes)} nodes and {len(graph.edges)} edges")

# %% [markdown]
# ## How much gradient reaches each step
#
# `graph.step_norms()` gives `‖∂L/∂h_t‖` for every step `t`: the size of the gradient that
# reached the hidden state at step `t`. This is the number the explorer's heat strip shows,
# one coloured cell per step. Read it from the bottom up, the way the gradient travels: it
# starts at the last word, where the loss reads `h`, and shrinks as it goes back.

# %%
norms = graph.step_norms()
for t, n in norms.items():
    print(f"t={t}  {words[t]!r:<9} ‖∂L/∂h_t‖ = {n:.2e}")
last = len(words) - 1
print(f"the first step gets {norms[0] / norms[last]:.1e} of what the last step gets")

# %% [markdown]
# ## BPTT by hand
#
# Why does it shrink? Write one step as `a_t = x_t W_ihᵀ + h_{t-1} W_hhᵀ + b` and
# `h_t = tanh(a_t)` (row vectors, as PyTorch stores a batch). Call `g_t = ∂L/∂h_t`. The
# chain rule through one step back is
#
# ```
# δ_t      = g_t ⊙ (1 − h_t²)     # through tanh: tanh'(a) = 1 − tanh(a)²
# g_{t-1}  = δ_t W_hh              # through the matrix product
# ∂L/∂W_hh = Σ_t δ_tᵀ h_{t-1}      # one term per step: the weight is shared
# ```
#
# (Where the loss also reads the output `y_{t-1}` of an earlier step, as a language model's
# does, `g_{t-1}` adds `∂L/∂y_{t-1}`; here only the last step is read.) Every step back
# multiplies the gradient by `W_hh` and by `1 − h²`, which is at most 1.
# Here it is in numpy, starting from the gradient the engine found at the last step; the
# recording kept every step's `h` (`node.array`) and its gradient (`node.grad_array`).

# %%
h_nodes = {n.step: n for n in graph.named("h") if n.step is not None}
h = {t: n.array[0].astype(np.float64) for t, n in h_nodes.items()}  # (6,) per step
W_hh = model.rnn.weight_hh_l0.array.astype(np.float64)

g = {last: h_nodes[last].grad_array[0].astype(np.float64)}
by_hand_grad = np.zeros_like(W_hh)
for t in range(last, -1, -1):
    delta = g[t] * (1 - h[t] ** 2)
    if t > 0:
        by_hand_grad += np.outer(delta, h[t - 1])  # h_{-1} = 0 adds nothing at t=0
        g[t - 1] = delta @ W_hh
for t in range(last + 1):
    print(f"t={t}  by hand {np.linalg.norm(g[t]):.4e}   engine {norms[t]:.4e}")
engine_grad = model.rnn.weight_hh_l0.grad.array
print(f"∂L/∂W_hh by hand vs loss.backward(): largest difference "
      f"{np.abs(by_hand_grad - engine_grad).max():.1e}")
print(f"(the gradient's largest entry is {np.abs(engine_grad).max():.1e})")

# %% [markdown]
# The engine did exactly that. Two more views of the same numbers, both drawn by the explorer
# below.
#
# **The gain of the recurrent path.** `graph.step_gains()[t]` is `‖g_{t-1}‖ / ‖g_t‖`: what
# step `t` passes back to the step before, as a fraction of what reached it. Below 1 the
# gradient shrinks; over a span of steps the gains multiply (that is why the norms above fall
# geometrically).
#
# **A weight's gradient is a sum over time.** `rec.weight_steps(W)` returns each step's term
# of a shared weight's gradient; they add up to `W.grad`.

# %%
gains = graph.step_gains()
print(f"gain per step, t=1..{last}:", " ".join(f"{v:.2f}" for v in gains.values()))
print(f"median gain {np.median(list(gains.values())):.2f}")
print(f"their product {np.prod(list(gains.values())):.1e} "
      f"= ‖∂L/∂h_0‖ / ‖∂L/∂h_{last}‖ = {norms[0] / norms[last]:.1e}")

terms = rec.weight_steps(model.rnn.weight_hh_l0)
G = engine_grad.astype(np.float64)
for t, term in terms.items():
    share = round(float(np.sum(term * G) / np.sum(G * G)), 3) + 0.0  # + 0.0: no "-0.000"
    print(f"t={t}  ‖term_t‖ = {np.linalg.norm(term):.2e}   share ⟨term_t, G⟩/‖G‖² = {share:+.3f}")
print(f"sum of the terms vs W_hh.grad: largest difference {np.abs(sum(terms.values()) - G).max():.1e}")
last_k = {k: sum(terms[t] for t in range(last + 1 - k, last + 1)) for k in range(1, last + 2)}
enough = min(k for k, part in last_k.items() if np.linalg.norm(G - part) <= 0.1 * np.linalg.norm(G))
print(f"the last {enough} steps give ∂L/∂W_hh to within 10%")

# %% [markdown]
# At `t=0` the term is exactly zero: `h_{-1}` is zeros, so `W_hh` has nothing to multiply
# there. And the last few steps give almost the whole gradient: the early words barely
# influence how `W_hh` changes. For this untrained network, "never" (t=1) is nearly
# invisible to learning. That is the vanishing gradient, the subject of the next tutorial.
#
# ## The explorer
#
# `mt.viz.explore(loss, rec)` draws all of this as one self-contained page: the unrolled
# graph, the heat strip, the replay of the backward pass and the lab views below the strip.
# Left as the last line of a notebook cell, it shows up inline in its own frame (it needs no
# network); `.save("bptt.html")` writes it as a file for a browser instead.
# `tokens=words` labels each step with its word.
#
# What to do with it:
#
# - **The heat strip** (top): one row per layer (here one, `rnn.l0`), one cell per step,
#   coloured by `‖∂L/∂h_t‖` on a log scale (cream is small, deep purple large; grey would
#   mean *vanished*, below 1e-6; hatched, exactly 0). The small plot beside it is the same
#   norms on a log axis: a straight falling line is geometric decay. Click a cell to move
#   the graph to that step.
# - **Play the backward pass**: *▶ play backward pass* runs it; *▶|* and *◀* (or the arrow
#   keys and space) step one box at a time, *reset* starts again from nothing lit. The boxes
#   light in the order the engine visits them: the loss first, then the head, then `h` at
#   `t=9`, then back through `tanh` and `h W_hhᵀ` into `t=8`, and so on. A box lights
#   when its gradient is complete, in its colour by gradient norm, so you can watch the
#   colour fade step by step. The caption names each step in symbols.
# - **Click a box** for its statistics (value and gradient: norm, mean, std, histogram).
#   *Last steps* and *whole graph* zoom; drag to pan, wheel to zoom.
# - **The lab, under the strip.** *weights*: each step's share of `∂L/∂W_hh` (the shares
#   printed above; the selector switches weight). *gains*: the gain of the recurrent path per
#   step (blue below 1). *units*: click an `h` box (or *show them*) for every hidden unit's
#   value and gradient at every step. *rolled network* (top right): the textbook picture,
#   one cell with a loop, filled with the gradient of the step chosen on the strip.

# %%
explorer = mt.viz.explore(loss, rec, tokens=words,
                          title="tanh RNN, hidden 6, reading a 10-word review (untrained)")
print(f"the page is {len(explorer.html) / 1e3:.0f} kB, all inline")

# %%
explorer

# %% [markdown]
# Run as a plain script (`python docs/tutorials/02_bptt_drawn.py`), the bare `explorer` line
# above does nothing; `explorer.save("bptt.html")` would write the page to open in a
# browser. The `soup`, `vanishing` and `char_lm` demos write one for each of their models.
#
# **What to remember:** BPTT is the chain rule along the hidden state; every step back
# multiplies the gradient by `W_hh` and by `tanh'`; the gradient of a shared weight is a sum
# of one term per step; and `‖∂L/∂h_t‖`, the heat strip, shows how much of the loss's
# signal reaches each word.
