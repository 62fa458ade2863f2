"""mt.save / mt.load: exact round trips, atomic writes, and clear refusals of bad files."""

import contextlib
import errno
import io
import json
import math
import os
import pathlib
import pickle
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import Adam
from microtensor.serialization import FORMAT, MAX_DEPTH, VERSION, CheckpointError, load, save


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------- round trips
def test_model_state_dict_round_trip_is_bit_exact(tmp_path):
    weird = np.array([math.nan, -0.0, math.inf, 1e-45], dtype=np.float32)
    state = {
        "rnn.weight_ih": mt.randn(4, 3),
        "rnn.bias": mt.tensor(weird),
        "head.weight": mt.randn(2, 4, dtype=mt.float64, requires_grad=True),
        "steps": mt.tensor([1, 2, 3]),
        "mask": mt.tensor([True, False]),
        "transposed": mt.tensor(np.arange(6.0).reshape(2, 3).T),
        "empty": mt.zeros(0, 3),
        "scalar": mt.tensor(2.5),
        "table": np.arange(12, dtype=np.int32).reshape(3, 4),
    }
    path = tmp_path / "model.ckpt"
    save(state, path)
    loaded = load(path)
    assert list(loaded) == list(state)
    for name, value in state.items():
        back = loaded[name]
        assert type(back) is type(value), name
        if isinstance(value, mt.Tensor):
            assert same_bits(back.array, value.array), name
            assert back.requires_grad == value.requires_grad
        else:
            assert same_bits(back, value), name


def test_nested_plain_values_round_trip(tmp_path):
    obj = {
        "state": {0: {"step": 3}, 10: {"step": 2**70}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "name": None,
                          "params": [0, 10]}],
        "floats": [math.inf, -math.inf, 0.1],
        "nested": ((), [[]], {}),
        "text": "ünïcode ✓",
        1.5: "float key", True: "bool key", None: "none key",
        "numpy_scalars": [np.float32(1.25), np.int64(-7), np.bool_(True)],
    }
    path = tmp_path / "plain.ckpt"
    save(obj, path)
    loaded = load(path)
    assert loaded == obj
    assert [type(x) for x in loaded["numpy_scalars"]] == [np.float32, np.int64, np.bool_]
    assert type(loaded["param_groups"][0]["betas"]) is tuple
    assert math.isnan(load_value(tmp_path, math.nan))


def load_value(tmp_path, value):
    save({"v": value}, tmp_path / "v.ckpt")
    return load(tmp_path / "v.ckpt")["v"]


def test_optimizer_checkpoint_resumes_the_same_trajectory(tmp_path):
    def losses(params, t):
        return sum(((p - t) ** 2).sum() for p in params)

    def train(opt, params, steps):
        for t in steps:
            opt.zero_grad()
            losses(params, t).backward()
            opt.step()

    params = [mt.randn(3, 2, requires_grad=True), mt.randn(2, requires_grad=True)]
    opt = Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}], amsgrad=True)
    train(opt, params, range(3))
    save({"model": {str(i): p.detach() for i, p in enumerate(params)},
          "optimizer": opt.state_dict()}, tmp_path / "run.ckpt")
    train(opt, params, range(3, 6))

    checkpoint = load(tmp_path / "run.ckpt")
    resumed = [mt.tensor(checkpoint["model"][str(i)].array, requires_grad=True) for i in range(2)]
    opt2 = Adam([{"params": resumed[:1]}, {"params": resumed[1:]}])
    opt2.load_state_dict(checkpoint["optimizer"])
    train(opt2, resumed, range(3, 6))
    for p, q in zip(params, resumed):
        assert same_bits(p.array, q.array)


# -------------------------------------------------------------------------- the path
def test_the_given_path_is_exactly_the_path_written(tmp_path):
    save({"a": 1}, str(tmp_path / "checkpoint"))
    save({"b": 2}, pathlib.Path(tmp_path / "other.pt"))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "other.pt"]
    assert load(tmp_path / "checkpoint") == {"a": 1}


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        save({}, tmp_path / "c.ckpt")
    finally:
        os.umask(old)
    if os.name == "posix":
        assert (tmp_path / "c.ckpt").stat().st_mode & 0o777 == 0o644


