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
# # Why plain RNNs forget
#
# The previous tutorial showed the gradient shrinking as it walks back through a tanh RNN.
# Here we measure it on a task built to need a long memory, the **adding problem**, compare
# the tanh RNN with the LSTM, and look at the two classic remedies: **gradient clipping**
# and the **forget-gate bias**. One of them fixes the problem and one does not; the
# measurements say which, and why.
#
# Everything here reuses the `vanishing` demo (`python -m demos.vanishing`, about a minute
# of CPU): its task, its models and its training loop, with shorter runs.
#
# The first cell makes the repository's `demos` and `models` packages importable and keeps
# matplotlib from opening windows when the page runs as a script.

# %%
import sys
import textwrap
from pathlib import Path

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "demos" / "soup.py").is_file())
sys.path.insert(0, str(root))

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # as a script: draw to memory only, no display needed
import matplotlib.pyplot as plt
import numpy as np

import microtensor as mt
from demos.common import StopOnInterrupt, blas_threads
from demos.vanishing import (
    COMPARED,
    SETTINGS,
    TEST_SIZE,
    build,
    parse_args,
    recorded_pass,
    recurrent_path,
    set_forget_bias,
    step_norms,
    train,
    verdict,
)
from microtensor.nn.utils import clip_grad_norm_
from microtensor.viz.views.gains import gate_means, gate_where_gradient_flows
from models.tasks import ADDING_BASELINE_MSE, adding_problem

# %% [markdown]
# ## The adding problem
#
# Hochreiter and Schmidhuber's test of long memory (1997). Each input is a sequence of
# pairs (value, marker): the values are random in [0, 1], and exactly two steps carry a
# marker of 1, one in each half of the sequence. The target is the sum of the two marked
# values. To get it right the network must notice the first marked value, hold it in its
# hidden state for at least half the sequence, and add the second. Here are three short
# sequences (T=10) from the demo's generator, `models.tasks.adding_problem`:

# %%
x, y = adding_problem(3, 10, np.random.default_rng(0))
for values, target in zip(x, y):
    print("values ", " ".join(f"{v:.2f}" for v in values[:, 0]))
    print("markers", " ".join(f"{m:4.0f}" for m in values[:, 1]), f" -> {target[0]:.3f}")

# %% [markdown]
# A model that learns nothing about the markers can still predict the average sum, 1.0,
# and score a mean squared error (MSE) of 1/6, the variance of the sum of two uniform
# numbers. That is the baseline: a model has learned something only below it. A model that
# remembers only the *second* marked value, the recent one, and guesses 0.5 for the first
# scores 1/12, the variance of one uniform number: below that, it must have carried the first
# value across half the sequence.

# %%
args50 = parse_args([])  # the demo's defaults: python -m demos.vanishing
test50 = adding_problem(32, args50.length, np.random.default_rng(args50.seed + 1))
print(f"the demo's defaults: T={args50.length}, hidden {args50.hidden}, {args50.steps} training steps, "
      f"seed {args50.seed}")
print(f"baseline MSE 1/6 = {ADDING_BASELINE_MSE:.4f}; on {len(test50[1])} test sequences, "
      f"1.0 scores {np.mean((test50[1] - 1.0) ** 2):.4f}")
