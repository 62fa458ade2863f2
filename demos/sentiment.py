"""Negation at a distance: a tanh RNN and an LSTM classify generated reviews.

Every sentence ends with its adjective ("... was good"), and a "never" (or, in an
affirmed sentence, "always"/"really") sits a chosen number of words before the end:

    we never thought the soup which we ordered late was good       -> negative
    i always said the pizza from the market was bad                -> negative

The model reads the whole sentence and decides from its hidden state after the last
word (many-to-one). The adjective is right there at the end; the negation must be
carried across every word in between. Half of the sentences are negated, so neither
word alone says anything: a model that forgets the negation scores 50%. With
--negation-rate 0.3 the adjective alone is right 70% of the time, and the accuracy on
negated sentences (in brackets in the table) shows what the model remembers.

Both models train on distances drawn from --train-distances, then are tested at
each of --test-distances: the table and accuracy.png show accuracy against distance.

    python -m demos.sentiment                       # a couple of minutes on 2 CPU cores
    python -m demos.sentiment --cells rnn,lstm,gru
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import microtensor as mt
from demos.common import (
    NonFiniteLossError,
    StopOnInterrupt,
    add_run_arguments,
    check_finite,
    check_memory,
    exit_diverged,
    fail,
    make_parser,
    number_in,
    output_dir,
    positive_float,
    positive_int,
    progress,
    pyplot,
    run_main,
    say,
)
from microtensor.nn import functional as F
from microtensor.nn.utils import clip_grad_norm_
from models.classifier import CELLS, SequenceClassifier
from models.tasks import MIN_NEGATION_DISTANCE, NEGATION_VOCAB, negation_sentences

TEST_SIZE = 500  # sentences per test distance
NAMES = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}


def int_list(text: str) -> list[int]:
    """An argparse ``type``: comma-separated integers, each at least the shortest distance."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < MIN_NEGATION_DISTANCE for v in values):
        raise ValueError(f"distances must be at least {MIN_NEGATION_DISTANCE}, got {text!r}")
    return values


