"""Render the unrolled graph of a recurrent layer from the command line.

    python -m microtensor.viz --model lstm --steps 12 --out lstm.svg
    python -m microtensor.viz --model rnn --steps 1000 --detail auto --out long.svg
    python -m microtensor.viz --model gru --steps 5 --bptt-order --out bptt.png

A random input of ``--steps`` timesteps goes through the layer; the loss reads
only the last step's output, so the picture shows how much gradient reaches
each earlier step (and where it vanishes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import microtensor as mt

MODELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _window(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP, got {text!r}") from None
    return start, stop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m microtensor.viz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="lstm")
    parser.add_argument("--steps", type=int, default=8, help="timesteps to unroll (default 8)")
    parser.add_argument("--layers", type=int, default=1, help="stacked layers (default 1)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden size (default 8)")
    parser.add_argument("--input-size", type=int, default=4, help="input features (default 4)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    parser.add_argument("--detail", choices=("auto", "op", "cell"), default="auto")
    parser.add_argument("--window", type=_window, metavar="START:STOP",
                        help="steps drawn op by op with --detail auto (default: the last few)")
    parser.add_argument("--max-op-steps", type=int, default=6,
                        help="steps drawn op by op with --detail auto and no --window (default 6)")
    parser.add_argument("--vanish-below", type=float, default=1e-6,
                        help="grey out steps whose ||dL/dh|| is below this (default 1e-6)")
    parser.add_argument("--bptt-order", action="store_true",
                        help="draw the backward pass: arrows back in time, numbered in visit order")
    parser.add_argument("--out", default="unrolled.svg",
                        help="output file: .svg, .png, .pdf or .dot (default unrolled.svg)")
    parser.add_argument("--dot", help="the Graphviz program to run (default: MICROTENSOR_DOT, "
                                      "dot on PATH, then graphviz-pure)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("steps", "layers", "hidden", "input_size", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if Path(args.out).suffix.lower() not in (".svg", ".png", ".pdf", ".dot"):
        parser.error(f"--out must end in .svg, .png, .pdf or .dot, got {args.out!r}")

    mt.manual_seed(args.seed)
    layer = getattr(mt.nn, MODELS[args.model])(args.input_size, args.hidden, num_layers=args.layers,
                                                 dtype=mt.float64)
    x = mt.randn(args.steps, args.batch, args.input_size, dtype=mt.float64)
    with mt.viz.record() as recording:
        output, _ = layer(x)
        loss = (output[-1] ** 2).sum()
        loss.backward()

    start = time.perf_counter()
    dot = mt.viz.draw_graph(loss, recording, detail=args.detail, window=args.window,
                            max_op_steps=args.max_op_steps, vanish_below=args.vanish_below,
                            bptt_order=args.bptt_order, program=args.dot,
                            title=f"{MODELS[args.model]}: {args.layers} layer(s), {args.steps} steps")
    try:
        path = dot.render_to(args.out)
    except (mt.viz.GraphvizNotFoundError, mt.viz.RenderError) as err:
        print(f"wrote {Path(args.out).with_suffix('.dot')}, but could not render: {err}",
              file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start

    norms = dot.graph.step_norms("h")
    print(f"wrote {path} ({seconds:.2f} s to draw and render {len(dot.graph.nodes)} nodes)")
    if norms:
        first, last = min(norms), max(norms)
        print(f"||dL/dh_t||: t={last}: {norms[last]:.3e} ... t={first}: {norms[first]:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
