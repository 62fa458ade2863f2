"""Soup is good: a recurrent network reads a sentence one word at a time.

1. Each word becomes a one-hot vector: a 1 at the word's place in the vocabulary.
2. A tiny tanh RNN reads "soup is good" word by word; after every word its hidden
   state h (a few numbers) is all it remembers of the sentence so far.
3. It trains briefly on four sentences ("soup is good", "tea is hot", ...) to predict
   the next word. After "is" the answer depends on the first word, so the network has
   to carry "soup" through "is" in h.
4. One forward and backward pass is recorded and drawn as the unrolled graph, with each
   node coloured by its gradient, for the RNN and for an LSTM (whose gates show up as
   nodes). SVG and PNG if a Graphviz program is installed, the .dot source always; with
   one, also each pass's interactive explorer (rnn_graph.html, lstm_graph.html) and both
   side by side on one colour scale (compare_rnn_lstm.html).

    python -m demos.soup                  # a few seconds; pictures in runs/soup/
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

import microtensor as mt
from demos.common import (
    NonFiniteLossError,
    add_run_arguments,
    check_finite,
    check_memory,
    exit_diverged,
    make_parser,
    output_dir,
    positive_float,
    positive_int,
    progress,
    run_main,
    say,
)
from models.word_lm import WordLM

SENTENCES = ("soup is good", "tea is hot", "ice is cold", "cake is sweet")
#: The README picture: small enough to embed, still legible when clicked.
README_DPI = 50


def numbers(values: np.ndarray) -> str:
    """A short row of numbers with two decimals.

    >>> numbers([0.5, -1.0])
    '[ 0.50 -1.00]'
    """
    return np.array2string(np.asarray(values), precision=2, floatmode="fixed", suppress_small=True,
                           sign=" ")


def show_one_hot(model: WordLM) -> None:
    """Print every vocabulary word next to its one-hot vector."""
    say(f"Vocabulary of {len(model.vocab)} words; each word is a one-hot vector:")
    width = max(map(len, model.vocab))
    for word, row in zip(model.vocab, model.one_hot(model.vocab).array):
        say(f"  {word:>{width}}  {row.astype(int)}")


@mt.no_grad()
def show_hidden_states(model: WordLM, words: Sequence[str]) -> None:
    """Print the hidden state after each word of ``words``."""
    _, hidden = model(words)
    for i, h in enumerate(hidden.array):
        say(f"  after {' '.join(words[:i + 1])!r:<18} h = {numbers(h)}")


def train(model: WordLM, sentences: list[list[str]], steps: int, lr: float) -> list[float]:
    """Adam on the mean loss of all sentences, one step per pass; the loss per step."""
    optimizer = mt.optim.Adam(model.parameters(), lr=lr)
    losses = []
    with progress(total=steps, desc=f"training the {model.cell.upper()}") as bar:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = sum(model.loss(s) for s in sentences) / len(sentences)
            try:
                check_finite(loss.item(), len(losses) + 1)  # before the update spoils the weights
            except NonFiniteLossError as err:
                exit_diverged(err, f"the {model.cell.upper()} diverged: try a lower --lr than {lr:g}")
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            bar.update()
    say(f"{model.cell.upper()} loss: {losses[0]:.3f} at the first step, {losses[-1]:.3f} after "
        f"{steps} steps")
    return losses


def show_predictions(model: WordLM, sentences: list[list[str]]) -> None:
    """Print the predicted last word of each sentence and the three likeliest words."""
    for sentence in sentences:
        prefix = sentence[:-1]
        probs = model.next_word_probs(prefix)
        best = ", ".join(f"{w} {p:.2f}" for w, p in list(probs.items())[:3])
        say(f"  {' '.join(prefix)!r:<12} -> {model.predict_next(prefix):<6} ({best})")


def record_pass(model: WordLM, sentence: list[str]) -> tuple[mt.Tensor, mt.viz.Recording]:
    """One forward and backward pass on ``sentence`` with every value and gradient recorded."""
    model.zero_grad()
    with mt.viz.record() as recording:
        loss = model.loss(sentence)
        loss.backward()
    return loss, recording


def explain_gradients(loss: mt.Tensor, recording: mt.viz.Recording) -> None:
    """Print ||dL/dh_t|| per step and how each weight's gradient adds up over the steps."""
    graph = mt.viz.trace(loss, recording)
    norms = ", ".join(f"t={t}: {n:.2e}" for t, n in graph.step_norms("h").items())
    say(f"  ||dL/dh_t||: {norms}")
    for weight, shares in graph.weight_shares().items():
        parts = " + ".join(f"{n:.2e} (t={t})" for t, n in shares.items())
        say(f"  {weight} gets the sum of one gradient per step: {parts}")


