"""In-place writes and views: PyTorch's rule, stated once.

**Memory.** A view (``x[0]``, ``x[1:]``, ``x.T``, ``reshape`` when no copy is needed,
``expand``) shares its base's memory, and so its version; so does ``detach()``, which is
cut off from the graph and so is a plain tensor, not a ``View``. An in-place op
(``add_``, ``mul_``, ``fill_``, ``zero_``, ``copy_``, ``t[i] = v``, ``+=``) always writes
that memory, so the base and every view see the new values, with or without grad mode.
Each write bumps the memory's version (``versions.py``); a backward that needs a value
saved before the write then raises instead of computing a wrong gradient (exactly when
PyTorch does: ops save what PyTorch's save).

**Graph.** While the graph is recorded, the op is computed out of place on the tensor's
old value and the result written into memory; then the written tensor's ``grad_fn`` is
moved onto the result. A write through a view also rebases the *base*: its new node
(``CopySlices``, PyTorch's name) sends the gradient of the written region to the
op and the rest to the base's old node, so gradients flow to what was written and not
to what was overwritten. Other views of that base regenerate their ``grad_fn`` from the
new base the next time they are used (``refresh``), as PyTorch's views do; so do views
whose memory was written in place (under ``no_grad`` too) since their graph was made, while
their base requires grad.

A leaf that requires grad (and any view of one) may be written only under ``no_grad``.

One deliberate difference: the pieces of ``split``/``chunk`` are ordinary views here and may
be written in place; PyTorch refuses writes to views that one op returned several of.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import versions
from .autograd import Function, _state, no_grad
from .dims import broadcasts_to
from .dtypes import can_cast
from .errors import DtypeError, ShapeError
from .tensor import Tensor


def view_of(array: np.ndarray, source: Tensor, op: type, options: dict) -> View:
    """The output of view op ``op`` (with ``options``) on ``source``: a ``View`` of its memory."""
    # Tensor._wrap's fields, set through the slots: View's properties would cost a call each.
    view = object.__new__(View)
    view.array, view._grad, view._name, view._hooks = array, None, None, None
    _GRAD_FN.__set__(view, None)
    _REQUIRES_GRAD.__set__(view, False)
    parent = source if isinstance(source, View) else None
    view.base = source if parent is None else parent.base
    view.parent, view.op, view.options = parent, op, options
    view.base_fn, view.made_at = view.base.grad_fn, versions.clock
    return view


def refresh(view: View) -> None:
    """Rebuild a view's ``grad_fn`` from its base if its graph is older than the base's:
    the base's graph was changed by an in-place write (through the base or another view), or
    its memory was written in place since, while the base requires grad. PyTorch rebuilds its
    views on both; in the second case a view made before its leaf base required grad, a leaf
    of its own until then (its gradient stopping there), joins the graph."""
    base = view.base
    if _state.grad_enabled and (base.grad_fn is not view.base_fn or base.requires_grad
                                and versions.written_since(base.array, view.made_at)):
        _rebuild(view)


def _rebuild(view: View) -> None:
    """The view's ``grad_fn`` made anew by applying its view ops to the base."""
    base = view.base
    reshaped = reshaped_at.get(id(base))
    if reshaped and reshaped[0]() is base and reshaped[1] > view.made_at:  # steps from the old shape
        raise RuntimeError("a view made before its base took a new shape in place (unsqueeze_, "
                           "squeeze_, t_, transpose_) cannot follow the base's graph; take the "
                           "view again after the shape change")
    own_leaf = _get_grad_fn(view) is None and _get_requires_grad(view)  # requires_grad_()'d
    view.base_fn, view.made_at = base.grad_fn, versions.clock
    fresh = base
    for op, options in view.steps():
        fresh = op.apply(fresh, **options)
    _GRAD_FN.__set__(view, fresh.grad_fn)
    _REQUIRES_GRAD.__set__(view, fresh.requires_grad)
    if fresh.grad_fn is not None:
        fresh.grad_fn.name = view._name
        if own_leaf:  # its gradient has nowhere to go now: PyTorch's backward refuses
            fresh.grad_fn.hooks = [_moved_leaf]


def _moved_leaf(grad: Tensor) -> None:
    raise RuntimeError("leaf variable has been moved into the graph interior: a view made a "
                       "leaf with requires_grad_() was rebuilt from its base, which an "
                       "in-place write recorded in the graph since; clone() the view first")


#: When a tensor that is not a view last took a new shape in place (``unsqueeze_``, ``t_``...,
#: in composed/shape.py): the views made of it before then cannot be rebuilt from it.
#: By id: (a weak reference to the tensor, the clock then).
reshaped_at: dict[int, tuple[weakref.ref, int]] = {}


def note_reshaped(tensor: Tensor) -> None:
    """Record that ``tensor`` (not a view) took a new shape in place just now."""
    key = id(tensor)
    reshaped_at[key] = (weakref.ref(tensor, lambda _: reshaped_at.pop(key, None)), versions.clock)

# The plain attributes underneath View's properties.
_GRAD_FN, _REQUIRES_GRAD = Tensor.__dict__["grad_fn"], Tensor.__dict__["requires_grad"]
_get_grad_fn, _get_requires_grad = _GRAD_FN.__get__, _REQUIRES_GRAD.__get__


