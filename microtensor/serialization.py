"""Checkpoints: ``save`` and ``load`` for state dicts, in a format that cannot run code.

A checkpoint is a numpy ``.npz`` archive (a zip of ``.npy`` arrays) read back with
``allow_pickle=False``. Its nested structure (dicts, lists, tuples, numbers, strings,
``None``) is described by a JSON document stored as a uint8 array under ``"header"``;
every array in it is stored as an entry of its own (``"a0"``, ``"a1"``, ...), which the
JSON refers to by name::

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
checkpoint whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
import zlib
from typing import Any

import numpy as np

from .tensor import Tensor

FORMAT = "microtensor-checkpoint"
#: Bump when the header's meaning changes; ``load`` refuses versions newer than this.
VERSION = 1
_HEADER = "header"

#: First bytes of what ``load`` may be handed, to say what a wrong file is.
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"


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

    >>> import os, tempfile, microtensor as mt
    >>> from microtensor.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ckpt")
    >>> save({"w": mt.tensor([1.5, -2.0]), "step": 3}, path)
    >>> load(path)
    {'w': tensor([ 1.5, -2. ]), 'step': 3}
    """
    path = _as_path(path, "save")
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, "obj", set())
    header = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    _write_atomically(path, {_HEADER: np.frombuffer(header.encode(), dtype=np.uint8), **arrays})


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, open_containers: set[int]) -> Any:
    """The JSON node for ``obj``; its arrays are added to ``arrays``."""
    if isinstance(obj, Tensor):
        return {"type": "tensor", "array": _store(obj.data, arrays, where),
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


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write to a fresh file beside ``path``, fsync it, then rename it over ``path``."""
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: the directory of {path!r} does not exist")
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    # Mode 0o666 lets the umask decide the permissions, as for any new file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)  # a file object, so numpy adds no ".npz" to the name
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


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
#: file opened fine just before, so an OSError here is a bad offset in the zip directory.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, NotImplementedError,
           OSError)


def load(path: str | os.PathLike[str]) -> Any:
    """Read a checkpoint written by ``save``; tensors come back as tensors, arrays as
    arrays, bit for bit. Never runs code from the file (no pickle).

    Raises ``CheckpointError`` (a ``ValueError``) naming the path and the problem if the
    file is truncated, corrupted, or not a microtensor checkpoint.

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
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _HEADER not in archive.files:
                raise CheckpointError(f"{path!r} is an .npz archive but not a microtensor "
                                      f"checkpoint: it has no {_HEADER!r} entry")
            root = _read_header(archive[_HEADER], path)
            return _Decoder(archive, path).decode(root, "root")
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


class _Decoder:
    """Rebuilds the saved object from its JSON nodes, checking each node's shape."""

    def __init__(self, archive: Any, path: str) -> None:
        self.archive = archive
        self.path = path

    def fail(self, where: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{self.path!r} is corrupted: at {where}, {problem}")

    def decode(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):
            raise self.fail(where, f"expected a value or a typed object, got {node!r:.80}")
        kind = node.get("type")
        if kind in ("dict", "list", "tuple"):
            items = node.get("items")
            if not isinstance(items, list):
                raise self.fail(where, f"a {kind} without a list of items")
            if kind == "dict":
                return dict(self.decode_item(item, where) for item in items)
            values = [self.decode(item, f"{where}[{i}]") for i, item in enumerate(items)]
            return values if kind == "list" else tuple(values)
        if kind == "tensor":
            array = self.array(node, where)
            if array.dtype.kind not in "biuf":
                raise self.fail(where, f"a tensor of dtype {array.dtype}")
            requires_grad = node.get("requires_grad")
            if not isinstance(requires_grad, bool) or (requires_grad and array.dtype.kind != "f"):
                raise self.fail(where, f"invalid requires_grad {requires_grad!r}")
            return Tensor(array, requires_grad=requires_grad)
        if kind == "ndarray":
            return self.array(node, where)
        if kind == "numpy_scalar":
            array = self.array(node, where)
            if array.ndim != 0:
                raise self.fail(where, f"a numpy scalar stored with shape {array.shape}")
            return array[()]
        raise self.fail(where, f"unknown type {kind!r}")

    def decode_item(self, item: Any, where: str) -> tuple[Any, Any]:
        if not (isinstance(item, list) and len(item) == 2):
            raise self.fail(where, f"a dict item that is not a [key, value] pair: {item!r:.80}")
        key, value = item
        if not (key is None or isinstance(key, (bool, int, float, str))):
            raise self.fail(where, f"a dict key that is not a plain value: {key!r:.80}")
        return key, self.decode(value, f"{where}[{key!r}]")

    def array(self, node: dict, where: str) -> np.ndarray:
        name = node.get("array")
        if not isinstance(name, str) or name == _HEADER or name not in self.archive.files:
            raise self.fail(where, f"it refers to an array entry {name!r} the archive does not have")
        return self.archive[name]