def train(cell: str, args, stop: StopOnInterrupt) -> tuple[SequenceClassifier, list[float]]:
    """Train one model; returns it and its training loss per step."""
    mt.manual_seed(args.seed)
    model = SequenceClassifier(args.embed, args.hidden, num_classes=2, cell=cell,
                               vocab_size=len(NEGATION_VOCAB))
    optimizer = mt.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)  # every model sees the same sentences
    low, high = args.train_distances
    losses = []
    start = time.perf_counter()
    with progress(total=args.steps, desc=NAMES[cell]) as bar:
        for _ in range(args.steps):
            batch = negation_sentences(args.batch, int(rng.integers(low, high + 1)), rng,
                                       args.negation_rate)
            loss = F.cross_entropy(model(batch.ids()), batch.labels)
            check_finite(loss.item(), len(losses) + 1)  # before the update spoils the weights
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", refresh=False)
            bar.update()
            if stop.requested:
                break
    window = max(1, min(50, len(losses) // 2))
    say(f"{NAMES[cell]}: training loss {np.mean(losses[:window]):.3f} over the first {window} "
        f"steps, {np.mean(losses[-window:]):.3f} over the last {window} ({len(losses)} steps, "
        f"{time.perf_counter() - start:.0f} s)")
    return model, losses


def accuracy(model: SequenceClassifier, distance: int, args) -> tuple[float, float]:
    """Accuracy on fresh sentences at ``distance``: on all of them and on the negated ones."""
    test = negation_sentences(TEST_SIZE, distance, np.random.default_rng([args.seed, distance]),
                              args.negation_rate)
    correct = model.predict(test.ids()) == test.labels
    return float(correct.mean()), float(correct[test.negated].mean())


def table(results: dict[str, dict[int, tuple[float, float]]]) -> str:
    """Accuracy per distance and model; in brackets, on the negated sentences only."""
    head = f"{'distance':>8}" + "".join(f"  {NAMES[c]:>18}" for c in results)
    rows = [head]
    for d in next(iter(results.values())):
        cells = "".join(f"  {results[c][d][0]:>8.1%} ({results[c][d][1]:>6.1%})" for c in results)
        rows.append(f"{d:>8}{cells}")
    return "\n".join(rows)


def examples(models: dict[str, SequenceClassifier], distance: int, seed: int, n: int = 4) -> list[str]:
    """A few fresh sentences at ``distance``, each with its label and every model's verdict."""
    sentences = negation_sentences(n, distance, np.random.default_rng([seed, distance, 1]))
    guesses = {c: m.predict(sentences.ids()) for c, m in models.items()}
    lines = []
    for i, words in enumerate(sentences.words):
        verdicts = ", ".join(f"{NAMES[c]} {'ok' if g[i] == sentences.labels[i] else 'wrong'}"
                             for c, g in guesses.items())
        label = "positive" if sentences.labels[i] else "negative"
        lines.append(f"  {' '.join(words)}  [{label}; {verdicts}]")
    return lines


def plot(results: dict[str, dict[int, tuple[float, float]]], args, path: Path) -> Path | None:
    """Accuracy against distance per model, on all sentences and on the negated ones."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for cell, by_distance in results.items():
        distances = list(by_distance)
        line, = ax.plot(distances, [by_distance[d][0] for d in distances], marker="o",
                        label=f"{NAMES[cell]}, all sentences")
        ax.plot(distances, [by_distance[d][1] for d in distances], marker="x", linestyle="--",
                color=line.get_color(), alpha=0.6, label=f"{NAMES[cell]}, negated only")
    ax.axhline(0.5, color="#999999", linestyle=":", linewidth=1)
    ax.axvspan(*args.train_distances, color="#eeeeee", zorder=0, label="trained on")
    ax.set_xlabel("words between the negation and the end of the sentence")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Remembering a negation: accuracy against distance")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("python -m demos.sentiment", __doc__)
    add_run_arguments(parser, default_out="runs/sentiment")
    parser.add_argument("--cells", default="rnn,lstm", help="models to compare: rnn, lstm, gru")
    parser.add_argument("--steps", type=positive_int, default=1500, help="training steps per model")
    parser.add_argument("--batch", type=positive_int, default=32, help="sentences per step")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden units")
    parser.add_argument("--embed", type=positive_int, default=16, help="word vector size")
    parser.add_argument("--lr", type=positive_float, default=0.005, help="Adam learning rate")
    parser.add_argument("--clip", type=positive_float, default=1.0, help="gradient norm limit")
    parser.add_argument("--train-distances", default="5,30", metavar="LOW,HIGH",
                        help="training sentences put the negation LOW to HIGH words from the end")
    parser.add_argument("--negation-rate", type=number_in(0, 1, low_open=True, high_open=True),
                        default=0.5,
                        help="fraction of sentences that are negated")
    parser.add_argument("--test-distances", default="5,10,15,20,25,30,40", metavar="D,D,...",
                        help="distances to measure accuracy at")
    args = parser.parse_args(argv)
    cells = args.cells.split(",")
    if not cells or any(c not in CELLS for c in cells) or len(set(cells)) != len(cells):
        fail(f"--cells must be distinct names from {', '.join(CELLS)}, got {args.cells!r}")
    try:
        args.train_distances = int_list(args.train_distances)
        args.test_distances = int_list(args.test_distances)
    except ValueError as err:
        fail(f"--train-distances/--test-distances: {err}")
    if len(args.train_distances) != 2 or args.train_distances[0] > args.train_distances[1]:
        fail(f"--train-distances must be LOW,HIGH with LOW <= HIGH, got {args.train_distances}")
    # float32: weights with gradients and Adam's moments; per word of a batch, an LSTM's
    # saved gate values; testing reads TEST_SIZE sentences at once (no graph).
    longest = max(args.train_distances[1], *args.test_distances) + 8
    check_memory(4 * (16 * args.hidden * (args.hidden + args.embed + 2)
                      + 24 * args.hidden * longest * max(args.batch, TEST_SIZE // 4)),
                 "--hidden, --batch or the distances")
    out = output_dir(args.out)

    say(f"Vocabulary of {len(NEGATION_VOCAB)} words. Training sentences put the negation "
        f"{args.train_distances[0]} to {args.train_distances[1]} words from the end; at 10:")
    sample = negation_sentences(4, 10, np.random.default_rng(args.seed))
    for words, label in zip(sample.words, sample.labels):
        say(f"  {' '.join(words)}  [{'positive' if label else 'negative'}]")

    models = {}
    with StopOnInterrupt() as stop:
        for cell in cells:
            try:
                models[cell], _ = train(cell, args, stop)
            except NonFiniteLossError as err:
                exit_diverged(err, f"the {NAMES[cell]} diverged: try a lower --lr than {args.lr:g}")
            if stop.requested:
                say("interrupted: testing the models trained so far")
                break

    results = {c: {d: accuracy(m, d, args) for d in args.test_distances}
               for c, m in models.items()}
    text = (f"negation sentiment: {args.steps} steps of {args.batch} sentences, hidden "
            f"{args.hidden}, word vectors {args.embed}, Adam lr {args.lr}, seed {args.seed}, "
            f"negation rate {args.negation_rate}; "
            f"trained at distances {args.train_distances[0]}-{args.train_distances[1]}\n"
            f"test accuracy on {TEST_SIZE} sentences per distance (in brackets: on the negated "
            f"ones; chance is 50%)\n\n{table(results)}\n")
    (out / "summary.txt").write_text(text, encoding="utf-8")
    say("\n" + text)
    far = max(args.test_distances)
    say(f"At distance {far}:")
    for line in examples(models, far, args.seed):
        say(line)
    written = [out / "summary.txt", plot(results, args, out / "accuracy.png")]
    say("Wrote " + ", ".join(str(p) for p in written if p is not None))
    return stop.exit_code  # 0, or 128 + the signal that stopped training early


if __name__ == "__main__":
    run_main(main)
