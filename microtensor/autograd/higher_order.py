"""Recorded backward passes (``create_graph=True``): gradients that can be differentiated again.

**The rule, stated once.** An op's ``backward`` is one function, written on numpy, for both
kinds of pass. A first-order pass calls it with arrays, as always. A recorded pass calls it
with tensors: the upstream gradient, and what the op saved, joined to the graph (a saved
input is that input, the saved output is the op's output, each with its node). Operators
and numpy's functions on those tensors run the engine's ops (``microtensor/numpy_dispatch.py``), so the
formula records the graph of the gradient as it computes it, and that graph is
differentiated like any other, to any order. (HIPS autograd's design: its gradients are
written in a numpy that records when handed traced values.)

**What keeps it honest.** A backward that leaves the recorded world would give a gradient
that is silently constant in its inputs, so every such exit is an error naming the op:

- a saved floating point array that is neither an input nor the output (a value computed
  inside ``forward``), or such an array kept on ``self``, cannot be joined to the graph:
  the op must save inputs and output only (as PyTorch's ``derivatives.yaml`` formulas use
  only ``self``, ``other`` and ``result``), or not support ``create_graph``;
- turning a tensor that requires grad into an array (``np.asarray``, ``.numpy()``), or a numpy
  function the engine has no op for, raises (PyTorch's ``__array__`` error, numpy's
  "no implementation found").

Only ``create_graph`` pays for any of this: a first-order pass is the loop in ``autograd/__init__.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import versions
from ..lazy import LazyGrad
from ..tensor import Tensor
from . import (
    _FREED,
    Function,
    _as_tuple,
    _Backward,
    _check_backward_finite,
    _check_saved,
    _shape_error,
    _state,
    enable_grad,
    hook_result,
    unbroadcast,
)


class CreateGraphError(RuntimeError):
    """An op's backward cannot be recorded, so ``create_graph`` cannot differentiate it again."""


def refuse(fn: Function, why: str) -> CreateGraphError:
    """The error for ``fn`` whose backward cannot be recorded, saying ``why``."""
    return CreateGraphError(
        f"{type(fn).__name__}: its backward cannot be recorded for create_graph=True ({why}). "
        "Write backward from operators and numpy functions on the saved inputs and output "
        "(docs/engine/higher_order.md), or differentiate only once")


@contextmanager
def recording_backward() -> Iterator[None]:
    """Grad mode on, and numpy calls on tensors dispatched to the engine's ops, while a
    recorded backward pass runs."""
    prev = _state.recording_backward
    _state.recording_backward = True
    try:
        with enable_grad():
            yield
    finally:
        _state.recording_backward = prev


def as_graph_tensor(value: Any) -> Tensor:
    """A root or upstream gradient as a tensor of the recorded pass (kept as it is if it is one)."""
    return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))


class RecordedBackward(_Backward):
    """One recorded backward pass: ``_Backward``'s loop with tensors in place of arrays.

    Gradients are summed out of place (each sum a node), lazy gradient forms are made dense
    by recorded ops, hooks see and return tensors, and leaves' ``.grad`` become the recorded
    tensors (summed out of place into an existing ``.grad``, as PyTorch's).
    """

    def __init__(self, roots: Sequence[Tensor], root_grads: Sequence[Tensor],
                 inputs: Sequence[Tensor] | None, retain_graph: bool) -> None:
        self.totals: dict[Any, Tensor] = {}
        self.lazy: dict[Any, list[LazyGrad]] = {}
        super().__init__(roots, root_grads, inputs, retain_graph)

    def send(self, target: Function | Tensor, grad: Any) -> None:
        if isinstance(target, Tensor):
            self.leaves[id(target)] = target
            key: Any = id(target)
        else:
            key = target
        if isinstance(grad, LazyGrad):  # kept, and summed by kind when the total is taken
            self.lazy.setdefault(key, []).append(grad)
            return
        seen = self.totals.get(key)
        self.totals[key] = grad if seen is None else seen + grad

    def total(self, key: Any) -> Tensor | None:
        """Everything sent to ``key``, summed: lazy forms of one kind in one go (every step's
        weight gradient in one recorded matmul, as the first-order pass does)."""
        grad = self.totals.pop(key, None)
        parts = self.lazy.pop(key, None)
        for kind in {type(p): None for p in parts or ()}:
            summed = kind.record_all([p for p in parts if type(p) is kind])
            grad = summed if grad is None else grad + summed
        return grad

    def arrived(self, fn: Function) -> Tensor | None:
        grad = self.total(fn)
        if grad is None:
            return None
        if fn.hooks:
            grad = run_hooks(fn.hooks, grad)
        if fn.retained is not None and (t := fn.retained()) is not None:
            t._grad = grad
        if self.observer is not None:
            self.observer.backward(fn, grad.array)
        for i in self.wanted.get(id(fn), ()):
            self.found[i] = grad
        return grad

    def step(self, fn: Function, grad: Tensor) -> None:
        if fn.saved_at < versions.clock and fn.saved:
            _check_saved(fn)
        parents = fn.parents
        in_grads = call_recorded(fn, grad)
        if type(in_grads) is not tuple or len(in_grads) != len(parents):
            in_grads = _as_tuple(in_grads, len(parents), fn)
        if not self.retain_graph and fn.saved:
            fn.saved = _FREED
        for i, (parent, g) in enumerate(zip(parents, in_grads)):
            if parent is None or g is None:
                continue
            g = conform(g, fn, i)
            if self.checked and isinstance(g, LazyGrad):  # the checks read every value
                g = g.recorded()
            if self.anomaly:
                _check_backward_finite(g.array, fn, i)
            if self.observer is not None:
                self.observer.edge(fn, i, parent, g.array)
            self.send(parent, g)

    def finish_leaves(self) -> None:
        for key, leaf in self.leaves.items():
            grad = run_hooks(leaf._hooks, self.total(key))
            if self.observer is not None:
                self.observer.leaf(leaf, grad.array)
            if not self.returning:
                accumulate(leaf, grad)
            for i in self.wanted.get(key, ()):
                self.found[i] = grad


