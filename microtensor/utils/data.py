"""Datasets, samplers and the ``DataLoader`` that turns them into batches, as PyTorch's
``torch.utils.data``.

- a *dataset* maps an index to a sample (``dataset[i]``, ``len(dataset)``): ``Dataset``,
  ``TensorDataset``, ``Subset``, ``ConcatDataset``, and ``random_split`` to cut one in parts;
- a *sampler* says in which order to read it: ``SequentialSampler``, ``RandomSampler``, and
  ``BatchSampler`` to group indices into batches;
- ``DataLoader`` reads the samples of each batch and *collates* them into tensors with
  ``default_collate`` (or, with ``batch_size=None``, converts each sample with ``default_convert``).

Everything runs in the calling process: there are no worker processes (``num_workers`` must be
0). The batches are PyTorch's batches for the same indices, dtypes included. Random orders come
from ``mt.Generator``/the default generator, numpy's streams, so a shuffled order is not the order
PyTorch draws; the random draws happen at the same moments as PyTorch's (one seed per epoch from
the loader's generator, and so on), so code that seeds once repeats itself run after run.

>>> import microtensor as mt
>>> from microtensor.utils.data import DataLoader, TensorDataset
>>> data = TensorDataset(mt.arange(5), mt.arange(5) * 10)
>>> [(x.tolist(), y.tolist()) for x, y in DataLoader(data, batch_size=2)]
[([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4], [40])]
"""

from __future__ import annotations

import bisect
import collections.abc
import copy
import itertools
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from .. import generators
from ..creation import as_tensor, from_numpy, randint, randperm, tensor
from ..dtypes import float64, result_type
from ..functions import stack
from ..generators import Generator
from ..tensor import Tensor

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "TensorDataset", "collate", "default_collate",
    "default_collate_fn_map", "default_convert", "random_split",
]

_T_co = TypeVar("_T_co", covariant=True)


def _check_generator(owner: str, generator: Any) -> None:
    # Checked when made rather than at the first epoch, where PyTorch finds out.
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{owner}: generator must be an mt.Generator or None, got "
                        f"{type(generator).__name__}")


def _seed_from(generator: Generator | None) -> int:
    """One draw of a 63-bit seed, as PyTorch's ``torch.empty((), dtype=int64).random_(generator)``."""
    return int(generators.generator(generator).integers(2**63))


# ---------------------------------------------------------------------------------------------
# Datasets


