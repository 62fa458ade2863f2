"""A weight's gradient, split by step: the terms backprop through time adds up.

``dL/dW = sum over t of what step t sends to W``. The recording keeps what each step sent
out of itself (``Recording.leaving``): to a weight, to a view of it made once before the
loop (``W_hh.T``), or to rows of a tensor computed for all steps at once (the input
projection ``x W_ihᵀ + b``, whose step ``t`` reads its rows). Here those pieces are carried
back to the weight: through views and sums by the ops' own backward (cheap: the pieces are
the weight's size), and through the projection by rows, since the projection's matrix
product (a lazy ``OuterGrad`` of row factors) and its bias sum over rows that belong to
steps. Whatever is left of the pass's gradient came from outside the steps.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..autograd import Function, unbroadcast
from ..lazy import LazyGrad, OuterGrad, SparseGrad
from ..ops.elementwise import Add
from ..ops.linalg import MatMul
from ..ops.shape import Reshape
from ..tensor import Tensor
from .record import tag


def split_by_step(recording: Any, param: Tensor) -> dict:
    """``Recording.weight_steps``: see there."""
    if not isinstance(param, Tensor) or param.grad_fn is not None:
        raise TypeError(f"weight_steps: expected a leaf tensor (a parameter), got "
                        f"{'a computed tensor' if isinstance(param, Tensor) else type(param).__name__}")
    total = recording.leaf_grads.get(id(param))
    if total is None:
        raise ValueError(f"weight_steps: {param.name or 'the tensor'} got no gradient in the recorded "
                         "backward pass (is it used by the loss? did backward run inside record()?)")
    reaches = _Reach(param)
    parts: dict[tuple[str | None, int], np.ndarray] = defaultdict(lambda: np.zeros(param.shape))
    read_rows: dict[int, tuple[Function, list]] = {}  # tensors of all steps whose rows steps read
    for step, layer, parent, grad in recording.leaving:
        if not reaches(parent):
            continue
        if isinstance(grad, SparseGrad) and isinstance(parent, Function):
            read_rows.setdefault(id(parent), (parent, []))[1].append((layer, step, grad))
        elif (piece := _back_to(param, parent, grad, reaches)) is not None:
            parts[(layer, step)] += piece
    for node, reads in read_rows.values():
        for key, piece in _through_rows(node, reads, recording.products, param, reaches):
            parts[key] += piece
    rest = np.asarray(total, dtype=np.float64) - sum(parts.values(), np.zeros(param.shape))
    layers = {layer for layer, _ in parts}
    if len(layers) == 1:
        found: dict[Any, Any] = {step: part for (_, step), part in sorted(parts.items())}
    else:
        found = {}
        for (layer, step), part in sorted(parts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
            found.setdefault(layer, {})[step] = part
    # Rounding of the sum in another order is not a share of its own.
    tolerance = 1e4 * np.finfo(total.dtype).eps * float(np.abs(total).max(initial=0.0))
    if not parts or np.abs(rest).max(initial=0.0) > tolerance:
        found[None] = rest  # reached the weight outside any step
    return found


class _Reach:
    """Whether the weight is an input of a node made outside the steps, through other such
    nodes (memoised). A path through a step's op is that step's share, counted there."""

    def __init__(self, param: Tensor) -> None:
        self.param, self.known = param, {}

    def __call__(self, node: Any) -> bool:
        if node is self.param:
            return True
        if not isinstance(node, Function) or tag(node, "t") is not None:
            return False
        if id(node) not in self.known:
            self.known[id(node)] = False  # a graph has no cycles; this only stops revisits
            self.known[id(node)] = any(self(p) for p in node.parents if p is not None)
        return self.known[id(node)]


def _back_to(param: Tensor, node: Any, grad: Any, reaches: _Reach) -> np.ndarray | None:
    """``grad`` at ``node``'s output carried back to ``param`` by the ops' own backward, through
    views and sums only (they need no saved values, and a piece stays the weight's size); None
    through anything else (an initial state computed from the weight, say): that share of the
    gradient is not any one step's, and ``weight_steps`` leaves it under None."""
    if node is param:
        return _dense(grad)
    if not (node.is_view or isinstance(node, Add)):
        return None
    sent = node.backward(grad)
    sent = sent if isinstance(sent, tuple) else (sent,)
    total = None
    for parent, g, meta in zip(node.parents, sent, node.in_meta):
        if parent is not None and g is not None and reaches(parent):
            if not isinstance(g, LazyGrad):
                g = unbroadcast(np.asarray(g), meta[0], node, 0)
            piece = _back_to(param, parent, g, reaches)
            if piece is not None:
                total = piece if total is None else total + piece
    return total


def _through_rows(node: Function, reads: list, products: dict[int, OuterGrad], param: Tensor,
                  reaches: _Reach) -> list[tuple[tuple[str | None, int], np.ndarray]]:
    """Each step's share of ``param``'s gradient through ``node``, a tensor of all steps whose
    rows the steps read (``reads``: each step's ``SparseGrad``), following the rows back
    through reshapes (the last axis kept), sums and the matrix product that made them."""
    shape = reads[0][2].shape
    row_ids = np.arange(int(np.prod(shape[:-1]))).reshape(shape[:-1])
    pieces = []
    for layer, step, grad in reads:
        if grad.advanced or grad.values.shape[-1:] != shape[-1:]:
            return []  # not whole rows: this tensor's share is left under None
        rows = np.asarray(row_ids[grad.index]).ravel()
        pieces.append(((layer, step), rows, grad.values.reshape(len(rows), shape[-1])))
    found = []
    todo = [node]
    while todo:
        op = todo.pop()
        if op is param or not isinstance(op, Function):
            continue
        if isinstance(op, Reshape) and op.in_meta[0][0][-1:] == shape[-1:]:
            todo.append(op.parents[0])
        elif isinstance(op, Add):
            for parent, (in_shape, *_) in zip(op.parents, op.in_meta):
                if parent is None or not reaches(parent):
                    continue
                if int(np.prod(in_shape)) == len(row_ids.ravel()) * shape[-1]:
                    todo.append(parent)  # a full operand: the same rows
                else:  # a bias broadcast over the rows: each step's share is its rows' sum
                    found += [(key, _back_to(param, parent, unbroadcast(
                        values.sum(axis=0, keepdims=True), in_shape, op, 0), reaches))
                        for key, _, values in pieces]
        elif isinstance(op, MatMul) and id(op) in products:
            product = products[id(op)]
            right = op.parents[1]
            found += [(key, _back_to(param, right, OuterGrad(product.left[rows], product.right[rows]),
                                     reaches)) for key, rows, _ in pieces]
        # Anything else does not keep rows apart: its share stays under None.
    return [(key, piece) for key, piece in found if piece is not None]


def _dense(grad: Any) -> np.ndarray:
    return grad.dense() if isinstance(grad, LazyGrad) else np.asarray(grad)
