"""The feed-forward layers: ``Linear``, ``Embedding``, ``Dropout``, ``Identity`` and ``Flatten``."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import no_grad
from ..devices import check_device
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter, empty_parameter


class Linear(Module):
    """``y = x @ weight.T + bias``, with ``weight`` of shape (out_features, in_features).

    Initialised as PyTorch: weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)).

    >>> import microtensor as mt
    >>> layer = mt.nn.Linear(3, 2)
    >>> layer.weight.shape, layer(mt.ones(5, 3)).shape
    ((2, 3), (5, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: sizes must be non-negative, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_parameter(out_features, in_features, dtype=dtype)
        self.bias = empty_parameter(out_features, dtype=dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: expected input with last dimension {self.in_features}, "
                             f"got shape {input.shape}")
        out = input @ self.weight.T
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices of any shape to rows of ``weight`` (num_embeddings,
    embedding_dim), initialised from N(0, 1) as PyTorch; PyTorch's arguments, in its order.

    With ``padding_idx`` (negative counts from the end) that row starts as zeros and gets
    no gradient, so a padding token keeps its embedding. ``max_norm``, ``norm_type`` and
    ``scale_grad_by_freq`` are ``F.embedding``'s (``max_norm`` rescales the looked-up rows of
    ``weight`` in place). ``_weight`` is the table itself (its memory is shared, the padding
    row left as it is), frozen with ``_freeze``; ``sparse=True`` is refused.

    >>> import microtensor as mt
    >>> emb = mt.nn.Embedding(10, 3)
    >>> emb(mt.tensor([[1, 2], [3, 9]])).shape
    (2, 2, 3)
    >>> mt.nn.Embedding(10, 3, padding_idx=0).weight[0].tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device(device)
        if num_embeddings < 0 or embedding_dim < 0:
            raise ValueError(f"Embedding: sizes must be non-negative, got num_embeddings="
                             f"{num_embeddings}, embedding_dim={embedding_dim}")
        if sparse:
            raise NotImplementedError("Embedding: sparse=True (sparse gradients) is not "
                                      "supported: microtensor has no sparse tensors; use "
                                      "sparse=False")
        if padding_idx is not None:
            padding_idx = F._padding_row(padding_idx, num_embeddings, "Embedding")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = empty_parameter(num_embeddings, embedding_dim, dtype=dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: shape of weight {tuple(_weight.shape)} does not "
                                 f"match num_embeddings and embedding_dim "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An ``Embedding`` whose weight is ``embeddings`` (2-D, memory shared), not trained
        unless ``freeze=False``.

        >>> import microtensor as mt
        >>> emb = mt.nn.Embedding.from_pretrained(mt.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> emb(mt.tensor([1])).tolist(), emb.weight.requires_grad
        ([[3.0, 4.0]], False)
        """
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings are expected to be "
                             f"2-dimensional, got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def reset_parameters(self) -> None:
        """Draw fresh rows from N(0, 1); the padding row, if any, is zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        extra = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            extra += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            extra += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            extra += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            extra += ", scale_grad_by_freq=True"
        return extra


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) in training
    mode; the identity in evaluation mode.

    >>> import microtensor as mt
    >>> drop = mt.nn.Dropout(0.5)
    >>> sorted(set(drop(mt.ones(100)).tolist()))
    [0.0, 2.0]
    >>> drop.eval()(mt.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """Returns its input unchanged; takes and ignores any arguments, as PyTorch (a placeholder
    that keeps a model's structure when a layer is switched off).

    >>> import microtensor as mt
    >>> x = mt.ones(2)
    >>> mt.nn.Identity(54, unused="argument")(x) is x
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input


class Flatten(Module):
    """``input.flatten(start_dim, end_dim)``; by default every dim but the batch's.

    >>> import microtensor as mt
    >>> mt.nn.Flatten()(mt.ones(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
