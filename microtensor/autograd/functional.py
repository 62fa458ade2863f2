"""PyTorch's ``torch.autograd.functional``: derivatives of a whole function at a point, computed
with ``grad`` (and ``create_graph`` for second derivatives): ``vjp``, ``jvp``, ``jacobian``,
``hessian``, ``hvp`` and ``vhp``.

Each takes ``func`` and ``inputs``, a tensor or a tuple of tensors, and answers in the same
form: a single tensor in, a single tensor out; a tuple in, a tuple out (``jacobian`` nests one
tuple per output in one per input, ``hessian`` one per input in one per input). ``func`` is
called on fresh tensors (detached from ``inputs``, or views of them when ``create_graph``
keeps the result differentiable), so a tensor ``func`` captures from outside is not mistaken
for an input. Where an output does not depend on an input, the answer is zeros, or with
``strict=True`` PyTorch's error; ``strict`` also refuses, with ``create_graph=True``, a
derivative that is constant in the inputs (it would silently have no gradient).

``jvp`` and ``hvp`` use the double backward trick, as PyTorch's: the backward pass is linear in
its upstream gradient ``u``, so differentiating ``u -> J^T u`` with respect to ``u`` gives
``J v``. PyTorch's ``vectorize=True`` (vmap) and forward-mode strategies are not available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import zeros, zeros_like
from ..functions import stack
from ..tensor import Tensor
from . import enable_grad, grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Tensors = Tensor | tuple[Tensor, ...]
#: What ``jacobian`` and ``hessian`` return: a tensor, a tuple, or a tuple of tuples.
Jacobian = Tensor | tuple[Tensor, ...] | tuple[tuple[Tensor, ...], ...]
Grads = tuple[Tensor | None, ...]


# ---------------------------------------------------------------------- the forms of arguments
def _as_tuple(value: Any, what: str, fn_name: str) -> tuple[bool, tuple[Tensor, ...]]:
    """Whether ``value`` was a tuple, and ``value`` as a tuple of tensors (PyTorch's check: a
    list is neither a tensor nor a tuple)."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, element in enumerate(values):
        if not isinstance(element, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple "
                            f"of Tensors but the {where} has type {type(element)}.")
    return is_tuple, values


def _unpack(result: tuple, was_tuple: bool | tuple[bool, bool]) -> Any:
    """``result`` in the form the caller gave: undo ``_as_tuple`` (for ``(outer, inner)``, on
    both levels of a nested tuple)."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            result = tuple(row[0] for row in result)
        return result if outer else result[0]
    return result if was_tuple else result[0]


def _fresh(tensors: tuple[Tensor, ...], create_graph: bool, need_graph: bool
           ) -> tuple[Tensor, ...]:
    """New tensor objects for ``tensors``: with ``create_graph``, a view of each that requires
    grad (gradients flow back to it), else detached (requiring grad if ``need_graph``). Always
    new, so the input given to ``func`` is told apart from the same tensor captured by it."""
    return tuple(t.view(t.shape) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(need_graph) for t in tensors)


def _detached(results: Any, create_graph: bool) -> Any:
    """Results without their history unless ``create_graph`` asked for it (nested tuples too)."""
    if create_graph:
        return results
    if isinstance(results, Tensor):
        return results.detach()
    return tuple(_detached(r, create_graph) for r in results)


def _validate_v(v: tuple[Tensor, ...], other: tuple[Tensor, ...], other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (v_i, other_i) in enumerate(zip(v, other)):
        if v_i.shape != other_i.shape:
            entry = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {other_i.shape} but got "
                               f"{v_i.shape}.")


def _vector(v: Any, like: tuple[Tensor, ...], like_is_tuple: bool, create_graph: bool,
            fn_name: str, none_allowed: str) -> tuple[Tensor, ...] | None:
    """``v`` checked against ``like`` (as fresh tensors), or None where it may be left out:
    ``like`` is one single-element tensor (``none_allowed`` describes it, for the error)."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {none_allowed} "
                               "a single Tensor with a single element.")
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _fresh(v, create_graph, need_graph=False)
    _validate_v(v, like, like_is_tuple)
    return v