class Dataset(Generic[_T_co]):
    """A map from indices to samples: subclasses write ``__getitem__`` (and usually ``__len__``,
    which samplers and ``DataLoader`` need). An optional ``__getitems__(indices)`` returning a
    list of samples lets ``DataLoader`` read a whole batch at once. ``a + b`` concatenates.

    >>> import microtensor as mt
    >>> class Squares(mt.utils.data.Dataset):
    ...     def __getitem__(self, i): return i * i
    ...     def __len__(self): return 4
    >>> [Squares()[i] for i in range(4)], len(Squares() + Squares())
    ([0, 1, 4, 9], 8)
    """

    def __getitem__(self, index: Any) -> _T_co:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should implement "
                                  "__getitem__")

    # No default __len__, as PyTorch: a __len__ that raises would break list(dataset) and the
    # other callers that fall back to iteration when there is no length.

    def __add__(self, other: Dataset[_T_co]) -> ConcatDataset[_T_co]:
        return ConcatDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are rows: ``dataset[i]`` is ``(t[i] for each tensor t)``, all tensors having the
    same first dimension.

    >>> import microtensor as mt
    >>> data = mt.utils.data.TensorDataset(mt.zeros(3, 2), mt.tensor([7, 8, 9]))
    >>> len(data), data[1][0].shape, data[1][1].item()
    (3, (2,), 8)
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        for position, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {position} must be a tensor, got "
                                f"{type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is 0-d; samples are taken "
                                 "along the first dimension")
        sizes = [t.shape[0] for t in tensors]
        if any(size != sizes[0] for size in sizes):
            # AssertionError, as PyTorch's, so that code catching it keeps working.
            raise AssertionError(f"TensorDataset: size mismatch between tensors: first dimensions "
                                 f"{sizes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i]`` is
    ``dataset[indices[i]]``. A subclass that overrides ``__getitem__`` must also override
    ``__getitems__``, which ``DataLoader`` prefers (as PyTorch).

    >>> import microtensor as mt
    >>> part = mt.utils.data.Subset(["a", "b", "c", "d"], [3, 0])
    >>> len(part), part[0], part.__getitems__([1, 0])
    (2, 'd', ['a', 'd'])
    """

    def __init__(self, dataset: Dataset[_T_co] | Sequence[_T_co], indices: Sequence[int]) -> None:
        if (type(self).__getitem__ is not Subset.__getitem__
                and type(self).__getitems__ is Subset.__getitems__):
            raise NotImplementedError(
                f"{type(self).__name__} overrides __getitem__ but not __getitems__, which "
                "DataLoader reads batches with; add def __getitems__(self, indices): return "
                "[self[i] for i in indices]")
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[_T_co]:
        # Hand the whole batch on when the underlying dataset can read one at once.
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[_T_co]):
    """Several datasets one after the other (what ``a + b`` of datasets makes).

    >>> import microtensor as mt
    >>> both = mt.utils.data.ConcatDataset([[1, 2], [3, 4, 5]])
    >>> len(both), both[2], both[-1], both.cumulative_sizes
    (5, 3, 5, [2, 5])
    """

    @staticmethod
    def cumsum(sequence: Iterable[Sized]) -> list[int]:
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            # AssertionError, as PyTorch's.
            raise AssertionError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> _T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: index {idx} is out of range for {len(self)} "
                                 "samples")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


def random_split(dataset: Dataset[_T_co] | Sequence[_T_co], lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset[_T_co]]:
    """Cut ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``, or of
    the given fractions (summing to 1; each part gets ``floor(fraction * len(dataset))`` and what
    is left over goes one by one to the first parts, as PyTorch 2.13). The order is one
    ``mt.randperm`` from ``generator`` (default: the default generator).

    >>> import microtensor as mt
    >>> parts = mt.utils.data.random_split(range(10), [0.5, 0.3, 0.2],
    ...                                    generator=mt.Generator().manual_seed(0))
    >>> [len(p) for p in parts], sorted(i for p in parts for i in p.indices)
    ([5, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    _check_generator("random_split", generator)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: the fraction at index {i} is not between 0 and 1, "
                                 f"got {fraction}")
            sizes.append(math.floor(len(dataset) * fraction))
        for i in range(len(dataset) - sum(sizes)):  # the remainder, round-robin
            sizes[i % len(sizes)] += 1
        lengths = sizes
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                              "dataset.", stacklevel=2)
    for i, length in enumerate(lengths):
        # PyTorch slices nonsense out of a negative length when the sum still fits; refuse it.
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
            raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                             f"summing to 1, got {lengths[i]!r} at index {i}")
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: the lengths sum to {sum(lengths)}, not to the "
                         f"{len(dataset)} samples of the dataset")
    indices = randperm(sum(lengths), generator=generator).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, indices[end - length:end]) for end, length in zip(ends, lengths)]


# ---------------------------------------------------------------------------------------------
# Samplers


