"""The autograd engine: ``Function`` (one op = forward + backward), grad modes,
anomaly mode, scope tags and observers for tools, and the iterative backward pass.

A graph node *is* the ``Function`` instance that produced a tensor. It keeps
what backward needs and nothing more:

- ``parents``: for each input, the ``Function`` that produced it, the leaf
  ``Tensor`` itself (gradients are accumulated into its ``.grad``), or ``None``
  when no gradient flows there (constants, integer inputs, detached tensors);
- ``saved``: the numpy arrays the op chose to keep, freed after backward;
- ``in_meta``: each input's shape and dtype, so the engine (not the op) can sum
  a broadcast gradient back to the input's shape and dtype, and the id of its array (with
  ``out_id``, the output's): how a backward pass that is itself recorded (``create_graph``)
  finds which saved arrays were inputs or the output (see ``higher_order.py``).

Nodes point only at their inputs, never at their outputs, so a graph holds no
reference cycles and Python's cyclic garbage collector has nothing to chase.

Before ``forward``, the engine brings mixed input dtypes to one (PyTorch's promotion,
the op's ``promote`` rule); after it, the output of a view op is marked as aliasing its
input. How in-place writes through views enter the graph is stated in ``inplace.py``.

**One formula per op, for every order.** An op's ``backward`` is written once, on numpy. A
first-order pass (the loop below) calls it with arrays; a pass with ``create_graph=True``
calls it with tensors joined to the graph, and numpy's functions on them run the engine's ops,
so the gradient is recorded and can be differentiated again (``higher_order.py`` states the
rule and what it refuses).

Besides plain arrays, a backward may return the lazy gradient forms of ``lazy.py``,
which the engine sums more cheaply than arrays: ``SparseGrad`` (nonzero only at an
index: what a slice sends back) and ``OuterGrad`` (``left.T @ right``: what a weight
used at every timestep receives).
"""

from __future__ import annotations

import functools
import gc
import inspect
import math
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import versions
from ..dtypes import get_default_dtype, result_type
from ..errors import DtypeError, ShapeError
from ..lazy import LazyGrad, OuterGrad, SparseGrad
from ..summation import cascaded_sum

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = [
    # ops, grad modes, tags and observers
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "detect_anomaly", "scope", "observe", "collector_paused",
    # gradients, as PyTorch's torch.autograd
    "backward", "grad", "Variable",
    # the lazy forms an op's backward may return
    "LazyGrad", "OuterGrad", "SparseGrad",
    # the backward pass's pieces, which Tensor.backward and the recorded pass call
    "promote", "unbroadcast", "hook_result", "root_gradient", "run_backward",
]


class _State:
    """Process-wide switches, read by every op, so kept as plain attributes."""

    grad_enabled = True
    anomaly = False
    scope: tuple = ()
    observer: Any = None  # see ``observe``; None costs one comparison per op
    recording_backward = False  # a create_graph pass runs: numpy on tensors runs the engine's ops


_state = _State()


# --------------------------------------------------------------------- grad modes
class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager and a decorator, called
    (``@no_grad()``) or bare (``@no_grad``), as PyTorch's."""

    enabled: bool

    def __new__(cls, fn: Callable | None = None) -> Any:
        mode = super().__new__(cls)
        return mode if fn is None else mode(fn)  # bare: decorate fn right away

    def __enter__(self) -> None:
        self._prev = _state.grad_enabled
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev

    def fresh(self) -> _GradMode:
        """A new context manager of this mode, entered each time a decorated function runs."""
        return type(self)()

    def __call__(self, fn: Callable) -> Callable:
        mode = self.fresh
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                return (yield from _in_mode(mode, fn(*args, **kwargs)))

            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return wrapper


