"""Linear algebra with PyTorch's strict checks: ``mm``, ``bmm``, ``dot``, ``mv``, ``outer``, ``inner``.

Each is ``@`` (or one einsum) after PyTorch's checks of the dims it takes and, except
``outer``, of one dtype for both operands: PyTorch does not promote in them, where ``@`` does.
"""

from __future__ import annotations

from .. import ops as F
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor


def _same_dtype(a: Tensor, b: Tensor, message: str) -> None:
    if a.dtype != b.dtype:
        raise DtypeError(message.format(a=a.dtype, b=b.dtype))


def mm(x: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices, (n, k) @ (k, m).

    >>> import microtensor as mt
    >>> mt.ones(2, 3).mm(mt.ones(3, 4)).shape
    (2, 4)
    """
    for name, t in (("self", x), ("mat2", mat2)):
        if t.ndim != 2:
            raise ShapeError(f"mm: {name} must be a matrix, got a {t.ndim}-D tensor")
    _same_dtype(x, mat2, "mm: expected m1 and m2 to have the same dtype, but got: {a} != {b}")
    if x.shape[1] != mat2.shape[0]:
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({x.shape[0]}x{x.shape[1]} "
                         f"and {mat2.shape[0]}x{mat2.shape[1]})")
    return x @ mat2


def bmm(x: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product, (b, n, k) @ (b, k, m), without broadcasting.

    >>> import microtensor as mt
    >>> mt.ones(5, 2, 3).bmm(mt.ones(5, 3, 4)).shape
    (5, 2, 4)
    """
    for name, t in (("batch1", x), ("batch2", mat2)):
        if t.ndim != 3:
            raise ShapeError(f"bmm: {name} must be a 3D tensor, got a {t.ndim}-D tensor")
    _same_dtype(x, mat2, "bmm: expected both batches to have the same dtype, but got {a} and {b}")
    expected = [x.shape[0], x.shape[2]]
    if list(mat2.shape[:2]) != expected:
        raise ShapeError(f"bmm: Expected size for first two dimensions of batch2 tensor to be: "
                         f"{expected} but got: {list(mat2.shape[:2])}.")
    return x @ mat2


def dot(x: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors of one length and one dtype.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 2.0]).dot(mt.tensor([3.0, 4.0])).item()
    11.0
    """
    if x.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"dot: 1D tensors expected, but got {x.ndim}D and {other.ndim}D tensors")
    _same_dtype(x, other, "dot: expected both vectors to have same dtype, but found {a} and {b}")
    if x.shape != other.shape:
        raise ShapeError(f"dot: inconsistent tensor size, expected tensor [{x.shape[0]}] and src "
                         f"[{other.shape[0]}] to have the same number of elements")
    return x @ other


def mv(x: Tensor, vec: Tensor) -> Tensor:
    """A matrix (n, k) times a vector (k,).

    >>> import microtensor as mt
    >>> mt.ones(2, 3).mv(mt.ones(3)).tolist()
    [3.0, 3.0]
    """
    if x.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"mv: vector + matrix @ vector expected, got a {x.ndim}-D matrix and a "
                         f"{vec.ndim}-D vector")
    _same_dtype(x, vec, "mv: expected the matrix and the vector to have the same dtype, but got "
                        "{a} and {b}")
    if x.shape[1] != vec.shape[0]:
        raise ShapeError(f"mv: size mismatch, got mat ({x.shape[0]}x{x.shape[1]}), vec "
                         f"({vec.shape[0]})")
    return x @ vec


def outer(x: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors: ``x[i] * vec2[j]`` (dtypes promote, as ``*``).

    >>> import microtensor as mt
    >>> mt.outer(mt.tensor([1, 2]), mt.tensor([1, 10, 100])).tolist()
    [[1, 10, 100], [2, 20, 200]]
    """
    for name, t in (("self", x), ("vec2", vec2)):
        if t.ndim != 1:
            raise ShapeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return x.unsqueeze(1) * vec2


def inner(x: Tensor, other: Tensor) -> Tensor:
    """The sum of products over the last dim of each: shape ``x.shape[:-1] + other.shape[:-1]``
    (with a 0-d operand, the product ``x * other``).

    >>> import microtensor as mt
    >>> mt.inner(mt.ones(2, 3), mt.ones(4, 3)).shape
    (2, 4)
    """
    if x.ndim == 0 or other.ndim == 0:
        return x * other
    if x.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got "
                         f"shapes {list(x.shape)} and {list(other.shape)}")
    _same_dtype(x, other, "inner: both inputs should have same dtype, got {a} and {b}")
    left, right = "abcdefgh"[:x.ndim - 1], "ijklmnop"[:other.ndim - 1]
    return F.Einsum.apply(x, other, equation=f"{left}z,{right}z->{left}{right}")