class Sampler(Generic[_T_co]):
    """Base class of samplers: ``__iter__`` yields indices (or lists of indices, for a batch
    sampler); ``__len__``, if there is one, says how many.

    >>> import microtensor as mt
    >>> class Backwards(mt.utils.data.Sampler[int]):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self): return self.n
    >>> [b.tolist() for b in mt.utils.data.DataLoader(range(5), batch_size=2, sampler=Backwards(5))]
    [[4, 3], [2, 1], [0]]
    """

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sampler should implement "
                                  "__iter__")


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``, every time.

    >>> import microtensor as mt
    >>> list(mt.utils.data.SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices in random order: each epoch a new permutation of the whole dataset (as many as
    ``num_samples`` needs, the last one cut short), or, with ``replacement``, ``num_samples``
    independent draws (default: ``len(data_source)``).

    Draws come from ``generator``; without one, each epoch starts a fresh generator seeded by
    one draw from the default generator, as PyTorch's (so ``mt.manual_seed`` fixes the orders).
    numpy's streams: not PyTorch's orders.

    >>> import microtensor as mt
    >>> sampler = mt.utils.data.RandomSampler(range(5), generator=mt.Generator().manual_seed(0))
    >>> sorted(sampler), len(sampler)
    ([0, 1, 2, 3, 4], 5)
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got "
                            f"{replacement!r}")
        if (not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool)
                or self.num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer, got "
                             f"{self.num_samples!r}")
        _check_generator("RandomSampler", generator)

    @property
    def num_samples(self) -> int:
        # Read at each epoch: the dataset may grow or shrink in between, as PyTorch allows.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator
        if generator is None:
            generator = Generator().manual_seed(_seed_from(None))
        if self.replacement:
            # In blocks of 32, as PyTorch: an epoch stopped early has drawn no more than that.
            for _ in range(self.num_samples // 32):
                yield from randint(0, n, (32,), generator=generator).tolist()
            yield from randint(0, n, (self.num_samples % 32,), generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from randperm(n, generator=generator).tolist()
            # Drawn even when nothing of it is used, as PyTorch, so the streams advance alike.
            yield from randperm(n, generator=generator).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` (any iterable) into lists of ``batch_size``; the last,
    shorter one is kept unless ``drop_last``.

    >>> import microtensor as mt
    >>> list(mt.utils.data.BatchSampler(range(5), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> len(mt.utils.data.BatchSampler(range(5), batch_size=2, drop_last=True))
    2
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got "
                             f"{batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, got "
                             f"{drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        batch = list(itertools.islice(indices, self.batch_size))
        while batch and (len(batch) == self.batch_size or not self.drop_last):
            yield batch
            batch = list(itertools.islice(indices, self.batch_size))

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


# ---------------------------------------------------------------------------------------------
# Collation

# numpy dtypes of strings, bytes and objects: not numbers, so not tensors.
_NOT_NUMBERS = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, "
                                  "numbers, dicts or lists; found {}")


def _numpy_scalars(values: Sequence[Any]) -> Tensor:
    """``torch.as_tensor`` of a list of numpy scalars: each keeps its dtype, promoted as 0-d
    tensors are (float32 with int64 is float32; Python numbers among them are weak)."""
    dtype = result_type(*(from_numpy(np.asarray(v)) if isinstance(v, np.generic) else v
                          for v in values))
    return from_numpy(np.asarray(values, dtype=dtype))


def default_convert(data: Any) -> Any:
    """What ``DataLoader`` does to each sample with ``batch_size=None``: numpy arrays and
    scalars become tensors (arrays share memory, as ``torch.as_tensor``), inside dicts, lists
    and named tuples too; tuples become lists, as PyTorch's; anything else is left alone.

    >>> import numpy as np, microtensor as mt
    >>> mt.utils.data.default_convert((np.array([1, 2]), 3.0))
    [tensor([1, 2]), 3.0]
    """
    kind = type(data)
    if isinstance(data, Tensor):
        return data
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "string_"):
        if isinstance(data, np.ndarray) and _NOT_NUMBERS.search(data.dtype.str):
            return data
        return from_numpy(np.asarray(data))  # an array is shared, not copied
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)  # keeps the mapping's own type (OrderedDict, ...)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return kind({key: default_convert(data[key]) for key in data})
        except TypeError:  # a mapping type that cannot be made this way
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return kind(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return kind([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch: Sequence[Any], *,
            collate_fn_map: dict[type | tuple[type, ...], Callable] | None = None) -> Any:
    """Collate ``batch`` (a list of samples) by the type of its first sample: a function of
    ``collate_fn_map`` for it (looked up by exact type, then by ``isinstance`` in the map's
    order), else dicts, named tuples and sequences are collated field by field, recursively.

    >>> import microtensor as mt
    >>> from microtensor.utils.data import collate, default_collate_fn_map
    >>> collate([{"x": 1}, {"x": 2}], collate_fn_map=default_collate_fn_map)
    {'x': tensor([1, 2])}
    """
    elem = batch[0]
    kind = type(elem)
    if collate_fn_map is not None:
        if kind in collate_fn_map:
            return collate_fn_map[kind](batch, collate_fn_map=collate_fn_map)
        for key in collate_fn_map:
            if isinstance(elem, key):
                return collate_fn_map[key](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                  for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(fields)
                return clone
            return kind(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return kind(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            # RuntimeError, as PyTorch's.
            raise RuntimeError(f"default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {[len(sample) for sample in batch]}")
        fields = [collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # a list, as PyTorch's (its "backwards compatibility")
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, field in enumerate(fields):
                    clone[i] = field
                return clone
            return kind(fields)
        except TypeError:
            return fields
    raise TypeError(default_collate_err_msg_format.format(kind))


def _collate_tensors(batch: Sequence[Tensor], *, collate_fn_map: Any = None) -> Tensor:
    return stack(batch, 0)


def _collate_arrays(batch: Sequence[np.ndarray], *, collate_fn_map: Any = None) -> Any:
    if _NOT_NUMBERS.search(batch[0].dtype.str):
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalars(batch: Sequence[Any], *, collate_fn_map: Any = None) -> Tensor:
    return _numpy_scalars(batch)


def _collate_floats(batch: Sequence[float], *, collate_fn_map: Any = None) -> Tensor:
    # float64, not the default dtype: PyTorch's default_collate says dtype=torch.float64.
    return tensor(list(batch), dtype=float64)


def _collate_ints(batch: Sequence[int], *, collate_fn_map: Any = None) -> Tensor:
    return tensor(list(batch))  # int64; bools (a kind of int) make a bool tensor


def _collate_strings(batch: Sequence[Any], *, collate_fn_map: Any = None) -> Sequence[Any]:
    return batch


#: The types ``default_collate`` knows, in PyTorch's order (the order decides for subclasses:
#: numpy's float64 is a Python float, but is collated as a numpy scalar). Add to it to teach
#: ``default_collate`` a type of one's own.
default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: _collate_tensors,
    np.ndarray: _collate_arrays,
    (np.bool_, np.number, np.object_): _collate_numpy_scalars,
    float: _collate_floats,
    int: _collate_ints,
    str: _collate_strings,
    bytes: _collate_strings,
}


def default_collate(batch: Sequence[Any]) -> Any:
    """Turn a list of samples into a batch, as PyTorch's: tensors are stacked along a new first
    dimension; numpy arrays become tensors and are stacked; Python ints become an int64 tensor,
    bools a bool tensor, Python floats a **float64** tensor (not the default dtype), numpy
    scalars a tensor of their dtype; strings and bytes stay a list; dicts, named tuples and
    lists are collated field by field (tuples come back as lists).

    >>> import microtensor as mt
    >>> from microtensor.utils.data import default_collate
    >>> default_collate([(mt.zeros(2), 1, 0.5), (mt.ones(2), 2, 1.5)])
    [tensor([[0., 0.],
            [1., 1.]]), tensor([1, 2]), tensor([0.5000, 1.5000], dtype=float64)]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


# ---------------------------------------------------------------------------------------------
# The loader


class DataLoader(Generic[_T_co]):
    """Batches of ``dataset``, as PyTorch's ``DataLoader``, in the calling process.

    ``batch_size`` samples per batch (the last one shorter unless ``drop_last``), read in order,
    or in a new random order each epoch with ``shuffle=True`` (a ``RandomSampler`` drawing from
    ``generator``, else from the default generator), or in the order of ``sampler``, or as the
    lists of indices ``batch_sampler`` yields. Each batch is ``collate_fn(list of samples)``
    (default ``default_collate``). With ``batch_size=None`` samples come one by one, passed
    through ``default_convert`` instead. ``len(loader)`` is the number of batches.

    As PyTorch, starting an epoch draws one seed from ``generator`` (the default generator when
    None), even without shuffling: PyTorch gives it to worker processes, and drawing it keeps
    the random streams after an epoch where PyTorch's are.

    No worker processes: ``num_workers`` other than 0 is refused (``NotImplementedError``), as
    ignoring it would show: in PyTorch's workers a dataset that draws random numbers draws them
    from streams seeded per worker, and the caller's streams do not move. ``persistent_workers``,
    ``prefetch_factor`` and ``multiprocessing_context`` need workers and are refused as PyTorch
    refuses them with 0 workers (``ValueError``); so is a nonzero ``timeout``, at construction
    (PyTorch fails on it at the first epoch). ``pin_memory=True`` is accepted and changes
    nothing, with PyTorch's warning, as on a PyTorch without an accelerator (which is what this
    is). ``worker_init_fn`` and ``in_order`` are accepted and unused, as in PyTorch with 0 workers.

    >>> import microtensor as mt
    >>> from microtensor.utils.data import DataLoader
    >>> loader = DataLoader(mt.arange(10), batch_size=4, shuffle=True,
    ...                     generator=mt.Generator().manual_seed(0))
    >>> len(loader), [len(b) for b in loader], sorted(mt.cat(list(loader)).tolist()) == list(range(10))
    (3, [4, 4, 2], True)
    """

    def __init__(self, dataset: Dataset[_T_co] | Sequence[_T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler[list] | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got "
                             f"{num_workers!r}; use num_workers=0 to load in this process")
        if num_workers > 0:
            raise NotImplementedError(f"DataLoader: num_workers={num_workers}: microtensor has no "
                                      "worker processes and loads in the calling process; pass "
                                      "num_workers=0")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout should be non-negative, got {timeout!r}")
        if timeout > 0:
            # PyTorch fails on this at the first epoch, with an AssertionError.
            raise ValueError(f"DataLoader: timeout={timeout!r} applies to worker processes, and "
                             "there are none; pass timeout=0")
        if prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor needs worker processes (num_workers > "
                             "0), and microtensor has none; leave it None")
        if persistent_workers:
            raise ValueError("DataLoader: persistent_workers needs worker processes (num_workers "
                             "> 0), and microtensor has none")
        if multiprocessing_context is not None:
            raise ValueError("DataLoader: multiprocessing_context needs worker processes "
                             "(num_workers > 0), and microtensor has none")
        _check_generator("DataLoader", generator)
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        # As PyTorch: the samplers were built from these, so changing one later would be ignored.
        if getattr(self, "_initialized", False) and name in (
                "batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                "persistent_workers"):
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader is "
                             "initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _DataLoaderIter:
        return _DataLoaderIter(self)

    def __len__(self) -> int:
        return len(self._index_sampler)


class _DataLoaderIter:
    """One epoch of a ``DataLoader``: PyTorch's single-process iterator."""

    def __init__(self, loader: DataLoader) -> None:
        if loader.pin_memory:
            if loader.pin_memory_device:
                warnings.warn("pin_memory_device is deprecated, the current accelerator will be "
                              f"used as the device,ignore pin_memory_device="
                              f"'{loader.pin_memory_device}'.", stacklevel=3)
            # PyTorch's words on a machine without an accelerator, which is what this is.
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then "
                          "device pinned memory won't be used.", stacklevel=3)
        self._dataset = loader.dataset
        self._auto_collation = loader._auto_collation
        self._collate_fn = loader.collate_fn
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        # PyTorch seeds its workers from this draw; made here too so that the streams move alike.
        self._base_seed = _seed_from(loader.generator)

    def __iter__(self) -> _DataLoaderIter:
        return self

    def __next__(self) -> Any:
        index = next(self._sampler_iter)
        if self._auto_collation:
            getitems = getattr(self._dataset, "__getitems__", None)
            data = getitems(index) if getitems else [self._dataset[i] for i in index]
        else:
            data = self._dataset[index]
        return self._collate_fn(data)

    def __len__(self) -> int:
        return len(self._index_sampler)
