"""``MultiheadAttention``: PyTorch's multi-head attention, composed from the engine's ops.

Queries, keys and values are projected (one packed ``in_proj_weight``, or a weight each when
``kdim``/``vdim`` differ from ``embed_dim``), split into ``num_heads`` heads, each attends
with ``softmax(q k^T / sqrt(head_dim) + mask)``, and the heads' results are joined and
projected by ``out_proj``. The parameter names, shapes, initialisation and the arithmetic
follow ``torch.nn.MultiheadAttention``, so a ``state_dict`` loads either way and the same
weights give the same outputs and gradients. Being composed, the module is differentiated by
the engine and drawn by ``mt.viz`` (its steps tagged with the module's path; the attention
``scores`` and ``weights`` are named nodes).

Masks are kept as two pieces: a finite additive bias (a float mask, without its -infs) and a
boolean array of the positions that may not be attended (a bool mask's True, a float mask's
-inf). No inf enters the graph (anomaly mode stops at the first one), and the masks' gradient
at blocked positions is 0, as PyTorch's.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

import numpy as np

from ..autograd import scope
from ..creation import as_tensor, from_numpy
from ..devices import check_device
from ..errors import DtypeError
from ..functions import cat
from ..tensor import Tensor, _raw
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, empty_parameter

#: A mask as (finite bias or None, blocked positions or None), see the module's docstring.
Mask = tuple[Tensor | None, np.ndarray | None]


class MultiheadAttention(Module):
    """Multi-head attention, as ``torch.nn.MultiheadAttention`` (same arguments, parameters
    and results).

    ``attn(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` takes query (L, N, E), key (S, N, kdim) and
    value (S, N, vdim) (batch first with ``batch_first=True``; or unbatched, (L, E) ...) and
    returns ``(output, weights)``: output (L, N, E) and, with ``need_weights``, the attention
    weights (N, L, S), averaged over the heads (or (N, num_heads, L, S)), else None.

    ``key_padding_mask`` (N, S) and ``attn_mask`` ((L, S), or (N * num_heads, L, S)) are bool
    (True: may NOT attend, the opposite of ``scaled_dot_product_attention``'s) or float (added
    to the scores). ``is_causal`` is PyTorch's hint: it needs ``attn_mask``, and without weights
    or padding mask the causal mask replaces it. A query that may attend to no key gets nan with
    ``need_weights`` and zeros without, as PyTorch's differentiable path (its inference fast
    path, in eval mode without gradients, gives nan for both). In training mode the
    weights are dropped out with probability ``dropout`` (the returned weights too, as PyTorch).

    >>> import microtensor as mt
    >>> attn = mt.nn.MultiheadAttention(8, num_heads=2, batch_first=True)
    >>> x = mt.randn(3, 5, 8)
    >>> out, weights = attn(x, x, x, key_padding_mask=mt.tensor([[False] * 4 + [True]] * 3))
    >>> out.shape, weights.shape, weights[0, :, 4].tolist()
    ((3, 5, 8), (3, 5, 5), [0.0, 0.0, 0.0, 0.0, 0.0])
    >>> [name for name, _ in attn.named_parameters()]
    ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads} instead")
        check_device(device)
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:  # PyTorch's type, so its callers' except works
            raise AssertionError(f"MultiheadAttention: embed_dim must be divisible by num_heads, "
                                 f"got {embed_dim} and {num_heads}")
        # PyTorch registers the unused weights as None, which fixes the state_dict's order.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter(3 * embed_dim, embed_dim, dtype=dtype)
            self._no_parameters("q_proj_weight", "k_proj_weight", "v_proj_weight")
        else:
            self.q_proj_weight = empty_parameter(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = empty_parameter(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = empty_parameter(embed_dim, self.vdim, dtype=dtype)
            self._no_parameters("in_proj_weight")
        if bias:
            self.in_proj_bias = empty_parameter(3 * embed_dim, dtype=dtype)
        else:
            self._no_parameters("in_proj_bias")
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = empty_parameter(1, 1, embed_dim, dtype=dtype)
            self.bias_v = empty_parameter(1, 1, embed_dim, dtype=dtype)
        else:
            self._no_parameters("bias_k", "bias_v")
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _no_parameters(self, *names: str) -> None:
        for name in names:
            self._parameters[name] = None

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Glorot-uniform projection weights, zero biases,
        Glorot-normal ``bias_k``/``bias_v``; ``out_proj.weight`` keeps ``Linear``'s."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(self, name) is not None:
                init.xavier_uniform_(getattr(self, name))
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for name in ("bias_k", "bias_v"):
            if getattr(self, name) is not None:
                init.xavier_normal_(getattr(self, name))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        batched = self._check(query, key, value, key_padding_mask, attn_mask)
        dtypes = (query.dtype,) if need_weights else (query.dtype, np.dtype(np.float32))
        padding = _mask(key_padding_mask, "key_padding_mask", dtypes)
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: need attn_mask if specifying the is_causal "
                               "hint (nn.Transformer.generate_square_subsequent_mask makes one)")
        if (key_padding_mask is not None and attn_mask is not None
                and np.asarray(_raw(key_padding_mask)).dtype != np.asarray(_raw(attn_mask)).dtype):
            warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. "
                          "Use same type for both instead.", UserWarning, stacklevel=3)
        causal = is_causal and key_padding_mask is None and not need_weights
        mask = (None, None) if causal else _mask(attn_mask, "attn_mask", dtypes)
        if self.batch_first and batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if not batched:
            query, key, value = (x.unsqueeze(1) for x in (query, key, value))
            padding = _map(padding, lambda t: t[None])
        with scope(layer=self.path or "multihead_attention"):
            output, weights = self._attend(query, key, value, padding, mask, causal, need_weights)
        if weights is not None and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            output = output.squeeze(1)
            weights = None if weights is None else weights.squeeze(0)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, weights

    def _attend(self, query: Tensor, key: Tensor, value: Tensor, padding: Mask, mask: Mask,
                causal: bool, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        """PyTorch's ``multi_head_attention_forward`` on (L, N, E) inputs: the output (L, N, E)
        and, with ``need_weights``, the weights per head (N, num_heads, L, S)."""
        length, batch, embed = query.shape
        heads, head_dim = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        if not _absent(mask):
            mask = self._attn_mask_3d(mask, length, key.shape[0], batch)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, batch, embed)])
            v = cat([v, self.bias_v.expand(1, batch, embed)])
            mask, padding = _pad(mask), _pad(padding)
        q, k, v = (x.reshape(x.shape[0], batch * heads, head_dim).transpose(0, 1)
                   for x in (q, k, v))
        if self.add_zero_attn:
            zeros = np.zeros((batch * heads, 1, head_dim), dtype=k.dtype)
            k, v = cat([k, from_numpy(zeros)], dim=1), cat([v, from_numpy(zeros)], dim=1)
            mask, padding = _pad(mask), _pad(padding)
        source = k.shape[1]
        if not _absent(padding):
            shape = _shape(padding)
            if shape != (batch, source):
                raise AssertionError(f"MultiheadAttention: expected key_padding_mask of shape "
                                     f"{(batch, source)} (batch, source length, with bias_k and "
                                     f"the zero attention), got {shape}")
            padding = _map(padding, lambda t: _per_head(t, heads))
            mask = padding if _absent(mask) else _merge(mask, padding)
        bias, dead = mask
        if causal:
            dead = ~np.tril(np.ones((length, source), dtype=bool))
        dropout = self.dropout if self.training else 0.0
        out, weights = F._attend(q, k, v, bias, dead, 1 / math.sqrt(head_dim), dropout,
                                 "nan" if need_weights else "zero")
        out = out.transpose(0, 1).reshape(length, batch, embed)  # heads side by side
        out = self.out_proj(out)
        out.name = "attention"
        return out, weights.reshape(batch, heads, length, source) if need_weights else None

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        embed = self.embed_dim
        if self._qkv_same_embed_dim:
            weights = (self.in_proj_weight[:embed], self.in_proj_weight[embed:2 * embed],
                       self.in_proj_weight[2 * embed:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        biases: tuple[Tensor | None, ...] = (None, None, None)
        if self.in_proj_bias is not None:
            biases = (self.in_proj_bias[:embed], self.in_proj_bias[embed:2 * embed],
                      self.in_proj_bias[2 * embed:])
        return tuple(F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))

    def _attn_mask_3d(self, mask: Mask, length: int, source: int, batch: int) -> Mask:
        """A 2-D attn_mask (L, S) as (1, L, S); a 3-D one must be (N * num_heads, L, S)."""
        shape = _shape(mask)
        if len(shape) == 2:
            if shape != (length, source):
                raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask is {shape}, "
                                   f"but should be {(length, source)}")
            return _map(mask, lambda t: t[None])
        if shape != (batch * self.num_heads, length, source):
            raise RuntimeError(f"MultiheadAttention: the shape of the 3D attn_mask is {shape}, but "
                               f"should be {(batch * self.num_heads, length, source)}")
        return mask

    def _check(self, query: Any, key: Any, value: Any, key_padding_mask: Any,
               attn_mask: Any) -> bool:
        """PyTorch's shape checks (its AssertionErrors); True for batched (3-D) inputs."""
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got "
                                f"{type(tensor).__name__}")
        if query.ndim not in (2, 3):
            raise AssertionError(f"MultiheadAttention: query should be unbatched 2D or batched 3D "
                                 f"tensor but received {query.ndim}-D query tensor")
        batched = query.ndim == 3
        kind = "batched (3-D)" if batched else "unbatched (2-D)"
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(f"MultiheadAttention: for {kind} query, expected key and value "
                                 f"to be {query.ndim}-D but found {key.ndim}-D and {value.ndim}-D "
                                 f"tensors respectively")
        padding_dims = np.ndim(_raw(key_padding_mask))
        if key_padding_mask is not None and padding_dims != query.ndim - 1:
            raise AssertionError(f"MultiheadAttention: for {kind} query, expected "
                                 f"key_padding_mask to be None or {query.ndim - 1}-D but found "
                                 f"{padding_dims}-D tensor instead")
        mask_dims = np.ndim(_raw(attn_mask))
        if attn_mask is not None and mask_dims not in (2, 3):
            raise AssertionError(f"MultiheadAttention: for {kind} query, expected attn_mask to be "
                                 f"None, 2-D or 3-D but found {mask_dims}-D tensor instead")
        last = (self.embed_dim, self.kdim, self.vdim)
        if tuple(x.shape[-1] for x in (query, key, value)) != last:
            raise AssertionError(f"MultiheadAttention: expected query, key and value of last "
                                 f"dimensions {last} (embed_dim, kdim, vdim), got {query.shape}, "
                                 f"{key.shape} and {value.shape}")
        batch_dim = 0 if self.batch_first else 1
        if key.shape[:-1] != value.shape[:-1] or (
                batched and query.shape[batch_dim] != key.shape[batch_dim]):
            raise AssertionError(f"MultiheadAttention: query, key and value must agree on the batch "
                                 f"size and key and value on the sequence length, got "
                                 f"{query.shape}, {key.shape} and {value.shape}")
        dtypes = {query.dtype, key.dtype, value.dtype, *(p.dtype for p in self.parameters())}
        if len(dtypes) > 1:
            raise DtypeError(f"MultiheadAttention: query, key, value and parameters must share one "
                             f"dtype, got {sorted(str(d) for d in dtypes)}")
        return batched


def _mask(mask: Any, name: str, dtypes: tuple[np.dtype, ...]) -> Mask:
    """PyTorch's bool (True: blocked) or float (added) mask as (finite bias, blocked)."""
    if mask is None:
        return None, None
    mask = as_tensor(mask)
    if mask.dtype == np.bool_:
        return None, mask.array
    if mask.dtype.kind != "f":
        raise DtypeError(f"MultiheadAttention: only bool and floating types of {name} are "
                         f"supported, got {mask.dtype}")
    if mask.dtype not in dtypes:
        raise DtypeError(f"MultiheadAttention: a float {name} must have the query's dtype "
                         f"{dtypes[0]}, got {mask.dtype}")
    blocked = np.isneginf(mask.array)
    return (mask.masked_fill(blocked, 0.0), blocked) if blocked.any() else (mask, None)


def _map(mask: Mask, fn: Any) -> Mask:
    """``fn`` applied to each piece of ``mask`` that is there."""
    return tuple(None if part is None else fn(part) for part in mask)


def _absent(mask: Mask) -> bool:
    return mask[0] is None and mask[1] is None


def _shape(mask: Mask) -> tuple[int, ...]:
    return next(part.shape for part in mask if part is not None)


def _pad(mask: Mask) -> Mask:
    """One more source position (bias_k or the zero attention), open to every query."""
    bias, dead = mask
    if bias is not None:
        bias = F.pad(bias, (0, 1))
    if dead is not None:
        dead = np.pad(dead, [(0, 0)] * (dead.ndim - 1) + [(0, 1)])
    return bias, dead


def _per_head(part: Any, heads: int) -> Any:
    """(N, S) to (N * heads, 1, S), each batch entry's row repeated for its heads."""
    batch, source = part.shape
    if isinstance(part, Tensor):
        return part.reshape(batch, 1, 1, source).expand(batch, heads, 1, source).reshape(
            batch * heads, 1, source)
    return np.broadcast_to(part[:, None, None], (batch, heads, 1, source)).reshape(
        batch * heads, 1, source)


def _merge(mask: Mask, padding: Mask) -> Mask:
    """The two masks together: biases added, blocked positions joined."""
    (bias, dead), (pad_bias, pad_dead) = mask, padding
    return _join(bias, pad_bias, operator.add), _join(dead, pad_dead, operator.or_)


def _join(a: Any, b: Any, op: Any) -> Any:
    """``op(a, b)``, or the one of them that is not None."""
    return b if a is None else a if b is None else op(a, b)