def accumulate(leaf: Tensor, grad: Tensor) -> None:
    """``grad`` into ``leaf.grad``: the recorded tensor itself, or added out of place."""
    if grad.requires_grad:
        warnings.warn(CYCLE_WARNING, UserWarning, stacklevel=4)
    if grad.dtype != leaf.dtype:
        grad = grad.to(leaf.dtype)
    leaf._grad = grad if leaf._grad is None else leaf._grad + grad


#: PyTorch's warning, word for word: ``.grad`` holds a graph that holds the leaf.
CYCLE_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the "
    "parameter and its gradient which can cause a memory leak. We recommend using "
    "autograd.grad when creating the graph to avoid this. If you have to use this function, "
    "make sure to reset the .grad fields of your parameters to None after use to break the "
    "cycle and avoid the leak.")


def call_recorded(fn: Function, grad: Tensor) -> Any:
    """``fn.backward(grad)`` with what ``fn`` saved (and keeps on ``self``) as graph tensors,
    its nodes tagged with ``fn``'s scope (the backward ops of step t carry step t's tags)."""
    if fn.refuses_create_graph:
        raise CreateGraphError(fn.refuses_create_graph)
    saved, attributes = fn.saved, vars(fn)
    if saved is _FREED:
        fn.saved_tensors  # noqa: B018 - raises the 'backward a second time' error
    kept = {k: v for k, v in attributes.items() if _holds_float_array(v)}
    prev_scope = _state.scope
    try:
        fn.saved = joined(fn, saved)
        attributes.update((k, joined(fn, v)) for k, v in kept.items())
        _state.scope = fn.scope
        return fn.backward(grad)
    except CreateGraphError:
        raise
    except (TypeError, AttributeError, RuntimeError) as err:
        raise refuse(fn, str(err)) from err
    finally:
        _state.scope = prev_scope
        fn.saved = saved
        attributes.update(kept)


def _holds_float_array(value: Any) -> bool:
    """Whether ``value`` is, or holds in a tuple, list or dict, a floating point array."""
    if type(value) is np.ndarray:
        return value.dtype.kind in "fc"
    if isinstance(value, (tuple, list)):
        return any(_holds_float_array(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_float_array(v) for v in value.values())
    return False


def joined(fn: Function, value: Any) -> Any:
    """A value ``fn`` saved, as the recorded pass sees it: a floating point array that was an
    input (or the output) becomes that tensor, joined to the graph, also inside tuples, lists
    and dicts; other values stay. Any other floating point array is refused: the recorded
    gradient would treat it as a constant of the inputs it was computed from."""
    if isinstance(value, (tuple, list)):
        return type(value)(joined(fn, v) for v in value)
    if isinstance(value, dict):
        return {k: joined(fn, v) for k, v in value.items()}
    if type(value) is not np.ndarray or value.dtype.kind not in "fc":
        return value
    key = id(value)
    if key == fn.out_id:
        return _node_output(value, fn)
    for parent, meta in zip(fn.parents, fn.in_meta):
        if meta is not None and meta[2] == key:
            if parent is None:  # an input that needs no gradient: a constant
                return Tensor._wrap(value)
            if value.dtype != meta[1]:  # promoted before forward: the input, then the cast
                return _node_output(value.astype(meta[1]), parent).to(value.dtype)
            return _node_output(value, parent)
    raise refuse(fn, f"it saved an array of shape {value.shape} that is neither an input nor "
                     "the output, so the graph cannot reach it")


def _node_output(array: np.ndarray, node: Function | Tensor) -> Tensor:
    """``array`` as the output of ``node``, a tensor joined to the graph there."""
    if isinstance(node, Tensor):  # a leaf: itself, or its value before ``.data`` was reassigned
        if node.array is array:
            return node
        return node + (Tensor._wrap(array) - node).detach()
    out = Tensor._wrap(array)
    out.requires_grad, out.grad_fn = True, node
    return out


def conform(grad: Any, fn: Function, index: int) -> Any:
    """An op's recorded gradient for input ``index``, in that input's shape and dtype (a lazy
    form stays lazy: it has the input's shape already)."""
    shape, dtype, _ = fn.in_meta[index]
    if isinstance(grad, LazyGrad):
        if grad.shape != shape:
            raise _shape_error(grad, shape, fn, index)
        return grad if grad.dtype == dtype else grad.recorded().to(dtype)
    if not isinstance(grad, Tensor):
        grad = Tensor._wrap(np.asarray(grad))
    grad = unbroadcast(grad, shape, fn, index)
    return grad if grad.dtype == dtype else grad.to(dtype)


def run_hooks(hooks: list | None, grad: Tensor) -> Tensor:
    """``grad`` after each hook in turn (the tensor a hook returns, recorded, replaces it)."""
    for hook in hooks or ():
        changed = hook_result(hook, hook(grad), grad)
        if changed is not None:
            grad = changed
    return grad