second = (test50[0][..., 0] * test50[0][..., 1])[:, args50.length // 2:].sum(axis=1, keepdims=True)
print(f"only the second value: 1/12 = {1 / 12:.4f}; second + 0.5 scores "
      f"{np.mean((test50[1] - second - 0.5) ** 2):.4f}")

# %% [markdown]
# ## ‖∂L/∂h_t‖ against t, at initialisation
#
# The loss reads only the last step (the model is `models.classifier.SequenceClassifier`:
# an `nn.RNN` or `nn.LSTM` with 32 units, then a linear layer on the last hidden state). For
# one recorded backward pass over 32 test sequences of length 50, `demos.vanishing.step_norms`
# returns `‖∂L/∂h_t‖` for every step (`mt.viz.trace(loss, rec).step_norms("h")`, as in the
# previous tutorial). Three untrained networks: a tanh RNN, an LSTM with PyTorch's default
# initialisation, and the same LSTM with its forget-gate bias set to 1 (below). Look at the
# slope of each line on the log scale, and at what is left at t=0, where the first marker
# can sit.

# %%
chosen = {"tanh RNN": SETTINGS[0], "LSTM": SETTINGS[2], "LSTM, forget bias 1": SETTINGS[4]}
init_norms = {name: step_norms(build(s, args50.hidden, args50.seed), *test50)
              for name, s in chosen.items()}
last = args50.length - 1
for name, norms in init_norms.items():
    print(f"{name:<20} ‖∂L/∂h_{last}‖ {norms[last]:.1e}  ‖∂L/∂h_0‖ {norms[0]:.1e}  "
          f"ratio {norms[0] / norms[last]:.1e}")

fig, ax = plt.subplots(figsize=(7, 3.8))
for name, norms in init_norms.items():
    ax.semilogy(list(norms), list(norms.values()), marker="o", markersize=3, label=name)
ax.axhline(1e-6, color="#999999", linestyle="--", linewidth=1)
ax.text(0, 1e-6, " 1e-6: the explorer calls this vanished", va="bottom", fontsize=8, color="#777777")
ax.set_xlabel(f"step t (the loss reads the last step, t={last})")
ax.set_ylabel("‖∂L/∂h_t‖")
ax.set_title(f"Gradient reaching each step at initialisation (adding problem, T={args50.length})")
ax.grid(True, which="major", alpha=0.3)
ax.legend()
fig.tight_layout()

# %% [markdown]
# All three lines are close to straight on the log scale: the gradient shrinks by roughly
# the same factor at every step back, so over 50 steps the factors multiply into the ratios
# printed above. The tanh RNN's first step gets the least; the LSTM with forget bias 1 keeps
# by far the most. A step's term of `∂L/∂W_hh` is about as small, relative to the last
# steps' terms, as its `‖∂L/∂h_t‖`; in float32, whose relative precision is printed below,
# a term 1e-10 the size of the others is lost in rounding when they are added up. Whatever
# happened at the first marker, the network gets no signal to remember it.

# %%
print(f"float32 relative precision (machine epsilon): {np.finfo(np.float32).eps:.1e}")

# %% [markdown]
# ## The gain of one step back
#
# The factor per step is what `graph.step_gains()` measures: the norm of the gradient step
# `t` sends back to step `t-1`, over the norm that reached step `t` (the previous tutorial
# multiplied them out by hand: `δ_t = g_t ⊙ (1 − h_t²)`, `g_{t-1} = δ_t W_hh`). For the tanh
# RNN, every step back multiplies by `W_hh` and by `tanh'` ≤ 1.
#
# The LSTM has a second state, the cell state `c`, updated by addition:
# `c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`. Backwards, the direct path from `c_t` to `c_{t-1}` is
# just `∂L/∂c_{t-1} = f_t ⊙ ∂L/∂c_t`: no matrix, no squashing, only the **forget gate**
# `f_t = sigmoid(...)`, between 0 and 1. So the gain along `c` is about the forget gate, and
# over 49 steps back the gradient along `c` keeps roughly `f^49`. With PyTorch's
# initialisation the forget gate starts near sigmoid(0) = 0.5:

# %%
for f in (0.5, 1 / (1 + np.exp(-1.0))):
    print(f"forget gate {f:.3f}: f^{last} = {f ** last:.1e}")

# %% [markdown]
# `demos.vanishing.recurrent_path` says it per model, from one recorded pass: the median gain
# through `h` (and through `c`), and for an LSTM the mean forget gate
# (`microtensor.viz.views.gains.gate_means`) and the forget gate **where the gradient flows**
# (`microtensor.viz.views.gains.gate_where_gradient_flows`: each unit's gate weighted by
# `|∂L/∂c|`, the factor the gradient itself meets). These are the numbers of the explorer's
# *gains* view.

# %%
init_graphs = {}
for name, s in chosen.items():
    loss, rec = recorded_pass(build(s, args50.hidden, args50.seed), test50)
    init_graphs[name] = mt.viz.trace(loss, rec)
    print(textwrap.fill(recurrent_path(init_graphs[name]), 72, initial_indent=f"{name}: ",
                        subsequent_indent="    "))

# %% [markdown]
# The tanh RNN's median gain is well below 1. The default LSTM's gain along `c` sits at
# about its forget gate, near 0.5; with forget bias 1, about 0.73. Multiplied over the
# steps, that is the difference between the lines in the plot.
#
# ## Gradient clipping: a remedy for the opposite problem
#
# A gain above 1 makes the gradient **explode** instead: it grows at every step back. Scale
# the same tanh RNN's `W_hh` up and the ratio of the first step's gradient to the last's
# crosses 1:

# %%
for scale in (1.0, 2.0, 3.0, 4.0):
    model = build(SETTINGS[0], args50.hidden, args50.seed)
    with mt.no_grad():
        model.rnn.weight_hh_l0.mul_(scale)
    norms = step_norms(model, *test50)
    print(f"W_hh × {scale:.0f}: ‖∂L/∂h_0‖ / ‖∂L/∂h_{last}‖ = {norms[0] / norms[last]:.1e}")

# %% [markdown]
# An exploding gradient makes one update huge and throws the weights far off (the
# `curvature` demo finds such a cliff while training). **Gradient clipping** guards against
# that: `mt.nn.utils.clip_grad_norm_(parameters, max_norm)` (PyTorch's
# `torch.nn.utils.clip_grad_norm_`) computes the norm of all the parameters' gradients
# together and, if it is above `max_norm`, scales every gradient by `max_norm / norm`. It
# returns the norm before clipping. The direction does not change, only the length:

# %%
model = build(SETTINGS[0], args50.hidden, args50.seed)
with mt.no_grad():
    model.rnn.weight_hh_l0.mul_(4.0)
loss = mt.nn.functional.mse_loss(model(mt.tensor(test50[0])), mt.tensor(test50[1]))
loss.backward()
before = np.concatenate([p.grad.array.ravel() for p in model.parameters()])
total = clip_grad_norm_(model.parameters(), max_norm=1.0).item()
after = np.concatenate([p.grad.array.ravel() for p in model.parameters()])
cosine = before @ after / (np.linalg.norm(before) * np.linalg.norm(after))
print(f"gradient norm {total:.1f} before clipping, {np.linalg.norm(after):.3f} after")
print(f"cosine between the two directions: {cosine:.6f}")

# %% [markdown]
# Clipping changes the size of the step, never the balance within it: the early steps'
# share of `∂L/∂W_hh` is exactly as small after clipping as before. So it cannot bring back
# a gradient that vanished; it only keeps an exploding one from wrecking the weights.
#
# ## The forget-gate bias: a remedy for vanishing
#
# The LSTM's gradient along `c` is multiplied by the forget gate at every step, so start the
# forget gate open. `demos.vanishing.set_forget_bias` sets the forget gate's bias to 1 in
# every layer: PyTorch (and microtensor) store the LSTM's gates in the order input, forget,
# candidate, output, so the forget gate owns rows `H:2H` of `bias_ih` and `bias_hh`; the gate
# adds both biases, so one gets 1 and the other 0. (Keras does the same with
# `unit_forget_bias=True`; Gers, Schmidhuber and Cummins 2000, and Jozefowicz et al. 2015,
# recommend it.)

# %%
lstm = mt.nn.LSTM(2, 4)
set_forget_bias(lstm, 1.0)
H = lstm.hidden_size
print("bias_ih + bias_hh, by gate:")
for gate, rows in zip(("input", "forget", "candidate", "output"), range(4)):
    print(f"  {gate:<9} {(lstm.bias_ih_l0 + lstm.bias_hh_l0)[rows * H:(rows + 1) * H].array.round(2)}")
print(f"{'forget gate at init:':<20} {'mean':>6} {'where ∂L/∂c flows':>18}")
for name in ("LSTM", "LSTM, forget bias 1"):
    means = gate_means(init_graphs[name], "rnn.l0", "forget")
    flows = gate_where_gradient_flows(init_graphs[name], "rnn.l0", "forget", "c")
    print(f"{name:<20} {np.mean(list(means.values())):>6.3f} {np.mean(list(flows.values())):>18.3f}")

# %% [markdown]
# ## Training: does the early marker get learned?
#
# Now train each network on the adding problem: the same data, the same initial weights for
# runs of the same cell, Adam with the demo's settings, and only the cell, clipping and the
# forget bias changing. `demos.vanishing.train` runs one setting and measures the test MSE
# every 50 steps on the demo's 1,000 test sequences. At T=50 the LSTM needs many hundred
# steps to leave the baseline (the demo's default run length is printed above), so this
# page trains on sequences of T=20 for 600 steps: the same story, a few seconds per run.
# `python -m demos.vanishing --length 20 --steps 600` trains the same four runs (and one
# more, LSTM + clipping) and prints the same numbers.

# %%
args = parse_args(["--length", "20", "--steps", "600"])
test = adding_problem(TEST_SIZE, args.length, np.random.default_rng(args.seed + 1))
runs = [SETTINGS[0], SETTINGS[1], SETTINGS[2], SETTINGS[4]]
results = []
with blas_threads(args.threads), StopOnInterrupt() as stop:
    for setting in runs:
        results.append(train(setting, args, test, stop))

# %%
print(f"{'run':<31} {'MSE':>6} {'<1/12':>5} {'<0.01':>5} {'max‖g‖':>6} {'clipped':>7}")
for r in results:
    print(f"{r.setting.name:<31} {r.test_mse[-1]:>6.4f} {'yes' if min(r.test_mse) < 1 / 12 else 'no':>5} "
          f"{str(r.solved_at or 'never'):>5} {r.max_grad_norm:>6.2f} "
          f"{r.clipped_steps if r.setting.clip else '-':>7}")
print(textwrap.fill(verdict(results), 72))

fig, ax = plt.subplots(figsize=(7, 3.8))
for r in results:
    ax.semilogy(r.steps, r.test_mse, label=r.setting.name, linewidth=1.5)
ax.axhline(ADDING_BASELINE_MSE, color="#999999", linestyle="--", linewidth=1)
ax.text(0, ADDING_BASELINE_MSE, " predict the mean (1/6)", va="bottom", fontsize=8, color="#666666")
ax.axhline(1 / 12, color="#999999", linestyle=":", linewidth=1)
ax.text(0, 1 / 12, " only the second value (1/12)", va="bottom", fontsize=8, color="#666666")
ax.set_xlabel("training step")
ax.set_ylabel("test MSE")
ax.set_title(f"Adding problem, T={args.length}")
ax.grid(True, which="major", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# The table's columns: the final test MSE; whether the run ever got below 1/12; the first
# measured step below 0.01; the largest gradient norm of the run (before clipping); and how
# many steps were clipped (a gradient norm above the demo's `--clip 1.0`).
#
# Read the table and the curves together. After their first steps the tanh RNNs stay near
# or a little below the 1/6 line, well above 1/12: they learn a little, probably of the
# recent second value, but nothing shows they carry the first. Clipping was active in the
# clipped run (the clipped column) and did not rescue the RNN, as expected from what it
# does. The LSTMs leave the baseline, pass 1/12 and go below 0.01; the table says at which
# step.
#
# Training is chaotic, so one run proves little. Over seeds 0-2
# (`python -m demos.vanishing --length 20 --steps 600 --seed N`, N = 0, 1, 2) the tanh RNN
# runs ended at test MSE 0.107-0.164, never below 1/12, and every LSTM run (the demo's
# three LSTM settings) got below 0.01, between steps 250 and 400.
#
# ## Where the trained LSTM's gradient flows
#
# One recorded pass of each trained model on the same test sequences, through
# `recurrent_path` again. Compare the forget gate on average with the forget gate where the
# gradient flows: the second is much closer to 1. Training leaves many units forgetting
# quickly, while the units that carry the gradient back (and with it the marker) keep
# their forget gate open; along `c` the trained LSTMs pass back nearly all of it per step.

# %%
for r in results:
    loss, rec = recorded_pass(r.model, test)
    print(textwrap.fill(recurrent_path(mt.viz.trace(loss, rec)), 72,
                        initial_indent=f"{r.setting.name}, trained: ", subsequent_indent="    "))

# %% [markdown]
# ## The two side by side
#
# The same comparison as a page: the trained tanh RNN and the LSTM with clipping and a forget
# bias of 1, each recorded on the same 32 test sequences, in two linked explorers on one
# colour scale (`mt.viz.compare`), so equal gradients get equal colours on both sides. First,
# how much of the gradient that reaches the last step's state is left at the first step:

# %%
trained = {r.setting.name: r.model for r in results}
passes = [recorded_pass(trained[s.name], test) for s in COMPARED]
for setting, (loss, rec) in zip(COMPARED, passes):
    norms = mt.viz.trace(loss, rec).step_norms()
    first, last = min(norms), max(norms)
    print(f"{setting.name + ', trained:':<42} ‖∂L/∂h_{first}‖ / ‖∂L/∂h_{last}‖ = "
          f"{norms[first] / norms[last]:.3f}")

# %% [markdown]
# At T=20 this is a difference of degree, not the cliff of T=50: per step the trained RNN
# passes back the median gain printed in the section above, and over 20 steps those gains
# multiply. Press ▶ on either side to play its backward pass; the heat strip and the *gains*
# rows under it show the same numbers step by step, and a step chosen on one side is chosen
# on the other. `python -m demos.vanishing` writes the same page at T=50 to
# `runs/vanishing/compare_rnn_lstm.html`, where 30 more steps multiply the RNN's gradient by
# its gain 30 more times.

# %%
comparison = mt.viz.compare(*passes, labels=tuple(f"{s.name}, trained" for s in COMPARED),
                            detail="cell",
                            title=f"Adding problem, T={args.length}, after {args.steps} steps")
print(f"the page is {len(comparison.html) / 1e6:.1f} MB, all inline")
comparison

# %% [markdown]
# **What to remember:** in a tanh RNN, every step back multiplies the gradient by `W_hh` and
# `tanh'`, a gain usually below 1, so a signal 50 steps back arrives as almost nothing;
# clipping caps an exploding gradient and does nothing for a vanishing one; the LSTM's cell
# state carries the gradient back multiplied only by the forget gate, and a forget-gate bias
# of 1 starts that gate open.
