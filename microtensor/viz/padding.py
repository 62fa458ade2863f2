"""Padding: the sequences of a batch that a step does not really have.

A batch of sequences of different lengths is padded to its longest. At a step past a
sequence's end, that sequence is padding: a packed RNN does not compute it at all, a
masked decoder computes it and gives it no gradient. Either way the step says so with
two scope tags, read here for the renderer:

- ``padding``: how many of the batch's sequences are padding at this step, or which
  ones, as a tuple of rows in the caller's batch order;
- ``batch``: how many sequences the batch has.

``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` tag every step of a ``PackedSequence`` run this way;
a loop of one's own does it with ``mt.scope(t=t, padding=..., batch=...)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The scope tags a step's padding is read from.
PADDING, BATCH = "padding", "batch"
#: How many rows a label names before it says "…".
ROWS_SHOWN = 6


@dataclass(frozen=True)
class Padding:
    """``count`` of a step's ``batch`` sequences are padding; ``rows`` says which, when known.

    >>> import microtensor as mt
    >>> x = mt.ones(2, 3, requires_grad=True)
    >>> with mt.scope(t=4, padding=(0, 2), batch=3):
    ...     y = x.tanh()
    >>> pad = Padding.of(dict(y.grad_fn.scope))
    >>> pad.count, pad.describe()
    (2, 'padding: 2 of 3 sequences (rows 0, 2)')
    """

    count: int
    batch: int
    rows: tuple[int, ...] | None = None

    @property
    def full(self) -> bool:
        """Every sequence of the batch is padding at this step.

        >>> Padding(3, 3).full, Padding(2, 3).full
        (True, False)
        """
        return self.count == self.batch

    @classmethod
    def of(cls, tags: Mapping[str, Any]) -> Padding | None:
        """The padding a node's scope ``tags`` declare (None without a ``padding`` tag),
        checked: a bad value is a ``ValueError`` naming the tag and the step.

        >>> Padding.of({"t": 2, "padding": 1, "batch": 4})
        Padding(count=1, batch=4, rows=None)
        >>> Padding.of({"t": 2, "padding": 5, "batch": 4})
        Traceback (most recent call last):
        ...
        ValueError: scope tag padding=5 is more than batch=4 (at t=2)
        """
        if PADDING not in tags:
            return None
        value, batch = tags[PADDING], tags.get(BATCH)
        if batch is None:
            raise ValueError(f"scope tag padding={value!r} needs batch=, the number of sequences "
                             f"in the batch{_at(tags)}")
        if not _is_int(batch) or batch < 1:
            raise ValueError(f"scope tag batch={batch!r} must be a positive int{_at(tags)}")
        batch = int(batch)
        if _is_int(value):
            if value < 0:
                raise ValueError(f"scope tag padding={value!r} is negative{_at(tags)}")
            if value > batch:
                raise ValueError(f"scope tag padding={value!r} is more than batch={batch}{_at(tags)}")
            return cls(int(value), batch)
        if isinstance(value, tuple) and all(_is_int(row) for row in value):
            rows = tuple(sorted(int(row) for row in value))
            bad = [row for row in rows if not 0 <= row < batch]
            if bad:
                raise ValueError(f"scope tag padding={value!r} names row {bad[0]}, outside "
                                 f"batch={batch} (rows 0 to {batch - 1}){_at(tags)}")
            if len(set(rows)) < len(rows):
                raise ValueError(f"scope tag padding={value!r} names a row twice{_at(tags)}")
            return cls(len(rows), batch, rows)
        raise ValueError(f"scope tag padding={value!r} must be a count (int) or a tuple of batch "
                         f"rows{_at(tags)}")

    def short(self) -> str:
        """A few words for a step's title: ``padding 2 of 4`` or ``all padding``.

        >>> Padding(2, 4).short(), Padding(4, 4).short()
        ('padding 2 of 4', 'all padding')
        """
        return "all padding" if self.full else f"padding {self.count} of {self.batch}"

    def describe(self) -> str:
        """One line for a label or a panel.

        >>> Padding(2, 4, (1, 3)).describe(), Padding(4, 4).describe()
        ('padding: 2 of 4 sequences (rows 1, 3)', 'padding: all 4 sequences')
        """
        rows = f" ({self.row_text()})" if self.rows and not self.full else ""
        return f"padding: {self.amount()}{rows}"

    def amount(self) -> str:
        """``2 of 4 sequences``, or ``all 4 sequences``.

        >>> Padding(1, 1).amount()
        'all 1 sequence'
        """
        plural = "s" if self.batch > 1 else ""
        return f"{'all' if self.full else f'{self.count} of'} {self.batch} sequence{plural}"

    def row_text(self) -> str:
        """``rows 1, 3``, the first ``ROWS_SHOWN`` of them, or "" if unknown.

        >>> Padding(8, 10, tuple(range(8))).row_text()
        'rows 0, 1, 2, 3, 4, 5, …'
        """
        if not self.rows:
            return ""
        shown = ", ".join(map(str, self.rows[:ROWS_SHOWN]))
        return f"row{'s' if len(self.rows) > 1 else ''} {shown}{', …' if len(self.rows) > ROWS_SHOWN else ''}"


def _at(tags: Mapping[str, Any]) -> str:
    """Where a bad tag was found: `` (at layer='decoder', t=2)``."""
    where = ", ".join(f"{k}={v!r}" for k, v in tags.items() if k not in (PADDING, BATCH))
    return f" (at {where})" if where else ""


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)  # numpy ints too
