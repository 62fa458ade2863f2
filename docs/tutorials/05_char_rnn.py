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
# # A character-level language model
#
# Andrej Karpathy's char-rnn (2015, "The Unreasonable Effectiveness of Recurrent Neural
# Networks") reads text one character at a time and learns to predict the next one. Nothing
# tells it what a word, a line or a speaker is; after a few minutes of training it writes
# text with all three. Once it predicts, it can write: pick a next character from its
# prediction, feed it back in, repeat.
#
# This page builds that model with this library, on Tiny Shakespeare (Karpathy's corpus,
# shipped in `models/data/`), in three parts:
#
# 1. **Truncated backpropagation through time**: the text is far too long to backpropagate
#    through in one piece, so it is read in chunks; the hidden state carries on from chunk to
#    chunk, but the gradient stops at each chunk's start (`.detach()`).
# 2. **A short training run**, a few hundred steps, against the loss a bigram model reaches.
# 3. **Sampling and temperature**: how the trained model writes, and how one number trades
#    safe, repetitive text for wild text.
#
# The pieces are the ones `python -m demos.char_lm` trains with: `models/text.py` (vocabulary,
# train/validation split, batches, the bigram baseline) and `models/char_lm.py` (the model,
# sampling, evaluation). The training loop is written out here.

# %%
import sys
import time
from collections import Counter
from pathlib import Path

# The demos' packages (demos/, models/) sit beside microtensor in the repository root: put the
# root on the path, whether this runs as a script from the root or as a notebook from docs/tutorials/.
root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "models" / "char_lm.py").is_file())
sys.path.insert(0, str(root))

import matplotlib

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

import microtensor as mt
from microtensor.nn import functional as F
from microtensor.nn.utils import clip_grad_norm_
from models.char_lm import CharLM, detach, evaluate, next_char_probs
from models.text import Streams, Vocabulary, bigram_loss, read_text, split

started = time.process_time()
# A recurrent network multiplies small matrices one step at a time: one BLAS thread is the
# fastest for them, and never fights other programs for the cores.
threadpool_limits(limits=1, user_api="blas")
_ = mt.manual_seed(0)  # the same weights at every run (it returns the generator)

# %% [markdown]
# ## The text
#
# The first 200,000 characters of Tiny Shakespeare (about a fifth of it, to keep this page
# fast). The vocabulary is every distinct character; each becomes an index. The first 90% of
# the text trains, the last 10% validates: text the model never reads while learning.
#
# Three numbers frame the run, each the validation loss of a model that needs no training.
# Guessing uniformly among the `V` characters costs `ln(V)` nats per character. A **unigram**
# model predicts every character with its frequency in the training text (spaces and `e` often,
# `Z` rarely). A **bigram** model predicts each character from the one before it, by counting
# pairs in the training text: a recurrent network that cannot beat it has learned nothing
# beyond one character of context.

# %%
text = read_text(root / "models" / "data" / "tinyshakespeare.txt")[:200_000]
vocab = Vocabulary.from_text(text)
train_data, val_data = split(vocab.encode(text))
frequency = (np.bincount(train_data, minlength=len(vocab)) + 1) / (len(train_data) + len(vocab))
uniform, unigram = np.log(len(vocab)), -np.log(frequency[val_data[1:]]).mean()
bigram = bigram_loss(train_data, val_data, len(vocab))  # add-one smoothing, as the unigram
print(f"{len(text):,} characters, {len(vocab)} distinct: {vocab.chars!r}")
print(f"training {len(train_data):,} characters, validation {len(val_data):,}")
print(f"validation loss, in nats per character: uniform guess {uniform:.3f}, unigram {unigram:.3f}, "
      f"bigram {bigram:.3f}")
print("\nThe text begins:\n" + text[:160])

# %% [markdown]
# ## Chunks for truncated BPTT
#
# Backpropagating through all 180,000 training characters at once would need the whole
# unrolled graph in memory, and one update per pass over the text. Instead, char-rnn cuts the
# text into `batch` long **streams**, one per batch row, and reads all of them
# `seq_len` characters at a time: chunk `i` is the next `seq_len` characters of every stream,
# and the target of each character is the one after it. Row `b` of chunk `i + 1` continues
# row `b` of chunk `i`, so the state the model ends a chunk with is the right state to start
# the next one from.
#
# `Streams` builds that layout. On a small example (2 streams, 12 characters per chunk), look
# at how each row of chunk 1 continues the same row of chunk 0:

# %%
small = Streams(train_data, batch_size=2, seq_len=12)
for i in range(2):
    inputs, targets = small[i]
    print(f"chunk {i}: " + "   ".join(repr(vocab.decode(row)) for row in inputs))
inputs, targets = small[0]
print(f"\ninputs  of row 0, chunk 0: {vocab.decode(inputs[0])!r}")
print(f"targets of row 0, chunk 0: {vocab.decode(targets[0])!r}  (the same, one character later)")

