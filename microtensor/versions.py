"""Versions: how backward knows that a value an op saved was changed by an in-place write
(PyTorch's "modified by an inplace operation" error).

PyTorch counts writes per tensor, in a counter its views share. Here the written *memory*
is what is counted, which a tensor, its views and ``detach()`` share just the same: every
in-place write ticks one process-wide ``clock`` and stamps the memory it wrote (the array
that owns it) with that tick and its new version. A node notes the clock when it saves
arrays; backward looks the saved arrays' memory up only if the clock has moved since. So
an op pays one integer per node for versions, and backward nothing until something is
written in place.

>>> import numpy as np
>>> a = np.zeros(3)
>>> saved_at = clock
>>> version(a[1:]), written_since(a, saved_at)
(0, False)
>>> record_write(a[1:])  # a view's write stamps the memory, so every view sees it
>>> version(a), written_since(a[:1], saved_at)
(1, True)
"""

from __future__ import annotations

import weakref

import numpy as np

#: In-place writes so far in this process.
clock = 0


class _Stamp:
    """The last write to one piece of memory: when (the clock) and how many writes so far."""

    __slots__ = ("written_at", "version", "owner")

    def __init__(self, owner: weakref.ref) -> None:
        self.written_at, self.version, self.owner = 0, 0, owner


_stamps: dict[int, _Stamp] = {}  # id of the owning array -> its stamp, while it lives


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (numpy points views there through ``base``)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def record_write(array: np.ndarray) -> None:
    """Tick the clock and stamp ``array``'s memory as written now."""
    global clock
    clock += 1
    owner = _owner(array)
    key = id(owner)
    stamp = _stamps.get(key)
    if stamp is None:
        # Removed when the memory is freed, so a later array at the same address starts afresh.
        stamp = _stamps[key] = _Stamp(weakref.ref(owner, lambda _, key=key: _stamps.pop(key, None)))
    stamp.written_at = clock
    stamp.version += 1


def version(array: np.ndarray) -> int:
    """How many in-place writes the memory of ``array`` has seen (PyTorch's ``_version``)."""
    stamp = _stamps.get(id(_owner(array)))
    return 0 if stamp is None else stamp.version


def written_since(array: np.ndarray, tick: int) -> bool:
    """Whether the memory of ``array`` was written in place after the clock read ``tick``."""
    stamp = _stamps.get(id(_owner(array)))
    return stamp is not None and stamp.written_at > tick