def draw(loss: mt.Tensor, recording: mt.viz.Recording, stem: Path, title: str, words: list[str],
         small_png: Path | None = None) -> list[Path]:
    """Render the unrolled graph as ``stem``.svg and .png (and the .dot), each step labelled with
    the word it reads; the files written."""
    graph = mt.viz.draw_graph(loss, recording, detail="op", title=title, tokens=words)
    written = []
    try:
        for suffix in (".svg", ".png"):
            written.append(graph.render_to(stem.with_suffix(suffix)))
        page = mt.viz.explore(loss, recording, detail="op", title=title, tokens=words)
        written.append(page.save(stem.with_suffix(".html")))
        if small_png is not None:  # the same picture at a lower resolution
            small = graph.source.replace("{", f"{{\n\tgraph [dpi={README_DPI}]", 1)
            small_png.write_bytes(mt.viz.run_dot(small, "png", program=graph.program, pinned=True))
            written.append(small_png)
    except mt.viz.GraphvizNotFoundError:
        say(f"  no Graphviz program found, so only the source was written: "
            f"{stem.with_suffix('.dot')} (pip install 'microtensor[render]' to get pictures)")
    except mt.viz.RenderError as err:
        say(f"  rendering {stem.name} failed, the source is in {stem.with_suffix('.dot')}: "
            f"{str(err).splitlines()[0]}")
    return [stem.with_suffix(".dot"), *written]


def compare(passes: list[tuple[mt.Tensor, mt.viz.Recording]], labels: tuple[str, str], title: str,
            words: list[str], path: Path) -> list[Path]:
    """The two recorded passes side by side in one page (``mt.viz.compare``), each step labelled
    with its word; [path], or [] (and why) without a Graphviz program."""
    try:
        page = mt.viz.compare(*passes, labels=labels, title=title, detail="op", tokens=words)
        return [page.save(path)]
    except (mt.viz.GraphvizNotFoundError, mt.viz.RenderError) as err:
        say(f"  no comparison page: {str(err).splitlines()[0]}")
        return []


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("python -m demos.soup", __doc__)
    add_run_arguments(parser, default_out="runs/soup")
    parser.add_argument("--steps", type=positive_int, default=200, help="training steps per model")
    parser.add_argument("--hidden", type=positive_int, default=4, help="hidden units")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="Adam learning rate")
    args = parser.parse_args(argv)
    # Weights (an LSTM's 4 gate blocks) with gradients and Adam's moments, float32.
    check_memory(4 * 4 * 4 * args.hidden * (args.hidden + 16) * 2, "--hidden")
    out = output_dir(args.out)
    mt.manual_seed(args.seed)
    sentences = [s.split() for s in SENTENCES]
    soup = sentences[0]

    rnn = WordLM.from_sentences(sentences, hidden_size=args.hidden, cell="rnn")
    show_one_hot(rnn)
    say(f"\nAn untrained RNN with {args.hidden} hidden units reads {' '.join(soup)!r}:")
    show_hidden_states(rnn, soup)

    say(f"\nTraining it to predict the next word of {len(sentences)} sentences:")
    train(rnn, sentences, args.steps, args.lr)
    say("Trained, the hidden state after 'is' differs with the first word, and so does the "
        "prediction:")
    for sentence in sentences:
        show_hidden_states(rnn, sentence[:2])
    show_predictions(rnn, sentences)

    lstm = WordLM.from_sentences(sentences, hidden_size=args.hidden, cell="lstm")
    say("\nThe same for an LSTM:")
    train(lstm, sentences, args.steps, args.lr)
    show_predictions(lstm, sentences)

    say(f"\nOne recorded forward and backward pass on {' '.join(soup)!r} (the loss averages "
        "the predictions of 'is' and 'good'; W_hh gets nothing at t=0, where h starts at zero):")
    written, passes = [], []
    for model, title in ((rnn, "tanh RNN"), (lstm, "LSTM")):
        loss, recording = record_pass(model, soup)
        say(f" {title}: loss {loss.item():.3f}")
        explain_gradients(loss, recording)
        stem = out / f"{model.cell}_graph"
        written += draw(loss, recording, stem, f"{title} reading “{' '.join(soup)}”", soup[:-1],
                        small_png=out / "lstm_graph_small.png" if model is lstm else None)
        passes.append((loss, recording))
    written += compare(passes, ("tanh RNN", "LSTM"), f"tanh RNN and LSTM reading “{' '.join(soup)}”",
                       soup[:-1], out / "compare_rnn_lstm.html")
    say("\nWrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    run_main(main)
