"""mt.utils.data against torch.utils.data.

In order, the loader must give PyTorch's batches exactly (values, dtypes, shapes, the short last
batch, nested structures, batch_size=None). Random orders come from numpy's streams and cannot
equal PyTorch's; for them the tests check what the order promises: each epoch a permutation,
seeded generators repeating, epochs differing, the default generator used when none is given,
and the random streams advanced at the moments PyTorch advances its own.
"""

import collections
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import microtensor as mt
from microtensor.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)

Point = collections.namedtuple("Point", ["x", "y"])


def assert_same(ours, theirs, torch, where="batch"):
    """Our structure equals PyTorch's: the same containers, and tensors of the same dtype,
    shape and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, mt.Tensor), f"{where}: {type(ours).__name__}, not a tensor"
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), where
        assert ours.shape == tuple(theirs.shape), where
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=where)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs), where
        for key in theirs:
            assert_same(ours[key], theirs[key], torch, f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, torch, f"{where}[{i}]")
    elif isinstance(theirs, np.ndarray):  # left alone: arrays of strings
        assert ours is theirs, where
    else:
        assert type(ours) is type(theirs) and ours == theirs, where


def assert_same_epochs(ours, theirs, torch):
    assert len(ours) == len(theirs)
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_same(o, t, torch, f"batch {i}")


def tensor_datasets(torch, n=7):
    features = np.arange(n * 3, dtype=np.float32).reshape(n, 3) / 4
    labels = np.arange(n, dtype=np.int64) % 3
    flags = np.arange(n) % 2 == 0
    ours = TensorDataset(mt.tensor(features), mt.tensor(labels), mt.tensor(flags))
    theirs = torch.utils.data.TensorDataset(torch.tensor(features), torch.tensor(labels),
                                            torch.tensor(flags))
    return ours, theirs


class Records(Dataset):
    """Samples of every kind default_collate knows, from numpy and Python only, so one dataset
    serves both libraries."""

    def __init__(self, n=5):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {
            "image": np.full((2, 3), i, dtype=np.float32),
            "label": i,
            "weight": i / 2,
            "flag": i % 2 == 0,
            "name": f"s{i}",
            "raw": bytes([i]),
            "scalars": (np.float64(i), np.int32(i), np.float32(i), np.bool_(i % 3 == 0)),
            "point": Point(np.array([i, i + 1], dtype=np.int16), float(i)),
            "nested": [[i, 2 * i], {"deep": np.uint8(i)}],
            "ordered": OrderedDict(b=np.float16(i), a=i),
        }


# ---------------------------------------------------------------------------------------------
# In order: PyTorch's batches


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 10])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_are_pytorchs(torch, batch_size, drop_last):
    ours, theirs = tensor_datasets(torch)
    assert_same_epochs(DataLoader(ours, batch_size=batch_size, drop_last=drop_last),
                       torch.utils.data.DataLoader(theirs, batch_size=batch_size,
                                                   drop_last=drop_last), torch)


def test_the_last_batch_is_short_or_dropped(torch):
    ours, _ = tensor_datasets(torch, n=7)
    kept = [x.shape[0] for x, _, _ in DataLoader(ours, batch_size=3)]
    dropped = [x.shape[0] for x, _, _ in DataLoader(ours, batch_size=3, drop_last=True)]
    assert kept == [3, 3, 1] and dropped == [3, 3]
    assert len(DataLoader(ours, batch_size=3)) == 3
    assert len(DataLoader(ours, batch_size=3, drop_last=True)) == 2


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_nested_structures_collate_as_pytorchs(torch, batch_size):
    data = Records(5)
    assert_same_epochs(DataLoader(data, batch_size=batch_size),
                       torch.utils.data.DataLoader(data, batch_size=batch_size), torch)


def test_python_floats_collate_to_float64_as_pytorch(torch):
    ours = default_collate([0.5, 1.5])
    assert ours.dtype == mt.float64
    assert_same(ours, torch.utils.data.default_collate([0.5, 1.5]), torch)


@pytest.mark.parametrize("batch", [
    [1, 2, 3], [True, False], [1, 2.5], [2.5, 1], [True, 2],
    [np.float32(1), np.float32(2)], [np.float64(1), np.float64(2)], [np.int32(1), np.int32(2)],
    [np.int64(3), np.float32(2)], [np.float16(1), np.int64(3)], [np.float32(1), 2.5],
    [np.int64(3), 2.5], [np.bool_(True), np.bool_(False)], [np.uint8(3), np.uint8(4)],
    [np.zeros((2, 2), dtype=np.float64), np.ones((2, 2), dtype=np.float64)],
    [np.arange(3, dtype=np.int8), np.arange(3, dtype=np.int8)], [np.array(1.5), np.array(2.5)],
    ["a", "b"], [b"a", b"b"], [[1, 2], [3, 4]], [(1, 2.0), (3, 4.0)],
    [{"a": 1, "b": [0.5]}, {"a": 2, "b": [1.5]}], [Point(1, 2.0), Point(3, 4.0)],
    [OrderedDict(z=1, a=2), OrderedDict(z=3, a=4)],
], ids=repr)
def test_default_collate_is_pytorchs(torch, batch):
    assert_same(default_collate(batch), torch.utils.data.default_collate(batch), torch)


def test_default_collate_stacks_tensors(torch):
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    ours = default_collate([mt.tensor(r) for r in rows])
    assert_same(ours, torch.utils.data.default_collate([torch.tensor(r) for r in rows]), torch)


def test_default_collate_keeps_the_graph():
    w = mt.ones(3, requires_grad=True)
    default_collate([w * 2, w * 3]).sum().backward()
    assert w.grad.tolist() == [5.0, 5.0, 5.0]


@pytest.mark.parametrize("sample", [
    (np.arange(3), 1.5), [np.float32(2), "s"], {"a": np.ones(2, dtype=np.int32), "b": 3},
    Point(np.float64(1), np.array([True])), np.array(["x", "y"]), np.int16(4), 7, "text",
], ids=repr)
def test_default_convert_is_pytorchs(torch, sample):
    assert_same(default_convert(sample), torch.utils.data.default_convert(sample), torch)


def test_default_convert_shares_the_array_as_torch_as_tensor():
    array = np.zeros(3)
    converted = default_convert(array)
    array[0] = 5
    assert converted.tolist() == [5.0, 0.0, 0.0]


def test_batch_size_none_gives_samples_one_by_one_as_pytorch(torch):
    ours, theirs = tensor_datasets(torch, n=4)
    assert_same_epochs(DataLoader(ours, batch_size=None),
                       torch.utils.data.DataLoader(theirs, batch_size=None), torch)
    data = Records(3)
    assert_same_epochs(DataLoader(data, batch_size=None),
                       torch.utils.data.DataLoader(data, batch_size=None), torch)


def test_sampler_and_batch_sampler_as_pytorch(torch):
    ours, theirs = tensor_datasets(torch, n=6)
    order = [5, 0, 3, 3, 1]
    assert_same_epochs(DataLoader(ours, batch_size=2, sampler=order),
                       torch.utils.data.DataLoader(theirs, batch_size=2, sampler=order), torch)
    batches = [[4, 1], [0], [2, 3, 5]]
    assert_same_epochs(DataLoader(ours, batch_sampler=batches),
                       torch.utils.data.DataLoader(theirs, batch_sampler=batches), torch)


def test_collate_fn_is_used(torch):
    ours, theirs = tensor_datasets(torch, n=5)
    def count(samples):
        return len(samples)
    assert list(DataLoader(ours, batch_size=2, collate_fn=count)) == [2, 2, 1]
    assert list(torch.utils.data.DataLoader(theirs, batch_size=2, collate_fn=count)) == [2, 2, 1]


def test_plain_sequences_and_tensors_are_datasets(torch):
    assert_same_epochs(DataLoader(list(range(5)), batch_size=2),
                       torch.utils.data.DataLoader(list(range(5)), batch_size=2), torch)
    assert_same_epochs(DataLoader(mt.arange(5), batch_size=2),
                       torch.utils.data.DataLoader(torch.arange(5), batch_size=2), torch)


def test_subset_and_concat_load_as_pytorch(torch):
    ours, theirs = tensor_datasets(torch, n=6)
    indices = [4, 0, 2, 5]
    assert_same_epochs(DataLoader(Subset(ours, indices), batch_size=3),
                       torch.utils.data.DataLoader(torch.utils.data.Subset(theirs, indices),
                                                   batch_size=3), torch)
    assert_same_epochs(DataLoader(ours + Subset(ours, indices), batch_size=4),
                       torch.utils.data.DataLoader(theirs + torch.utils.data.Subset(theirs, indices),
                                                   batch_size=4), torch)


def test_pin_memory_changes_nothing_and_warns_as_cpu_pytorch(torch):
    ours, theirs = tensor_datasets(torch, n=5)
    with pytest.warns(UserWarning, match="pin_memory"):
        batches = list(DataLoader(ours, batch_size=2, pin_memory=True))
    with pytest.warns(UserWarning, match="pin_memory"):
        expected = list(torch.utils.data.DataLoader(theirs, batch_size=2, pin_memory=True))
    assert_same(batches, expected, torch)


@pytest.mark.parametrize("n, batch_size, drop_last", [(0, 1, False), (1, 3, True), (9, 3, True),
                                                      (10, 3, False), (10, 3, True)])
def test_len_is_pytorchs(torch, n, batch_size, drop_last):
    ours = DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs) == len(list(ours)) == len(list(theirs))
    assert len(iter(ours)) == len(ours)


# ---------------------------------------------------------------------------------------------
# Shuffled: what the order promises


def epoch(loader):
    return mt.cat([x for x, *_ in loader]).tolist()


def test_every_shuffled_epoch_is_a_permutation_and_epochs_differ():
    data = TensorDataset(mt.arange(50))
    loader = DataLoader(data, batch_size=8, shuffle=True)
    first, second = epoch(loader), epoch(loader)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second
    assert [len(x) for x, in loader] == [8] * 6 + [2]


def test_shuffled_with_drop_last_drops_the_short_batch():
    loader = DataLoader(TensorDataset(mt.arange(10)), batch_size=4, shuffle=True, drop_last=True)
    seen = epoch(loader)
    assert len(seen) == 8 and len(set(seen)) == 8 and len(loader) == 2


def test_seeded_generators_repeat_and_seeds_differ():
    data = TensorDataset(mt.arange(30))
    def run(seed):
        loader = DataLoader(data, batch_size=4, shuffle=True,
                            generator=mt.Generator().manual_seed(seed))
        return [epoch(loader), epoch(loader)]
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_the_default_generator_is_used_when_none_is_given():
    loader = DataLoader(TensorDataset(mt.arange(30)), batch_size=4, shuffle=True)
    mt.manual_seed(5)
    a = [epoch(loader), epoch(loader)]
    mt.manual_seed(5)
    b = [epoch(loader), epoch(loader)]
    mt.manual_seed(6)
    c = epoch(loader)
    assert a == b and c != a[0]


def test_an_own_generator_leaves_the_default_one_alone(torch):
    # PyTorch draws the epoch's seed and the order from the loader's generator only.
    for lib, make, gen in ((mt, DataLoader, mt.Generator), (torch, torch.utils.data.DataLoader,
                                                          torch.Generator)):
        lib.manual_seed(0)
        expected = lib.rand(3).tolist()
        lib.manual_seed(0)
        list(make(list(range(10)), batch_size=3, shuffle=True, generator=gen().manual_seed(1)))
        assert lib.rand(3).tolist() == expected, lib.__name__


@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_advances_the_default_generator_as_pytorch(torch, shuffle):
    # PyTorch draws a seed for its workers at every epoch, shuffled or not: code that draws
    # after an epoch sees a moved stream in both libraries.
    for lib, make in ((mt, DataLoader), (torch, torch.utils.data.DataLoader)):
        lib.manual_seed(0)
        untouched = lib.rand(3).tolist()
        lib.manual_seed(0)
        list(make(list(range(10)), batch_size=3, shuffle=shuffle))
        moved = lib.rand(3).tolist()
        lib.manual_seed(0)
        list(make(list(range(10)), batch_size=3, shuffle=shuffle))
        assert moved != untouched and lib.rand(3).tolist() == moved, lib.__name__


def test_random_sampler_with_replacement_and_num_samples(torch):
    sampler = RandomSampler(range(4), replacement=True, num_samples=70,
                            generator=mt.Generator().manual_seed(0))
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 70 and set(drawn) == {0, 1, 2, 3}
    theirs = torch.utils.data.RandomSampler(range(4), replacement=True, num_samples=70)
    assert len(list(theirs)) == len(theirs) == 70


def test_random_sampler_without_replacement_repeats_whole_permutations():
    drawn = list(RandomSampler(range(3), num_samples=7, generator=mt.Generator().manual_seed(0)))
    assert len(drawn) == 7
    assert sorted(drawn[:3]) == sorted(drawn[3:6]) == [0, 1, 2] and drawn[6] in (0, 1, 2)


def test_random_sampler_reads_the_length_at_each_epoch():
    data = [0, 1, 2]
    sampler = RandomSampler(data)
    data.append(3)
    assert sorted(sampler) == [0, 1, 2, 3] and len(sampler) == 4


# ---------------------------------------------------------------------------------------------
# Samplers, datasets, random_split


@pytest.mark.parametrize("n, batch_size, drop_last", [(0, 2, False), (5, 2, False), (5, 2, True),
                                                      (6, 3, True), (2, 5, True), (2, 5, False)])
def test_batch_sampler_is_pytorchs(torch, n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)),
                                           batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_datasets_index_as_pytorchs(torch):
    ours, theirs = tensor_datasets(torch, n=5)
    assert len(ours) == len(theirs) == 5
    assert_same(list(ours[2]), list(theirs[2]), torch)
    assert_same(list(ours[1:3]), list(theirs[1:3]), torch)
    assert_same(list(Subset(ours, [3, 1])[[1, 0]]), list(torch.utils.data.Subset(theirs, [3, 1])[[1, 0]]),
                torch)
    both, their_both = ConcatDataset([[1, 2], [3]]), torch.utils.data.ConcatDataset([[1, 2], [3]])
    assert [both[i] for i in range(-3, 3)] == [their_both[i] for i in range(-3, 3)]
    assert both.cumulative_sizes == their_both.cumulative_sizes


def test_subset_reads_batches_through_getitems():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []
        def __len__(self):
            return 5
        def __getitem__(self, i):
            raise AssertionError("read one by one")
        def __getitems__(self, indices):
            self.calls.append(indices)
            return [mt.tensor(i) for i in indices]
    data = Batched()
    assert [b.tolist() for b in DataLoader(Subset(data, [4, 2, 0]), batch_size=2)] == [[4, 2], [0]]
    assert data.calls == [[4, 2], [0]]


def test_a_subset_overriding_getitem_alone_is_refused():
    class Shifted(Subset):
        def __getitem__(self, i):
            return super().__getitem__(i) + 1
    with pytest.raises(NotImplementedError, match="Shifted overrides __getitem__ but not __getitems__"):
        Shifted([1, 2], [0])


@pytest.mark.parametrize("n, lengths", [
    (10, [3, 7]), (10, [0.3, 0.7]), (10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
    (11, [0.1, 0.2, 0.7]), (30, [1 / 3, 1 / 3, 1 / 3]), (5, [1.0]), (1, [1]), (0, [0, 0]),
])
def test_random_split_lengths_are_pytorchs(torch, n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-length splits warn, in both
        ours = random_split(range(n), lengths, generator=mt.Generator().manual_seed(0))
        theirs = torch.utils.data.random_split(range(n), lengths)
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(i for p in ours for i in p.indices) == list(range(n))
    assert all(isinstance(i, int) for p in ours for i in p.indices)


def test_random_split_repeats_with_a_seed_and_uses_the_default_generator():
    def split(**kw):
        return [p.indices for p in random_split(range(20), [5, 15], **kw)]
    assert split(generator=mt.Generator().manual_seed(3)) == split(generator=mt.Generator().manual_seed(3))
    mt.manual_seed(4)
    a = split()
    mt.manual_seed(4)
    assert split() == a != split()


def test_random_split_warns_of_an_empty_part(torch):
    # Two samples in three parts: floors 0, 0, 1, and the one left over goes to the first.
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(range(2), [0.1, 0.1, 0.8])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        theirs = torch.utils.data.random_split(range(2), [0.1, 0.1, 0.8])
    assert [len(p) for p in parts] == [len(p) for p in theirs] == [1, 0, 1]


@pytest.mark.parametrize("lengths, message", [
    ([3, 3], "the lengths sum to 6, not to the 10 samples"),
    ([-1, 11], "lengths must be non-negative integers or fractions summing to 1, got -1 at index 0"),
    ([1.5, -0.5], "the fraction at index 0 is not between 0 and 1"),
    ([2.5, 7.5], "lengths must be non-negative integers or fractions summing to 1, got 2.5 at index 0"),
])
def test_random_split_refuses_bad_lengths(lengths, message):
    with pytest.raises(ValueError, match="random_split: " + message):
        random_split(range(10), lengths)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_workers": 2}, NotImplementedError,
     "DataLoader: num_workers=2: microtensor has no worker processes"),
    ({"num_workers": -1}, ValueError, "DataLoader: num_workers should be a non-negative integer, got -1"),
    ({"timeout": 5}, ValueError, "DataLoader: timeout=5 applies to worker processes"),
    ({"timeout": -1}, ValueError, "DataLoader: timeout should be non-negative"),
    ({"prefetch_factor": 2}, ValueError, "DataLoader: prefetch_factor needs worker processes"),
    ({"persistent_workers": True}, ValueError, "DataLoader: persistent_workers needs worker processes"),
    ({"multiprocessing_context": "fork"}, ValueError, "DataLoader: multiprocessing_context needs worker"),
    ({"shuffle": True, "sampler": [0, 1]}, ValueError,
     "DataLoader: sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "DataLoader: batch_sampler option is mutually"),
    ({"batch_sampler": [[0]], "drop_last": True}, ValueError, "DataLoader: batch_sampler option is mutually"),
    ({"batch_size": None, "drop_last": True}, ValueError, "DataLoader: batch_size=None option disables"),
    ({"batch_size": 0}, ValueError, "BatchSampler: batch_size should be a positive integer, got 0"),
    ({"drop_last": 1}, ValueError, "BatchSampler: drop_last should be a boolean value, got 1"),
    ({"generator": 3}, TypeError, "DataLoader: generator must be an mt.Generator or None, got int"),
])
def test_data_loader_refuses_clearly(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(list(range(4)), **kwargs)


def test_data_loader_refusals_match_pytorchs_where_pytorch_refuses(torch):
    # Those PyTorch refuses with 0 workers are refused with its exception type.
    for kwargs in ({"num_workers": -1}, {"prefetch_factor": 2}, {"persistent_workers": True},
                   {"shuffle": True, "sampler": [0, 1]}, {"batch_size": None, "drop_last": True},
                   {"batch_sampler": [[0]], "batch_size": 2}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            torch.utils.data.DataLoader(list(range(4)), **kwargs)
        with pytest.raises(ValueError):
            DataLoader(list(range(4)), **kwargs)


def test_loader_settings_are_fixed_after_construction():
    loader = DataLoader(list(range(4)), batch_size=2)
    with pytest.raises(ValueError, match="DataLoader: batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.collate_fn = len  # others may change, as in PyTorch
    assert list(loader) == [2, 2]


def test_sampler_errors():
    with pytest.raises(TypeError, match="RandomSampler: replacement should be a boolean value, got 1"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="RandomSampler: num_samples should be a positive integer, got 0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="RandomSampler: num_samples should be a positive integer, got 0"):
        RandomSampler([])
    with pytest.raises(TypeError, match="RandomSampler: generator must be an mt.Generator"):
        RandomSampler(range(3), generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive integer"):
        BatchSampler(range(3), True, False)
    with pytest.raises(NotImplementedError, match="Dataset should implement __getitem__"):
        Dataset()[0]


def test_dataset_errors():
    with pytest.raises(AssertionError, match=r"TensorDataset: size mismatch between tensors: first "
                                             r"dimensions \[3, 4\]"):
        TensorDataset(mt.zeros(3), mt.zeros(4))
    with pytest.raises(TypeError, match="TensorDataset: argument 1 must be a tensor, got ndarray"):
        TensorDataset(mt.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="TensorDataset: argument 0 is 0-d"):
        TensorDataset(mt.tensor(1.0))
    with pytest.raises(ValueError, match="TensorDataset: needs at least one tensor"):
        TensorDataset()
    with pytest.raises(AssertionError, match="ConcatDataset: datasets should not be an empty"):
        ConcatDataset([])
    with pytest.raises(ValueError, match="ConcatDataset: index -4 is out of range for 3 samples"):
        ConcatDataset([[1, 2, 3]])[-4]
    with pytest.raises(TypeError, match="random_split: generator must be an mt.Generator"):
        random_split(range(3), [1, 2], generator=0)


def test_collate_errors_as_pytorchs(torch):
    for batch, error, message in (
            ([[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal size"),
            ([object(), object()], TypeError, "default_collate: batch must contain tensors"),
            ([np.array(["a"]), np.array(["b"])], TypeError, "default_collate: batch must contain"),
            ([mt.zeros(2), mt.zeros(3)], RuntimeError, "Stack")):
        with pytest.raises(error, match=message):
            default_collate(batch)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        torch.utils.data.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        torch.utils.data.default_collate([object(), object()])


def test_reachable_as_pytorchs():
    import microtensor.utils.data as data
    assert mt.utils.data is data and "utils" in mt.__all__
    assert set(data.__all__) >= {"Dataset", "TensorDataset", "Subset", "random_split", "DataLoader",
                                 "RandomSampler", "SequentialSampler", "BatchSampler",
                                 "default_collate"}
