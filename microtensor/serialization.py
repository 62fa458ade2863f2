"""Checkpoints: ``save`` and ``load`` for state dicts, in a format that cannot run code.

A checkpoint is a numpy ``.npz`` archive (a zip of uncompressed ``.npy`` arrays). Its
nested structure (dicts, lists, tuples, numbers, strings, ``None``) is described by a
JSON document stored as a uint8 array under ``"header"``; every array in it is stored as
an entry of its own (``"a0"``, ``"a1"``, ...), which the JSON refers to by name::

    {"format": "microtensor-checkpoint", "version": 1,
     "root": {"type": "dict", "items": [["w", {"type": "tensor", "array": "a0",
                                               "requires_grad": false}]]}}

JSON numbers, strings, booleans and null stand for themselves; every other value is an
object with a ``"type"``: ``dict`` (``items``: [key, value] pairs, so int keys stay ints),
``list`` and ``tuple`` (``items``), ``tensor`` and ``ndarray`` (``array``), and
``numpy_scalar`` (``array``, a 0-d array), so each comes back as what was saved, with its
dtype and bits.

Saving is atomic: the archive is written to a temporary file next to the target,
flushed to disk, then renamed over it, so a crash mid-save leaves the previous
checkpoint whole. A symlink is written through (its target is replaced), and an
existing file keeps its permission bits.

Loading trusts nothing in the file. It never unpickles; it reads each array only after
checking that the shape and dtype its ``.npy`` header declares match the bytes the entry
really holds, refuses compressed entries, arrays referred to twice and structures nested
deeper than ``MAX_DEPTH``, so a small hostile file cannot make it allocate much more
memory than the file's own size.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import stat
import tokenize
import zipfile
import zlib
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from .creation import from_numpy
from .tensor import Tensor

FORMAT = "microtensor-checkpoint"
#: Bump when the header's meaning changes; ``load`` refuses versions newer than this.
VERSION = 1
#: Deepest nesting of dicts, lists and tuples that ``save`` writes and ``load`` reads.
MAX_DEPTH = 100
_HEADER = "header"
_READ_CHUNK = 1 << 20  # array data is read in pieces of this size into its final buffer

#: First bytes of what ``load`` may be handed, to say what a wrong file is.
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"
_ZIP_ENCRYPTED = 0x1  # bit 0 of a zip entry's general-purpose flags


class CheckpointError(ValueError):
    """A file that is not a readable microtensor checkpoint (truncated, corrupted, or other).

    >>> import microtensor.serialization as ser
    >>> issubclass(ser.CheckpointError, ValueError)
    True
    """


# ---------------------------------------------------------------------------------- save
def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a state dict: nested dicts, lists and tuples of tensors, arrays,
    numbers, strings and ``None``) to exactly ``path``, atomically. Dict subclasses
    (``OrderedDict``) come back as plain dicts, tensor subclasses (``Parameter``) as
    tensors.

    If the disk fills up, an ``OSError`` (errno ``ENOSPC``) says so and names the folder;
    the previous file at ``path`` is then untouched and no temporary file is left.

    >>> import os, tempfile, microtensor as mt
    >>> from microtensor.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ckpt")
    >>> save({"w": mt.tensor([1.5, -2.0]), "step": 3}, path)
    >>> load(path)
    {'w': tensor([ 1.5000, -2.0000]), 'step': 3}
    """
    path = _as_path(path, "save")
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, "obj", set())
    header = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    _write_atomically(path, {_HEADER: np.frombuffer(header.encode(), dtype=np.uint8), **arrays})


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, open_containers: set[int]) -> Any:
    """The JSON node for ``obj``; its arrays are added to ``arrays``."""
    if isinstance(obj, Tensor):
        return {"type": "tensor", "array": _store(obj.array, arrays, where),
                "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray):
        return {"type": "ndarray", "array": _store(obj, arrays, where)}
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
        return {"type": "numpy_scalar", "array": _store(np.asarray(obj), arrays, where)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_containers:
            raise ValueError(f"save: {where} contains itself; a checkpoint must be a tree")
        if len(open_containers) >= MAX_DEPTH:
            raise ValueError(f"save: {where} is nested more than {MAX_DEPTH} containers deep")
        open_containers.add(id(obj))
        if isinstance(obj, dict):
            for key in obj:
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise TypeError(f"save: {where} has a key of type {type(key).__name__}; "
                                    "dict keys must be str, int, float, bool or None")
            node = {"type": "dict", "items": [
                [key, _encode(value, arrays, f"{where}[{key!r}]", open_containers)]
                for key, value in obj.items()]}
        else:
            node = {"type": "tuple" if isinstance(obj, tuple) else "list",
                    "items": [_encode(v, arrays, f"{where}[{i}]", open_containers)
                              for i, v in enumerate(obj)]}
        open_containers.discard(id(obj))
        return node
    raise TypeError(f"save: cannot store {where}, a {type(obj).__name__}; checkpoints hold "
                    "tensors, numpy arrays, numbers, strings, None, and dicts, lists and "
                    "tuples of those")


def _store(array: np.ndarray, arrays: dict[str, np.ndarray], where: str) -> str:
    if array.dtype.hasobject:
        raise TypeError(f"save: {where} is an array of Python objects (dtype {array.dtype}), "
                        "which could only be stored with pickle")
    name = f"a{len(arrays)}"
    arrays[name] = array
    return name


#: Errors that mean "the disk is full": out of space, or out of the user's quota.
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write to a fresh file beside the target, fsync it, then rename it over the target.

    The target is ``path`` with symlinks resolved, so a link keeps pointing at the new
    contents, as a plain ``open(path, "wb")`` would do.
    """
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: the directory of {path!r} does not exist")
    mode = _replaceable_mode(path, target)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            if mode is not None:  # overwriting: keep the permissions someone chose (0600...)
                os.chmod(temporary, mode)
            np.savez(file, **arrays)  # a file object, so numpy adds no ".npz" to the name
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError) and err.errno in _DISK_FULL:
            raise OSError(err.errno, f"save: the disk is full: no space left in {directory} to "
                                     f"write {path!r}; the previous file there is unchanged "
                                     f"({err.strerror or err})") from err
        raise
    _fsync_directory(directory)


def _replaceable_mode(path: str, target: str) -> int | None:
    """The permission bits of the file ``save`` is about to replace (None if there is none
    yet), after checking that ``open(path, "wb")`` could write it: a file someone made
    read-only, a directory, a device or a pipe is refused, never replaced."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None  # a new file: mode 0o666 lets the umask decide, as for any file
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EINVAL,
                      f"save: {path!r} is not a regular file, so it is not replaced")
    try:
        os.close(os.open(target, os.O_WRONLY))  # the permission check open() makes; no write
    except PermissionError as err:
        raise PermissionError(err.errno, f"save: {path!r} is not writable ({err.strerror}); "
                                         "it is left as it is") from None
    return stat.S_IMODE(info.st_mode)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself survive a power cut (POSIX; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------- load
#: What reading a damaged zip or .npy can raise (all become a ``CheckpointError``). The
#: file opened fine just before, so an OSError here is a bad offset in the zip directory;
#: numpy parses a garbled .npy header with ``ast`` and ``tokenize`` (the last two).
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, NotImplementedError,
           OSError, RecursionError, UnicodeDecodeError, SyntaxError, tokenize.TokenError)


def load(path: str | os.PathLike[str]) -> Any:
    """Read a checkpoint written by ``save``; tensors come back as tensors, arrays as
    arrays, bit for bit. Never runs code from the file (no pickle).

    Raises ``CheckpointError`` (a ``ValueError``) naming the path and the problem if the
    file is truncated, corrupted, or not a microtensor checkpoint, before allocating
    memory for anything the file does not actually hold.

    >>> import os, tempfile, numpy as np
    >>> from microtensor.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "opt.ckpt")
    >>> save({"state": {0: {"step": 2, "buf": np.zeros(2)}}, "betas": (0.9, 0.999)}, path)
    >>> load(path)
    {'state': {0: {'step': 2, 'buf': array([0., 0.])}}, 'betas': (0.9, 0.999)}
    """
    path = _as_path(path, "load")
    with open(path, "rb") as file:
        magic = file.read(len(_NPY_MAGIC))
        if not magic.startswith(_ZIP_MAGIC):
            raise CheckpointError(f"{path!r} is not a microtensor checkpoint: {_what_is(magic)}")
        file.seek(0)
        try:
            with zipfile.ZipFile(file) as archive:
                entries = _Entries(archive, path, os.fstat(file.fileno()).st_size)
                if _HEADER not in entries:
                    raise CheckpointError(f"{path!r} is an .npz archive but not a microtensor "
                                          f"checkpoint: it has no {_HEADER!r} entry")
                root = _read_header(entries.read(_HEADER), path)
                return _Decoder(entries, path).decode(root, "root", 0)
        except CheckpointError:
            raise
        except _DAMAGE as err:
            raise CheckpointError(f"{path!r} is truncated or corrupted: {type(err).__name__}: "
                                  f"{err}") from err


def _as_path(path: Any, op: str) -> str:
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(path, str):
        raise TypeError(f"{op}: path must be a str or os.PathLike, got {type(path).__name__}")
    return path


def _what_is(magic: bytes) -> str:
    if not magic:
        return "the file is empty"
    if magic.startswith(_NPY_MAGIC):
        return "it is a single .npy array, not an .npz archive"
    if magic.startswith(_PICKLE_MAGIC):
        return "it looks like a pickle, which is never loaded (unpickling can run code)"
    return "it does not start like an .npz (zip) archive"


def _read_header(raw: np.ndarray, path: str) -> Any:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path!r}: the {_HEADER!r} entry should be uint8 bytes, "
                              f"got {raw.dtype} of shape {raw.shape}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{path!r}: the {_HEADER!r} entry is nested too deeply to "
                              "read") from None
    except ValueError as err:
        raise CheckpointError(f"{path!r}: the {_HEADER!r} entry is not valid JSON: {err}") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is an .npz archive but not a microtensor checkpoint "
                              f"(its header does not say format {FORMAT!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path!r}: the header has no valid format version ({version!r})")
    if version > VERSION:
        raise CheckpointError(f"{path!r} was written in checkpoint format version {version}; "
                              f"this microtensor reads versions up to {VERSION}")
    if "root" not in header:
        raise CheckpointError(f"{path!r}: the header has no 'root'")
    return header["root"]