def _call(func: Callable, inputs: tuple[Tensor, ...], fn_name: str, strict: bool
          ) -> tuple[bool, tuple[Tensor, ...]]:
    """``func(*inputs)`` as a tuple, with whether it was one; ``strict`` refuses an output
    that does not require grad."""
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require "
                                   "gradients. The outputs must be computed in a differentiable "
                                   "manner from the input when running in strict mode.")
    return is_tuple, outputs


def _scalar_output(outputs: tuple[Tensor, ...], is_tuple: bool, fn_name: str) -> None:
    if is_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")


# ---------------------------------------------------------------------- gradients
def _grad(outputs: Sequence[Tensor | None], inputs: tuple[Tensor, ...],
          grad_outputs: Sequence[Tensor | None] | None = None, create_graph: bool = False,
          retain_graph: bool | None = None) -> Grads:
    """``grad`` over the outputs that require grad (None for an input none of them reach);
    all None, without a backward pass, if no output requires grad."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(out, g) for out, g in zip(outputs, grad_outputs)
            if out is not None and out.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return grad([out for out, _ in kept], inputs, [g for _, g in kept],
                retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _zeros_for_none(grads: Grads, refs: tuple[Tensor, ...], strict: bool, create_graph: bool,
                    stage: str) -> tuple[Tensor, ...]:
    """``grads`` with zeros (shaped as ``refs``) where no gradient came, which ``strict``
    refuses, as it refuses with ``create_graph`` a gradient that does not require grad."""
    filled = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        filled.append(g)
    return tuple(filled)


def _check_first_grads(grads: Grads, strict: bool, what: str) -> None:
    """``strict``'s check of the gradients a double backward differentiates again: each must
    exist and depend on something (``what``: "grad_inputs" or "jacobian")."""
    if not strict:
        return
    for i, g in enumerate(grads):
        if g is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if g.requires_grad:
            continue
        if what == "jacobian":
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).")
        raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                           "inputs of the user-provided function. This is not allowed in "
                           "strict mode.")


# ---------------------------------------------------------------------- the public functions
def vjp(func: Callable[..., Tensors], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensors, Tensors]:
    """``func(inputs)`` and the vector-Jacobian product ``v^T J`` (shaped as the inputs), as
    PyTorch's ``torch.autograd.functional.vjp``. ``v`` is shaped as the outputs; it may be left
    out when ``func`` returns a single element.

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import vjp
    >>> out, (gx, gy) = vjp(lambda x, y: 2 * x + 3 * y, (mt.ones(2), mt.ones(2)), mt.ones(2))
    >>> out.tolist(), gx.tolist(), gy.tolist()
    ([5.0, 5.0], [2.0, 2.0], [3.0, 3.0])
    """
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        outputs_are_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _vector(v, outputs, outputs_are_tuple, create_graph, "vjp",
                    "the user-provided function returns")
        found = _grad(outputs, inputs, v, create_graph=create_graph)
        products = _zeros_for_none(found, inputs, strict, create_graph, "back")
    return (_unpack(_detached(outputs, create_graph), outputs_are_tuple),
            _unpack(_detached(products, create_graph), inputs_are_tuple))


def jvp(func: Callable[..., Tensors], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensors, Tensors]:
    """``func(inputs)`` and the Jacobian-vector product ``J v`` (shaped as the outputs), as
    PyTorch's ``torch.autograd.functional.jvp``, by the double backward trick (two reverse
    passes). ``v`` is shaped as the inputs; it may be left out for a single-element input.

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import jvp
    >>> out, jv = jvp(lambda x, y: 2 * x + 3 * y, (mt.ones(2), mt.ones(2)),
    ...               (mt.ones(2), mt.tensor([1.0, -1.0])))
    >>> jv.tolist()
    [5.0, -1.0]
    """
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, inputs_are_tuple, create_graph, "jvp",
                    "the input to the user-provided function is")
        outputs_are_tuple, outputs = _call(func, inputs, "jvp", strict)
        # The backward pass is linear in its upstream gradient, so the value of that gradient
        # does not reach the result: zeros will do (not inf or nan, which would).
        upstream = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _grad(outputs, inputs, upstream, create_graph=True)
        _check_first_grads(grad_inputs, strict, "grad_inputs")
        found = _grad(grad_inputs, upstream, v, create_graph=create_graph)
        products = _zeros_for_none(found, outputs, strict, create_graph, "back_trick")
    return (_unpack(_detached(outputs, create_graph), outputs_are_tuple),
            _unpack(_detached(products, create_graph), outputs_are_tuple))


_STRATEGIES = ("forward-mode", "reverse-mode")


def _check_flags(inputs: Any, strategy: str, create_graph: bool, strict: bool,
                 vectorize: bool) -> None:
    """PyTorch's errors, in its order, for the strategies and flag combinations it refuses;
    then this library's for ``vectorize=True`` (there is no vmap here)."""
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `strict=False` or `strategy="reverse-mode"`.')
        _as_tuple(inputs, "inputs", "jacobian")
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or "
                                      "forward-over-reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    else:
        _as_tuple(inputs, "inputs", "jacobian")
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
    if vectorize:
        raise NotImplementedError("jacobian: vectorize=True is not supported (microtensor has "
                                  "no vmap); vectorize=False computes the same Jacobian")