def _in_mode(mode: Callable[[], _GradMode], steps: Generator) -> Generator:
    """Drive ``steps`` with ``mode`` on while its own code runs, and only then: between two
    ``yield``s the caller runs in its own mode (PyTorch's rule). ``send``, ``throw`` and
    ``close`` reach the generator inside the mode too."""
    try:
        with mode():
            request = next(steps)
        while True:
            try:
                reply = yield request
            except GeneratorExit:
                with mode():
                    steps.close()
                raise
            except BaseException as err:  # noqa: BLE001 - thrown in by the caller: pass it on
                with mode():
                    request = steps.throw(err)
            else:
                with mode():
                    request = steps.send(reply)
    except StopIteration as stop:  # the generator returned: so does this one, with its value
        return stop.value


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Turn off graph recording, for inference and parameter updates.

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True)
    >>> with mt.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Turn graph recording back on inside a ``no_grad`` block.

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True)
    >>> with mt.no_grad(), mt.enable_grad():
    ...     (w * 2).requires_grad
    True
    """

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Turn graph recording on or off: called as a function, from now on; as a context manager,
    until the block ends; as a decorator, while the function runs (PyTorch's three uses).

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True)
    >>> with mt.set_grad_enabled(False):
    ...     (w * 2).requires_grad
    False
    >>> _ = mt.set_grad_enabled(False); mt.is_grad_enabled()
    False
    >>> _ = mt.set_grad_enabled(True)
    """

    def __new__(cls, mode: bool) -> set_grad_enabled:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.enabled, self._prev = bool(mode), _state.grad_enabled
        _state.grad_enabled = self.enabled  # now, as PyTorch: a plain call sets the mode

    def __enter__(self) -> None:  # the mode was set when this was made
        pass

    def fresh(self) -> _GradMode:
        return type(self)(self.enabled)

    def __call__(self, fn: Callable) -> Callable:
        _state.grad_enabled = self._prev  # as a decorator it sets nothing until fn runs
        return super().__call__(fn)


class inference_mode(_GradMode):  # noqa: N801 - PyTorch's name
    """PyTorch's ``inference_mode``: here ``no_grad``, and ``inference_mode(False)`` is
    ``enable_grad`` (as PyTorch, which turns grad mode on there). PyTorch's inference tensors,
    which refuse later use in autograd, are not modelled: a tensor made inside is ordinary.

    >>> import microtensor as mt
    >>> w = mt.ones(3, requires_grad=True)
    >>> with mt.inference_mode():
    ...     (w * 2).requires_grad
    False
    """

    def __new__(cls, mode: bool | Callable = True) -> Any:
        made = object.__new__(cls)
        if callable(mode):  # bare: @mt.inference_mode
            made.__init__()
            return made(mode)
        return made

    def __init__(self, mode: bool | Callable = True) -> None:
        self.enabled = not mode if isinstance(mode, bool) else False

    def fresh(self) -> _GradMode:
        return type(self)(not self.enabled)


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph.

    >>> import microtensor as mt
    >>> mt.is_grad_enabled()
    True
    """
    return _state.grad_enabled


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first NaN or inf, naming the op (and, in backward, where it was created).

    >>> import microtensor as mt
    >>> x = mt.tensor([0.0], requires_grad=True)
    >>> with mt.detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    FloatingPointError: Log produced nan/inf in its forward output (shape (1,))
    """
    prev = _state.anomaly
    _state.anomaly = True
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield
    finally:
        _state.anomaly = prev


class scope:  # noqa: N801 - used like a function, as no_grad
    """Tag every node created inside (layer name, timestep, gate...) for the renderer.

    Costs one attribute store per op; nested scopes add to the outer tags. A
    plain class rather than a generator, since recurrent layers enter several
    per timestep.

    >>> import microtensor as mt
    >>> x = mt.ones(2, requires_grad=True)
    >>> with mt.scope(layer="rnn", t=0):
    ...     y = x.tanh()
    >>> dict(y.grad_fn.scope)
    {'layer': 'rnn', 't': 0}
    """

    __slots__ = ("tags", "prev")

    def __init__(self, **tags: Any) -> None:
        self.tags = tuple(tags.items())

    def __enter__(self) -> None:
        self.prev = _state.scope
        _state.scope = self.prev + self.tags

    def __exit__(self, *exc: object) -> None:
        _state.scope = self.prev


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large graph is built or walked.

    A graph has no reference cycles (nodes point only at their inputs), so the collector
    finds nothing in it; but each full pass rescans every live object, and a long unroll
    adds enough of them to set off pass after pass. Recurrent layers unroll, and every
    backward pass runs, inside this. The collector's state is restored on exit, errors
    included; garbage made meanwhile waits for the next pass.

    >>> import gc, microtensor as mt
    >>> with mt.autograd.collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def observe(observer: Any) -> Iterator[Any]:
    """Let ``observer`` watch every recorded op and every gradient, for tools such as the
    graph renderer. It may define any of:

    - ``forward(fn, output)``: a node was recorded (``output`` is its tensor);
    - ``backward(fn, grad)``: the gradient w.r.t. ``fn``'s output is complete (in visit order);
    - ``edge(fn, index, parent, grad)``: ``fn`` sends ``grad`` to its input ``index``: an
      array, or a lazy gradient as the engine holds it (``microtensor.lazy.LazyGrad``, with
      ``shape``, ``norm()`` and ``dense()``), so that watching a pass costs no full-size arrays;
    - ``leaf(tensor, grad)``: a leaf's total gradient from this backward pass.

    >>> import microtensor as mt
    >>> class Count:
    ...     n = 0
    ...     def forward(self, fn, output): self.n += 1
    >>> x = mt.ones(2, requires_grad=True)
    >>> with mt.observe(Count()) as seen:
    ...     y = (x * 2).tanh()
    >>> seen.n
    2
    """
    prev = _state.observer
    _state.observer = _Observer(observer)
    try:
        yield observer
    finally:
        _state.observer = prev


