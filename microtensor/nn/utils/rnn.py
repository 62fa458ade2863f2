"""Batches of sequences of different lengths, as PyTorch's ``nn.utils.rnn``.

Two ways to hold them:

- padded: one tensor (seq, batch, *) (or batch first), the short sequences filled up
  with ``padding_value``: ``pad_sequence``;
- packed: a ``PackedSequence``, the real steps only, time-major: first step 0 of every
  sequence, then step 1 of those at least 2 long, and so on, the sequences sorted longest
  first. ``batch_sizes[t]`` says how many sequences are still running at step ``t``, so
  step ``t``'s rows are a prefix of the batch. ``pack_padded_sequence`` and
  ``pack_sequence`` make one, ``pad_packed_sequence`` turns it back.

``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` take a ``PackedSequence`` and return one: each
sequence runs for its own length, padding neither changes the state nor gets a gradient,
and ``h_n`` holds each sequence's state after its own last step.

Every function is composed from engine ops (one indexing op each way), so gradients
flow through packing and unpacking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ...creation import from_numpy, full
from ...functions import cat, stack
from ...tensor import Tensor, _raw


class PackedSequence(NamedTuple):
    """The real steps of a batch of sequences, time-major and longest first.

    ``data`` (sum of lengths, *): the steps; ``batch_sizes`` (int64, one per time step): how
    many sequences run at that step; ``sorted_indices``: for each packed position, the
    sequence's index in the original batch (None if the batch came sorted);
    ``unsorted_indices``: the inverse permutation.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([mt.tensor([1.0, 2.0]), mt.tensor([3.0, 4.0, 5.0])],
    ...                        enforce_sorted=False)
    >>> packed.data.tolist(), packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
    ([3.0, 1.0, 4.0, 2.0, 5.0], [2, 2, 1], [1, 0])
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _lengths(lengths: Any, op: str) -> np.ndarray:
    """Lengths as int64. As PyTorch (which reads them with ``as_tensor(..., dtype=int64)``),
    float and bool lengths are accepted and floats truncated toward zero: 2.7 is 2."""
    lengths = np.asarray(_raw(lengths))
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iufb"):
        raise TypeError(f"{op}: lengths must be a 1-d list or tensor of numbers, got "
                        f"{lengths.dtype} of shape {lengths.shape}")
    if lengths.dtype.kind == "f" and not np.isfinite(lengths).all():
        raise ValueError(f"{op}: lengths must be finite, got {lengths.tolist()}")
    return lengths.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,  # noqa: A002
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (seq, batch, *) (or (batch, seq, *) with ``batch_first``) whose
    sequence ``b`` has ``lengths[b]`` real steps.

    With ``enforce_sorted`` the lengths must already be in decreasing order (as PyTorch);
    otherwise the batch is sorted here and ``sorted_indices``/``unsorted_indices`` record how.

    >>> import microtensor as mt
    >>> padded = mt.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])  # (seq 3, batch 2)
    >>> packed = mt.nn.utils.rnn.pack_padded_sequence(padded, [3, 1])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 3.0], [2, 1, 1])
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError(f"{op}: input must be a tensor (seq, batch, *) or (batch, seq, *), got "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    lengths = _lengths(lengths, op)
    seq, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.shape != (batch,):
        raise ValueError(f"{op}: expected {batch} lengths, one per sequence of the batch, got "
                         f"{lengths.shape[0]}")
    if batch == 0 or lengths.min() <= 0:
        raise ValueError(f"{op}: every sequence must have at least one step, got lengths "
                         f"{lengths.tolist()}")
    if lengths.max() > seq:
        raise ValueError(f"{op}: a length of {lengths.max()} is longer than the {seq} steps of "
                         "the input")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise ValueError(f"{op}: lengths {lengths.tolist()} must be sorted in decreasing "
                             "order when enforce_sorted is True; pass enforce_sorted=False to "
                             "sort them here")
        order, sorted_indices, unsorted_indices = np.arange(batch), None, None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = from_numpy(order)
        unsorted_indices = from_numpy(np.argsort(order))
    ordered = lengths[order]
    batch_sizes = (ordered[None, :] > np.arange(ordered[0])[:, None]).sum(axis=1)
    steps = np.concatenate([np.full(n, t) for t, n in enumerate(batch_sizes)])
    rows = np.concatenate([order[:n] for n in batch_sizes])
    data = input[rows, steps] if batch_first else input[steps, rows]
    return PackedSequence(data, from_numpy(batch_sizes.astype(np.int64)), sorted_indices,
                          unsorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: ``(padded, lengths)``, the batch in its original order,
    padded with ``padding_value`` to the longest length (or to ``total_length``).

    >>> import microtensor as mt
    >>> from microtensor.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([mt.tensor([1.0]), mt.tensor([2.0, 3.0])], enforce_sorted=False)
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True, total_length=3)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 0.0, 0.0], [2.0, 3.0, 0.0]], [1, 2])
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = np.asarray(_raw(sequence.batch_sizes))
    seq, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < seq:
            raise ValueError(f"{op}: total_length={total_length} is shorter than the longest "
                             f"sequence ({seq} steps)")
        seq = total_length
    data = sequence.data
    # Each (t, b) reads its row of data, or the padding row appended after the last one:
    # one indexing op, so the gradient of every real step goes back to its row.
    padding = full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    source = np.full((seq, batch), data.shape[0])
    offset = 0
    for t, n in enumerate(batch_sizes):
        source[t, :n] = offset + np.arange(n)
        offset += n
    if sequence.unsorted_indices is not None:
        source = source[:, np.asarray(_raw(sequence.unsorted_indices))]
    padded = cat([data, padding])[source.T if batch_first else source]
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    if sequence.unsorted_indices is not None:
        lengths = lengths[np.asarray(_raw(sequence.unsorted_indices))]
    return padded, from_numpy(lengths.astype(np.int64))


