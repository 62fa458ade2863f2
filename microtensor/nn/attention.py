"""``Attention``: a decoder state looks back over an encoder's outputs.

At each decoder step the query ``q`` (the decoder's state) scores every encoder
position ``k_s``; a softmax over the real positions turns the scores into weights,
and the context is the weighted sum of the keys. Three scores, as in the papers:

- ``"additive"`` (Bahdanau et al., 2015): ``v^T tanh(W_q q + W_k k_s)``;
- ``"dot"`` (Luong et al., 2015): ``q^T k_s``, which needs ``query_size == key_size``;
- ``"general"`` (Luong et al., 2015): ``q^T W k_s``.

Padding positions (``mask`` False) get weight exactly 0 and no gradient. Everything
is composed from the engine's ops, so the weights and the context are ordinary graph
nodes (named ``scores``, ``weights``, ``context``) that the renderer can draw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import scope
from ..creation import from_numpy
from ..tensor import Tensor, _raw
from . import init
from .module import Module, empty_parameter

SCORES = ("additive", "dot", "general")


class Attention(Module):
    """Attention of a query (batch, query_size) over keys (batch, seq, key_size), batch first.

    ``attn(query, keys, mask=None)`` returns ``(context, weights)``: context (batch,
    key_size), the weighted sum of the keys, and weights (batch, seq), which sum to 1 over
    the positions where ``mask`` (batch, seq), boolean, is True and are exactly 0 where it
    is False (padding). Without a mask every position is real.

    Parameters: ``"additive"`` has ``query_weight`` (hidden_size, query_size), ``key_weight``
    (hidden_size, key_size) and ``v`` (hidden_size,); ``hidden_size`` defaults to
    ``key_size``. ``"general"`` has ``weight`` (query_size, key_size); ``"dot"`` has none.
    Weights are drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as ``nn.Linear``.

    >>> import microtensor as mt
    >>> attn = mt.nn.Attention(4, 6, score="additive", hidden_size=5)
    >>> keys = mt.randn(2, 3, 6)
    >>> mask = mt.tensor([[True, True, True], [True, True, False]])
    >>> context, weights = attn(mt.randn(2, 4), keys, mask)
    >>> context.shape, weights.shape, weights[1, 2].item()
    ((2, 6), (2, 3), 0.0)
    >>> [round(s, 6) for s in weights.sum(1).tolist()]
    [1.0, 1.0]

    A decoder attends over the same keys at every step: with the additive score, project
    them once with ``project_keys`` and pass the result on each step (the gradient of
    ``key_weight`` then gathers every step's share through that one product).

    >>> projected = attn.project_keys(keys)
    >>> attn(mt.randn(2, 4), keys, mask, projected_keys=projected)[0].shape
    (2, 6)
    """

    def __init__(self, query_size: int, key_size: int, score: str = "additive",
                 hidden_size: int | None = None, dtype: Any = None) -> None:
        super().__init__()
        for name, value in (("query_size", query_size), ("key_size", key_size),
                            ("hidden_size", hidden_size)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value <= 0):
                raise ValueError(f"Attention: {name} must be a positive integer, got {value!r}")
        if score not in SCORES:
            raise ValueError(f"Attention: score must be one of {SCORES}, got {score!r}")
        if score == "dot" and query_size != key_size:
            raise ValueError(f"Attention: score='dot' needs query_size == key_size, got "
                             f"{query_size} and {key_size}; use 'general' or 'additive'")
        if score != "additive" and hidden_size is not None:
            raise ValueError(f"Attention: hidden_size is for score='additive' only, got "
                             f"hidden_size={hidden_size} with score={score!r}")
        self.query_size, self.key_size, self.score = query_size, key_size, score
        self.hidden_size = (hidden_size or key_size) if score == "additive" else None
        if score == "additive":
            self.query_weight = empty_parameter(self.hidden_size, query_size, dtype=dtype)
            self.key_weight = empty_parameter(self.hidden_size, key_size, dtype=dtype)
            self.v = empty_parameter(self.hidden_size, dtype=dtype)
        elif score == "general":
            self.weight = empty_parameter(query_size, key_size, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw each weight from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as ``nn.Linear``."""
        for param in self.parameters():
            bound = 1 / math.sqrt(param.shape[-1])
            init.uniform_(param, -bound, bound)

    def forward(self, query: Tensor, keys: Tensor, mask: Any = None,
                projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mask = self._check(query, keys, mask)
        if projected_keys is not None:
            expected = (*keys.shape[:2], self.hidden_size)
            if self.score != "additive" or not isinstance(projected_keys, Tensor) or \
                    projected_keys.shape != expected:
                raise ValueError(f"Attention: projected_keys must be project_keys(keys), of shape "
                                 f"{expected} (score='additive' only), got "
                                 f"{getattr(projected_keys, 'shape', type(projected_keys).__name__)}")
        with scope(layer=self.path or "attention"):
            if self.score == "additive" and projected_keys is None:
                projected_keys = self._project(keys)
            scores = self._scores(query, keys, projected_keys)
            scores.name = "scores"
            if mask is not None:
                padding = from_numpy(~mask)
                # The lowest finite value, not -inf: softmax then gives exactly 0 there,
                # and anomaly mode (which stops at the first inf) stays quiet.
                scores = scores.masked_fill(padding, float(np.finfo(scores.dtype).min))
            weights = scores.softmax(-1)
            if mask is not None:  # exactly 0, whatever rounding did to exp(min - max)
                weights = weights.masked_fill(padding, 0.0)
            weights.name = "weights"
            context = (weights.unsqueeze(1) @ keys).squeeze(1)
            context.name = "context"
        return context, weights

    def project_keys(self, keys: Tensor) -> Tensor:
        """``W_k k`` for every key (batch, seq, hidden_size), for ``forward``'s
        ``projected_keys``: computed once per source sequence instead of once per decoder
        step. Only the additive score projects its keys."""
        if self.score != "additive":
            raise ValueError(f"Attention: project_keys is for score='additive', this one scores "
                             f"{self.score!r}")
        if not isinstance(keys, Tensor) or keys.ndim != 3 or keys.shape[2] != self.key_size:
            raise ValueError(f"Attention: expected keys of shape (batch, seq, {self.key_size}), "
                             f"got {getattr(keys, 'shape', type(keys).__name__)}")
        with scope(layer=self.path or "attention"):
            return self._project(keys)

    def _project(self, keys: Tensor) -> Tensor:
        batch, seq, _ = keys.shape
        # One 2-D matmul for every position, so the weight's gradient is one product too.
        projected = (keys.reshape(batch * seq, -1) @ self.key_weight.T).reshape(batch, seq, -1)
        projected.name = "projected_keys"
        return projected

    def _scores(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        """(batch, seq) scores of the query against every key."""
        if self.score == "additive":
            projected_query = (query @ self.query_weight.T).unsqueeze(1)  # (B, 1, H)
            return (projected_keys + projected_query).tanh() @ self.v
        if self.score == "general":
            query = query @ self.weight                              # (B, Dk)
        return (keys @ query.unsqueeze(-1)).squeeze(-1)

    def _check(self, query: Tensor, keys: Tensor, mask: Any) -> np.ndarray | None:
        """Check shapes and dtypes (naming what is wrong); return the mask as a bool array."""
        for name, tensor in (("query", query), ("keys", keys)):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"Attention: {name} must be a Tensor, got {type(tensor).__name__}")
        if query.ndim != 2 or query.shape[1] != self.query_size:
            raise ValueError(f"Attention: expected query of shape (batch, {self.query_size}), "
                             f"got {query.shape}")
        if keys.ndim != 3 or keys.shape[0] != query.shape[0] or keys.shape[2] != self.key_size:
            raise ValueError(f"Attention: expected keys of shape ({query.shape[0]}, seq, "
                             f"{self.key_size}) for a batch of {query.shape[0]} queries, got "
                             f"{keys.shape}")
        if keys.shape[1] == 0:
            raise ValueError("Attention: keys hold no positions (seq = 0)")
        dtypes = {query.dtype, keys.dtype, *(p.dtype for p in self.parameters())}
        if len(dtypes) > 1:
            raise TypeError(f"Attention: query, keys and parameters must share one dtype, got "
                            f"{sorted(str(d) for d in dtypes)}")
        if mask is None:
            return None
        mask = np.asarray(_raw(mask))
        if mask.dtype != np.bool_ or mask.shape != keys.shape[:2]:
            raise ValueError(f"Attention: mask must be a bool tensor of shape {keys.shape[:2]} "
                             f"(True at real positions), got {mask.dtype} {mask.shape}")
        if not mask.any(axis=1).all():
            raise ValueError(f"Attention: mask rows {np.flatnonzero(~mask.any(axis=1)).tolist()} "
                             "have no real position, so their weights cannot sum to 1")
        return mask

    def extra_repr(self) -> str:
        extra = f"{self.query_size}, {self.key_size}, score={self.score!r}"
        return extra if self.score != "additive" else f"{extra}, hidden_size={self.hidden_size}"