batch, seq_len = 32, 64
streams = Streams(train_data, batch_size=batch, seq_len=seq_len)
print(f"\ntraining: {batch} streams of {streams.streams.shape[1]:,} characters, "
      f"{len(streams)} chunks of {seq_len} per pass over the text")

# %% [markdown]
# ## The model
#
# `CharLM`: an embedding of each character (a learned vector of 32 numbers; one-hot vectors
# would do too, `embedding_dim=None`), an LSTM with 128 units, and a linear readout to one
# score (logit) per character of the vocabulary. Given a chunk (batch, seq_len) and the state
# from the previous chunk, it returns the logits of every next character and its final state,
# `(h, c)` for an LSTM.

# %%
model = CharLM(vocab, hidden_size=128, embedding_dim=32, cell="lstm")
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
logits, state = model(inputs)
print("logits", logits.shape, " state: h", state[0].shape, " c", state[1].shape)

# %% [markdown]
# ## Why `.detach()`
#
# The state that comes out of a chunk remembers how it was computed: it is the end of that
# chunk's graph. Feed it as it is into the next chunk and the second `backward()` tries to go
# back through the first chunk's graph too, whose saved values the first `backward()` already
# freed. The engine says so, as PyTorch does:

# %%
logits, state = model(streams[0][0])
F.cross_entropy(logits.reshape(-1, len(vocab)), streams[0][1].reshape(-1)).backward()
logits, _ = model(streams[1][0], state)  # the state, still attached to chunk 0's graph
try:
    F.cross_entropy(logits.reshape(-1, len(vocab)), streams[1][1].reshape(-1)).backward()
except RuntimeError as err:
    print("RuntimeError:", err)
model.zero_grad()

# %% [markdown]
# `retain_graph=True` would silence the error, but then every chunk would backpropagate
# through every chunk before it: the cost of a step would grow without end. Truncated BPTT
# keeps the state's **values** and drops its **history**: `state.detach()` (for an LSTM,
# both `h` and `c`; `models.char_lm.detach` does both). The forward pass still sees the whole
# text's past through the carried state; the backward pass stops at the chunk's start, so
# the model is taught only about dependencies up to `seq_len` characters long, and learns
# longer ones only as far as they happen to help within a chunk.

# %%
logits, state = model(streams[0][0])
detached = detach(state)
print("before detach: h.requires_grad =", state[0].requires_grad, ", grad_fn =",
      type(state[0].grad_fn).__name__)
print("after detach:  h.requires_grad =", detached[0].requires_grad, ", grad_fn =", detached[0].grad_fn)
print("same values:", np.array_equal(state[0].detach().numpy(), detached[0].numpy()))

# %% [markdown]
# ## Training
#
# The loop of char-rnn: for each chunk, forward from the carried state, cross-entropy of every
# predicted character, backward, clip the gradient norm (a long unrolled graph occasionally
# produces a huge gradient), an Adam step, then carry the detached state on. At the end of a
# pass over the text the streams start again from their beginnings, and the state from zeros.
#
# Before training, the model's predictions are close to uniform, and so is its writing:

# %%
rng = np.random.default_rng(0)
print(repr(model.sample("\n", 120, generator=rng)))
print(f"validation loss before training: {evaluate(model, val_data, 8, 256):.3f} nats/char")

# %%
steps, lr, clip = 250, 1e-2, 5.0
optimizer = mt.optim.Adam(model.parameters(), lr=lr)
losses, state = [], None
train_started = time.process_time()
for step in range(steps):
    position = step % len(streams)
    if position == 0:
        state = None  # every stream starts again at its beginning
    inputs, targets = streams[position]
    logits, state = model(inputs, state)
    loss = F.cross_entropy(logits.reshape(-1, len(vocab)), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    state = detach(state)  # truncated BPTT: carry the state, not its history
    losses.append(loss.item())
    if step % 50 == 0 or step == steps - 1:
        print(f"step {step:>3}: training loss {loss.item():.3f}")
train_cpu = time.process_time() - train_started
val = evaluate(model, val_data, 8, 256)
print(f"\n{steps} steps ({steps * batch * seq_len:,} characters, "
      f"{steps * batch * seq_len / len(train_data):.1f} passes over the training text) in "
      f"{train_cpu:.1f} s of CPU")
print(f"validation loss {val:.3f} nats/char (bigram {bigram:.3f}, unigram {unigram:.3f}, "
      f"uniform {uniform:.3f})")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(losses, lw=1, label="training loss (each chunk)")
ax.axhline(unigram, color="tab:orange", ls=":", lw=1, label=f"unigram model on validation ({unigram:.2f})")
ax.axhline(bigram, color="tab:red", ls="--", lw=1, label=f"bigram model on validation ({bigram:.2f})")
ax.plot([steps - 1], [val], "o", color="black", label=f"validation after training ({val:.2f})")
ax.set_xlabel("step")
ax.set_ylabel("nats per character")
ax.set_ylim(0, uniform + 0.3)
ax.grid(alpha=0.3)
ax.legend()
ax.set_title("char-rnn on Tiny Shakespeare: an LSTM with 128 units")
fig.tight_layout()
plt.show()

# %% [markdown]
# The curve falls fast: first past the unigram line (the model has learned which characters
# are common), then past the bigram line (which follow which), and on below it, which only
# more than one character of context allows. The training loss is noisy, one chunk per step;
# averaged over 10 chunks, it crossed the two lines here:

# %%
smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")  # smooth[k]: mean of steps k..k+9
for name, line in (("unigram", unigram), ("bigram", bigram)):
    below = smooth < line
    crossed = f"step {int(np.argmax(below)) + 9}" if below.any() else "no step"
    print(f"mean training loss of 10 chunks first below the {name} line ({line:.3f}): {crossed} "
          f"of {steps}")

# %% [markdown]
# **How much the carried state is worth.** The same validation text, read two ways: with the
# state carried along the whole text (what `evaluate` does), and with the state reset to zeros
# at the start of every 64-character chunk, so the first characters of each chunk are
# predicted from little context.

# %%
@mt.no_grad()
def loss_with_reset(model, data, seq_len):
    """Mean cross-entropy over ``data`` cut into windows of ``seq_len``, each from a zero state."""
    n = (len(data) - 1) // seq_len
    windows = np.stack([data[k * seq_len:(k + 1) * seq_len + 1] for k in range(n)])
    logits, _ = model(windows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, len(vocab)), windows[:, 1:].reshape(-1)).item()


