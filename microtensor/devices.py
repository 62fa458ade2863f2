"""Devices: microtensor has one, the CPU, and accepts PyTorch's device code quietly.

Code written for PyTorch names devices everywhere: ``device=`` in factories, ``.to("cpu")``,
``torch.cuda.is_available()``, ``set_default_device``. Here every such name works when it names
the CPU, and anything else (``"cuda"``, ``"mps"``...) is an error that says so, never ignored.

>>> import microtensor as mt
>>> mt.cuda.is_available(), mt.get_default_device()
(False, device(type='cpu'))
"""

from __future__ import annotations

from typing import Any

#: The device kinds PyTorch code may name; only the first exists here.
KINDS = ("cpu", "cuda", "mps", "xpu", "meta")


class device:  # noqa: N801 - PyTorch's name
    """A place tensors live; microtensor has one, the CPU (``mt.device("cpu")``).

    >>> import microtensor as mt
    >>> mt.device("cpu") == "cpu"
    True
    """

    __slots__ = ("type",)

    def __init__(self, type: str | device) -> None:  # noqa: A002 - PyTorch's name
        self.type = check_device(type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (str, device)) and str(other).split(":")[0] == self.type

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return self.type

    def __repr__(self) -> str:
        return f"device(type={self.type!r})"


def is_device(name: Any) -> bool:
    """Whether ``name`` names a device (as ``.to(...)`` must tell devices from dtypes).

    >>> is_device("cuda:0"), is_device("float32")
    (True, False)
    """
    return isinstance(name, device) or isinstance(name, str) and name.split(":")[0] in KINDS


def check_device(name: Any) -> str:
    """``"cpu"`` if ``name`` (a str, a ``device`` or None) is the CPU; an error otherwise.

    >>> check_device("cuda")
    Traceback (most recent call last):
    ...
    RuntimeError: microtensor runs on the CPU only (numpy); got device 'cuda'
    """
    if name is None:
        return "cpu"
    kind = str(name).split(":")[0]
    if kind != "cpu":
        raise RuntimeError(f"microtensor runs on the CPU only (numpy); got device {str(name)!r}")
    return kind


CPU = device("cpu")


def set_default_device(name: Any) -> None:
    """PyTorch's ``set_default_device``: the CPU (or None) is accepted, anything else refused.

    >>> import microtensor as mt
    >>> mt.set_default_device("cpu")
    """
    check_device(name)


def get_default_device() -> device:
    """The device factories make tensors on: always the CPU.

    >>> import microtensor as mt
    >>> mt.get_default_device()
    device(type='cpu')
    """
    return CPU


class _Cuda:
    """``mt.cuda``: what CPU-only PyTorch answers (no GPU, no devices)."""

    @staticmethod
    def is_available() -> bool:
        """False: there is no GPU here.

        >>> import microtensor as mt
        >>> mt.cuda.is_available()
        False
        """
        return False

    @staticmethod
    def device_count() -> int:
        """0, as CPU-only PyTorch.

        >>> import microtensor as mt
        >>> mt.cuda.device_count()
        0
        """
        return 0


class _Accelerator:
    """``mt.accelerator``: PyTorch's device-generic API, which finds no accelerator here."""

    @staticmethod
    def is_available() -> bool:
        """False: the CPU is no accelerator.

        >>> import microtensor as mt
        >>> mt.accelerator.is_available()
        False
        """
        return False

    @staticmethod
    def current_accelerator(check_available: bool = False) -> None:
        """None, as CPU-only PyTorch (so ``device = acc or "cpu"`` picks the CPU).

        >>> import microtensor as mt
        >>> mt.accelerator.current_accelerator() is None
        True
        """
        return None

    @staticmethod
    def device_count() -> int:
        """0, as CPU-only PyTorch.

        >>> import microtensor as mt
        >>> mt.accelerator.device_count()
        0
        """
        return 0


cuda = _Cuda()
accelerator = _Accelerator()
