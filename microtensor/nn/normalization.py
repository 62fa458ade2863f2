"""``LayerNorm``: normalise each sample over its last dimensions, then scale and shift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DtypeError, ShapeError
from ..tensor import Tensor
from . import init
from .module import Module, empty_parameter


def _check_dtypes(input: Tensor, weight: Tensor | None, bias: Tensor | None,  # noqa: A002
                  op: str) -> None:
    """PyTorch's rule on the CPU: the parameters share the input's dtype, except that a float16
    input may take float32 parameters (mixed precision). Anything else is an error there, and
    is one here rather than a silent promotion (a float64 input would give float64 out)."""
    if input.dtype.kind != "f":
        raise DtypeError(f"{op}: input must be floating point, got dtype {input.dtype}; "
                         "convert it with .float()")
    params = {name: p for name, p in (("weight", weight), ("bias", bias)) if p is not None}
    dtypes = {p.dtype for p in params.values()}
    if not params or dtypes == {input.dtype}:
        return
    if input.dtype == np.float16 and dtypes == {np.dtype(np.float32)}:
        return
    if len(dtypes) == 1:
        (dtype,) = dtypes
        held = f"{' and '.join(params)} {dtype}"
        fix = f"convert the input with .to(mt.{dtype}) or the parameters to {input.dtype}"
    else:
        held = ", ".join(f"{name} {p.dtype}" for name, p in params.items())
        fix = f"convert weight and bias to one dtype, the input's ({input.dtype})"
    raise DtypeError(f"{op}: mixed dtypes (input {input.dtype}, {held}): the input and the "
                     f"parameters must share one dtype (or be a float16 input with float32 "
                     f"parameters); {fix}")


def layer_norm(input: Tensor, normalized_shape: Sequence[int],  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing ``normalized_shape``
    dimensions, with the biased variance, as ``torch.nn.functional.layer_norm``.

    ``weight`` and ``bias`` (each optional, of ``normalized_shape``) must have the input's
    dtype, or float32 for a float16 input (PyTorch's mixed precision); other mixes are a
    ``DtypeError`` (a ``RuntimeError``, as PyTorch raises). A float16 input is normalised in
    float32, as PyTorch does, and the result is float16.

    >>> import microtensor as mt
    >>> from microtensor.nn.normalization import layer_norm
    >>> y = layer_norm(mt.tensor([[1.0, 2.0, 3.0, 4.0]]), (4,), bias=mt.ones(4))
    >>> [round(v, 4) for v in y[0].tolist()]
    [-0.3416, 0.5528, 1.4472, 2.3416]
    """
    op = "layer_norm"
    if isinstance(normalized_shape, int):  # nn.LayerNorm takes one; PyTorch's function does not
        raise TypeError(f"{op}: normalized_shape must be a tuple of ints, not int; pass "
                        f"({normalized_shape},)")
    shape = tuple(normalized_shape)
    count = len(shape)
    if not count:
        raise ShapeError(f"{op}: normalized_shape must have at least one dimension, got ()")
    if input.ndim < count or input.shape[input.ndim - count:] != shape:
        raise ShapeError(f"{op}: expected input with trailing shape {shape}, got {input.shape}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.shape != shape:
            raise ShapeError(f"{op}: {name} must have the normalized_shape {shape}, "
                             f"got {param.shape}")
    _check_dtypes(input, weight, bias, op)
    return _normalise(input, shape, weight, bias, eps)


def _normalise(input: Tensor, shape: tuple[int, ...], weight: Tensor | None,  # noqa: A002
               bias: Tensor | None, eps: float) -> Tensor:
    """The arithmetic of ``layer_norm``, on checked arguments."""
    dtype = input.dtype
    # Half's 10-bit mantissa loses the variance: PyTorch computes in float32 and rounds the
    # result; so do we (the casts carry the gradients back to float16).
    wide = np.dtype(np.float32) if dtype == np.float16 else dtype
    x = input.to(wide) if dtype != wide else input
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * (weight.to(wide) if weight.dtype != wide else weight)
    if bias is not None:
        out = out + (bias.to(wide) if bias.dtype != wide else bias)
    return out.to(dtype) if out.dtype != dtype else out


class LayerNorm(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the trailing
    ``normalized_shape`` dimensions, with the biased variance, as PyTorch (Ba et al., 2016).

    ``weight`` starts at ones and ``bias`` at zeros (both of ``normalized_shape``), or
    neither exists with ``elementwise_affine=False``; ``bias=False`` drops the shift only.
    The input must have the parameters' dtype, or be float16 with float32 parameters (then
    the output is float16), as ``layer_norm``.

    >>> import microtensor as mt
    >>> norm = mt.nn.LayerNorm(4)
    >>> y = norm(mt.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> [round(v, 4) for v in y[0].tolist()]
    [-1.3416, -0.4472, 0.4472, 1.3416]
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a non-empty "
                             f"tuple of them, got {normalized_shape!r}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps}")
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = empty_parameter(*shape, dtype=dtype) if elementwise_affine else None
        self.bias = empty_parameter(*shape, dtype=dtype) if elementwise_affine and bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``weight`` to ones, ``bias`` to zeros."""
        if self.weight is not None:
            init.constant_(self.weight, 1.0)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        count = len(self.normalized_shape)
        if input.ndim < count or input.shape[input.ndim - count:] != self.normalized_shape:
            raise ShapeError(f"LayerNorm: expected input with trailing shape "
                             f"{self.normalized_shape}, got {input.shape}")
        _check_dtypes(input, self.weight, self.bias, "LayerNorm")
        return _normalise(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