def _size(nbytes: int) -> str:
    """``nbytes`` for a message: 8 TiB, 3.5 MiB, 12 bytes.

    >>> _size(8 * 2**40), _size(12)
    ('8.0 TiB', '12 bytes')
    """
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


class _Entries:
    """The archive's ``.npy`` entries, each read at most once and only after its declared
    shape and dtype are checked against the bytes it holds."""

    def __init__(self, archive: zipfile.ZipFile, path: str, file_size: int) -> None:
        self.archive, self.path = archive, path
        # Stored entries hold their bytes in the file itself, so all the arrays together
        # fit in it; more would mean entries overlapping (a zip bomb).
        self.budget = file_size
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if name in self.infos:
                raise self.fail(name, "appears twice in the archive")
            self.infos[name] = info

    def __contains__(self, name: str) -> bool:
        return name in self.infos

    def fail(self, name: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{self.path!r} is corrupted: entry {name!r} {problem}")

    def read(self, name: str) -> np.ndarray:
        info = self.infos[name]
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.fail(name, "is compressed; checkpoints store arrays uncompressed (so a "
                                  "small file cannot expand into a huge one)")
        if info.flag_bits & _ZIP_ENCRYPTED:
            raise self.fail(name, "is encrypted; checkpoints are never encrypted")
        if info.file_size != info.compress_size or info.file_size > self.budget:
            raise self.fail(name, f"claims {_size(info.file_size)}, more than the file has left")
        with self.archive.open(info) as entry:
            dtype, shape, fortran_order = self._npy_header(name, entry)
            header_size = entry.tell()
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes != info.file_size - header_size:
                raise self.fail(name, f"declares shape {shape} of {dtype} ({_size(nbytes)}) but "
                                      f"holds {_size(info.file_size - header_size)} of data")
            self.budget -= info.file_size
            data = _read_exactly(entry, nbytes)
            if len(data) != nbytes or entry.read(1):  # reading to the end also checks the CRC
                raise self.fail(name, "is shorter or longer than its zip directory says")
        array = np.frombuffer(data, dtype=dtype)  # a bytearray: the array is writable
        return array.reshape(shape, order="F" if fortran_order else "C")

    def _npy_header(self, name: str, entry: IO[bytes]) -> tuple[np.dtype, tuple[int, ...], bool]:
        version = npy_format.read_magic(entry)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(entry)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(entry)
        else:
            raise self.fail(name, f"is in .npy format version {version}, which is not read")
        if dtype.hasobject:
            raise self.fail(name, f"holds Python objects (dtype {dtype}), which could only be "
                                  "loaded with pickle: never done")
        if any(size < 0 for size in shape):
            raise self.fail(name, f"declares a negative size in its shape {shape}")
        if dtype.itemsize == 0 and math.prod(shape) > 0:
            raise self.fail(name, f"has elements of zero bytes (dtype {dtype})")
        return dtype, shape, fortran_order


def _read_exactly(entry: IO[bytes], nbytes: int) -> bytearray:
    """Up to ``nbytes`` from ``entry`` into one buffer, a piece at a time, so reading costs
    no second copy of the array."""
    data = bytearray(nbytes)
    view, filled = memoryview(data), 0
    while filled < nbytes:
        piece = entry.read(min(_READ_CHUNK, nbytes - filled))
        if not piece:
            return data[:filled]
        view[filled:filled + len(piece)] = piece
        filled += len(piece)
    return data


class _Decoder:
    """Rebuilds the saved object from its JSON nodes, checking each node's shape."""

    def __init__(self, entries: _Entries, path: str) -> None:
        self.entries = entries
        self.path = path
        self.used: dict[str, str] = {}  # array entry -> where it was used

    def fail(self, where: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{self.path!r} is corrupted: at {where}, {problem}")

    def decode(self, node: Any, where: str, depth: int) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):
            raise self.fail(where, f"expected a value or a typed object, got {node!r:.80}")
        kind = node.get("type")
        if kind in ("dict", "list", "tuple"):
            if depth >= MAX_DEPTH:
                raise self.fail(where, f"containers nested more than {MAX_DEPTH} deep")
            items = node.get("items")
            if not isinstance(items, list):
                raise self.fail(where, f"a {kind} without a list of items")
            if kind == "dict":
                return dict(self.decode_item(item, where, depth + 1) for item in items)
            values = [self.decode(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(items)]
            return values if kind == "list" else tuple(values)
        if kind == "tensor":
            array = self.array(node, where)
            if array.dtype.kind not in "biuf":
                raise self.fail(where, f"a tensor of dtype {array.dtype}")
            requires_grad = node.get("requires_grad")
            if not isinstance(requires_grad, bool) or (requires_grad and array.dtype.kind != "f"):
                raise self.fail(where, f"invalid requires_grad {requires_grad!r}")
            return from_numpy(array).requires_grad_(requires_grad)
        if kind == "ndarray":
            return self.array(node, where)
        if kind == "numpy_scalar":
            array = self.array(node, where)
            if array.ndim != 0:
                raise self.fail(where, f"a numpy scalar stored with shape {array.shape}")
            return array[()]
        raise self.fail(where, f"unknown type {kind!r:.80}")

    def decode_item(self, item: Any, where: str, depth: int) -> tuple[Any, Any]:
        if not (isinstance(item, list) and len(item) == 2):
            raise self.fail(where, f"a dict item that is not a [key, value] pair: {item!r:.80}")
        key, value = item
        if not (key is None or isinstance(key, (bool, int, float, str))):
            raise self.fail(where, f"a dict key that is not a plain value: {key!r:.80}")
        return key, self.decode(value, f"{where}[{key!r:.80}]", depth)

    def array(self, node: dict, where: str) -> np.ndarray:
        name = node.get("array")
        if not isinstance(name, str) or name == _HEADER or name not in self.entries:
            raise self.fail(where, f"it refers to an array entry {name!r:.80} the archive does "
                                   "not have")
        if name in self.used:  # save writes one entry per use: a repeat can only multiply memory
            raise self.fail(where, f"it refers to array entry {name!r} again (already used at "
                                   f"{self.used[name]})")
        self.used[name] = where
        return self.entries.read(name)