def jacobian(func: Callable[..., Tensors], inputs: Tensors, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False, strategy: str = "reverse-mode"
             ) -> Jacobian:
    """The Jacobian of ``func`` at ``inputs``, as PyTorch's
    ``torch.autograd.functional.jacobian``: for output ``i`` and input ``j`` a tensor of shape
    ``outputs[i].shape + inputs[j].shape`` (in the input's dtype), one reverse pass per output
    element. A single tensor when both are single tensors; a tuple when one is a tuple;
    ``jac[i][j]`` when both are.

    ``vectorize=True`` is refused (NotImplementedError: there is no vmap here), and so is
    ``strategy="forward-mode"``, which needs it (with PyTorch's error when it is left out).

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import jacobian
    >>> jacobian(lambda x: x ** 2, mt.tensor([1.0, 3.0])).tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    """
    _check_flags(inputs, strategy, create_graph, strict, vectorize)
    with enable_grad():
        inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        outputs_are_tuple, outputs = _call(func, inputs, "jacobian", strict)
        rows = tuple(_jacobian_of(i, out, inputs, create_graph, strict)
                     for i, out in enumerate(outputs))
    return _unpack(_detached(rows, create_graph), (outputs_are_tuple, inputs_are_tuple))


def _jacobian_of(i: int, out: Tensor, inputs: tuple[Tensor, ...], create_graph: bool,
                 strict: bool) -> tuple[Tensor, ...]:
    """The Jacobians of output ``i`` with respect to each input: one backward pass per element
    of ``out``, each from a one-hot upstream gradient."""
    columns: list[list[Tensor]] = [[] for _ in inputs]
    for k in range(out.numel()):
        # A new one each time: a recorded pass keeps its upstream gradient in the graph.
        one_hot = np.zeros(out.shape, dtype=out.array.dtype)
        one_hot.flat[k] = 1
        found = _grad((out,), inputs, (Tensor._wrap(one_hot),),
                      create_graph=create_graph, retain_graph=True)
        for j, (g, inp) in enumerate(zip(found, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {j}. This is not allowed in "
                                       "strict mode.")
                g = zeros_like(inp)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent "
                                   f"of input {j}. This is not allowed in strict mode when "
                                   "create_graph=True.")
            columns[j].append(g)
    return tuple(stack(col).reshape(out.shape + inp.shape) if col
                 else zeros(out.shape + inp.shape, dtype=inp.dtype)
                 for col, inp in zip(columns, inputs))


