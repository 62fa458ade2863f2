"""Today's numbers beside a recorded report's: did anything get slower?

``python -m benchmarks --quick --compare benchmarks/RESULTS.md`` reads the ratios of
every timing table (time over hand-written numpy's) and the single-op costs (µs above
numpy) from the report, measures them again, and prints both side by side, flagging
microtensor's that are more than ``TOLERANCE`` worse. Ratios, not times, are compared,
so a slower or busier machine shifts both sides; a quick run is still noisy, so a flag
is a reason to look again (with a full run), not a verdict.
"""

from __future__ import annotations

import re

from .reference import HandWrittenNumpy
from .run import Results

TOLERANCE = 0.15  # worse by more than this fraction is flagged

_HEADING = re.compile(r"^(#{2,3}) (.+?)(?::.*)?$")


def measures(results: Results) -> dict[str, float]:
    """This run's comparable numbers: ``"W1: microtensor nn.RNN"`` -> ratio to numpy, and
    ``"`a + b` (100, 1): microtensor forward"`` -> µs above numpy."""
    found = {}
    for w in results.workloads:
        base = next(t.median for t in w.timings if t.label == HandWrittenNumpy.label)
        for t in w.timings:
            if t.label != HandWrittenNumpy.label:
                found[f"{w.spec.name}: {t.label}"] = t.median / base
    for cost in results.per_op:
        for name in cost.libraries:
            forward, both = cost.above_numpy(name)
            found[f"{cost.case.label}: {name} forward"] = forward * 1e6
            found[f"{cost.case.label}: {name} fwd+bwd"] = both * 1e6
            node = cost.backward_per_node(name)
            if node is not None:
                found[f"{cost.case.label}: {name} backward per node"] = node * 1e6
    return found


def recorded(report: str) -> dict[str, float]:
    """The same numbers read back from a report's tables (see ``report.render``).

    >>> text = '''### W1: char-RNN step
    ...
    ... | variant | median ms | ratio | time in GC | max difference |
    ... |---|---|---|---|---|
    ... | numpy (hand-written) | 0.491 | 1.00x | 0.0% | reference |
    ... | microtensor nn.RNN | 2.161 | 4.40x | 0.0% | 4.4e-16 |
    ... '''
    >>> recorded(text)
    {'W1: microtensor nn.RNN': 4.4}
    """
    found: dict[str, float] = {}
    section, header = "", []
    for line in report.splitlines():
        heading = _HEADING.match(line)
        if heading:
            section, header = heading.group(2), []
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not header:
                header = cells
            elif "median ms" in header and cells[0] != HandWrittenNumpy.label:
                found[f"{section}: {cells[0]}"] = float(cells[header.index("ratio")].rstrip("x"))
            elif section == "Single ops":
                for column, cell in zip(header[3:], cells[3:]):
                    if cell != "-":  # the ops that do not chain have no per-node figure
                        found[f"{cells[0]}: {column}"] = float(cell)
        elif not line.strip():  # a table ends; the next one has its own header
            header = []
    return found


def compare(today: dict[str, float], before: dict[str, float],
            tolerance: float = TOLERANCE) -> tuple[list[str], int]:
    """Lines of a side-by-side table, and how many of microtensor's numbers got worse by
    more than ``tolerance``.

    >>> lines, worse = compare({"W1: microtensor nn.RNN": 5.2, "W1: torch nn.RNN": 3.4},
    ...                        {"W1: microtensor nn.RNN": 4.4, "W1: torch nn.RNN": 3.42})
    >>> worse, lines[2]
    (1, '| W1: microtensor nn.RNN | 4.40 | 5.20 | +18% | **worse** |')
    """
    rows, worse = [], 0
    for key in [k for k in before if k in today]:
        old, new = before[key], today[key]
        change = (new - old) / abs(old) if old else 0.0
        flag = ""
        if "microtensor" in key and old > 0 and change > tolerance:
            flag, worse = "**worse**", worse + 1
        rows.append(f"| {key} | {old:.2f} | {new:.2f} | {change:+.0%} | {flag} |")
    missing = [k for k in before if k not in today]
    lines = ["| measure | recorded | today | change | |", "|---|---|---|---|---|", *rows]
    if missing:
        lines += ["", f"Not measured today ({len(missing)}): " + ", ".join(missing)]
    lines += ["", f"{worse} of microtensor's numbers more than {tolerance:.0%} worse than recorded "
                  "(ratios to numpy; single ops in µs above numpy)."]
    return lines, worse
