"""Image captioning: a strip of handwritten digits in, their names out ("seven three nine").

Each picture is 1 to 5 of the UCI 8x8 handwritten digits (shipped in models/data/,
CC BY 4.0, E. Alpaydin and C. Kaynak, UCI Machine Learning Repository) side by side with
random gaps. The digit images are split 80/20 first, so held-out strips are made only of
images never seen in training. The encoder reads the strip's columns left to right: a
linear patch embedding of every 8-column window (one every 2 columns), then a
bidirectional GRU along the strip. The decoder, an LSTM with attention over those
positions, writes one digit name per step; to name the third digit it has to look at the
third digit, so its attention should sweep left to right. With --baseline, a decoder
without attention (it sees only the encoder's final states) trains on the same strips.

Writes to runs/caption/: summary.txt (held-out exact match and per-word accuracy by strip
length, and how often each word's attention peaks on its own digit), captions.txt,
attention.png (each decoded word's attention over the image), loss.png and graph.svg
(one captioning pass over two strips of different lengths unrolled, padding greyed).

    python -m demos.caption              # about 5 minutes on 2 CPU cores
    python -m demos.caption --baseline   # and a decoder without attention: about 8 minutes
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import microtensor as mt
from demos.common import (
    NonFiniteLossError,
    StopOnInterrupt,
    add_run_arguments,
    blas_threads,
    check_memory,
    exit_diverged,
    fail,
    make_parser,
    non_negative_int,
    number_in,
    output_dir,
    positive_float,
    positive_int,
    pyplot,
    run_main,
    say,
)
from demos.translate import NAMES, draw_unrolled, plot_training, train
from models.digit_strips import CAPTION_VOCAB, Strips, load_digits, make_strips, split_digits
from models.encoders import ColumnEncoder
from models.seq2seq import Seq2Seq

MAX_DIGITS = 5
TEST_STRIPS = 1000  # held-out strips per length
SCORED_LENGTH = 3  # the goal is stated on 3-digit strips


def word_accuracy(guesses: list[list[int]], truths: list[list[int]]) -> tuple[float, float]:
    """Exact match (the whole caption right) and per-word accuracy (words right in their
    place, out of the reference's words; a missing or extra word counts as wrong).

    >>> word_accuracy([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6, 7]])
    (0.5, 0.6666666666666666)
    """
    exact = np.mean([g == t for g, t in zip(guesses, truths)])
    right = sum(sum(a == b for a, b in zip(g, t)) for g, t in zip(guesses, truths))
    wrong_extra = sum(max(0, len(g) - len(t)) for g, t in zip(guesses, truths))
    total = sum(len(t) for t in truths)
    return float(exact), float(right / (total + wrong_extra))


def attention_on_columns(weights: np.ndarray, stride: int, width: int) -> np.ndarray:
    """Attention over encoder positions (..., positions) spread over the image columns
    (..., width): each position's weight shared equally by its ``stride`` columns.

    >>> attention_on_columns(np.array([0.5, 0.5]), 2, 3).tolist()
    [0.25, 0.25, 0.25]
    """
    return np.repeat(weights / stride, stride, axis=-1)[..., :width]


def peaks_on_own_digit(strips: Strips, attention: np.ndarray, stride: int) -> float:
    """How often the k-th word's attention peaks on the columns of the k-th digit (over
    the words of the captions decoded with the right length)."""
    hits = total = 0
    for i, (starts, digits) in enumerate(zip(strips.starts, strips.digits)):
        columns = attention_on_columns(attention[i, :len(digits)], stride, strips.widths[i])
        peaks = columns.argmax(axis=-1)
        hits += sum(s <= p < s + 8 for s, p in zip(starts, peaks))
        total += len(digits)
    return hits / max(1, total)


def evaluate(model: Seq2Seq, strips: Strips) -> dict[str, float]:
    """Greedy captions of ``strips``: exact match, per-word accuracy and (with attention)
    attention peaks on their own digit."""
    batch = strips.batch()
    decoded = model.greedy(batch.source, batch.source_lengths, MAX_DIGITS + 2)
    exact, per_word = word_accuracy(decoded.ids, [CAPTION_VOCAB.encode(c) for c in strips.captions()])
    if decoded.attention is None:
        return {"exact": exact, "word": per_word}
    right_length = [i for i, (g, d) in enumerate(zip(decoded.ids, strips.digits)) if len(g) == len(d)]
    subset = Strips(strips.pixels[right_length], strips.widths[right_length],
                    [strips.digits[i] for i in right_length], [strips.starts[i] for i in right_length])
    peaks = peaks_on_own_digit(subset, decoded.attention[right_length], model.encoder.stride)
    return {"exact": exact, "word": per_word, "peaks": peaks}


def two_lengths(strips: Strips) -> Strips:
    """The first strip and the first with another number of digits (if any): one batch in
    which the unrolled graph shows padding in both the encoder and the decoder."""
    rows = [0]
    rows += [i for i, d in enumerate(strips.digits) if len(d) != len(strips.digits[0])][:1]
    return Strips(strips.pixels[rows], strips.widths[rows], [strips.digits[i] for i in rows],
                  [strips.starts[i] for i in rows])


def plot_attention(model: Seq2Seq, strips: Strips, path: Path) -> Path | None:
    """For each strip: the image, then one row per decoded word with its attention over
    the columns drawn over the image."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    batch = strips.batch()
    decoded = model.greedy(batch.source, batch.source_lengths, MAX_DIGITS + 2)
    rows = [len(ids) + 1 for ids in decoded.ids]
    fig, axes = plt.subplots(max(rows), len(rows), figsize=(2.6 * len(rows), 0.75 * max(rows) + 0.6),
                             squeeze=False)
    for col, n in enumerate(rows):
        width = strips.widths[col]
        image = strips.pixels[col, :, :width]
        words = ["image", *CAPTION_VOCAB.decode(decoded.ids[col])]
        for row in range(max(rows)):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if row >= n:
                ax.axis("off")
                continue
            ax.imshow(image, cmap="Greys", vmin=0, vmax=1, aspect="equal")
            if row:
                weights = attention_on_columns(decoded.attention[col, row - 1], model.encoder.stride,
                                               width)
                overlay = np.broadcast_to(weights / max(weights.max(), 1e-9), image.shape)
                ax.imshow(overlay, cmap="Reds", alpha=0.6, vmin=0, vmax=1, aspect="equal")
            ax.set_ylabel(words[row], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Each word's attention over the held-out strip (red = more attention)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("python -m demos.caption", __doc__)
    add_run_arguments(parser, default_out="runs/caption")
    parser.add_argument("--steps", type=positive_int, default=3000, help="training steps")
    parser.add_argument("--batch", type=positive_int, default=64, help="strips per step")
    parser.add_argument("--hidden", type=positive_int, default=64,
                        help="hidden units (encoder: per direction; decoder)")
    parser.add_argument("--embed", type=positive_int, default=64, help="patch embedding size")
    parser.add_argument("--word-embed", type=positive_int, default=16, help="word vector size")
    parser.add_argument("--lr", type=positive_float, default=0.003, help="Adam learning rate")
    parser.add_argument("--clip", type=positive_float, default=1.0, help="gradient norm limit")
    parser.add_argument("--held-out", type=number_in(0, 1, low_open=True, high_open=True), default=0.2,
                        help="fraction of the digit images never trained on")
    parser.add_argument("--max-gap", type=non_negative_int, default=3,
                        help="most blank columns before a digit")
    parser.add_argument("--test-strips", type=positive_int, default=TEST_STRIPS,
                        help="held-out strips per length")
    parser.add_argument("--eval-every", type=positive_int, default=500,
                        help="measure held-out accuracy on 3-digit strips every this many steps")
    parser.add_argument("--examples", type=positive_int, default=4, help="strips drawn with attention")
    parser.add_argument("--baseline", action="store_true",
                        help="also train a decoder without attention on the same strips, to compare")
    args = parser.parse_args(argv)
    if args.max_gap > 8 * MAX_DIGITS:
        fail(f"--max-gap must be at most {8 * MAX_DIGITS} columns, got {args.max_gap}")
    # float32: weights, gradients and Adam's moments; the graph of one batch (up to 35
    # positions and 6 decoder steps, some 40 vectors of --hidden each per step and row);
    # decoding --test-strips strips at once.
    check_memory(4 * (100 * args.hidden * (args.hidden + args.embed + 64)
                      + 2000 * args.hidden * max(args.batch, args.test_strips)),
                 "--hidden, --embed, --batch or --test-strips")
    out = output_dir(args.out)
    try:
        images, labels = load_digits()
    except ValueError as err:
        fail(str(err))
    train_idx, test_idx = split_digits(len(images), args.held_out, np.random.default_rng(args.seed))
    train_images, train_labels = images[train_idx], labels[train_idx]
    test_images, test_labels = images[test_idx], labels[test_idx]
    tests = {n: make_strips(test_images, test_labels, args.test_strips,
                            np.random.default_rng([args.seed, n]), lengths=(n, n), max_gap=args.max_gap)
             for n in range(1, MAX_DIGITS + 1)}
    say(f"{len(train_idx)} digit images to train on, {len(test_idx)} held out; strips of 1 to "
        f"{MAX_DIGITS} digits with up to {args.max_gap} blank columns before each. For example:")
    for caption in tests[SCORED_LENGTH].captions()[:3]:
        say(f"  a strip of {len(caption)} digits -> {' '.join(caption)}")

    models, histories, results = {}, {}, {}
    with blas_threads(1), StopOnInterrupt() as stop:
        for name in ["attention", "plain"] if args.baseline else ["attention"]:
            mt.manual_seed(args.seed)
            model = models[name] = Seq2Seq(ColumnEncoder(8, args.embed, args.hidden), len(CAPTION_VOCAB),
                                           args.word_embed, args.hidden,
                                           attention="additive" if name == "attention" else None)
            rng = np.random.default_rng([args.seed, 0])  # every model sees the same strips

            def next_batch(rng=rng):
                return make_strips(train_images, train_labels, args.batch, rng, (1, MAX_DIGITS),
                                   args.max_gap).batch()

            def held_out(model=model):
                return evaluate(model, tests[SCORED_LENGTH])["exact"]

            try:
                histories[name] = train(model, next_batch, held_out, args, stop, NAMES[name])
            except NonFiniteLossError as err:
                exit_diverged(err, f"the model {NAMES[name]} diverged: try a lower --lr than {args.lr:g}")
            results[name] = {n: evaluate(model, strips) for n, strips in tests.items()}
            if stop.requested:
                say("interrupted: scoring the models trained so far")
                break
    model = models["attention"]

    lines = [f"caption: strips of 1-{MAX_DIGITS} UCI 8x8 digits; {len(train_idx)} images trained on, "
             f"{len(test_idx)} held out (seed {args.seed})",
             f"patch embedding {args.embed} (8-column windows, stride 2), bidirectional GRU "
             f"{args.hidden}x2, LSTM decoder {args.hidden}; {len(histories['attention'].losses)} steps of "
             f"{args.batch} strips, Adam lr {args.lr}"]
    for name, by_length in results.items():
        h = histories[name]
        lines += ["", f"{NAMES[name]}: training {h.seconds:.1f} s wall, {h.cpu_seconds:.1f} s CPU; "
                  f"held-out strips ({args.test_strips} per length), greedy decoding:",
                  f"{'digits':>6} {'exact':>8} {'per word':>9}"
                  + (f" {'attention peak on its digit':>28}" if name == "attention" else "")]
        for n, r in by_length.items():
            lines.append(f"{n:>6} {r['exact']:>8.1%} {r['word']:>9.1%}"
                         + (f" {r['peaks']:>28.1%}" if "peaks" in r else ""))
        lines.append(f"held-out exact match on {SCORED_LENGTH}-digit strips during training: "
                     + ", ".join(f"{s}: {a:.1%}" for s, a in h.accuracy.items()))
    summary = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(summary, encoding="utf-8")
    say("\n" + summary)

    shown = []
    for strips in tests.values():
        batch = strips.batch()
        guesses = model.greedy(batch.source, batch.source_lengths, MAX_DIGITS + 2).ids
        for ids, caption in list(zip(guesses, strips.captions()))[:2]:
            guess = CAPTION_VOCAB.decode(ids)
            shown.append(f"{' '.join(caption):<36} -> {' '.join(guess):<36} "
                         f"{'ok' if guess == caption else 'WRONG'}")
    (out / "captions.txt").write_text("\n".join(shown) + "\n", encoding="utf-8")

    examples = make_strips(test_images, test_labels, args.examples, np.random.default_rng([args.seed, 99]),
                           lengths=(3, MAX_DIGITS), max_gap=args.max_gap)
    written = [out / "summary.txt", out / "captions.txt",
               plot_attention(model, examples, out / "attention.png"),
               plot_training({NAMES[n]: h for n, h in histories.items()}, out / "loss.png",
                             f"Digit strips: training loss and held-out exact match "
                             f"({SCORED_LENGTH} digits)")]
    two = two_lengths(make_strips(test_images, test_labels, 8, np.random.default_rng([args.seed, 7]),
                                  lengths=(1, 2), max_gap=args.max_gap))
    shown = " and ".join(f"“{' '.join(c)}”" for c in two.captions())
    first, longest = two.captions()[0], max(len(c) for c in two.captions()) + 1
    words = ["<s>", *first, *["·"] * (longest - 1 - len(first))]  # what each decoder step reads
    written += draw_unrolled(model, two.batch(), out / "graph.svg",
                             f"Captioning {shown}: encoder over columns, decoder, attention, padding greyed",
                             {"decoder": words})
    say("Wrote " + ", ".join(str(p) for p in written if p is not None))
    return stop.exit_code  # 0, or 128 + the signal that stopped training early


if __name__ == "__main__":
    run_main(main)