class _Observer:
    """Fills in the callbacks an observer left out, so the engine can call all four."""

    def __init__(self, target: Any) -> None:
        for hook in ("forward", "backward", "edge", "leaf"):
            setattr(self, hook, getattr(target, hook, _ignore))


def _ignore(*args: Any) -> None:
    pass


def _check_finite(array: np.ndarray, message: str) -> None:
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise FloatingPointError(message)


# ---------------------------------------------------------------------- Function
_FREED = object()  # marks saved values released by a backward pass
_FINISH = object()  # marks, on the topological sort's stack, a node whose inputs are done


class Function:
    """One differentiable op: ``forward`` and ``backward`` on numpy arrays.

    Subclass it, write ``forward(*arrays, **options)`` returning an array and
    ``backward(grad)`` returning one gradient per input (a tuple, or the bare
    array for one input; ``None`` where an input needs none; or one of the lazy
    forms ``SparseGrad`` and ``OuterGrad``). Keep what backward needs with
    ``save_for_backward``; plain options may live on ``self``. The
    engine sums gradients back to broadcast input shapes, accumulates fan-out,
    checks saved inputs were not modified in place, and frees saved arrays.

    >>> import numpy as np, microtensor as mt
    >>> class Softplus(mt.Function):
    ...     def forward(self, x):
    ...         self.save_for_backward(x)
    ...         return np.logaddexp(0, x)
    ...     def backward(self, grad):
    ...         (x,) = self.saved_tensors
    ...         return grad / (1 + np.exp(-x))
    >>> x = mt.tensor([0.0, 1.0], requires_grad=True)
    >>> Softplus.apply(x).sum().backward()
    >>> x.grad.tolist()  # sigmoid(x)
    [0.5, 0.7310585975646973]
    """

    __slots__ = ("parents", "in_meta", "needs_input_grad", "scope", "trace", "out_id", "__dict__")
    # Class-level defaults rather than a store per op (and no __init__ to call).
    saved: Any = ()  # what save_for_backward kept; _FREED after a backward
    saved_at = 0  # the write clock when they were saved (see ``versions.py``)
    hooks: list | None = None  # tensor hooks on the output, run on its total gradient
    retained: Any = None  # a weak reference to the output, when it retain_grad()s
    name: str | None = None  # the output tensor's name, if it is given one
    #: True for ops whose output aliases their first input's memory (see ``inplace.py``).
    is_view = False
    #: The lazy gradient forms (``lazy.py``) that ``backward`` takes as they are; any other
    #: gradient reaches it as an array.
    passes_lazy: tuple[type, ...] = ()
    #: Why ``backward`` cannot be recorded (``create_graph``), when it cannot: a recorded pass
    #: then refuses the op up front with this message (see ``higher_order.py``).
    refuses_create_graph: str | None = None
    #: How the engine brings the inputs to one dtype before ``forward`` (see ``promote``):
    #: None (as they are), "common" (PyTorch's result type), "numeric" (the same, bools
    #: refused), "float" (the result type, integers and bools made the default float
    #: dtype), "same" (must already agree).
    promote: str | None = None

    # -- what op authors use ---------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, grad: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support backward")

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for ``backward``; reach them again as ``self.saved_tensors``."""
        self.saved, self.saved_at = arrays, versions.clock

    @property
    def saved_tensors(self) -> tuple:
        if self.saved is _FREED:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time; "
                "its saved values were freed after the first backward. "
                "Pass retain_graph=True to the first backward() to keep them.")
        return self.saved

    # -- the one way ops are run -------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        """Run the op on tensors (or plain scalars/arrays, treated as constants)."""
        fn, state = cls(), _state  # a local: read five times per op
        recording = state.grad_enabled
        # One pass over the inputs gathers the arrays, which of them need a gradient (known
        # before forward, so an op saves only what the gradients it owes need), the graph
        # edges and the metadata backward conforms gradients to.
        arrays, needs, parents, meta = [], [], [], []
        for x in inputs:
            if isinstance(x, Tensor):
                data = x.array
                arrays.append(data)
                meta.append((data.shape, data.dtype, id(data)))
                if recording and x.requires_grad:
                    needs.append(True)
                    parents.append(x.grad_fn or x)
                    continue
            else:
                arrays.append(x)
                meta.append(None)
            needs.append(False)
            parents.append(None)
        fn.needs_input_grad = needs = tuple(needs)
        try:
            # _agree is promote's own first check, called here too to save a call per op.
            if cls.promote is not None and not _agree(arrays, cls.promote):
                arrays = promote(arrays, cls.promote)
                meta = [m and (m[0], m[1], id(a)) for m, a in zip(meta, arrays)]
            out = fn.forward(*arrays, **kwargs) if kwargs else fn.forward(*arrays)
        except (ValueError, IndexError, TypeError, ArithmeticError, RuntimeError) as err:
            raise _forward_error(cls, inputs, err) from err
        if state.anomaly:
            _check_finite(out, f"{cls.__name__} produced nan/inf in its forward output "
                               f"(shape {out.shape})")
        # A view's writes must be seen by its base and the other way round: see inplace.py.
        result = inplace.view_of(out, inputs[0], cls, kwargs) if fn.is_view else Tensor._wrap(out)
        # Only floating point values have a gradient: an op whose result is integer or bool (a
        # cast, a comparison) ends the graph there, as in PyTorch.
        if True not in needs or out.dtype.kind not in "fc":
            return result
        if type(out) is not np.ndarray and fn.saved:
            # numpy gives 0-d results as scalars, which the tensor holds as an array: what the
            # op saved must be that very array, so that writes to it are seen (versions.py).
            fn.saved = tuple(result.array if kept is out else kept for kept in fn.saved)
        # Tuples, not lists: the cyclic garbage collector stops tracking tuples of plain
        # values, and it rescans every tracked object of a large live graph on each pass.
        # out_id, with in_meta's ids: which saved arrays are inputs or the output.
        fn.parents, fn.in_meta, fn.scope, fn.out_id = (
            tuple(parents), tuple(meta), state.scope, id(result.array))
        if state.anomaly:
            fn.trace = traceback.format_stack()[:-1]
        result.requires_grad = True
        result.grad_fn = fn
        if state.observer is not None:
            state.observer.forward(fn, result)
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


_COMMON = ("common", "numeric")


def promote(arrays: list, rule: str) -> list:
    """The inputs of an op brought to the dtype it computes in (PyTorch's type promotion).

    Python numbers become 0-d arrays of that dtype, so numpy never widens on its own.
    Where numpy would compute in that dtype anyway (``_agree``), the inputs stay as they are.
    """
    if _agree(arrays, rule):
        return arrays
    present = [a for a in arrays if a is not None]
    if rule == "numeric" and any(_scalar_or_array_kind(a) == "b" for a in present):
        raise DtypeError("Subtraction, the `-` operator, with a bool tensor is not supported; "
                        "use `^` (logical xor) or `~` (logical not) instead")
    if rule == "same":
        kinds = {np.asarray(a).dtype for a in present}
        raise DtypeError(f"expected both operands to have the same dtype, but got "
                        f"{' and '.join(sorted(str(k) for k in kinds))}; convert one with .to()")
    dtype = result_type(*present)
    if rule == "float" and dtype.kind != "f":
        dtype = get_default_dtype()
    return [a if a is None or (type(a) is np.ndarray and a.dtype == dtype)
            else np.asarray(a).astype(dtype) for a in arrays]


def _scalar_or_array_kind(a: Any) -> str:
    return "b" if type(a) is bool else np.asarray(a).dtype.kind


def _agree(arrays: list, rule: str) -> bool:
    """Whether numpy computes ``arrays`` in PyTorch's dtype already (the fast path)."""
    if len(arrays) == 1:
        first = arrays[0]
        return type(first) is np.ndarray and (rule != "float" or first.dtype.kind == "f")
    if len(arrays) == 2:  # most ops: two tensors, or a tensor and a number on either side
        first, second = arrays
        if type(first) is np.ndarray:
            if type(second) is np.ndarray:
                dtype = first.dtype
                return second.dtype == dtype and (rule != "float" or dtype.kind == "f")
        elif type(second) is np.ndarray:
            first, second = second, first
        else:
            return False
        kind, number = first.dtype.kind, type(second)
        return rule != "same" and (kind == "f" and (number is float or number is int)
                                   or kind in "iu" and number is int and rule in _COMMON)
    dtype = None
    for a in arrays:
        if type(a) is np.ndarray:
            if dtype is None:
                dtype = a.dtype
            elif a.dtype != dtype:
                return False
    if dtype is None or (rule == "float" and dtype.kind != "f"):
        return False
    if rule == "same":
        return all(type(a) is np.ndarray for a in arrays)
    for a in arrays:  # a Python number of no higher kind than the tensor's leaves it alone
        kind = type(a)
        if kind is not np.ndarray and a is not None and not (
                kind is float and dtype.kind == "f" or kind is int and dtype.kind in "fiu"):
            return False
    return True


# What an op's forward raised -> what Function.apply raises, first match.
_ERROR_KINDS = ((IndexError, IndexError), (OverflowError, OverflowError),
                (ArithmeticError, ArithmeticError),
                (ValueError, ShapeError), (TypeError, DtypeError), (RuntimeError, RuntimeError))


def _forward_error(cls: type, inputs: tuple, err: Exception) -> Exception:
    """Re-raise numpy's complaint with the op's name and its inputs' shapes and dtypes.

    numpy's ValueErrors here are about shapes (broadcasting, matmul, reshape) and its
    TypeErrors about dtypes, which PyTorch raises as RuntimeError: hence ``ShapeError`` and
    ``DtypeError``, which are both. An error already of one of the four kinds keeps it.
    """
    described = ", ".join(f"{x.shape} {x.dtype}" if isinstance(x, Tensor) else repr(x)
                          for x in inputs)
    kind = next(raised for caught, raised in _ERROR_KINDS if isinstance(err, caught))
    message = str(err)
    if not message.startswith(f"{cls.__name__}:"):
        message = f"{cls.__name__}: {message}"
    return kind(f"{message} (inputs: {described})")


def _check_saved(fn: Function) -> None:
    """Refuse to backward through ``fn`` if an array it saved was written in place since."""
    for array in fn.saved_tensors:  # which refuses a graph already freed, saying so
        if type(array) is np.ndarray and versions.written_since(array, fn.saved_at):
            raise RuntimeError(
                f"{type(fn).__name__}: a tensor of shape {array.shape} that it saved for backward "
                f"was modified by an in-place operation after it was saved (its memory is now at "
                f"version {versions.version(array)}). Its gradient would be wrong; clone() the "
                "tensor before modifying it, or modify it before using it.")


# ------------------------------------------------------------------------ engine
def unbroadcast(grad: Any, shape: tuple, op: Function, index: int) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to ``shape``: an array,
    or a recorded pass's tensor (whose sum ``cascaded_sum`` hands to the engine)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise _shape_error(grad, shape, op, index)
    for n, g in zip(shape, grad.shape[lead:]):
        if n != 1 and n != g:
            raise _shape_error(grad, shape, op, index)
    if math.prod(grad.shape) == math.prod(shape):  # the axes to sum all have length 1
        return grad.reshape(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return cascaded_sum(grad, axes).reshape(shape)


def _shape_error(grad: Any, shape: tuple, op: Function, index: int) -> ShapeError:
    return ShapeError(f"{type(op).__name__}.backward returned a gradient of shape {grad.shape} "
                      f"for input {index}, which has shape {shape} and is not broadcast to it")


def _as_tuple(grads: Any, n: int, fn: Function) -> Sequence:
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != n:
        raise ShapeError(f"{type(fn).__name__}.backward returned {len(grads)} gradients "
                         f"for {n} inputs")
    return grads


def _topological_order(roots: list[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each after every node that consumes it."""
    order: list[Function] = []
    visited: set[Function] = set()  # nodes hash by identity
    stack: list[Any] = list(roots)
    while stack:
        fn = stack.pop()
        if fn is _FINISH:  # everything ``fn`` feeds on is ordered: now ``fn`` itself
            order.append(stack.pop())
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack += (fn, _FINISH)  # a marker, not a (fn, flag) tuple per visit: nothing for the GC
        for p in fn.parents:
            if p is not None and p not in visited and isinstance(p, Function):
                stack.append(p)
    order.reverse()  # post-order reversed: consumers before producers
    return order


def _run_hooks(hooks: list | None, grad: np.ndarray) -> np.ndarray:
    """``grad`` after each hook in turn; a hook may change its values, not its shape or dtype."""
    for hook in hooks or ():
        changed = hook_result(hook, hook(Tensor._wrap(grad)), grad)
        if changed is not None:
            grad = changed.array
    return grad


def hook_result(hook: Callable, changed: Any, grad: Any) -> Tensor | None:
    """What ``hook`` returned for ``grad`` (an array, or a tensor in a recorded pass), checked:
    None, or a tensor of the gradient's shape and dtype."""
    if changed is None:
        return None
    if not isinstance(changed, Tensor):
        raise TypeError(f"hook {_name(hook)!r} returned a {type(changed).__name__}; a "
                        "hook returns a tensor (the new gradient) or None")
    if changed.shape != grad.shape:
        raise ShapeError(f"hook {_name(hook)!r} returned a gradient of shape {changed.shape} "
                         f"for a tensor of shape {grad.shape}; a hook may change the "
                         "gradient's values, not its shape")
    if changed.dtype != grad.dtype:
        raise DtypeError(f"hook {_name(hook)!r} has changed the type of value (was "
                         f"{grad.dtype} got {changed.dtype}); a hook may change the "
                         "gradient's values, not its dtype")
    return changed


def _name(hook: Callable) -> str:
    """What errors call a hook (only they need it: looked up then, not per gradient)."""
    return getattr(hook, "__name__", type(hook).__name__)


def run_backward(roots: Sequence[Tensor], root_grads: Sequence[Any],
                 retain_graph: bool = False, inputs: Sequence[Tensor] | None = None,
                 create_graph: bool = False) -> list[Any] | None:
    """Backpropagate ``root_grads`` from ``roots`` through the recorded graph.

    Without ``inputs``, gradients accumulate into every reachable leaf's ``.grad``
    (``Tensor.backward``). With ``inputs``, their gradients are returned instead and no
    ``.grad`` is touched (``mt.grad``). With ``create_graph``, the pass is itself recorded
    (``higher_order.py``): the gradients are tensors in a graph of their own.
    """
    if create_graph:
        run: _Backward = higher_order.RecordedBackward(roots, root_grads, inputs, retain_graph)
        mode = higher_order.recording_backward
    else:
        run = _Backward(roots, root_grads, inputs, retain_graph)
        mode = no_grad  # hooks and user ops may compute with tensors; record none of it
    with mode(), collector_paused():
        for fn in _topological_order(run.start):
            grad = run.arrived(fn)
            if grad is not None:
                run.step(fn, grad)  # fn's backward, each input's gradient sent on
        run.finish_leaves()
    return run.found if inputs is not None else None


class _Backward:
    """One backward pass: the bare loop is ``run_backward``; this holds what it touches."""

    def __init__(self, roots: Sequence[Tensor], root_grads: Sequence[np.ndarray],
                 inputs: Sequence[Tensor] | None, retain_graph: bool) -> None:
        self.pending = _Pending()
        self.leaves: dict[int, Tensor] = {}
        self.retain_graph, self.returning = retain_graph, inputs is not None
        self.anomaly, self.observer = _state.anomaly, _state.observer
        self.checked = self.anomaly or self.observer is not None  # checks read every value
        self.wanted: dict[int, list[int]] = {}  # node or leaf -> its positions in ``inputs``
        for i, t in enumerate(inputs or ()):
            self.wanted.setdefault(id(t.grad_fn or t), []).append(i)
        self.found: list[np.ndarray | None] = [None] * len(inputs or ())
        self.watched = self.checked or bool(self.wanted)  # then every total must be an array
        self.start = [root.grad_fn for root in roots if root.grad_fn is not None]
        for root, g in zip(roots, root_grads):
            self.send(root.grad_fn or root, g)

    def send(self, target: Function | Tensor, grad: Any) -> None:
        if isinstance(target, Tensor):  # a leaf (subclasses such as nn.Parameter included)
            key = id(target)  # tensors compare elementwise, so leaves are keyed by id
            self.leaves[key] = target
            self.pending.add(key, grad)
        else:
            self.pending.add(target, grad)

    def arrived(self, fn: Function) -> np.ndarray | None:
        """The total gradient w.r.t. ``fn``'s output, after its hooks; None if none came."""
        plain = self.watched or fn.hooks or fn.retained is not None
        grad = self.pending.take(fn, () if plain else fn.passes_lazy)
        if grad is None:
            return None
        if fn.hooks:
            grad = _run_hooks(fn.hooks, grad)
        if fn.retained is not None and (t := fn.retained()) is not None:
            t._grad = Tensor._wrap(grad.copy())  # conformed already: past .grad's checks
        if self.observer is not None:
            self.observer.backward(fn, grad)
        if self.wanted:
            for i in self.wanted.get(id(fn), ()):
                self.found[i] = grad
        return grad

    def step(self, fn: Function, grad: np.ndarray) -> None:
        """Run ``fn``'s backward; send each input's gradient, in its shape and dtype, on."""
        if fn.saved_at < versions.clock and fn.saved:  # something was written since it saved
            _check_saved(fn)
        parents = fn.parents
        in_grads = fn.backward(grad)
        if type(in_grads) is not tuple or len(in_grads) != len(parents):
            in_grads = _as_tuple(in_grads, len(parents), fn)
        if not self.retain_graph and fn.saved:
            fn.saved = _FREED
        for i, (parent, g, meta) in enumerate(zip(parents, in_grads, fn.in_meta)):
            if parent is None or g is None:
                continue
            if type(g) is not np.ndarray or g.shape != meta[0] or g.dtype != meta[1]:
                g = _conform(g, fn, i)
            if self.checked:
                if self.anomaly:  # reads every value: multiply a lazy form out
                    _check_backward_finite(g.dense() if isinstance(g, LazyGrad) else g, fn, i)
                if self.observer is not None:
                    self.observer.edge(fn, i, parent, g)
            self.send(parent, g)

    def finish_leaves(self) -> None:
        """Leaves last, once each, so their hooks see the total gradient."""
        for key, leaf in self.leaves.items():
            grad = _run_hooks(leaf._hooks, self.pending.take(key))
            if self.observer is not None:
                self.observer.leaf(leaf, grad)
            if not self.returning:
                _accumulate_leaf(leaf, grad)
            for i in self.wanted.get(key, ()):
                self.found[i] = grad


def _conform(grad: Any, fn: Function, index: int) -> Any:
    """An op's gradient for input ``index``, in that input's shape and dtype.

    Dense gradients are summed over broadcast axes here, so no op has to.
    """
    shape, dtype, _ = fn.in_meta[index]
    if isinstance(grad, LazyGrad):
        if grad.shape != shape:
            raise _shape_error(grad.dense(), shape, fn, index)
        return grad.cast(dtype)
    grad = unbroadcast(np.asarray(grad), shape, fn, index)
    return grad if grad.dtype == dtype else grad.astype(dtype)


class _Pending:
    """Gradients on their way to each node or leaf, summed as they arrive.

    Plain arrays are added (in place once the buffer is the engine's own); lazy ones are
    kept and added, each kind all at once, when the total is taken.
    """

    __slots__ = ("dense", "owned", "lazy")

    def __init__(self) -> None:
        self.dense: dict[Any, np.ndarray] = {}
        self.owned: set[Any] = set()  # keys whose buffer the engine made, so it may add in place
        self.lazy: dict[Any, list[LazyGrad]] = {}

    def add(self, key: Any, grad: Any) -> None:
        dense = self.dense
        if type(grad) is not np.ndarray and isinstance(grad, LazyGrad):
            self.lazy.setdefault(key, []).append(grad)
        elif key not in dense:
            dense[key] = grad
        elif key in self.owned:
            np.add(dense[key], grad, out=dense[key])
        else:
            # asarray: for 0-d arrays numpy's + returns a scalar, which cannot be added into.
            dense[key] = np.asarray(dense[key] + grad)
            self.owned.add(key)

    def take(self, key: Any, passes: tuple[type, ...] = ()) -> Any:
        """The total for ``key``: an array, or a lone lazy gradient of a kind in ``passes``."""
        grad = self.dense.pop(key, None)
        parts = self.lazy.pop(key, None) if self.lazy else None
        if not parts:
            return grad
        if grad is None:
            if len(parts) == 1:
                part = parts[0]
                return part if type(part) in passes else part.dense()
            grad = np.zeros(parts[0].shape, parts[0].dtype)
        elif key not in self.owned:  # the first grad may be an op's own array: never write into it
            grad = np.array(grad, dtype=np.result_type(grad, parts[0].dtype))
        for kind in {type(p): None for p in parts}:  # each kind once, in arrival order
            kind.add_all([p for p in parts if type(p) is kind], grad)
        return grad


def _check_backward_finite(grad: np.ndarray, fn: Function, index: int) -> None:
    if grad.dtype.kind in "fc" and not np.isfinite(grad).all():
        where = "".join(getattr(fn, "trace", ())[-3:])
        raise FloatingPointError(
            f"{type(fn).__name__}.backward produced nan/inf in the gradient for input {index} "
            f"(shape {grad.shape}). The op was created here:\n{where}")


def _accumulate_leaf(leaf: Tensor, grad: np.ndarray) -> None:
    # ``_grad``, past the checks of assigning ``.grad``: the engine conformed ``grad`` to the
    # leaf's shape and dtype already, and this runs for every leaf of every backward.
    if leaf._grad is None:
        # Own the array: an op may hand the same array to several inputs, and
        # optimizers and clipping later modify .grad in place.
        leaf._grad = Tensor._wrap(np.array(grad, dtype=leaf.array.dtype, copy=True))
    else:
        leaf._grad.array = np.asarray(leaf._grad.array + grad)  # 0-d: + gives a numpy scalar


def root_gradient(root: Tensor, gradient: Any, what: str, create_graph: bool = False) -> Any:
    """The upstream gradient a backward starts from, checked against ``root``: an array, or
    with ``create_graph`` a tensor (the one given, which may itself require grad)."""
    if not root.requires_grad:
        raise RuntimeError(f"{what}: the tensor does not require grad and has no grad_fn "
                           "(no input that requires grad was used to compute it)")
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(f"{what}: gradient can be left out only for a single-element "
                               f"output, but the output has shape {root.shape}; pass gradient= "
                               "with that shape")
        g = np.ones(root.shape, dtype=root.dtype)
        return Tensor._wrap(g) if create_graph else g
    if create_graph and isinstance(gradient, Tensor):
        g = gradient if gradient.dtype == root.dtype else gradient.to(root.dtype)
    else:
        g = np.asarray(gradient.array if isinstance(gradient, Tensor) else gradient,
                       dtype=root.dtype)
    if g.shape != root.shape:
        raise ShapeError(f"{what}: gradient has shape {g.shape} but the output has shape "
                         f"{root.shape}")
    return Tensor._wrap(g) if create_graph and not isinstance(g, Tensor) else g

def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of every leaf they came from,
    or, given ``inputs``, into those tensors' ``.grad`` only (leaves or not), as PyTorch's
    ``torch.autograd.backward``; ``t.backward(...)`` calls it.

    >>> import microtensor as mt
    >>> x, w = mt.ones(2, requires_grad=True), mt.full((2,), 3.0, requires_grad=True)
    >>> mt.autograd.backward((x * w).sum(), inputs=[w])
    >>> w.grad.tolist(), x.grad
    ([1.0, 1.0], None)
    """
    if retain_graph is None:
        retain_graph = create_graph  # as PyTorch: a recorded pass may be differentiated again
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise ShapeError(f"backward: {len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots = [root_gradient(t, g, "backward", create_graph) for t, g in zip(tensors, grad_tensors)]
    if inputs is None:
        run_backward(tensors, roots, retain_graph, create_graph=create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("backward: the inputs argument cannot be empty")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"backward: input {i} (shape {t.shape}) does not require grad")
    found = run_backward(tensors, roots, retain_graph, inputs, create_graph)
    for t, g in zip(inputs, found):
        if g is None:  # an input the tensors do not depend on keeps its .grad
            continue
        if create_graph:
            higher_order.accumulate(t, g)
        else:
            _accumulate_leaf(t, g)


def Variable(data: Tensor, requires_grad: bool = False) -> Tensor:  # noqa: N802 - PyTorch's name
    """PyTorch's legacy ``autograd.Variable``: ``data`` as a new leaf sharing its memory, that
    requires grad if asked (old code wraps every tensor in one; tensors do it all now).

    >>> import microtensor as mt
    >>> x = mt.ones(2)
    >>> v = mt.autograd.Variable(x, requires_grad=True)
    >>> v.requires_grad, x.requires_grad, v.is_leaf
    (True, False, True)
    """
    return data.detach().requires_grad_(requires_grad)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than
    accumulated into ``.grad`` (PyTorch's ``torch.autograd.grad``). With ``create_graph``
    the backward pass is recorded, so the gradients can be differentiated again;
    ``retain_graph`` defaults to ``create_graph``, as PyTorch's.

    >>> import microtensor as mt
    >>> x = mt.tensor([3.0], requires_grad=True)
    >>> (dx,) = mt.grad((x ** 3).sum(), x, create_graph=True)  # 3 x^2
    >>> (d2x,) = mt.grad(dx.sum(), x)  # 6 x
    >>> dx.tolist(), d2x.tolist(), x.grad
    ([27.0], [18.0], None)
    """
    if retain_graph is None:
        retain_graph = create_graph
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ShapeError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    roots = [root_gradient(o, g, "grad", create_graph) for o, g in zip(outputs, grad_outputs)]
    found = run_backward(outputs, roots, retain_graph, inputs, create_graph)
    if not allow_unused:
        for i, g in enumerate(found):
            if g is None:
                raise RuntimeError(f"grad: input {i} (shape {inputs[i].shape}) was not used to "
                                   "compute the outputs; pass allow_unused=True to get None")
    if create_graph:  # named for the graph renderer: the root of a drawn gradient says what it is
        for g, x in zip(found, inputs):
            if g is not None and g.grad_fn is not None and g._name is None and not any(
                    g is o for o in grad_outputs):
                g.name = f"∂L/∂{x.name or 'input'}"
        return tuple(found)
    # Copies: a gradient may be a read-only broadcast view or shared with another input.
    return tuple(None if g is None else Tensor._wrap(np.array(g)) for g in found)


# tensor.py, inplace.py and higher_order.py import this module; needed only at call time.
from .. import inplace  # noqa: E402
from ..tensor import Tensor  # noqa: E402
from . import functional, higher_order  # noqa: E402, F401 - functional: mt.autograd.functional
