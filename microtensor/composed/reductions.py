"""Reductions with PyTorch's options: ``prod``, ``cumsum``, ``cumprod``, ``var``, ``std``, ``norm``.

PyTorch's spellings of the arguments (``dtype=``, ``var(unbiased)`` beside ``correction=``,
``norm``'s ``p``) turned into the options of the ops in ``ops/reduce.py``.
"""

from __future__ import annotations

from typing import Any

from .. import autograd
from .. import ops as F
from ..dtypes import as_dtype, promote_types
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor


def _int_dim(op: str, dim: Any, required: bool = False) -> None:
    """``dim`` must be an int (or, where the op reduces everything without one, None)."""
    if (dim is not None or required) and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")


def _reduction_dtype(op: str, x: Tensor, dtype: Any) -> Any:
    """``dtype=`` as a numpy dtype (None for none): an integer one only outside autograd."""
    if dtype is None:
        return None
    dtype = as_dtype(dtype)
    if dtype.kind not in "fc" and x.requires_grad and autograd.is_grad_enabled():
        raise DtypeError(f"{op}(dtype={dtype}): autograd does not support dtype {dtype}, and this "
                         "tensor requires grad; detach() it first, as in PyTorch")
    return dtype


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all entries, or along one ``dim``; integers and bools give int64. The
    gradient is right with zeros in the input (the product of the other entries).

    >>> import microtensor as mt
    >>> x = mt.tensor([0.0, 2.0, 3.0], requires_grad=True)
    >>> x.prod().backward()
    >>> x.grad.tolist()
    [6.0, 0.0, 0.0]
    """
    _int_dim("prod", dim)
    if dim is None and keepdim:
        raise TypeError("prod(): keepdim needs a dim, as PyTorch's prod(dtype=None)")
    dtype = _reduction_dtype("prod", x, dtype)
    x = x if dtype is None else x.to(dtype)  # cast first, as PyTorch's
    return F.Prod.apply(x, dim=dim, keepdim=keepdim, keep_dtype=dtype is not None)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``; integers and bools give int64.

    >>> import microtensor as mt
    >>> mt.tensor([1, 2, 3]).cumsum(0).tolist()
    [1, 3, 6]
    """
    _int_dim("cumsum", dim, required=True)
    return F.CumSum.apply(x, dim=dim, dtype=_reduction_dtype("cumsum", x, dtype))


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along ``dim``; integers and bools give int64. The gradient is right
    with zeros in the input, as PyTorch's.

    >>> import microtensor as mt
    >>> x = mt.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> y = x.cumprod(0)
    >>> y.tolist()
    [2.0, 0.0, 0.0]
    >>> y.sum().backward()
    >>> x.grad.tolist()
    [1.0, 8.0, 0.0]
    """
    _int_dim("cumprod", dim, required=True)
    return F.CumProd.apply(x, dim=dim, dtype=_reduction_dtype("cumprod", x, dtype))


def _correction(op: str, dim: Any, unbiased: bool | None, correction: float | None) -> tuple:
    """``(dim, correction)`` from PyTorch's spellings: ``var(unbiased)``, ``var(dim, unbiased)``
    and ``var(dim, correction=...)``; ``unbiased=False`` is ``correction=0``."""
    if isinstance(dim, bool):  # x.var(False): PyTorch's var(unbiased) overload
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): give unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction


def var(x: Tensor, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: float | None = None) -> Tensor:
    """The variance over ``dim``: squared deviations summed over ``n - correction`` (1 by
    default, Bessel's; ``unbiased=False`` is 0). Floating point only.

    >>> import microtensor as mt
    >>> mt.tensor([1.0, 2.0, 3.0, 4.0]).var().item(), mt.tensor([1.0, 3.0]).var(correction=0).item()
    (1.6666666269302368, 1.0)
    """
    dim, correction = _correction("var", dim, unbiased, correction)
    return F.Var.apply(x, dim=dim, correction=correction, keepdim=keepdim)


def std(x: Tensor, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: float | None = None) -> Tensor:
    """The standard deviation, ``sqrt(var(...))``; its gradient is 0 where it is 0, as PyTorch.

    >>> import microtensor as mt
    >>> x = mt.ones(3, requires_grad=True)
    >>> x.std().backward()
    >>> x.grad.tolist()
    [0.0, 0.0, 0.0]
    """
    dim, correction = _correction("std", dim, unbiased, correction)
    return F.Var.apply(x, dim=dim, correction=correction, keepdim=keepdim, root=True)


def norm(x: Tensor, p: float | str | None = "fro", dim: int | tuple[int, ...] | None = None,
         keepdim: bool = False, dtype: Any = None) -> Tensor:
    """The vector ``p``-norm over ``dim`` (all entries by default): ``p`` a number, ``inf`` or
    ``-inf``, 0 (the count of nonzero entries), or ``"fro"`` (2, over at most 2 dims). ``"nuc"``
    (the nuclear norm) is not implemented. Floating point only; ``dtype=`` casts first, to a
    dtype at least as wide. The gradient at the zero vector is 0, as PyTorch's.

    >>> import microtensor as mt
    >>> x = mt.tensor([3.0, -4.0], requires_grad=True)
    >>> x.norm().item(), x.norm(1).item(), x.norm(float("inf")).item()
    (5.0, 7.0, 4.0)
    >>> z = mt.zeros(2, requires_grad=True)
    >>> z.norm().backward()
    >>> z.grad.tolist()
    [0.0, 0.0]
    """
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm(p='nuc'): the nuclear norm is not implemented")
        if p != "fro":
            raise ValueError(f"norm: order {p!r} not supported (use a number, inf, or 'fro')")
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise ShapeError(f"norm(p='fro'): dim must be an int or a pair, got {tuple(dim)}")
        p = 2.0
    p = 2.0 if p is None else float(p)
    if x.dtype.kind not in "fc":
        raise DtypeError(f"norm: expected a floating point tensor as input, got {x.dtype}")
    if dtype is not None:
        dtype = as_dtype(dtype)
        if dtype.kind not in "fc" or promote_types(x.dtype, dtype) != dtype:
            raise DtypeError(f"norm: the dtype of the input ({x.dtype}) should be convertible "
                             f"without narrowing to the specified dtype ({dtype})")
        x = x.to(dtype)
    return F.VectorNorm.apply(x, ord=p, dim=dim, keepdim=keepdim)
