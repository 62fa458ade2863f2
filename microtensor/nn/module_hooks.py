"""What ``Module.__call__`` runs for a module with hooks: forward pre-hooks, forward hooks
and full backward (pre-)hooks, in PyTorch's order and with its return-value rules.

A full backward hook needs, at once, the gradients w.r.t. all of a module's tensor inputs
and all of its tensor outputs. PyTorch routes them through one identity node with several
outputs (``BackwardHookFunction``); an engine ``Function`` has one output, so here the
tensors are *bundled*: ``Bundle`` joins them into one flat array and each tensor the
module sees (or returns) is a ``Piece`` of it, a copy with its own shape and dtype. The
engine's topological order makes the bundle's total gradient arrive after every piece has
sent its part, and a tensor hook on the bundle (``register_hook``) sees it: that is where
the backward hook runs, and what it returns replaces the gradient that flows on.

The gradients are split and joined with tensor ops, and ``Bundle`` and ``Piece`` write
their backwards with functions that record, so in a ``create_graph`` pass the hooks see
recorded gradients (``requires_grad``, as PyTorch's) and what they return stays
differentiable.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..creation import zeros
from ..errors import DtypeError, ShapeError
from ..functions import cat
from ..lazy import SparseGrad
from ..tensor import Tensor


class HookRecord:
    """One registered module hook: the function and how it is called. The handle removes
    this record by identity, so a function registered twice has two."""

    __slots__ = ("fn", "with_kwargs", "always_call")

    def __init__(self, fn: Any, with_kwargs: bool = False, always_call: bool = False) -> None:
        self.fn, self.with_kwargs, self.always_call = fn, with_kwargs, always_call


class Bundle(Function):
    """Tensors of any shapes and floating dtypes, raveled side by side in their common dtype;
    backward hands each its part back, in its own shape and dtype, except to the tensors
    whose positions are in ``dropped`` (a set a hook fills: they get no gradient at all).

    >>> import microtensor as mt
    >>> Bundle.apply(mt.ones(2, requires_grad=True), mt.zeros(1, 1)).tolist()
    [1.0, 1.0, 0.0]
    """

    def forward(self, *arrays: np.ndarray, dropped: set | None = None) -> np.ndarray:
        self.metas = [(a.shape, a.dtype) for a in arrays]
        self.dropped = set() if dropped is None else dropped  # the hook's set, filled later
        return np.concatenate([a.ravel() for a in arrays]).astype(np.result_type(*arrays))

    def backward(self, grad: np.ndarray) -> tuple:
        grads, start = [], 0
        for k, (shape, dtype) in enumerate(self.metas):
            size = int(np.prod(shape))
            grads.append(None if k in self.dropped
                         else np.astype(grad[start:start + size].reshape(shape), dtype))
            start += size
        return tuple(grads)


class Piece(Function):
    """``flat[start:start + size]`` as a new array of ``shape`` and ``dtype``; its backward
    tells ``reached`` (a list of flags) that gradient came through piece ``index``.

    >>> import numpy as np, microtensor as mt
    >>> Piece.apply(mt.arange(4.0), start=1, shape=(1, 2), dtype=np.float32).tolist()
    [[1.0, 2.0]]
    """

    def forward(self, flat: np.ndarray, start: int, shape: tuple, dtype: Any,
                reached: list | None = None, index: int = 0) -> np.ndarray:
        self.start, self.size = start, int(np.prod(shape))
        self.reached, self.index = reached, index
        return flat[start:start + self.size].reshape(shape).astype(dtype)

    def backward(self, grad: np.ndarray) -> SparseGrad:
        if self.reached is not None:
            self.reached[self.index] = True
        flat_shape = self.in_meta[0][0]
        return SparseGrad(flat_shape, slice(self.start, self.start + self.size),
                          grad.reshape(-1), False)


def _bundle(values: tuple, dropped: set | None, reached: list | None = None
            ) -> tuple[tuple, Tensor | None, list]:
    """``values`` with each top-level tensor that requires grad replaced by its piece of one
    bundle (PyTorch looks no deeper: the tensors inside a nested tuple are not hooked), the
    bundle (None if no tensor requires grad or grad mode is off) and those tensors'
    positions."""
    positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not positions or not is_grad_enabled():
        return values, None, []
    flat = Bundle.apply(*(values[i] for i in positions), dropped=dropped)
    out, start = list(values), 0
    for k, i in enumerate(positions):
        tensor = values[i]
        piece = Piece.apply(flat, start=start, shape=tensor.shape, dtype=tensor.dtype,
                            reached=reached, index=k)
        if tensor.name is not None:
            piece.name = tensor.name
        out[i] = piece
        start += tensor.numel()
    return tuple(out), flat, positions


def _check_replacement(module: Any, kind: str, index: int, new: Any, like: Tensor) -> None:
    """A hook's replacement gradient must be a tensor of the gradient's shape and dtype."""
    where = f"{type(module).__name__}: gradient {index} returned by a backward {kind}"
    if not isinstance(new, Tensor):
        raise TypeError(f"{where} is a {type(new).__name__}; a tensor or None is expected")
    if new.shape != like.shape:
        raise ShapeError(f"{where} has shape {new.shape}, the gradient has shape {like.shape}; "
                         "a hook may change a gradient's values, not its size")
    if new.dtype != like.dtype:
        raise DtypeError(f"{where} has changed the type of value (was {like.dtype} got "
                         f"{new.dtype})")


class BackwardHook:
    """One call's full backward hooks (PyTorch's ``torch.utils.hooks.BackwardHook``): the
    hooks as they were when the module ran, the gradients w.r.t. its outputs once they
    arrive, and the hook that reports them with the gradients w.r.t. its inputs."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: tuple | None = None
        self.inputs: tuple = ()
        self.input_positions: list[int] | None = None
        self.inputs_dropped: set[int] = set()  # bundle positions a hook gave None

    def setup_inputs(self, args: tuple) -> tuple:
        args, flat, positions = _bundle(args, self.inputs_dropped)
        self.inputs = args
        if flat is not None:
            self.input_positions = positions
            flat.register_hook(self._input_hook)
        return args

    def setup_outputs(self, result: Any) -> Any:
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        reached = [False] * len(outputs)
        outputs, flat, positions = _bundle(outputs, None, reached)
        if flat is not None:
            flat.register_hook(lambda grad: self._output_hook(grad, outputs, positions, reached))
        return outputs[0] if single else outputs

    def _output_hook(self, grad: Tensor, outputs: tuple, positions: list[int],
                     reached: list) -> Tensor:
        parts = _split(grad, [outputs[i] for i in positions])
        found: list[Any] = [None] * len(outputs)
        for k, i in enumerate(positions):  # an output no gradient reached has None, as PyTorch
            found[i] = parts[k] if reached[k] else None
            reached[k] = False  # ready for another backward through the same graph
        self.grad_outputs = tuple(found)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(new)}, but expected {len(self.grad_outputs)}")
            self.grad_outputs = tuple(new)
        grad_outputs = self.grad_outputs
        if self.input_positions is None:  # no input needs a gradient: report now, as PyTorch
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients.", stacklevel=2)
            self._report(tuple([None] * len(self.inputs)), self.grad_outputs, strict=True)
            self.grad_outputs = None
        return self._join(grad, grad_outputs, outputs, positions, "pre-hook", None)

    def _input_hook(self, grad: Tensor) -> Tensor | None:
        if self.grad_outputs is None:  # the gradient reached the inputs without the outputs
            return None
        positions = self.input_positions
        parts = _split(grad, [self.inputs[i] for i in positions])
        grad_inputs: list[Any] = [None] * len(self.inputs)
        for i, value in enumerate(self.inputs):
            if isinstance(value, Tensor):  # PyTorch gives zeros to an input with no gradient
                grad_inputs[i] = Tensor._wrap(np.zeros(value.shape, value.dtype))
        for k, i in enumerate(positions):
            grad_inputs[i] = parts[k]
        reported = self._report(tuple(grad_inputs), self.grad_outputs, strict=False)
        self.grad_outputs = None
        return self._join(grad, reported, self.inputs, positions, "hook", self.inputs_dropped)

    def _report(self, grad_inputs: tuple, grad_outputs: tuple, strict: bool) -> tuple:
        """Call each hook with ``(module, grad_input, grad_output)``; a returned sequence
        replaces ``grad_input`` for the hooks after it and for the gradient that flows on."""
        for hook in self.hooks:
            new = hook(self.module, grad_inputs, grad_outputs)
            if new is None:
                continue
            if strict:
                if not (isinstance(new, tuple) and all(g is None for g in new)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
                continue
            if len(new) != len(grad_inputs):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(new)}, but expected {len(grad_inputs)}")
            grad_inputs = tuple(new)
        return grad_inputs

    def _join(self, flat: Tensor, grads: Sequence, values: tuple, positions: list[int],
              kind: str, dropped: set | None) -> Tensor:
        """The bundle's gradient made of ``grads`` at ``positions``. A None there is zeros
        (what PyTorch's identity node passes on for a grad_output of None); with ``dropped``
        (the inputs' side), its bundle position goes there too, so that input gets no
        gradient at all, as PyTorch's does for a grad_input of None."""
        pieces = []
        if dropped is not None:
            dropped.clear()
        for k, i in enumerate(positions):
            if grads[i] is None:
                pieces.append(zeros(values[i].numel(), dtype=flat.dtype))
                if dropped is not None:
                    dropped.add(k)
            else:
                _check_replacement(self.module, kind, i, grads[i], values[i])
                pieces.append(grads[i].reshape(-1).to(flat.dtype))
        return cat(pieces)


