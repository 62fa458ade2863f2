"""Render the unrolled graph of a recurrent layer from the command line.

    python -m microtensor.viz --model lstm --steps 12 --out lstm.svg
    python -m microtensor.viz --model rnn --steps 1000 --detail auto --out long.svg
    python -m microtensor.viz --model gru --steps 5 --bptt-order --out bptt.png
    python -m microtensor.viz --model lstm --steps 40 --out bptt.html     (the interactive explorer)
    python -m microtensor.viz --model gru --steps 6 --lengths 6,2,4 --out packed.svg

A random input of ``--steps`` timesteps goes through the layer; the loss reads
only the last step's output, so the picture shows how much gradient reaches
each earlier step (and where it vanishes). With ``--lengths``, the batch is that many
sequences of those lengths, run packed; the loss reads each one's last state, and the
steps where some of them are padding are drawn as such.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import microtensor as mt
from microtensor.nn.utils.rnn import pack_padded_sequence

MODELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".html")


def _window(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP, got {text!r}") from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"START:STOP needs 0 <= START < STOP, got {text!r}")
    return start, stop


def _count(least: int):
    """An argparse type: an integer no smaller than ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def _threshold(text: str) -> float:
    """A gradient norm: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _lengths(text: str) -> list[int]:
    """Sequence lengths: positive integers separated by commas."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected lengths like 6,2,4, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"every length must be at least 1, got {text!r}")
    return values


def _out(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"must end in {', '.join(SUFFIXES)}, got {text!r}")
    return path


def memory_estimate(args: argparse.Namespace) -> int:
    """Bytes the recorded pass needs, roughly: every op of every step keeps a few
    (batch, gates x hidden) float64 arrays, plus its node and summaries.

    >>> args = build_parser().parse_args(["--model", "lstm", "--steps", "1000"])
    >>> 10_000_000 < memory_estimate(args) < 100_000_000
    True
    """
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[args.model]
    per_step = args.layers * (args.batch * (gates * args.hidden * 6 + args.input_size) * 8 + 16 * 2_000)
    weights = args.layers * gates * args.hidden * (args.hidden + args.input_size) * 8 * 4
    return args.steps * per_step + weights


def available_memory() -> int | None:
    """Physical memory available now (Linux) or in total (other POSIX); None if unknown.

    >>> available_memory() is None or available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m microtensor.viz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="lstm")
    parser.add_argument("--steps", type=_count(1), default=8, help="timesteps to unroll (default 8)")
    parser.add_argument("--layers", type=_count(1), default=1, help="stacked layers (default 1)")
    parser.add_argument("--hidden", type=_count(1), default=8, help="hidden size (default 8)")
    parser.add_argument("--input-size", type=_count(1), default=4, help="input features (default 4)")
    parser.add_argument("--batch", type=_count(1), default=2, help="batch size (default 2)")
    parser.add_argument("--lengths", type=_lengths, metavar="L1,L2,...",
                        help="a packed batch of sequences of these lengths (each at most --steps; "
                             "replaces --batch): padding is drawn greyed")
    parser.add_argument("--detail", choices=("auto", "op", "cell"), default="auto")
    parser.add_argument("--window", type=_window, metavar="START:STOP",
                        help="steps drawn op by op with --detail auto (default: the last few)")
    parser.add_argument("--max-op-steps", type=_count(0), default=6,
                        help="steps drawn op by op with --detail auto and no --window (default 6)")
    parser.add_argument("--vanish-below", type=_threshold, default=1e-6,
                        help="grey out steps whose ||dL/dh|| is below this (default 1e-6)")
    parser.add_argument("--bptt-order", action="store_true",
                        help="draw the backward pass: arrows back in time, numbered in visit order")
    parser.add_argument("--out", type=_out, default=Path("unrolled.svg"),
                        help="output file: .svg, .png, .pdf, .dot, or .html for the interactive "
                             "explorer (default unrolled.svg); a missing folder is created")
    parser.add_argument("--dot", help="the Graphviz program to run (default: MICROTENSOR_DOT, "
                                      "dot on PATH, then graphviz-pure)")
    parser.add_argument("--seed", type=_count(0), default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lengths is not None:
        if max(args.lengths) > args.steps:
            parser.error(f"--lengths: {max(args.lengths)} is longer than --steps {args.steps}")
        args.batch = len(args.lengths)
    if args.window is not None and args.window[0] >= args.steps:
        parser.error(f"--window {args.window[0]}:{args.window[1]} starts after the last step "
                     f"(--steps {args.steps})")
    need, have = memory_estimate(args), available_memory()
    if have is not None and need > have:
        parser.error(f"recording {args.steps} steps of a {args.layers}-layer {args.model} (hidden "
                     f"{args.hidden}, batch {args.batch}) needs about {need / 2**30:.1f} GiB; this machine "
                     f"has {have / 2**30:.1f} GiB available: use fewer --steps, --batch or --hidden")
    blocking = [f for f in (args.out.parent, *args.out.parent.parents) if f.exists() and not f.is_dir()]
    if blocking:
        parser.error(f"--out: cannot create the folder {str(args.out.parent)!r}: "
                     f"{str(blocking[-1])!r} is a file")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        parser.error(f"--out: cannot create the folder {str(args.out.parent)!r}: {err.strerror}")

    mt.manual_seed(args.seed)
    layer = getattr(mt.nn, MODELS[args.model])(args.input_size, args.hidden, num_layers=args.layers,
                                                 dtype=mt.float64)
    x = mt.randn(args.steps, args.batch, args.input_size, dtype=mt.float64)
    with mt.viz.record() as recording:
        if args.lengths is None:
            output, _ = layer(x)
            loss = (output[-1] ** 2).sum()
        else:
            _, final = layer(pack_padded_sequence(x, args.lengths, enforce_sorted=False))
            h_n = final[0] if isinstance(final, tuple) else final
            loss = (h_n ** 2).sum()  # each sequence's own last state
        loss.backward()

    start = time.perf_counter()
    title = f"{MODELS[args.model]}: {args.layers} layer(s), {args.steps} steps"
    if args.lengths is not None:
        title += f", packed sequences of lengths {', '.join(map(str, args.lengths))}"
    options = {"detail": args.detail, "window": args.window, "max_op_steps": args.max_op_steps,
               "vanish_below": args.vanish_below, "title": title, "program": args.dot}
    try:
        if args.out.suffix.lower() == ".html":
            page = mt.viz.explore(loss, recording, **options)
            path, graph = page.save(args.out), page.drawing.graph
        else:
            dot = mt.viz.draw_graph(loss, recording, bptt_order=args.bptt_order, **options)
            graph = dot.graph
            path = dot.render_to(args.out)
    except (mt.viz.GraphvizNotFoundError, mt.viz.RenderError) as err:
        wrote = "" if args.out.suffix.lower() == ".html" else f"wrote {args.out.with_suffix('.dot')}, but "
        print(f"{wrote}could not render: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"could not write {args.out}: {err.strerror}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start

    norms = graph.step_norms()
    print(f"wrote {path} ({seconds:.2f} s to draw and render {len(graph.nodes)} nodes)")
    if norms:
        first, last = min(norms), max(norms)
        print(f"||dL/dh_t||: t={last}: {norms[last]:.3e} ... t={first}: {norms[first]:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
