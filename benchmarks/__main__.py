"""``python -m benchmarks [--quick] [--compare REPORT] [--write | --output PATH] [--cpu-time]
[--no-torch] [--no-memory]``.

A full run writes benchmarks/RESULTS.md; a quick run (few rounds, unrolls up to T=1,000)
only prints, unless --write or --output asks for the file. Both print the ratios, the
targets and the single-op costs. --compare REPORT prints today's numbers beside the
report's and flags microtensor's that are more than 15% worse (exit status 1 then).
On a machine others are using, --cpu-time times by CPU time instead of wall time.
The BLAS thread count is pinned first, before anything imports numpy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .environment import pin_threads

RESULTS = Path(__file__).with_name("RESULTS.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="about a minute: few rounds and unrolls up to T=1,000 (noisier "
                             "numbers); prints only, unless --write or --output")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch variants")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by this thread's CPU time instead of wall time: steadier when "
                             "other programs share the cores")
    parser.add_argument("--compare", type=Path, metavar="REPORT",
                        help="a RESULTS.md to compare today's ratios with (more than 15%% worse "
                             "is flagged)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--write", action="store_true",
                       help=f"write the report to {RESULTS.parent.name}/{RESULTS.name} "
                            "(what a full run does anyway)")
    where.add_argument("--output", type=Path, metavar="PATH", help="write the report to PATH")
    args = parser.parse_args(argv)
    pin_threads(1)
    before = None
    if args.compare is not None:  # read (and check) it before a run that may overwrite it
        before = _recorded(parser, args.compare)
    output = args.output or (RESULTS if args.write or not args.quick else None)
    if output is not None and not output.parent.is_dir():
        parser.error(f"--output: folder {str(output.parent)!r} does not exist")

    from .compare import compare, measures
    from .environment import describe
    from .report import overview, render
    from .run import Settings, run

    make = Settings.quick if args.quick else Settings.full
    results = run(make(with_torch=not args.no_torch, memory=not args.no_memory,
                       cpu_time=args.cpu_time))
    print("\n".join(overview(results)))
    worse = 0
    if before is not None:
        lines, worse = compare(measures(results), before)
        print("\n".join([f"## Today against {args.compare}", "", *lines]))
    if output is not None:
        output.write_text(render(results, describe()))
        print(f"wrote {output}", file=sys.stderr)
    return 1 if worse else 0


def _recorded(parser: argparse.ArgumentParser, path: Path) -> dict[str, float]:
    from .compare import recorded

    try:
        found = recorded(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        parser.error(f"--compare: cannot read {str(path)!r}: {getattr(err, 'strerror', None) or err}")
    except ValueError as err:
        parser.error(f"--compare: {str(path)!r} has a table cell that is not a number ({err})")
    if not found:
        parser.error(f"--compare: {str(path)!r} holds no benchmark ratios (not a RESULTS.md?)")
    return found


if __name__ == "__main__":
    sys.exit(main())