def _split(flat: Tensor, tensors: list[Tensor]) -> list[Tensor]:
    """The parts of a bundle's gradient, each a new tensor in its tensor's shape and dtype
    (tensor ops: recorded in a ``create_graph`` pass)."""
    parts, start = [], 0
    for tensor in tensors:
        size = tensor.numel()
        parts.append(flat[start:start + size].reshape(tensor.shape).to(tensor.dtype, copy=True))
        start += size
    return parts


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks, as PyTorch's ``Module._call_impl``: forward
    pre-hooks (which may replace the arguments), the backward hooks' input side, ``forward``,
    forward hooks (which may replace the result), the backward hooks' output side. If anything
    raises, the forward hooks registered with ``always_call=True`` that have not run yet run
    (their own errors become warnings) and the error propagates."""
    result, called = None, set()
    try:
        for record in tuple(module._forward_pre_hooks):
            if record.with_kwargs:
                changed = record.fn(module, args, kwargs)
                if changed is not None:
                    if not (isinstance(changed, tuple) and len(changed) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {changed}.")
                    args, kwargs = changed
            else:
                changed = record.fn(module, args)
                if changed is not None:
                    args = changed if isinstance(changed, tuple) else (changed,)
        backward = None
        if module._backward_hooks or module._backward_pre_hooks:
            backward = BackwardHook(module, [r.fn for r in module._backward_hooks],
                                    [r.fn for r in module._backward_pre_hooks])
            args = backward.setup_inputs(tuple(args))
        result = module.forward(*args, **kwargs)
        for record in tuple(module._forward_hooks):
            called.add(id(record))
            changed = (record.fn(module, args, kwargs, result) if record.with_kwargs
                       else record.fn(module, args, result))
            if changed is not None:
                result = changed
        if backward is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a Tensor "
                              f"or a tuple of Tensors but received {type(result)}", stacklevel=3)
            result = backward.setup_outputs(result)
        return result
    except Exception:
        for record in tuple(module._forward_hooks):
            if record.always_call and id(record) not in called:
                try:
                    changed = (record.fn(module, args, kwargs, result) if record.with_kwargs
                               else record.fn(module, args, result))
                    if changed is not None:
                        result = changed
                except Exception as err:  # noqa: BLE001 - the forward's error goes on, as PyTorch
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised in "
                                  f"forward: {err}", stacklevel=3)
        raise
