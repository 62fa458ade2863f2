"""How tensors print: ``repr(t)`` and ``str(t)`` give PyTorch's text, digit for digit.

Learners compare printed tensors with PyTorch tutorials line by line, so the rules
are PyTorch's (``torch/_tensor_str.py``), rewritten for numpy arrays:

- one format for all elements: integers as they are; floats with ``precision`` (4)
  decimals, or in scientific notation when the non-zero finite magnitudes span more
  than 1000x or leave [1e-4, 1e8]; floats that are all whole numbers as ``1.``;
- elements right-aligned to a common width, wrapped at ``linewidth`` (80);
- past ``threshold`` (1000) elements, only ``edgeitems`` (3) per end of each dim, ``...``
  between;
- suffixes after the values: ``size=`` (empty tensors), ``dtype=`` (unless the default
  float dtype, int64 or bool), ``grad_fn=<...>`` or ``requires_grad=True``, then
  microtensor's own ``name=``.

>>> import microtensor as mt
>>> mt.tensor([1.5, 2.25])
tensor([1.5000, 2.2500])
>>> mt.tensor([[1, 2], [3, 40]])
tensor([[ 1,  2],
        [ 3, 40]])
>>> mt.tensor([1e-5, 1.0])
tensor([1.0000e-05, 1.0000e+00])
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .dtypes import get_default_dtype

if TYPE_CHECKING:
    from .tensor import Tensor


@dataclasses.dataclass
class _Options:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = _Options()

# PyTorch's profiles: (precision, threshold, edgeitems, linewidth).
_PROFILES = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as ``torch.set_printoptions``.

    ``profile`` (``"default"``, ``"short"``, ``"full"``) sets the first four options
    at once; the others override it. ``sci_mode`` forces scientific notation on
    (True) or off (False); like PyTorch, every call resets it to automatic (None)
    unless it is given.

    >>> import microtensor as mt
    >>> mt.set_printoptions(precision=2)
    >>> mt.tensor([1.12345])
    tensor([1.12])
    >>> mt.set_printoptions(threshold=5)
    >>> mt.arange(10)
    tensor([0, 1, 2,  ..., 7, 8, 9])
    >>> mt.set_printoptions(profile="default")
    >>> mt.tensor([1.12345])
    tensor([1.1235])
    """
    if profile is not None:
        if profile not in _PROFILES:  # PyTorch ignores an unknown profile; a typo should not pass
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        (OPTIONS.precision, OPTIONS.threshold, OPTIONS.edgeitems,
         OPTIONS.linewidth) = _PROFILES[profile]
    if precision is not None:
        OPTIONS.precision = precision
    if threshold is not None:
        OPTIONS.threshold = threshold
    if edgeitems is not None:
        OPTIONS.edgeitems = edgeitems
    if linewidth is not None:
        OPTIONS.linewidth = linewidth
    OPTIONS.sci_mode = sci_mode


class _Formatter:
    """One format for every element of a tensor, chosen from the values it will show."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True  # floats that are all whole numbers print as "1."
        self.sci_mode = False
        self.max_width = 1
        if not self.floating:
            self.max_width = max([1, *(len(f"{v}") for v in values.tolist())])
            return
        shown = values[np.isfinite(values) & (values != 0)]
        if shown.size == 0:
            return
        magnitude = np.abs(shown).astype(np.float64)  # float16 would overflow the ratio
        low, high = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        with np.errstate(over="ignore"):
            wide = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        self.sci_mode = wide if OPTIONS.sci_mode is None else OPTIONS.sci_mode
        p = OPTIONS.precision
        if self.sci_mode:
            texts = [f"{v:.{p}e}" for v in shown.tolist()]
        elif self.int_mode:
            texts = [f"{v:.0f}." for v in shown.tolist()]
        else:
            texts = [f"{v:.{p}f}" for v in shown.tolist()]
        self.max_width = max(len(t) for t in texts)

    def format(self, value: Any) -> str:
        if not self.floating:
            text = f"{value}"
        elif self.sci_mode:
            text = f"{value:{self.max_width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{OPTIONS.precision}f}"
        return text.rjust(self.max_width)


def _summarized(array: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows (the first and last ``edgeitems`` of each dim),
    flattened: the format is chosen from these only."""
    e = OPTIONS.edgeitems
    if array.ndim == 0:
        return array.reshape(-1)
    if array.ndim == 1:
        # a[-0:] is all of a: with edgeitems=0 PyTorch formats a vector from all its values
        return np.concatenate([array[:e], array[-e:]]) if len(array) > 2 * e else array
    if not e:
        return array.reshape(-1)[:0]
    rows = [*array[:e], *array[len(array) - e:]] if len(array) > 2 * e else list(array)
    return np.concatenate([_summarized(row) for row in rows])


def _body(array: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    """The bracketed values of ``array``, with nested dims indented under ``indent``."""
    e = OPTIONS.edgeitems
    if array.ndim == 0:
        return fmt.format(array.item())
    if array.ndim == 1:
        per_line = max(1, (OPTIONS.linewidth - indent) // (fmt.max_width + 2))
        if summarize and not e:
            items = ["..."]
        elif summarize and len(array) > 2 * e:
            items = ([fmt.format(v) for v in array[:e].tolist()] + [" ..."]
                     + [fmt.format(v) for v in array[-e:].tolist()])
        else:
            items = [fmt.format(v) for v in array.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and len(array) > 2 * e:
        parts = ([_body(row, fmt, indent + 1, summarize) for row in array[:e]] + ["..."]
                 + [_body(row, fmt, indent + 1, summarize) for row in array[len(array) - e:]])
    else:
        parts = [_body(row, fmt, indent + 1, summarize) for row in array]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append ``, suffix`` items, each on a new line when it would pass ``linewidth``."""
    out = [text]
    line_len = len(text) - text.rfind("\n") + 1  # PyTorch's count (2 more than the line)
    for suffix in suffixes:
        # dtype takes the room of PyTorch's spelling (dtype=torch.int16), so lines break where
        # PyTorch's do and the text still matches a tutorial's line by line
        width = len(suffix) + (len("torch.") if suffix.startswith("dtype=") else 0)
        if line_len + width + 2 > OPTIONS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            line_len = indent + width
        else:
            out.append(", " + suffix)
            line_len += width + 2
    return "".join(out) + ")"


def format_tensor(tensor: Tensor) -> str:
    """``repr(tensor)``: ``tensor(`` values, suffixes ``)`` as PyTorch prints it."""
    array = tensor.array
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={array.shape}")
        # no values to tell int64 from float, so PyTorch names every non-default dtype
        if array.dtype != get_default_dtype():
            suffixes.append(f"dtype={array.dtype}")
        body = "[]"
    else:
        if not OPTIONS.edgeitems:
            suffixes.append(f"size={array.shape}")
        if array.dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
            suffixes.append(f"dtype={array.dtype}")
        summarize = array.size > OPTIONS.threshold
        fmt = _Formatter(_summarized(array) if summarize else array.reshape(-1))
        body = _body(array, fmt, indent, summarize)
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(tensor.grad_fn).__name__}>")
    elif tensor.requires_grad:
        suffixes.append("requires_grad=True")
    if tensor.name:
        suffixes.append(f"name={tensor.name!r}")
    return _with_suffixes(prefix + body, suffixes, indent)
