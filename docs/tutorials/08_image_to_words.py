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
# # Image to words
#
# The encoder-decoder of the last page does not care what the encoder reads. Give it an
# image instead of English words and it becomes a **captioning** model, the idea of "Show,
# attend and tell" (Xu et al., 2015): a network looks at a picture and writes a sentence
# about it, attending to one part of the picture per word.
#
# Here the pictures are strips of 1 to 5 handwritten digits side by side, and the caption is
# the digits' names in reading order:
#
#     [7][3][9]  ->  seven three nine
#
# To name the third digit the decoder has to look at the third digit, so if attention works
# as advertised it should sweep across the strip from left to right, one digit per word.
# This page trains the `caption` demo's model (`demos/caption.py`, `models/encoders.py`,
# `models/seq2seq.py`) at a smaller size for a few hundred steps and draws that sweep. It runs
# in about 15 seconds of CPU (the last cell prints how long it took).
#
# The first cell makes the repository's `demos` and `models` packages importable (they sit
# beside `microtensor` in the repository root, whether this page runs as a script from the
# root or as a notebook from `docs/tutorials/`).

# %%
import sys
import time
from pathlib import Path
from types import SimpleNamespace

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "demos" / "caption.py").is_file())
sys.path.insert(0, str(root))

import matplotlib

if "ipykernel" not in sys.modules:  # run as a script: draw off-screen, never open a window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

import microtensor as mt
from demos.caption import attention_on_columns, evaluate
from demos.common import StopOnInterrupt
from demos.translate import train
from models.digit_strips import CAPTION_VOCAB, DIGITS_FILE, load_digits, make_strips, split_digits
from models.encoders import ColumnEncoder
from models.seq2seq import Seq2Seq

# Small matrices, one timestep at a time: a second BLAS thread only gets in the way.
threadpool_limits(limits=1, user_api="blas")
cpu_start = time.process_time()
SEED = 0

# %% [markdown]
# ## The data: UCI's 8x8 digits, in strips
#
# The digits are the UCI handwritten digits (E. Alpaydin and C. Kaynak, CC BY 4.0), 8x8
# pixels each, shipped with the repository in `models/data/`. As in the demo, the digit
# *images* are split 80/20 before any strip is made, so a held-out strip is made only of
# images the model never saw. `make_strips` puts 1 to 5 random digits side by side with 0 to
# 3 blank columns before each.

# %%
images, labels = load_digits()
train_idx, test_idx = split_digits(len(images), 0.2, np.random.default_rng(SEED))
train_images, train_labels = images[train_idx], labels[train_idx]
test_images, test_labels = images[test_idx], labels[test_idx]
print(f"{len(images):,} digit images of {images.shape[1]}x{images.shape[2]} pixels "
      f"(from {DIGITS_FILE.relative_to(root)}): {len(train_idx):,} to train on, "
      f"{len(test_idx):,} held out")