def test_bad_paths(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        save({}, 3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({}, tmp_path / "missing" / "c.ckpt")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.ckpt")


# ------------------------------------------------------------------------- atomicity
@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "c.ckpt"
    save({"w": mt.ones(3), "epoch": 1}, path)
    return path


def assert_intact(path):
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind
    back = load(path)
    assert back["epoch"] == 1 and back["w"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_writer_failing_midway_leaves_the_previous_checkpoint(previous, monkeypatch, failure):
    def half_a_write(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise failure

    monkeypatch.setattr(np, "savez", half_a_write)
    with pytest.raises(type(failure)):
        save({"w": mt.zeros(3), "epoch": 2}, previous)
    assert_intact(previous)


def test_a_failing_fsync_or_rename_leaves_the_previous_checkpoint(previous, monkeypatch):
    def fail(*args):
        raise OSError("I/O error")

    for target in ("fsync", "replace"):
        with monkeypatch.context() as patch:
            patch.setattr(os, target, fail)
            with pytest.raises(OSError, match="I/O error"):
                save({"w": mt.zeros(3), "epoch": 2}, previous)
        assert_intact(previous)


@pytest.mark.parametrize("obj, error, message", [
    ({"f": print}, TypeError, r"cannot store obj\['f'\], a builtin_function_or_method"),
    ({"a": [1, {2}]}, TypeError, r"obj\['a'\]\[1\], a set"),
    ({(1, 2): 3}, TypeError, "has a key of type tuple"),
    ({"o": np.array([1, "x"], dtype=object)}, TypeError, "could only be stored with pickle"),
])
def test_unsavable_objects_are_refused_and_nothing_is_written(previous, obj, error, message):
    with pytest.raises(error, match=message):
        save(obj, previous)
    assert_intact(previous)


def test_a_structure_containing_itself_is_refused(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save(loop, tmp_path / "c.ckpt")
    shared = [1]
    save({"x": shared, "y": shared}, tmp_path / "c.ckpt")  # shared, not cyclic: fine
    assert load(tmp_path / "c.ckpt") == {"x": [1], "y": [1]}


# ------------------------------------------------------------------------- bad files
def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def header(**fields):
    doc = {"format": FORMAT, "version": VERSION, "root": None, **fields}
    return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)


def refused(path, message):
    with pytest.raises(CheckpointError, match=message) as info:
        load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.99])
def test_truncated_files(previous, cut):
    data = previous.read_bytes()
    previous.write_bytes(data[:int(len(data) * cut)])
    refused(previous, "truncated or corrupted")


def test_a_flipped_byte_in_array_data_is_caught(previous):
    data = bytearray(previous.read_bytes())
    at = data.index(np.ones(3, dtype=np.float32).tobytes())
    data[at] ^= 0xFF
    previous.write_bytes(bytes(data))
    refused(previous, "truncated or corrupted")


def test_random_bytes_and_empty_files(tmp_path):
    path = tmp_path / "noise.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(500))
    refused(path, "does not start like an .npz")
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(500))
    refused(path, "truncated or corrupted")
    path.write_bytes(b"")
    refused(path, "the file is empty")


def test_a_pickle_is_never_loaded(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    refused(path, "looks like a pickle, which is never loaded")


def test_an_npy_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.ones(2))
    refused(path, "a single .npy array, not an .npz archive")


def test_a_plain_npz_is_not_a_checkpoint(tmp_path):
    refused(write_npz(tmp_path / "plain.npz", weights=np.ones(2)), "has no 'header' entry")


def test_an_array_needing_pickle_is_refused(tmp_path):
    path = write_npz(tmp_path / "c.ckpt", header=header(root={"type": "ndarray", "array": "a0"}),
                     a0=np.array([{"evil": 1}], dtype=object))
    refused(path, "holds Python objects")


@pytest.mark.parametrize("head, message", [
    (np.frombuffer(b"{not json", dtype=np.uint8), "not valid JSON"),
    (np.arange(3.0), "should be uint8 bytes"),
    (header(format="someone-else"), "does not say format 'microtensor-checkpoint'"),
    (header(version=VERSION + 1), f"format version {VERSION + 1}; this microtensor reads"),
    (header(version="1"), "no valid format version"),
    (np.frombuffer(json.dumps({"format": FORMAT, "version": 1}).encode(), dtype=np.uint8),
     "has no 'root'"),
    (header(root={"type": "ndarray", "array": "a7"}), "array entry 'a7' the archive does not"),
    (header(root={"type": "set", "items": []}), "unknown type 'set'"),
    (header(root={"type": "list", "items": 3}), "a list without a list of items"),
    (header(root={"type": "dict", "items": [[1]]}), r"not a \[key, value\] pair"),
    (header(root={"type": "dict", "items": [[[1], 2]]}), "a dict key that is not a plain value"),
    (header(root={"type": "dict", "items": [["w", {"type": "tensor", "array": "a0"}]]}),
     r"at root\['w'\], invalid requires_grad None"),
    (header(root={"type": "numpy_scalar", "array": "a0"}), r"a numpy scalar stored with shape"),
    (header(root={"type": "tensor", "array": "a1", "requires_grad": False}),
     "a tensor of dtype <U1"),
    (header(root=[1, 2]), "expected a value or a typed object"),
])
def test_malformed_headers(tmp_path, head, message):
    path = write_npz(tmp_path / "c.ckpt", header=head, a0=np.ones(2), a1=np.array(["x"]))
    refused(path, message)


# ------------------------------------------------------------------- hostile files
def npy_bytes(array=None, **declared):
    """An .npy file's bytes: ``array``'s, or a header declaring ``declared`` over no data."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buffer, {"fortran_order": False, **declared})
    return buffer.getvalue()


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name + ".npy", data)
    return path


def checkpoint_entries(root, **arrays):
    head = json.dumps({"format": FORMAT, "version": VERSION, "root": root}).encode()
    return {"header": npy_bytes(np.frombuffer(head, np.uint8)),
            **{name: npy_bytes(a) for name, a in arrays.items()}}


def peak_memory(fn):
    tracemalloc.start()
    try:
        with contextlib.suppress(CheckpointError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_header_nested_100000_deep_is_refused(tmp_path):
    nested = "[" * 100_000 + "]" * 100_000
    deep = json.dumps({"format": FORMAT, "version": 1, "root": None}).replace("null", nested)
    path = write_zip(tmp_path / "deep.ckpt",
                     {"header": npy_bytes(np.frombuffer(deep.encode(), np.uint8))})
    refused(path, "nested too deeply")


def test_nesting_deeper_than_max_depth_is_refused_both_ways(tmp_path):
    def nested(depth):
        obj = []
        for _ in range(depth - 1):
            obj = [obj]
        return obj

    save(nested(MAX_DEPTH), tmp_path / "ok.ckpt")
    assert load(tmp_path / "ok.ckpt") == nested(MAX_DEPTH)
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} containers deep"):
        save(nested(MAX_DEPTH + 1), tmp_path / "deep.ckpt")
    root = {"type": "list", "items": []}
    for _ in range(MAX_DEPTH):
        root = {"type": "list", "items": [root]}
    refused(write_zip(tmp_path / "deep.ckpt", checkpoint_entries(root)),
            f"containers nested more than {MAX_DEPTH} deep")


def test_an_array_referred_to_twice_is_refused(tmp_path):
    root = {"type": "list", "items": [{"type": "ndarray", "array": "a0"}] * 200}
    path = write_zip(tmp_path / "c.ckpt", checkpoint_entries(root, a0=np.zeros(1000)))
    refused(path, r"at root\[1\], it refers to array entry 'a0' again \(already used at root\[0\]\)")


def test_a_compressed_entry_cannot_expand_a_small_file(tmp_path):
    """An 8 MB array deflates to about 8 KB; refused before it is inflated."""
    root = {"type": "ndarray", "array": "a0"}
    path = write_zip(tmp_path / "bomb.ckpt", checkpoint_entries(root, a0=np.zeros(2**20)),
                     compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 20_000
    refused(path, "entry 'header' is compressed")
    assert peak_memory(lambda: load(path)) < 1_000_000


@pytest.mark.parametrize("declared, message", [
    (dict(descr="<f8", shape=(2**40,)), r"entry 'a0' declares shape \(1099511627776,\) of float64 "
                                        r"\(8.0 TiB\) but holds 16 bytes of data"),
    (dict(descr="<f8", shape=(2**62, 2**62)), r"declares shape \(4611686018427387904, "),
    (dict(descr="<f8", shape=(-2, -1)), "a negative size in its shape"),
    (dict(descr="|O", shape=(2,)), "holds Python objects"),
    (dict(descr="|V0", shape=(2**60,)), "elements of zero bytes"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (128\n", "truncated or corrupted"),  # fuzzing
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)), }\n", "truncated or corrupted"),
])
def test_declared_shapes_are_checked_against_the_bytes_in_the_file(tmp_path, declared, message):
    entries = checkpoint_entries({"type": "ndarray", "array": "a0"})
    if isinstance(declared, str):  # a garbled header, as written
        header = declared.encode("latin1")
        entries["a0"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    else:
        entries["a0"] = npy_bytes(**declared) + bytes(16)
    path = write_zip(tmp_path / "c.ckpt", entries)
    refused(path, message)
    assert peak_memory(lambda: load(path)) < 1_000_000


def test_overlapping_entries_cannot_multiply_the_file(tmp_path):
    """Entry a1's data holds all of entry a0 (local header included): reading both would
    need twice the bytes the file has."""
    inner = npy_bytes(np.arange(20_000.0))
    path = tmp_path / "overlap.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        root = {"type": "list", "items": [{"type": "ndarray", "array": name} for name in ("a0", "a1")]}
        for name, data in checkpoint_entries(root).items():
            archive.writestr(name + ".npy", data)
        a0 = zipfile.ZipInfo("a0.npy")
        a0.compress_size = a0.file_size = len(inner)
        a0.CRC = zlib.crc32(inner)
        local_header = a0.FileHeader()
        outer_npy_header = npy_bytes(descr="|u1", shape=(len(local_header) + len(inner),))
        outer = outer_npy_header + local_header + inner
        # A local file header is 30 bytes and the name (writestr adds no extra field).
        a0.header_offset = archive.fp.tell() + 30 + len("a1.npy") + len(outer_npy_header)
        archive.writestr("a1.npy", outer)
        archive.filelist.append(a0)
        archive.NameToInfo[a0.filename] = a0
    with zipfile.ZipFile(path) as archive:  # the trick works: both entries read fine
        assert archive.read("a0.npy") == inner and archive.read("a1.npy") == outer
    refused(path, "entry 'a1' claims .* more than the file has left")


# ----------------------------------------------------------- the file being replaced
@pytest.mark.skipif(os.name != "posix", reason="permission bits need a POSIX file system")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_overwriting_keeps_the_permission_bits(tmp_path, mode):
    path = tmp_path / "c.ckpt"
    save({"v": 1}, path)
    path.chmod(mode)
    save({"v": 2}, path)
    assert path.stat().st_mode & 0o777 == mode and load(path) == {"v": 2}


@pytest.mark.skipif(os.name != "posix", reason="permission bits need a POSIX file system")
def test_a_read_only_file_is_refused_exactly_when_open_would_refuse_it(tmp_path):
    path = tmp_path / "c.ckpt"
    save({"v": 1}, path)
    path.chmod(0o444)
    try:
        open(path, "r+b").close()
        writable = True  # as root, permission bits do not stop a write
    except PermissionError:
        writable = False
    if writable:
        save({"v": 2}, path)
        assert load(path) == {"v": 2} and path.stat().st_mode & 0o777 == 0o444
    else:
        with pytest.raises(PermissionError, match="is not writable.*it is left as it is"):
            save({"v": 2}, path)
        assert load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["c.ckpt"]


@pytest.mark.parametrize("target", ["directory", "pipe"])
def test_only_a_regular_file_is_ever_replaced(tmp_path, target):
    path = tmp_path / "thing"
    if target == "directory":
        path.mkdir()
    elif hasattr(os, "mkfifo"):
        os.mkfifo(path)
    else:
        pytest.skip("named pipes need os.mkfifo (POSIX)")
    with pytest.raises(OSError, match="is not a regular file, so it is not replaced"):
        save({"v": 1}, path)
    assert sorted(os.listdir(tmp_path)) == ["thing"] and not path.is_file()


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix",
                    reason="symlinks need a POSIX file system")
def test_a_symlink_is_written_through_atomically(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "store" / "real.ckpt"
    link = tmp_path / "links" / "latest.ckpt"
    save({"v": 1}, target)
    target.chmod(0o600)
    link.symlink_to(os.path.join("..", "store", "real.ckpt"))  # relative, as ln -s makes them
    save({"v": 2}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "store", "real.ckpt")
    assert load(target) == {"v": 2} and target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path / "store")) == ["real.ckpt"]  # the temporary is gone
    dangling = tmp_path / "links" / "next.ckpt"
    dangling.symlink_to(tmp_path / "store" / "new.ckpt")
    save({"v": 3}, dangling)  # as open(path, "w") would: the link's target is created
    assert dangling.is_symlink() and load(tmp_path / "store" / "new.ckpt") == {"v": 3}


@pytest.mark.parametrize("stage", ["write", "fsync"])
def test_a_full_disk_leaves_the_previous_checkpoint_and_says_where(previous, monkeypatch, stage):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def half_a_write(file, **arrays):
        file.write(b"PK\x03\x04 the first half of an archive")
        disk_full()

    if stage == "write":
        monkeypatch.setattr(np, "savez", half_a_write)
    else:
        monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as info:
        save({"w": mt.zeros(3), "epoch": 2}, previous)
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert "the disk is full" in message and str(previous.parent) in message
    assert "unchanged" in message and len(message.splitlines()) == 1
    monkeypatch.undo()
    assert_intact(previous)


def rewrite(path, content):
    """Replace a file's bytes in place: a hundred times faster on ext4 than write_bytes,
    whose truncation of a file with data makes the kernel flush it to disk first."""
    with open(path, "r+b") as file:
        file.write(content)
        file.truncate()


def test_every_single_bit_flip_truncation_and_deleted_byte_is_caught_or_harmless(tmp_path):
    """Exhaustively, on a small checkpoint: each damaged file loads as what was saved (the
    bit was in a field nothing depends on, such as a timestamp) or raises CheckpointError."""
    path = tmp_path / "c.ckpt"
    save({"w": mt.tensor([1.0, 2.0]), "step": 3}, path)
    data = path.read_bytes()
    damaged = [data[:cut] for cut in range(len(data))]
    damaged += [data[:at] + data[at + 1:] for at in range(len(data))]
    damaged += [data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1:]
                for at in range(len(data)) for bit in range(8)]
    harmless = 0
    for content in damaged:
        rewrite(path, content)
        try:
            back = load(path)
        except CheckpointError:
            continue
        assert list(back) == ["w", "step"] and back["step"] == 3
        assert same_bits(back["w"].array, np.array([1.0, 2.0], np.float32))
        harmless += 1
    assert 0 < harmless < len(damaged) / 4


def test_an_archive_of_many_empty_entries_costs_a_bounded_multiple_of_its_size(tmp_path):
    """Python's zipfile keeps one object per directory entry (a few hundred bytes for at
    least 76 in the file): the worst case for memory per byte, still a small constant."""
    path = tmp_path / "many.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20_000):
            archive.writestr(str(i), b"")
    refused(path, "has no 'header' entry")
    assert peak_memory(lambda: load(path)) < 8 * path.stat().st_size
