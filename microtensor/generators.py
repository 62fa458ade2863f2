"""Where random numbers come from: one default generator, seeded by ``mt.manual_seed``, and
generators of one's own (``mt.Generator``), for PyTorch's ``generator=`` arguments.

Each wraps a numpy ``Generator``; the streams are numpy's, so the same seed gives the same
samples here run after run, not PyTorch's samples.

>>> import microtensor as mt
>>> g = mt.Generator().manual_seed(0)
>>> a = mt.randn(3, generator=g)
>>> bool((a == mt.randn(3, generator=mt.Generator().manual_seed(0))).all())
True
"""

from __future__ import annotations

import numpy as np

from .devices import CPU, check_device, device

#: PyTorch's seed of a new ``torch.Generator()`` (``initial_seed()`` before any seeding).
DEFAULT_SEED = 67280421310721


class Generator:
    """PyTorch's ``torch.Generator`` on the CPU: a random stream of its own.

    >>> import microtensor as mt
    >>> g = mt.Generator()
    >>> g.manual_seed(7) is g, g.initial_seed()
    (True, 7)
    """

    def __init__(self, device: str | device = "cpu") -> None:  # noqa: A002 - PyTorch's name
        check_device(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator, as PyTorch's."""
        self._seed = int(seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._seed

    def seed(self) -> int:
        """Restart the stream from a fresh, unpredictable seed, and return that seed."""
        fresh = int(np.random.SeedSequence().entropy % 2**63)
        self.manual_seed(fresh)
        return fresh

    @property
    def device(self) -> device:
        return CPU


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, behind ``randn``, ``rand``, ``randint``, ``randperm``,
    dropout and init when no ``generator=`` is given; returns it, as PyTorch's.

    >>> import microtensor as mt
    >>> _ = mt.manual_seed(0); a = mt.randn(3)
    >>> _ = mt.manual_seed(0); b = mt.randn(3)
    >>> bool((a == b).all())
    True
    """
    return default_generator.manual_seed(seed)


def generator(chosen: Generator | None = None) -> np.random.Generator:
    """The numpy stream to sample from: ``chosen``'s, or the default generator's.

    >>> import microtensor as mt
    >>> int(generator(mt.Generator().manual_seed(1)).integers(100))
    47
    """
    if chosen is None:
        return default_generator.numpy
    if not isinstance(chosen, Generator):
        raise TypeError(f"generator must be an mt.Generator, got {type(chosen).__name__}")
    return chosen.numpy