examples = make_strips(test_images, test_labels, 3, np.random.default_rng([SEED, 99]), lengths=(2, 5))
fig, axes = plt.subplots(1, 3, figsize=(10, 1.6))
for ax, pixels, width, caption in zip(axes, examples.pixels, examples.widths, examples.captions()):
    ax.imshow(pixels[:, :width], cmap="Greys", vmin=0, vmax=1)
    ax.set_title(" ".join(caption), fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()
print("widths in columns:", examples.widths.tolist(), "; each digit starts at column:", examples.starts)

# %% [markdown]
# ## Reading an image as a sequence
#
# An RNN reads sequences, so the encoder (`ColumnEncoder`) reads the strip as a sequence of
# **columns**, left to right. At every second column it takes a window of 8 columns (one digit
# wide) and maps the 64 pixels to a vector with one linear layer (a *patch embedding*), then
# runs a bidirectional GRU along the strip. The result is one key per position, two columns
# apart. Strips differ in width, so they are packed, as sentences of different lengths were:
# the GRU never reads the padding. Below, how many positions the encoder makes of each strip,
# and the shape of the windows it embeds.

# %%
mt.manual_seed(SEED)
model = Seq2Seq(ColumnEncoder(height=8, embed_size=32, hidden_size=32), len(CAPTION_VOCAB),
                embed_size=16, hidden_size=32, attention="additive")
encoder = model.encoder
batch = examples.batch()
print(f"source: {batch.source.shape} (strips, columns, pixels per column)")
print(f"windows: {encoder.windows(batch.source).shape} "
      f"(strips, positions, {encoder.window} columns x 8 pixels)")
print(f"positions per strip: {encoder.positions(examples.widths).tolist()} "
      f"(a key every {encoder.stride} columns)")
print(f"caption words: {CAPTION_VOCAB.words}")
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# The decoder is exactly the translation model's: an LSTM cell writing one word per step,
# with additive attention over the keys. Only the encoder changed.
#
# ## A short training run
#
# The demo trains a model twice as wide (hidden 64) for 3,000 steps of 64 strips, at a
# learning rate of 0.003. Here: hidden 32, 400 steps of 32 strips of 1 to 5 digits at 0.005,
# with the same loop as the last page (`demos.translate.train`: Adam, clipping,
# cross-entropy with teacher forcing). Every 100 steps it measures the held-out **exact
# match** on 300 strips of 3 digits: the whole caption right.

# %%
STEPS, EVERY = 400, 100
tests = {n: make_strips(test_images, test_labels, 300, np.random.default_rng([SEED, n]), lengths=(n, n))
         for n in range(1, 6)}
rng = np.random.default_rng([SEED, 0])


def next_batch():
    return make_strips(train_images, train_labels, 32, rng, lengths=(1, 5)).batch()


def held_out():
    return evaluate(model, tests[3])["exact"]


settings = SimpleNamespace(steps=STEPS, lr=0.005, clip=1.0, eval_every=EVERY)
with StopOnInterrupt() as stop:
    history = train(model, next_batch, held_out, settings, stop, "caption")
print(f"{history.cpu_seconds:.1f} s of CPU for {len(history.losses)} steps")
for step, accuracy in history.accuracy.items():
    print(f"  step {step:>4}: training loss {np.mean(history.losses[step - 20:step]):.3f}, "
          f"held-out exact match on 3-digit strips {accuracy:.1%}")

# %% [markdown]
# ## How well, by strip length
#
# `evaluate` (the demo's) decodes the held-out strips greedily and reports, for each strip
# length, the exact match, the per-word accuracy (a word is right when it is the right name
# in the right place), and how often each word's attention **peaks on its own digit**: the
# position with the most weight lies inside the columns of the digit being named (counted
# over the captions that came out with the right number of words).

# %%
print(f"{'digits':>6} {'exact':>8} {'per word':>9} {'attention peak on its digit':>29}")
results = {n: evaluate(model, strips) for n, strips in tests.items()}
for n, r in results.items():
    print(f"{n:>6} {r['exact']:>8.1%} {r['word']:>9.1%} {r['peaks']:>29.1%}")

# %% [markdown]
# Longer strips are harder: one wrong digit anywhere spoils the whole caption, so exact match
# falls with length while per-word accuracy stays higher. The last column is the point of
# this page: almost every word looks at the digit it names.
#
# ## Attention sweeping left to right
#
# One held-out strip of five digits, decoded greedily. The top image is the strip; below it,
# one row per word written, with that word's attention drawn in red over the columns it fell
# on (each key's weight spread over its two columns: `attention_on_columns`). Look at how the
# red moves one digit to the right with every word.

# %%
strip = make_strips(test_images, test_labels, 1, np.random.default_rng([SEED, 7]), lengths=(5, 5))
one = strip.batch()
decoded = model.greedy(one.source, one.source_lengths, max_steps=7)
words = CAPTION_VOCAB.decode(decoded.ids[0])
width = int(strip.widths[0])
image = strip.pixels[0, :, :width]
rows = [*words, "</s>"]
columns = attention_on_columns(decoded.attention[0, :len(rows)], encoder.stride, width)

fig, axes = plt.subplots(len(rows) + 1, 1, figsize=(6, 0.75 * (len(rows) + 1) + 0.4))
for k, ax in enumerate(axes):
    ax.imshow(image, cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if k == 0:
        ax.set_ylabel("strip", rotation=0, ha="right", va="center")
        continue
    weights = columns[k - 1]
    ax.imshow(np.broadcast_to(weights / weights.max(), image.shape), cmap="Reds", alpha=0.6,
              vmin=0, vmax=1)
    ax.set_ylabel(rows[k - 1], rotation=0, ha="right", va="center")
fig.suptitle("each word's attention over the strip (red = more attention)", fontsize=10)
fig.tight_layout()
plt.show()

truth = strip.captions()[0]
print(f"caption:   {' '.join(words)}")
print(f"reference: {' '.join(truth)}")
for k, word in enumerate(words):
    peak = int(columns[k].argmax())
    where = next((i for i, s in enumerate(strip.starts[0]) if s <= peak < s + 8), None)
    centre = float((columns[k] * np.arange(width)).sum() / columns[k].sum())
    print(f"  word {k + 1} {word:<6}: attention peaks at column {peak:>2}, centre of mass at "
          f"{centre:4.1f}, " + (f"inside digit {where + 1} ({truth[where]}, columns "
                                f"{strip.starts[0][where]}-{strip.starts[0][where] + 7})"
                                if where is not None else "in a gap between digits"))

# %% [markdown]
# The printed columns tell the same story as the picture: word *k* looks at digit *k*. The
# attention was never told where the digits are: the only training signal was the caption.
# Looking at the right digit is simply the easiest way to name it, so that is what the
# attention learned. The last row, `</s>`, is where the model decides that the strip has
# ended, so it looks near the strip's end.
#
# ## Where it goes wrong
#
# The held-out captions of 4 and 5 digits that came out wrong, sorted by kind of mistake,
# and the first few of them. The model above has seen far fewer strips than the demo's
# (printed first).

# %%
print(f"strips seen in training: {STEPS * 32:,} here, {3000 * 64:,} in the demo")
wrong = []
for n in (4, 5):
    batch = tests[n].batch()
    guesses = model.greedy(batch.source, batch.source_lengths, max_steps=7).ids
    for guess, caption in zip(guesses, tests[n].captions()):
        if CAPTION_VOCAB.decode(guess) != caption:
            wrong.append((caption, CAPTION_VOCAB.decode(guess)))
one_digit = [(c, g) for c, g in wrong if len(c) == len(g) and sum(a != b for a, b in zip(c, g)) == 1]
length = [(c, g) for c, g in wrong if len(c) != len(g)]
total = len(tests[4].digits) + len(tests[5].digits)
print(f"{len(wrong)} of {total} strips of 4 and 5 digits wrong: {len(one_digit)} with exactly one "
      f"digit misread, {len(length)} with a digit missing or extra, "
      f"{len(wrong) - len(one_digit) - len(length)} with several digits misread")
for caption, guess in wrong[:6]:
    print(f"  {' '.join(caption):<32} -> {' '.join(guess)}")

# %% [markdown]
# Compare the three counts: a wrong caption is mostly one digit misread in an otherwise right
# caption (the 8x8 images are coarse, and some handwritten digits are ambiguous even to
# people), with the attention in the right place; a caption of the wrong length, where the
# decoder lost its place on the strip, is the rarer failure.
#
# ## The full demo
#
# The demo trains the wider model for 3,000 steps on 64 strips each, scores 1,000 held-out
# strips per length, and writes `summary.txt`, `captions.txt`, the attention picture for four
# strips, the training curves and the unrolled graph of two strips (`graph.svg`, `graph.html`
# for the explorer) to `runs/caption/`. `--baseline` also trains a decoder without attention
# on the same strips, to compare:
#
#     python -m demos.caption              # 3 to 7 minutes on 2 CPU cores
#     python -m demos.caption --baseline   # then a decoder without attention, on the same strips
#
# Run with seeds 0, 1 and 2 (`--seed 0`, `1`, `2`: each its own split of the images and its
# own initialisation), its held-out exact match on 3-digit strips came out at 94.5-97.0%
# (98.1-99.0% of the words right), and at 89.3-94.1% on 5-digit strips; in all three runs,
# over the captions of the right length, every word's attention peaked on its own digit
# (100.0%). Each run took 174-195 s of CPU, 3.4-7 minutes wall on a shared 2-core machine
# (the figures are in `runs/caption/summary.txt`; training is chaotic, so another machine
# may land a little outside that range).
#
# **What to remember:** the encoder-decoder reads any sequence: read an image column by
# column and the same decoder captions it. Attention learns, from captions alone, where to
# look for each word; on these strips it sweeps left to right, one digit per word.

# %%
print(f"this page took {time.process_time() - cpu_start:.1f} s of CPU")
