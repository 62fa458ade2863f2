"""How a number goes into a page's data: rounded to what the page shows, JSON-safe."""

from __future__ import annotations

import math


def page_number(x: float | None, digits: int = 4) -> float | None:
    """``x`` to ``digits`` significant digits (the page shows no more); None for nan and inf,
    which JSON lacks, and for None.

    >>> page_number(3.14159265), page_number(2 / 3, 7), page_number(float("nan"))
    (3.142, 0.6666667, None)
    """
    return float(f"{x:.{digits}g}") if x is not None and math.isfinite(x) else None