def hessian(func: Callable[..., Tensor], inputs: Tensors, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Jacobian:
    """The Hessian of the single-element ``func`` at ``inputs``, as PyTorch's
    ``torch.autograd.functional.hessian``: the Jacobian of its gradient. For one input tensor
    a tensor of shape ``inputs.shape * 2``; for a tuple, ``hess[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape``. ``vectorize=True`` and a forward-mode
    ``outer_jacobian_strategy`` are refused, as in ``jacobian``.

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import hessian
    >>> hessian(lambda x: (x ** 3).sum(), mt.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*inp: Tensor) -> Tensor:
        is_tuple, outputs = _call(func, inp, "hessian", strict)
        _scalar_output(outputs, is_tuple, "hessian")
        return outputs[0].squeeze()

    def gradient(*inp: Tensor) -> tuple[Tensor, ...]:
        found = jacobian(single_output, inp, create_graph=True)
        _check_first_grads(found, strict, "jacobian")
        return found

    found = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                     vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(found, (inputs_are_tuple, inputs_are_tuple))


def _first_gradient(func: Callable[..., Tensor], inputs: Tensors, v: Tensors | None,
                    create_graph: bool, strict: bool, what: str) -> tuple:
    """What ``vhp`` and ``hvp`` start from, checked as PyTorch's: the inputs (as a tuple, and
    whether they were one), ``v``, the single-element output (likewise) and its recorded
    gradient."""
    inputs_are_tuple, inputs = _as_tuple(inputs, "inputs", what)
    inputs = _fresh(inputs, create_graph, need_graph=True)
    v = _vector(v, inputs, inputs_are_tuple, create_graph, what,
                "the input to the user-provided function is")
    outputs_are_tuple, outputs = _call(func, inputs, what, strict)
    _scalar_output(outputs, outputs_are_tuple, what)
    first = _grad(outputs, inputs, create_graph=True)
    _check_first_grads(first, strict, "jacobian")
    return inputs_are_tuple, inputs, v, outputs_are_tuple, outputs, first


def vhp(func: Callable[..., Tensor], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Tensors]:
    """``func(inputs)`` and the vector-Hessian product ``v^T H`` of the single-element
    ``func``, as PyTorch's ``torch.autograd.functional.vhp`` (two reverse passes). ``v`` is
    shaped as the inputs; it may be left out for a single-element input.

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import vhp
    >>> out, vh = vhp(lambda x: (x ** 3).sum(), mt.tensor([1.0, 2.0]), mt.ones(2))
    >>> out.item(), vh.tolist()
    (9.0, [6.0, 12.0])
    """
    with enable_grad():
        inputs_are_tuple, inputs, v, outputs_are_tuple, outputs, first = _first_gradient(
            func, inputs, v, create_graph, strict, "vhp")
        found = _grad(first, inputs, v, create_graph=create_graph)
        products = _zeros_for_none(found, inputs, strict, create_graph, "double_back")
    return (_unpack(_detached(outputs, create_graph), outputs_are_tuple),
            _unpack(_detached(products, create_graph), inputs_are_tuple))


def hvp(func: Callable[..., Tensor], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Tensors]:
    """``func(inputs)`` and the Hessian-vector product ``H v`` of the single-element ``func``,
    as PyTorch's ``torch.autograd.functional.hvp``, by the double backward trick (three reverse
    passes; for a twice continuously differentiable ``func`` it equals ``vhp``, which needs
    two). ``v`` is shaped as the inputs; it may be left out for a single-element input.

    >>> import microtensor as mt
    >>> from microtensor.autograd.functional import hvp
    >>> out, hv = hvp(lambda x, y: (x * x * y).sum(), (mt.tensor([1.0]), mt.tensor([2.0])),
    ...               (mt.ones(1), mt.zeros(1)))
    >>> [t.tolist() for t in hv]  # H = [[2y, 2x], [2x, 0]]
    [[4.0], [2.0]]
    """
    with enable_grad():
        inputs_are_tuple, inputs, v, outputs_are_tuple, outputs, first = _first_gradient(
            func, inputs, v, create_graph, strict, "hvp")
        # As in jvp: the second backward is linear in its upstream gradient; zeros will do.
        upstream = tuple(zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _grad(first, inputs, upstream, create_graph=True)
        found = _grad(double_back, upstream, v, create_graph=create_graph)
        products = _zeros_for_none(found, inputs, strict, create_graph, "double_back_trick")
    return (_unpack(_detached(outputs, create_graph), outputs_are_tuple),
            _unpack(_detached(products, create_graph), inputs_are_tuple))
