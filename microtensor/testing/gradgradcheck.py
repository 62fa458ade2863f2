"""``gradgradcheck``: check second derivatives, by ``gradcheck`` of the backward pass itself.

The backward pass of ``y = fn(x0, x1, ...)`` with upstream gradients ``v`` is itself a
function, ``(x0, x1, ..., v) -> (d<v, y>/dx0, d<v, y>/dx1, ...)``. With
``create_graph=True`` the engine records it, so its own gradient (the second derivative)
comes from differentiating that record; finite differences of the first derivatives'
values give the same numbers independently. ``gradgradcheck`` compares the two with
``gradcheck``, as PyTorch's ``torch.autograd.gradgradcheck`` does.

What it catches that ``gradcheck`` cannot: a backward whose values are right but whose
recorded graph is not, because it computes with a value the graph cannot see (a quantity
kept from the forward pass outside ``save_for_backward``, such as in a dict, or a Python
float). Its first derivative passes ``gradcheck``; its second is off by the missing terms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import enable_grad, grad
from ..autograd.higher_order import CreateGraphError
from ..creation import from_numpy, zeros
from ..dtypes import float64
from ..functions import cat
from ..tensor import Tensor
from .gradcheck import GradcheckError, _check, _op_name, _Wording

#: The random grad_outputs are reproducible, as gradcheck's upstream gradient.
_GRAD_OUTPUTS_SEED = 2


def gradgradcheck(func: Callable[..., Any], inputs: Tensor | Sequence[Any],
                  grad_outputs: Tensor | Sequence[Tensor | None] | None = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Check the second derivatives of ``func`` (PyTorch's ``torch.autograd.gradgradcheck``).

    ``func`` takes ``inputs`` and returns a tensor or a tuple of tensors. ``grad_outputs``
    (one per output that requires grad) default to random float64 tensors in [-1, 1) that
    require grad, reproducible from a fixed seed. The function checked is
    ``(inputs, grad_outputs) -> mt.grad(outputs, inputs, grad_outputs, create_graph=True)``,
    with respect to every input and grad_output that requires grad, by ``gradcheck``
    (same ``eps``, ``atol``, ``rtol``, ``fast_mode``; float64 inputs).

    The other options are PyTorch's. ``gen_non_contig_grad_outputs`` makes the random
    grad_outputs strided views. Accepted and always satisfied here: ``nondet_tol`` (the
    engine's backward is deterministic), ``check_undefined_grad`` (a ``Function`` has one
    output and its backward runs only once that output has a gradient: never undefined),
    ``check_grad_dtypes`` (the engine checks every gradient's dtype), ``masked`` (there
    are no sparse tensors). Refused: ``check_batched_grad`` (no vmap) and
    ``check_fwd_over_rev`` (no forward-mode AD).

    Returns True, or raises ``GradcheckError`` naming ``func`` and the input (or
    grad_output) whose second derivative is wrong, also when the backward pass cannot be
    recorded at all (``CreateGraphError``). Returns False instead when ``raise_exception``
    is False.

    >>> import microtensor as mt
    >>> x = mt.tensor([0.5, -1.0, 2.0], dtype=mt.float64, requires_grad=True)
    >>> gradgradcheck(lambda x: x.tanh() * x, [x])
    True

    A cube whose backward keeps ``x * x`` where the graph cannot see it (as Python numbers; a
    kept array would be refused outright): its gradient is right (``gradcheck`` passes), its
    second derivative misses ``6 x``:

    >>> import numpy as np
    >>> class CachedCube(mt.Function):
    ...     def forward(self, x):
    ...         self.cache = (x * x).tolist()  # numbers: invisible to create_graph
    ...         return x ** 3
    ...     def backward(self, grad):
    ...         return grad * 3 * np.asarray(self.cache)
    >>> gradgradcheck(CachedCube.apply, [x])
    Traceback (most recent call last):
    ...
    microtensor.testing.gradcheck.GradcheckError: gradgradcheck of CachedCube: the second
    derivative with respect to input 0 (shape (3,)) is wrong at element (2,): analytic 0,
    numeric 4.82969; 3 of 3 elements differ, max abs error over this input 4.82969
    (atol=1e-05, rtol=0.001)
    """
    name = _op_name(func)
    _refuse_unsupported(name, check_batched_grad, check_fwd_over_rev, check_rev_over_rev,
                        check_undefined_grad, nondet_tol)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError(f"gradgradcheck of {name}: no input requires grad, so there is nothing "
                         "to check; create the inputs with requires_grad=True")
    try:
        outputs = _differentiable_outputs(name, func(*inputs))
        if grad_outputs is None:
            grad_outputs = [_random_grad_output(out.shape, k, gen_non_contig_grad_outputs)
                            for k, out in enumerate(outputs)]
        else:
            grad_outputs = _given_grad_outputs(name, grad_outputs, outputs)
        wording = _Wording(f"gradgradcheck of {name}", "the second derivative with respect to",
                           _argument_names(len(inputs)))
        first_derivatives = _first_derivatives(func, len(inputs), differentiable)
        arguments = inputs + grad_outputs
        checked = [i for i, x in enumerate(arguments) if isinstance(x, Tensor) and x.requires_grad]
        for i in checked:
            if arguments[i].dtype != float64:
                raise TypeError(f"{wording.check}: {wording.argument(i)} has dtype "
                                f"{arguments[i].dtype}; finite differences need float64, so "
                                "create it with dtype=mt.float64 (or convert with .double())")
        _check(first_derivatives, wording, arguments, checked, eps, atol, rtol, None, fast_mode)
    except CreateGraphError as err:
        failure = GradcheckError(f"gradgradcheck of {name}: the backward pass cannot be recorded "
                                 f"with create_graph=True, so it has no second derivative: {err}")
        if raise_exception:
            raise failure from err
        return False
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _refuse_unsupported(name: str, check_batched_grad: bool, check_fwd_over_rev: bool,
                        check_rev_over_rev: bool, check_undefined_grad: bool,
                        nondet_tol: float) -> None:
    if check_batched_grad:
        raise NotImplementedError(f"gradgradcheck of {name}: check_batched_grad=True needs vmap, "
                                  "which microtensor does not have; leave it False")
    if check_fwd_over_rev:
        raise NotImplementedError(f"gradgradcheck of {name}: check_fwd_over_rev=True needs "
                                  "forward-mode AD, which microtensor does not have; leave it "
                                  "False")
    if not check_rev_over_rev:
        raise ValueError(f"gradgradcheck of {name}: check_rev_over_rev=False leaves nothing to "
                         "check (forward-over-reverse is not supported)")
    if nondet_tol < 0:
        raise ValueError(f"gradgradcheck of {name}: nondet_tol must be >= 0, got {nondet_tol}")