reset = loss_with_reset(model, val_data, seq_len)
print(f"state carried along: {val:.3f} nats/char; reset every {seq_len} characters: {reset:.3f}")

# %% [markdown]
# ## Sampling and temperature
#
# To write, the model reads a prefix, turns the logits of the next character into
# probabilities, draws one character, reads it, and so on (`CharLM.sample`). The
# **temperature** `T` divides the logits before the softmax, `softmax(logits / T)`: below 1
# the likeliest characters get likelier (at `T → 0` it always takes the top one); above 1 the
# distribution flattens towards uniform. Here is the next-character distribution after a
# prefix, at three temperatures (the five likeliest characters):

# %%
prefix = "First Citizen:\nWe are "
with mt.no_grad():
    logits, _ = model(vocab.encode(prefix)[None, :])
last = logits.numpy()[0, -1]
for temperature in (0.5, 1.0, 2.0):
    probs = next_char_probs(last, temperature)
    top = np.argsort(-probs)[:5]
    shown = "  ".join(f"{vocab.chars[k]!r} {probs[k]:.2f}" for k in top)
    print(f"T = {temperature}: {shown}   (the five together: {probs[top].sum():.2f})")

# %% [markdown]
# And the writing itself, 400 characters after a new line at two temperatures (the same
# random generator seed for both). One way to put a number on the difference: the share of
# the sample's words (letters only) that appear somewhere in the training text.

# %%
train_words = set("".join(c if c.isalpha() else " " for c in vocab.decode(train_data).lower()).split())


def real_word_share(sample):
    """The share of the sample's words found in the training text, and the words."""
    words = "".join(c if c.isalpha() else " " for c in sample.lower()).split()
    return sum(w in train_words for w in words) / max(1, len(words)), words


for temperature in (0.5, 1.0):
    sample = model.sample("\n", 400, temperature=temperature, generator=np.random.default_rng(1))
    share, words = real_word_share(sample)
    top, top_count = Counter(words).most_common(1)[0]
    print(f"---- temperature {temperature}: {len(words)} words, {len(set(words))} different, "
          f"{share:.0%} of them in the training text; the commonest, {top!r}, is "
          f"{top_count / len(words):.0%} of them")
    print(sample)

# %% [markdown]
# What to look for: at the lower temperature the model keeps to what it is surest of, so more
# of its words are real ones, and the commonest words come back again and again (fewer
# different words, a larger share for the commonest). At temperature 1 it draws from its
# distribution as it is: more variety, more invented words. Neither is Shakespeare after a few
# hundred steps; what comes first is the layout (a speaker's name, a colon, a new line, a
# speech), then the spelling, and the sense last of all.
#
# ## Going further
#
# - `python -m demos.char_lm` trains the same model, larger (256 units, 1,500 steps, a cosine
#   learning-rate decay) on the English documentation that ships with CPython, checkpoints it
#   (Ctrl-C saves, `--resume` continues), and writes the loss curve, samples and the explorer
#   of one training chunk; `--text models/data/tinyshakespeare.txt --preset shakespeare` trains
#   on all of Tiny Shakespeare. The demos page (docs/demos.md) quotes the losses they reach.
# - `python -m demos.min_char_rnn` is Karpathy's min-char-rnn written with raw engine ops, no
#   `nn`: the whole idea on one page.
# - Try `cell="gru"` or `cell="rnn"` above, or a longer `seq_len`, and compare the validation
#   loss.

# %%
print(f"CPU time for this page: {time.process_time() - started:.1f} s")