class View(Tensor):
    """A tensor that aliases another's memory, and how it was made: its ``base`` (never itself
    a view), the view op and options that made it from its ``parent`` view (None when made
    from the base directly), and the base's ``grad_fn`` and the write clock when its own was
    made (``base_fn``, ``made_at``).

    Reading ``grad_fn`` or ``requires_grad`` first takes in any in-place write made through
    the base or another view since (``refresh``), as PyTorch's views do. Tensors that are not
    views pay nothing for this, and views one comparison each until something is written.
    """

    __slots__ = ("base", "parent", "op", "options", "base_fn", "made_at")

    def steps(self) -> list[tuple[type, dict]]:
        """The view ops from the base to this view, first to last."""
        steps, link = [], self
        while link is not None:
            steps.append((link.op, link.options))
            link = link.parent
        return steps[::-1]

    @property
    def grad_fn(self) -> Function | None:
        # Checked here first, as it is read on every op: the clock moves only on writes.
        if self.base.grad_fn is not self.base_fn or versions.clock > self.made_at:
            refresh(self)
        return _get_grad_fn(self)

    @grad_fn.setter
    def grad_fn(self, fn: Function | None) -> None:
        _GRAD_FN.__set__(self, fn)

    @property
    def requires_grad(self) -> bool:
        base = self.base
        if base.grad_fn is not self.base_fn or versions.clock > self.made_at:
            refresh(self)
        if _get_requires_grad(self):
            return True
        # A leaf base that came to require grad after the view was made: PyTorch then makes
        # the view a leaf that requires grad itself (its gradient stops there).
        return base.grad_fn is None and base.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        _REQUIRES_GRAD.__set__(self, value)


def modify(tensor: Tensor, op: str, compute: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
    """The one path of every in-place method: ``compute(old)`` is the op out of place; its
    result is written into ``tensor``'s memory and, when recorded, into the graph."""
    view = tensor if isinstance(tensor, View) else None
    recording = _state.grad_enabled and (
        tensor.requires_grad or any(getattr(o, "requires_grad", False) for o in others))
    if recording:
        refuse_leaf(tensor, op)
        result = compute(_old_value(tensor))
    else:
        if _state.grad_enabled and view is not None and view.base.requires_grad:
            raise RuntimeError(
                f"{op}: this view of a tensor that requires grad was made under no_grad, so "
                "the graph cannot follow a write through it; make the view with grad enabled "
                "or write inside `with mt.no_grad():`")
        with no_grad():
            result = compute(tensor)
    _write(tensor, result, op)
    if recording:
        if view is None:
            move_node(tensor, result.grad_fn)
        else:
            written = CopySlices.apply(view.base, result, steps=view.steps())
            move_node(view.base, written.grad_fn)
    return tensor


def _old_value(tensor: Tensor) -> Tensor:
    """A copy of ``tensor``'s value before the write, standing for it in the graph (same node),
    so the out-of-place op saves values that the write will not change."""
    old = Tensor._wrap(tensor.array.copy())
    old.grad_fn, old.requires_grad = tensor.grad_fn, tensor.requires_grad
    return old


def refuse_leaf(tensor: Tensor, op: str) -> None:
    """Refuse ``op`` on a leaf that requires grad, or on a view of one, while recording."""
    base = tensor.base if isinstance(tensor, View) else tensor
    # A view may be a leaf that requires grad itself (requires_grad_() on a view of a tensor
    # that did not): PyTorch refuses writes to it as to a view of a leaf.
    if base.grad_fn is None and base.requires_grad or (
            tensor.grad_fn is None and tensor.requires_grad):
        what = "a leaf tensor" if base is tensor else "a view of a leaf tensor"
        raise RuntimeError(
            f"{op}: {what} that requires grad cannot be modified in place while the graph is "
            "recorded; do it inside `with mt.no_grad():` (as optimizers do)")


def _write(tensor: Tensor, result: Tensor, op: str) -> None:
    """Copy ``result`` into ``tensor``'s memory (PyTorch's casting rule) and bump the version."""
    if not can_cast(result.dtype, tensor.dtype):
        raise DtypeError(f"{op}: result type {result.dtype} can't be cast to the desired output "
                        f"type {tensor.dtype}")
    if not broadcasts_to(result.shape, tensor.shape):
        raise ShapeError(f"{op}: the result has shape {result.shape} but the tensor being "
                         f"modified in place has shape {tensor.shape}")
    if not tensor.array.flags.writeable:
        raise RuntimeError(f"{op}: this tensor cannot be written in place (an expand()ed view, "
                           "where several elements share one memory location, or read-only "
                           "memory); clone() it first")
    np.copyto(tensor.array, result.array, casting="unsafe")
    versions.record_write(tensor.array)


def move_node(tensor: Tensor, fn: Function | None) -> None:
    """Make ``fn`` the node that produced ``tensor``, carrying over its name and retain_grad()."""
    old = tensor.grad_fn
    tensor.grad_fn, tensor.requires_grad = fn, True
    if fn is None:
        return
    fn.name = tensor._name
    if old is not None and old.retained is not None and old.retained() is tensor:
        fn.retained, old.retained = old.retained, None  # .grad is of the tensor's newest value


def view_array(array: np.ndarray | Tensor, steps: list[tuple[type, dict]]) -> Any:
    """The view of ``array`` that ``steps`` make: each op's own forward on an array, the op
    itself on a tensor (a recorded backward pass, where the view's writes are recorded)."""
    if isinstance(array, Tensor):
        for op, options in steps:
            array = op.apply(array, **options)
        return array
    for op, options in steps:
        array = op().forward(array, **options)
    return array


class CopySlices(Function):
    """The base after a write through one of its views (the write itself is done already).

    Its gradient for the view's region goes to the written value; for the rest of the
    base, to the base's previous node.
    """

    def forward(self, base, value, steps):
        self.steps = steps
        return base

    def backward(self, grad):
        grad_base = np.copy(grad)
        view_array(grad_base, self.steps)[...] = 0
        return grad_base, view_array(grad, self.steps)