def _argument_names(num_inputs: int) -> Callable[[int], str]:
    """Names for the checked function's arguments: the inputs, then the grad_outputs."""
    def name(index: int) -> str:
        if index < num_inputs:
            return f"input {index}"
        return f"grad_output {index - num_inputs}"
    return name


def _differentiable_outputs(name: str, result: Any) -> list[Tensor]:
    """``func``'s outputs that require grad (PyTorch's rule: the others have no gradient)."""
    results = result if isinstance(result, tuple | list) else (result,)
    for k, out in enumerate(results):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradgradcheck of {name}: func must return a Tensor or a tuple of "
                            f"Tensors, got {type(out).__name__} at output {k}")
    outputs = [out for out in results if out.requires_grad]
    if not outputs:
        raise ValueError(f"gradgradcheck of {name}: no output requires grad, so there is no "
                         "derivative to check")
    return outputs


def _random_grad_output(shape: tuple, index: int, non_contiguous: bool) -> Tensor:
    """Output ``index``'s upstream gradient: uniform in [-1, 1), float64, requiring grad, and
    with ``non_contiguous`` a view of every other element of a wider array."""
    rng = np.random.default_rng([_GRAD_OUTPUTS_SEED, index])
    if non_contiguous and shape:
        wide = rng.uniform(-1.0, 1.0, (*shape[:-1], 2 * shape[-1]))
        return from_numpy(wide[..., ::2]).requires_grad_()
    return from_numpy(np.asarray(rng.uniform(-1.0, 1.0, shape))).requires_grad_()


def _given_grad_outputs(name: str, given: Tensor | Sequence[Tensor | None],
                        outputs: list[Tensor]) -> list[Tensor]:
    given = [given] if isinstance(given, Tensor) else list(given)
    if len(given) != len(outputs):
        raise ValueError(f"gradgradcheck of {name}: {len(given)} grad_outputs for "
                         f"{len(outputs)} outputs that require grad")
    filled = []
    for k, (g, out) in enumerate(zip(given, outputs)):
        if g is None:  # as in mt.grad: an absent upstream gradient is zeros, a constant
            g = zeros(out.shape, dtype=out.dtype)
        if not isinstance(g, Tensor):
            raise TypeError(f"gradgradcheck of {name}: grad_output {k} must be a Tensor or None, "
                            f"got {type(g).__name__}")
        if g.shape != out.shape:
            raise ValueError(f"gradgradcheck of {name}: grad_output {k} has shape {g.shape} but "
                             f"output {k} has shape {out.shape}")
        filled.append(g)
    return filled


def _first_derivatives(func: Callable[..., Any], num_inputs: int,
                       differentiable: list[int]) -> Callable[..., Tensor]:
    """The backward pass as a function of ``(*inputs, *grad_outputs)``: the gradients of
    ``func``'s outputs with respect to its differentiable inputs, recorded, flattened and
    joined into one tensor for ``gradcheck`` (its random upstream gradient over the joined
    vector is one random upstream per gradient). Inputs ``func`` does not use have no
    gradient and are left out, as PyTorch's."""
    def first_derivatives(*arguments: Any) -> Tensor:
        inputs, grad_outputs = arguments[:num_inputs], arguments[num_inputs:]
        # gradcheck's finite differences run under no_grad; the backward pass needs a graph.
        with enable_grad():
            outputs = [out for out in _as_tuple(func(*inputs)) if out.requires_grad]
            found = grad(outputs, [inputs[i] for i in differentiable], list(grad_outputs),
                         create_graph=True, allow_unused=True)
            flat = [g.reshape(-1) for g in found if g is not None]
            return cat(flat) if flat else zeros(0, dtype=float64)
    return first_derivatives


def _as_tuple(result: Any) -> tuple:
    return tuple(result) if isinstance(result, tuple | list) else (result,)
