"""``python -m benchmarks [--quick] [--no-torch] [--no-memory] [--output PATH]``.

The BLAS thread count is pinned first, before anything imports numpy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .environment import pin_threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="few rounds and unrolls up to T=1,000: checks the suite, not speed")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch variants")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"),
                        help="where to write the report (default: benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    pin_threads(1)

    from .environment import describe
    from .report import render
    from .run import Settings, run

    make = Settings.quick if args.quick else Settings.full
    results = run(make(with_torch=not args.no_torch, memory=not args.no_memory))
    args.output.write_text(render(results, describe()))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
