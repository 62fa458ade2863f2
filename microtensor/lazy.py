"""Lazy gradients: what a backward may return instead of a full array, when the engine can
sum many of them more cheaply than arrays.

Recurrent networks produce two such sums at every step: each timestep reads one slice of a
tensor computed for all steps (``SparseGrad``), and every step multiplies by the same
weight (``OuterGrad``). A lazy gradient knows its ``shape``, how to ``cast`` itself, how to
become a ``dense`` array, and how a batch of its kind adds into a buffer (``add_all``); the
engine uses nothing else, so a third form is one more class here.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class LazyGrad:
    """The protocol: ``shape``, ``dtype``, ``cast``, ``dense``, ``add_all`` and ``recorded``."""

    __slots__ = ()
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    def cast(self, dtype: np.dtype) -> LazyGrad:
        """The same gradient in ``dtype`` (itself when it is already)."""
        raise NotImplementedError

    def dense(self) -> np.ndarray:
        """The gradient as a full array."""
        buffer = np.zeros(self.shape, self.dtype)
        type(self).add_all([self], buffer)
        return buffer

    def norm(self) -> float:
        """The Euclidean norm of all entries (in float64): what a recording of the pass keeps
        of every gradient, without multiplying it out where the form allows."""
        return float(np.sqrt(np.sum(np.square(self.dense(), dtype=np.float64))))

    @staticmethod
    def add_all(parts: list, buffer: np.ndarray) -> None:
        """Add every gradient in ``parts`` (all of this kind) into ``buffer``, in place."""
        raise NotImplementedError

    def recorded(self) -> Any:
        """The gradient as a tensor made by recorded ops, in a ``create_graph`` pass (where
        its parts are tensors: see ``autograd/higher_order.py``)."""
        raise NotImplementedError

    @classmethod
    def record_all(cls, parts: list) -> Any:
        """The sum of ``parts`` (all of this kind) by recorded ops: ``add_all`` of a recorded
        pass."""
        total = parts[0].recorded()
        for part in parts[1:]:
            total = total + part.recorded()
        return total


class SparseGrad(LazyGrad):
    """A gradient that is zero except at ``index``: what reading ``x[index]`` sends to ``x``.

    ``T`` slices of one tensor (every step of a precomputed input projection) cost ``T``
    small adds into one buffer, not ``T`` full-size zero arrays and sums.
    """

    __slots__ = ("shape", "index", "values", "advanced")

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray,
                 advanced: bool) -> None:
        self.shape, self.index, self.values = shape, index, values
        self.advanced = advanced  # an integer-array or mask index: repeated entries add up

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def cast(self, dtype: np.dtype) -> SparseGrad:
        if self.values.dtype == dtype:
            return self
        return SparseGrad(self.shape, self.index, self.values.astype(dtype), self.advanced)

    def norm(self) -> float:
        if self.advanced:  # repeated places add up before squaring
            return super().norm()
        return float(np.sqrt(np.sum(np.square(self.values, dtype=np.float64))))

    def recorded(self) -> Any:
        from .ops.shape import Embed

        return Embed.apply(self.values, shape=self.shape, index=self.index,
                           advanced=self.advanced)

    @staticmethod
    def add_all(parts: list[SparseGrad], buffer: np.ndarray) -> None:
        for part in parts:
            if part.advanced:
                np.add.at(buffer, part.index, part.values)
            else:
                buffer[part.index] += part.values


class OuterGrad(LazyGrad):
    """The 2-D gradient ``left.T @ right``, not yet multiplied out.

    What a weight used at every timestep receives: ``h_{t-1}.T @ g_t`` per step. The
    engine keeps the factors and computes the sum over all steps as one matmul of the
    stacked factors, which is what hand-written BPTT does, instead of ``T`` small
    matmuls and sums.
    """

    __slots__ = ("left", "right")

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.left, self.right = left, right  # (rows, K) and (rows, N): the product is (K, N)

    @property
    def shape(self) -> tuple[int, int]:
        return self.left.shape[1], self.right.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.left, self.right)

    def cast(self, dtype: np.dtype) -> OuterGrad:
        if self.left.dtype == dtype and self.right.dtype == dtype:
            return self
        return OuterGrad(self.left.astype(dtype), self.right.astype(dtype))

    def dense(self) -> np.ndarray:
        return self.left.T @ self.right

    def norm(self) -> float:
        # ||l.T r||^2 = sum((l l.T) * (r r.T)): two (rows, rows) products, not the (K, N) matrix.
        if self.left.shape[0] > min(self.shape):
            return super().norm()
        left, right = self.left.astype(np.float64), self.right.astype(np.float64)
        return float(np.sqrt(max(np.sum((left @ left.T) * (right @ right.T)), 0.0)))

    def recorded(self) -> Any:
        return self.left.T @ self.right

    @classmethod
    def record_all(cls, parts: list[OuterGrad]) -> Any:
        if len(parts) == 1:
            return parts[0].recorded()
        from .functions import cat  # one recorded matmul of the stacked factors, as add_all

        return cat([p.left for p in parts]).T @ cat([p.right for p in parts])

    def transpose(self) -> OuterGrad:
        """The gradient's transpose, still lazy: ``(l.T @ r).T == r.T @ l``."""
        return OuterGrad(self.right, self.left)

    @staticmethod
    def add_all(parts: list[OuterGrad], buffer: np.ndarray) -> None:
        if len(parts) == 1:
            buffer += parts[0].dense()
        else:  # one matmul of the stacked factors: the sum over all steps
            buffer += (np.concatenate([p.left for p in parts]).T
                       @ np.concatenate([p.right for p in parts]))