def _check_padding_value(value: float, dtype: np.dtype, op: str) -> None:
    """PyTorch's check when it fills with ``value``: within an integer dtype's range (a float
    is truncated only after the check: 255.5 does not fit uint8, -0.5 does not fit uint8 but
    does fit int8) and not past a float dtype's largest finite value (inf and nan pass)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        fits = info.min <= value <= info.max  # False for nan
    elif dtype.kind == "f":
        # float(): compared with a float16 scalar, numpy would round 65519 to 65504 first
        fits = not math.isfinite(value) or abs(value) <= float(np.finfo(dtype).max)
    else:
        fits = True  # bool takes any number (nonzero is True)
    if not fits:
        raise RuntimeError(f"{op}: padding_value {value} cannot be converted to {dtype} "
                           "without overflow")


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences (each (length, *), the same ``*``) into one tensor (longest, batch, *)
    (or (batch, longest, *)), filling with ``padding_value`` on ``padding_side``. The result
    has the first sequence's dtype, as PyTorch's.

    >>> import microtensor as mt
    >>> mt.nn.utils.rnn.pad_sequence([mt.tensor([1.0, 2.0]), mt.tensor([3.0])],
    ...                              batch_first=True).tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    """
    op = "pad_sequence"
    if padding_side not in ("right", "left"):
        raise ValueError(f"{op}: padding_side must be 'right' or 'left', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim < 1 or s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(f"{op}: sequence {i} has shape {getattr(s, 'shape', None)}; every "
                             f"sequence must be a tensor (length, *) with * = "
                             f"{sequences[0].shape[1:]}")
    # As PyTorch: every sequence is cast to the first one's dtype (not promoted), and so is
    # padding_value (0.5 pads an integer batch with 0)
    dtype = sequences[0].dtype
    sequences = [s if s.dtype == dtype else s.to(dtype) for s in sequences]
    _check_padding_value(padding_value, dtype, op)
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        if s.shape[0] == longest:
            rows.append(s)
            continue
        fill = full((longest - s.shape[0], *s.shape[1:]), padding_value, dtype=s.dtype)
        rows.append(cat([s, fill] if padding_side == "right" else [fill, s]))
    return stack(rows, dim=0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (each (length, *)): ``pad_sequence`` then
    ``pack_padded_sequence``.

    >>> import microtensor as mt
    >>> packed = mt.nn.utils.rnn.pack_sequence([mt.ones(3, 2), mt.ones(1, 2)])
    >>> packed.data.shape, packed.batch_sizes.tolist()
    ((4, 2), [2, 1, 1])
    """
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any,
                   batch_first: bool = False) -> list[Tensor]:
    """Undo ``pad_sequence``: sequence ``b`` is the first ``lengths[b]`` steps of column ``b``
    of ``padded_sequences`` (seq, batch, *) (row ``b`` with ``batch_first``).

    As PyTorch, step ``t`` is kept when ``t < lengths[b]``, so a float length 2.5 keeps 3
    steps, and each sequence is a copy that passes gradients back to the padded tensor.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils.rnn import unpad_sequence
    >>> padded = mt.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])  # (seq 3, batch 2)
    >>> [s.tolist() for s in unpad_sequence(padded, mt.tensor([3, 1]))]
    [[1.0, 2.0, 3.0], [4.0]]
    """
    op = "unpad_sequence"
    if not isinstance(padded_sequences, Tensor) or padded_sequences.ndim < 2:
        raise ValueError(f"{op}: padded_sequences must be a tensor (seq, batch, *) or (batch, "
                         f"seq, *), got {getattr(padded_sequences, 'shape', None)}")
    lengths = np.asarray(_raw(lengths))
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iufb"):
        raise TypeError(f"{op}: lengths must be a 1-d list or tensor of numbers, got "
                        f"{lengths.dtype} of shape {lengths.shape}")
    seq, batch = padded_sequences.shape[:2][::-1] if batch_first else padded_sequences.shape[:2]
    if len(lengths) != batch:  # PyTorch zips them with strict=True
        raise ValueError(f"{op}: expected {batch} lengths, one per sequence of the batch, got "
                         f"{len(lengths)}")
    steps = np.arange(seq)
    # An index array, not a slice: each sequence is a copy, as PyTorch's masked indexing
    return [padded_sequences[b, steps[steps < n]] if batch_first
            else padded_sequences[steps[steps < n], b] for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo ``pack_sequence``: the list of sequences, in their original order.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils.rnn import pack_sequence, unpack_sequence
    >>> packed = pack_sequence([mt.tensor([1, 2]), mt.tensor([3, 4, 5])], enforce_sorted=False)
    >>> [s.tolist() for s in unpack_sequence(packed)]
    [[1, 2], [3, 4, 5]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
