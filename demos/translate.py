"""English number words into French, with attention and without.

    ninety seven                    -> quatre vingt dix sept
    three hundred and forty five    -> trois cent quarante cinq
    seven thousand and seventy one  -> sept mille soixante et onze

The pairs are written out by the num2words package for the numbers 0 to 9,999; a random
10% of the numbers is held out and never trained on. An encoder (bidirectional GRU over
the English words) and an LSTM decoder learn the translation with teacher forcing,
twice: with attention (each French word looks back at the English words it needs) and
without (the decoder sees one summary vector of the whole number), on the same batches.
Both are scored by exact match on the held-out numbers, greedily and with beam search.

Writes to runs/translate/: summary.txt, translations.txt (greedy and beam search for a
few held-out numbers), attention.png (which English words each French word looked at),
loss.png (training loss and held-out accuracy of both models) and graph.svg (a batch of
two translations of different lengths unrolled: encoder steps, decoder steps, the attention
between them, and the steps where one of the two is padding, greyed).

    python -m demos.translate            # about 2 minutes on 2 CPU cores
    pip install 'microtensor[demos]'     # if num2words is missing
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import microtensor as mt
from demos.common import (
    NonFiniteLossError,
    StopOnInterrupt,
    add_run_arguments,
    blas_threads,
    check_finite,
    check_memory,
    exit_diverged,
    fail,
    int_up_to,
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
from microtensor.nn.utils import clip_grad_norm_
from models.encoders import WordEncoder
from models.numbers import NumberPairs, split_numbers
from models.seq2seq import Seq2Seq
from models.sequences import Batch

NAMES = {"attention": "with attention", "plain": "without attention"}
EXAMPLES = (97, 71, 345, 1980, 7071, 9999)  # shown when held out; others are drawn at random
MAX_MISTAKES_SHOWN = 30


# ------------------------------------------------------------------ training, shared with caption
@dataclass
class History:
    """Training loss per step, held-out exact match at some steps, time spent."""

    losses: list[float] = field(default_factory=list)
    accuracy: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def train(model: Seq2Seq, next_batch: Callable[[], Batch], evaluate: Callable[[], float],
          args, stop: StopOnInterrupt, desc: str) -> History:
    """Adam with gradient clipping for ``args.steps`` steps (or until Ctrl-C); held-out
    accuracy ``evaluate()`` every ``args.eval_every`` steps and at the end. A loss that is
    not finite raises ``NonFiniteLossError`` before it reaches the weights."""
    optimizer = mt.optim.Adam(model.parameters(), lr=args.lr)
    history = History()
    wall, cpu = time.perf_counter(), time.process_time()
    with progress(total=args.steps, desc=desc) as bar:
        for step in range(1, args.steps + 1):
            loss = model.loss(next_batch())
            check_finite(loss.item(), step)
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            history.losses.append(loss.item())
            if step % args.eval_every == 0 or step == args.steps or stop.requested:
                history.accuracy[step] = evaluate()
            bar.set_postfix(loss=f"{np.mean(history.losses[-20:]):.4f}",
                            held_out=f"{history.accuracy.get(max(history.accuracy, default=0), 0):.1%}",
                            refresh=False)
            bar.update()
            if stop.requested:
                break
    history.seconds, history.cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return history


def draw_unrolled(model: Seq2Seq, batch: Batch, path: Path, title: str,
                  tokens: dict[str, list[str]] | None = None) -> list[Path]:
    """Record one forward and backward pass on ``batch`` and draw it unrolled, coloured by
    gradient, with attention edges and padding, each step labelled with its word (``tokens``,
    per lane), as a picture and as the explorer's page; returns the files written (the .dot
    source always)."""
    model.zero_grad()
    with mt.viz.record(keep_values=True) as recording:  # the kept weights become attention edges
        loss = model.loss(batch)
        loss.backward()
    model.zero_grad()
    picture = mt.viz.draw_graph(loss, recording, detail="auto", title=title, tokens=tokens)
    try:
        written = [path.with_suffix(".dot"), picture.render_to(path)]
        page = mt.viz.explore(loss, recording, title=title, tokens=tokens)  # the same, to play
        return [*written, page.save(path.with_suffix(".html"))]
    except mt.viz.GraphvizNotFoundError:
        say(f"no Graphviz program found, so only {path.with_suffix('.dot')} was written "
            f"(pip install 'microtensor[render]' to get pictures)")
    except mt.viz.RenderError as err:
        say(f"rendering {path.name} failed, the source is in {path.with_suffix('.dot')}: "
            f"{str(err).splitlines()[0]}")
    return [path.with_suffix(".dot")]


def plot_training(histories: dict[str, History], path: Path, title: str) -> Path | None:
    """Training loss (log scale, smoothed) and held-out exact match against step, one line
    per entry of ``histories`` (keyed by the legend's label)."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, history in histories.items():
        window = max(1, min(25, len(history.losses) // 10))
        smooth = np.convolve(history.losses, np.ones(window) / window, mode="valid")
        line, = ax_loss.plot(np.arange(window, len(history.losses) + 1), smooth, label=label)
        steps = list(history.accuracy)
        ax_acc.plot(steps, [history.accuracy[s] for s in steps], marker="o", color=line.get_color(),
                    label=label)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (nats per word)")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("held-out exact match (greedy)")
    ax_acc.set_ylim(-0.02, 1.02)
    for ax, corner in ((ax_loss, "upper right"), (ax_acc, "lower right")):
        ax.grid(True, alpha=0.3)
        ax.legend(loc=corner)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ translation
def load_pairs(args) -> tuple[NumberPairs, NumberPairs]:
    """Training and held-out pairs; both use the training vocabularies."""
    train_numbers, test_numbers = split_numbers(args.limit, args.held_out,
                                                np.random.default_rng(args.seed))
    try:
        train_pairs = NumberPairs.build(train_numbers, vocab_numbers=range(args.limit))
    except ModuleNotFoundError as err:
        fail(str(err))
    test_pairs = NumberPairs.build(test_numbers, vocab_numbers=range(args.limit))
    return train_pairs, test_pairs


def translate(model: Seq2Seq, pairs: NumberPairs, beam: int | None, max_steps: int,
              chunk: int = 500) -> list[list[str]]:
    """French words for every pair's English: greedy (``beam`` None) or beam search."""
    out = []
    for start in range(0, len(pairs), chunk):
        batch = pairs.batch(range(start, min(start + chunk, len(pairs))))
        if beam is None:
            ids = model.greedy(batch.source, batch.source_lengths, max_steps).ids
        else:
            ids = model.beam_search(batch.source, batch.source_lengths, beam, max_steps)
        out += [pairs.target_vocab.decode(row) for row in ids]
    return out


def exact_match(guesses: list[list[str]], pairs: NumberPairs) -> float:
    """The fraction of pairs whose French is reproduced word for word.

    >>> pairs = NumberPairs.build([2, 3])
    >>> exact_match([["deux"], ["trois", "trois"]], pairs)
    0.5
    """
    return float(np.mean([g == f for g, f in zip(guesses, pairs.french)]))


def example_rows(test: NumberPairs, count: int, seed: int) -> list[int]:
    """Rows of ``test`` to show: the EXAMPLES that are held out, then random ones."""
    chosen = [int(r) for r in np.flatnonzero(np.isin(test.numbers, EXAMPLES))][:count]
    rest = [r for r in np.random.default_rng(seed).permutation(len(test)) if r not in chosen]
    return chosen + [int(r) for r in rest[:count - len(chosen)]]


def step_words(test: NumberPairs, pair: list[int]) -> dict[str, list[str]]:
    """The words each step of the picture reads, from the pair's first example: the English
    one per encoder step, and per decoder step the French word before (``<s>`` first);
    "·" where that example is padding.

    >>> words = step_words(NumberPairs.build([86, 7071]), [0, 1])
    >>> words["encoder"], words["decoder"]
    (['eighty', 'six', '·', '·', '·'], ['<s>', 'quatre', 'vingt', 'six', '·', '·'])
    """
    english = max(len(test.english[r]) for r in pair)
    french = max(len(test.french[r]) for r in pair) + 1
    first = pair[0]
    words = ["<s>", *test.french[first]]
    return {"encoder": [*test.english[first], *["·"] * (english - len(test.english[first]))],
            "decoder": [*words, *["·"] * (french - len(words))]}


def unequal_pair(test: NumberPairs, rows: list[int]) -> list[int]:
    """``rows[0]`` and the first other row (of ``rows``, then of all) whose English and French
    both differ from it in length: one batch in which the graph shows padding on both sides."""
    first = rows[0]
    for row in [*rows[1:], *range(len(test))]:
        if len(test.english[row]) != len(test.english[first]) and \
                len(test.french[row]) != len(test.french[first]):
            return [first, row]
    return [first]


def plot_attention(model: Seq2Seq, test: NumberPairs, rows: list[int], max_steps: int,
                   path: Path) -> Path | None:
    """One heat map per held-out number: English words across, French words down."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    batch = test.batch(rows)
    decoded = model.greedy(batch.source, batch.source_lengths, max_steps)
    cols = min(3, len(rows))
    grid = -(-len(rows) // cols)
    fig, axes = plt.subplots(grid, cols, figsize=(4.2 * cols, 3.4 * grid), squeeze=False)
    for ax, i, row in zip(axes.flat, range(len(rows)), rows):
        english = test.english[row]
        french = [*test.target_vocab.decode(decoded.ids[i]), "</s>"]
        weights = decoded.attention[i, :len(french), :len(english)]
        ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(english)), english, rotation=40, ha="right")
        ax.set_yticks(range(len(french)), french)
        ax.set_title(f"{test.numbers[row]:,}", fontsize=10)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle("Where each French word looked (held-out numbers; darker = more attention)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("python -m demos.translate", __doc__)
    add_run_arguments(parser, default_out="runs/translate")
    parser.add_argument("--steps", type=positive_int, default=1500, help="training steps per model")
    parser.add_argument("--batch", type=positive_int, default=64, help="pairs per step")
    parser.add_argument("--hidden", type=positive_int, default=32,
                        help="hidden units (encoder: per direction)")
    parser.add_argument("--embed", type=positive_int, default=16, help="word vector size")
    parser.add_argument("--lr", type=positive_float, default=0.005, help="Adam learning rate")
    parser.add_argument("--clip", type=positive_float, default=1.0, help="gradient norm limit")
    parser.add_argument("--limit", type=int_up_to(1_000_000), default=10_000,
                        help="translate the numbers 0 to LIMIT-1")
    parser.add_argument("--held-out", type=number_in(0, 1, low_open=True, high_open=True), default=0.1,
                        help="fraction of the numbers never trained on")
    parser.add_argument("--beam", type=positive_int, default=4, help="beam width of beam search")
    parser.add_argument("--eval-every", type=positive_int, default=50,
                        help="measure held-out accuracy every this many steps")
    parser.add_argument("--examples", type=positive_int, default=6,
                        help="held-out numbers to show translated and with their attention")
    args = parser.parse_args(argv)
    if args.limit < 10:
        fail(f"--limit must be at least 10, got {args.limit}")
    # float32: weights, gradients and Adam's moments; the graph of one batch (about 20 steps,
    # some 40 vectors of --hidden each per step and row); decoding 500 numbers at a time.
    check_memory(4 * (100 * args.hidden * (args.hidden + args.embed)
                      + 1000 * args.hidden * max(args.batch, 500)), "--hidden, --embed or --batch")
    out = output_dir(args.out)
    train_pairs, test = load_pairs(args)
    max_steps = max(map(len, train_pairs.french)) + 2
    say(f"{len(train_pairs):,} training pairs, {len(test):,} held out; "
        f"{len(train_pairs.source_vocab) - 3} English and {len(train_pairs.target_vocab) - 3} "
        f"French words. For example:")
    for row in example_rows(test, 3, args.seed):
        say(f"  {' '.join(test.english[row]):<45} -> {' '.join(test.french[row])}")

    models, histories = {}, {}
    with blas_threads(1), StopOnInterrupt() as stop:
        for name in NAMES:
            mt.manual_seed(args.seed)
            models[name] = Seq2Seq(WordEncoder(len(train_pairs.source_vocab), args.embed, args.hidden),
                                   len(train_pairs.target_vocab), args.embed, args.hidden,
                                   attention="additive" if name == "attention" else None)
            rng = np.random.default_rng(args.seed)  # both models see the same batches

            def next_batch(rng=rng):
                return train_pairs.batch(rng.integers(0, len(train_pairs), args.batch))

            def evaluate(model=models[name]):
                return exact_match(translate(model, test, None, max_steps), test)

            try:
                histories[name] = train(models[name], next_batch, evaluate, args, stop, NAMES[name])
            except NonFiniteLossError as err:
                exit_diverged(err, f"the model {NAMES[name]} diverged: try a lower --lr than {args.lr:g}")
            if stop.requested:
                say("interrupted: scoring the models trained so far")
                break

        results = {}
        for name, model in models.items():
            greedy = translate(model, test, None, max_steps)
            beam = translate(model, test, args.beam, max_steps)
            results[name] = (greedy, exact_match(greedy, test), exact_match(beam, test), beam)

    lines = [f"translate: English number words -> French, numbers 0-{args.limit - 1:,}; "
             f"{len(train_pairs):,} trained on, {len(test):,} held out (seed {args.seed})",
             f"bidirectional GRU encoder {args.hidden}x2, LSTM decoder {args.hidden}, words "
             f"{args.embed}; {args.steps} steps of {args.batch} pairs, Adam lr {args.lr}", "",
             f"{'model':<18} {'greedy':>8} {f'beam {args.beam}':>8} {'wall s':>8} {'cpu s':>8}"]
    for name, (_, greedy_acc, beam_acc, _) in results.items():
        h = histories[name]
        lines.append(f"{NAMES[name]:<18} {greedy_acc:>8.1%} {beam_acc:>8.1%} "
                     f"{h.seconds:>8.1f} {h.cpu_seconds:>8.1f}")
    lines += ["", "held-out exact match (greedy) during training:"]
    for name, h in histories.items():
        lines.append(f"  {NAMES[name]:<18} " + ", ".join(f"{s}: {a:.1%}" for s, a in h.accuracy.items()))
    summary = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(summary, encoding="utf-8")
    say("\n" + summary)

    rows = example_rows(test, args.examples, args.seed)
    shown = []
    for row in rows:
        shown.append(f"{test.numbers[row]:,}: {' '.join(test.english[row])}\n"
                     f"  reference          {' '.join(test.french[row])}")
        for name, (greedy, _, _, beam) in results.items():
            shown.append(f"  {NAMES[name]:<18} greedy: {' '.join(greedy[row])}  |  beam "
                         f"{args.beam}: {' '.join(beam[row])}")
    say("Held-out numbers:\n" + "\n".join(shown))
    for name, (greedy, *_) in results.items():
        wrong = [row for row in range(len(test)) if greedy[row] != test.french[row]]
        shown.append(f"\n{NAMES[name]}: {len(wrong)} held-out number{'' if len(wrong) == 1 else 's'} "
                     f"wrong (greedy)"
                     + (":" if wrong else ""))
        shown += [f"  {test.numbers[row]:,}: {' '.join(greedy[row])} (should be "
                  f"{' '.join(test.french[row])})" for row in wrong[:MAX_MISTAKES_SHOWN]]
    (out / "translations.txt").write_text("\n".join(shown) + "\n", encoding="utf-8")

    written = [out / "summary.txt", out / "translations.txt"]
    attention_model = models.get("attention")
    if attention_model is not None:
        written.append(plot_attention(attention_model, test, rows, max_steps, out / "attention.png"))
        pair = unequal_pair(test, rows)  # of different lengths: the graph shows the padding
        shown_pairs = " and ".join(f"“{' '.join(test.english[r])}” → “{' '.join(test.french[r])}”"
                                   for r in pair)
        written += draw_unrolled(attention_model, test.batch(pair), out / "graph.svg",
                                 f"{shown_pairs}: encoder, decoder, attention, padding greyed",
                                 step_words(test, pair))
    written.append(plot_training({NAMES[n]: h for n, h in histories.items()}, out / "loss.png",
                                 "English → French number words: training loss and held-out accuracy"))
    say("Wrote " + ", ".join(str(p) for p in written if p is not None))
    return stop.exit_code  # 0, or 128 + the signal that stopped training early


if __name__ == "__main__":
    run_main(main)
