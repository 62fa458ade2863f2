"""``LayerNorm``: normalise each sample over its last dimensions, then scale and shift."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import init
from .module import Module, empty_parameter


class LayerNorm(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the trailing
    ``normalized_shape`` dimensions, with the biased variance, as PyTorch (Ba et al., 2016).

    ``weight`` starts at ones and ``bias`` at zeros (both of ``normalized_shape``), or
    neither exists with ``elementwise_affine=False``; ``bias=False`` drops the shift only.

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
        if input.shape[input.ndim - count:] != self.normalized_shape or input.ndim < count:
            raise ValueError(f"LayerNorm: expected input with trailing shape "
                             f"{self.normalized_shape}, got {input.shape}")
        dims = tuple(range(input.ndim - count, input.ndim))
        centred = input - input.mean(dims, keepdim=True)
        variance = (centred * centred).mean(dims, keepdim=True)
        out = centred / (variance + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
