"""Autograd's bookkeeping, as programs replayed in both libraries.

``test_casts_in_differentiated_programs``: short programs over float leaves that cast to every
dtype of the oracle (``to``, ``float``, ``double``, ``long``), compute with the casts and the
originals (``+ - *``, ``abs``, comparisons, ``where``), reduce (``sum``, ``mean``, ``amax``),
call ``requires_grad_()`` and run ``backward`` from any tensor, one that requires grad or not;
every tensor's value, dtype, ``requires_grad`` and ``is_leaf``, the statement each library stops
at, and every leaf's gradient (None or its value and dtype) must agree.

``test_hooks_and_grad_assignments``: hooks that return None, the gradient changed, or one of
another dtype or shape, on leaves and intermediates, and ``.grad`` assignments of drawn dtype,
shape or type (or None), before, between and after backward passes; the statement each
library stops at and the final gradients must agree.

``test_grad_mode_across_generators``: ``no_grad``/``enable_grad`` (called or bare) decorating
a generator function, driven by ``next``/``send``/``throw``/``close`` from a caller in a drawn
mode; the mode the generator's code sees at each resumption, the caller's mode after each step
and every step's outcome must agree.

A program is drawn while PyTorch runs it (so shapes are known and a step PyTorch rejects ends
it), then replayed from its source in both libraries; a failure prints the source.
"""

from __future__ import annotations

import math
import warnings
from itertools import zip_longest

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle_compare import DTYPES, FLOATS, assert_values_close, dtype_name

import microtensor as mt

# Multiples of 1/4 with one or two fractional bits: casts to integers truncate them (1.5 -> 1,
# -2.75 -> -2, -0.5 -> 0), and products stay on a coarse grid (see ``summable``).
LEAF_VALUES = st.sampled_from([0.0, 1.5, -2.75, 0.25, 3.0, -0.5, 2.0, -1.0])
# A step whose result leaves this range is dropped: float-to-integer conversion of inf and
# integer overflow are out of the oracle's scope, and small values keep sums exact.
MAX_MAGNITUDE = 64


class Program:
    """Statements over tensors named t0, t1, ... and the library ``m``, drawn while PyTorch
    runs them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: list[str] = []
        self.shadow: dict = {"m": torch}

    def fresh(self) -> str:
        name = f"t{len(self.names)}"
        self.names.append(name)
        return name

    def add(self, line: str, keep=None) -> bool:
        """Run ``line`` in PyTorch and keep it; False (and the program ends) if PyTorch raises.
        A step ``keep(shadow)`` refuses is dropped (with the name it defined)."""
        names = len(self.names)
        self.lines.append(line)
        try:
            exec(line, self.shadow)  # noqa: S102 - the oracle's own generated statements
        except Exception:  # noqa: BLE001 - a rejected step is part of the program
            return False
        if keep is not None and not keep(self.shadow):
            self.lines.pop()
            for name in self.names[names:]:
                self.shadow.pop(name, None)
            del self.names[names:]
        return True

    def source(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:  # hypothesis prints a falsifying program as its source
        return "Program:\n    " + "\n    ".join(self.source().splitlines())


def execute(lib, lines: list[str]) -> tuple[dict, int | None, Exception | None]:
    """Run the statements in order with ``m`` bound to ``lib``; stop at the first that raises."""
    namespace = {"m": lib}
    for i, line in enumerate(lines):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(line, namespace)  # noqa: S102 - the oracle's own generated statements
        except Exception as err:  # noqa: BLE001 - compared with PyTorch
            return namespace, i, err
    return namespace, None, None


def values(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.array)


def literal(array: np.ndarray) -> str:
    return repr(array.tolist())


def assert_same_stop(source: str, mine: tuple, theirs: tuple) -> None:
    (_, mine_at, mine_err), (_, theirs_at, theirs_err) = mine, theirs
    assert mine_at == theirs_at, (
        f"program:\n{source}\nmicrotensor stops at statement {mine_at} ({mine_err!r}), "
        f"PyTorch at {theirs_at} ({theirs_err!r})")


def assert_same_grad(where: str, mine, theirs, dtype: str) -> None:
    """A gradient: None in both, or the same dtype, shape and values (tolerance of ``dtype``)."""
    assert (mine is None) == (theirs is None), \
        f"{where}: microtensor {None if mine is None else values(mine).tolist()}, PyTorch {theirs}"
    if theirs is None:
        return
    assert dtype_name(mine) == dtype_name(theirs), \
        f"{where}: dtype {dtype_name(mine)}, PyTorch {dtype_name(theirs)}"
    assert tuple(mine.shape) == tuple(theirs.shape), \
        f"{where}: shape {tuple(mine.shape)}, PyTorch {tuple(theirs.shape)}"
    assert_values_close(values(mine), values(theirs), dtype,
                        f"{where}\n  microtensor {values(mine).tolist()}\n"
                        f"  PyTorch     {values(theirs).tolist()}")


# ------------------------------------------------------------------- casts in programs


def bounded(name: str):
    """``keep`` for a step defining ``name``: its values finite and within MAX_MAGNITUDE."""
    def keep(shadow: dict) -> bool:
        data = shadow[name].detach().double()
        return bool(data.isfinite().all()) and bool((data.abs() <= MAX_MAGNITUDE).all())
    return keep


def summable(t: torch.Tensor) -> bool:
    """Whether every way of summing ``t`` (at most 6 elements) is exact in every float dtype:
    multiples of 1/16 of magnitude at most 16 have partial sums below 96 on the 1/16 grid, which
    float16's 11 bits hold. Reductions over other values would compare summation orders
    (numpy's against PyTorch's), whose last-bit differences casts to integers and float64 then
    magnify: not semantics, so those reductions are not drawn."""
    data = t.detach().double()
    return bool(((data * 16).frac() == 0).all()) and bool((data.abs() <= 16).all())


def broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def draw_cast(draw, program: Program) -> bool:
    src = draw(st.sampled_from(program.names))
    spelling = draw(st.sampled_from(["to"] * 6 + ["float", "double", "long"]))
    expr = f"{src}.to(m.{draw(st.sampled_from(DTYPES))})" if spelling == "to" else f"{src}.{spelling}()"
    name = program.fresh()
    return program.add(f"{name} = {expr}", bounded(name))


def draw_arithmetic(draw, program: Program) -> bool:
    a = draw(st.sampled_from(program.names))
    shape = tuple(program.shadow[a].shape)
    kind = draw(st.sampled_from(["binary", "binary", "binary", "scalar", "abs", "neg", "compare",
                                 "where", "clone", "detach"]))
    partners = [n for n in program.names if broadcasts(tuple(program.shadow[n].shape), shape)]
    if kind == "binary":
        expr = f"{a} {draw(st.sampled_from(['+', '-', '*']))} {draw(st.sampled_from(partners))}"
    elif kind == "scalar":
        expr = f"{a} {draw(st.sampled_from(['+', '*']))} {draw(st.sampled_from([2, 1.5, True]))!r}"
    elif kind == "abs":
        expr = f"{a}.abs()"
    elif kind == "neg":
        expr = f"-{a}"
    elif kind == "compare":
        expr = f"{a} > 0"
    elif kind == "where":
        expr = f"m.where({a} > 0, {draw(st.sampled_from(partners))}, {draw(st.sampled_from(partners))})"
    else:
        expr = f"{a}.{kind}()"
    name = program.fresh()
    return program.add(f"{name} = {expr}", bounded(name))


def draw_reduction(draw, program: Program) -> bool:
    candidates = [n for n in program.names if summable(program.shadow[n])]
    if not candidates:
        return True
    src = draw(st.sampled_from(candidates))
    ndim = program.shadow[src].ndim
    op = draw(st.sampled_from(["sum", "sum", "mean", "amax"]))
    arg = draw(st.sampled_from(["", "0", "-1"] if ndim else [""]))
    name = program.fresh()
    return program.add(f"{name} = {src}.{op}({arg})", bounded(name))


def draw_requires_grad(draw, program: Program) -> bool:
    """PyTorch allows it on float leaves (a cast's result that does not require grad is one)
    and refuses it on integer and bool tensors."""
    return program.add(f"{draw(st.sampled_from(program.names))}.requires_grad_()")


def draw_backward(draw, program: Program) -> bool:
    """From any tensor: one that does not require grad (an integer cast, say) must raise. The
    graph is retained so that a later step or backward may use it again."""
    src = draw(st.sampled_from(program.names))
    shape = tuple(program.shadow[src].shape)
    if draw(st.booleans()):
        return program.add(f"{src}.sum().backward(retain_graph=True)")
    size = math.prod(shape)
    weights = np.array(draw(st.lists(st.sampled_from([-1.0, 0.5, 2.0, 1.0]), min_size=size,
                                     max_size=size))).reshape(shape)
    return program.add(f"({src} * m.tensor({literal(weights)}, dtype=m.float64)).sum()"
                       f".backward(retain_graph=True)")


@st.composite
def cast_programs(draw) -> Program:
    program = Program()
    shape = draw(st.sampled_from([(2,), (3,), (2, 3), (3, 2), (2, 2)]))
    # The first leaf is float64 and requires grad; a second, of any float dtype, may not.
    for i in range(draw(st.integers(1, 2))):
        name = program.fresh()
        leaf_shape = draw(st.sampled_from([shape, shape[-1:]])) if i else shape
        size = math.prod(leaf_shape)
        data = np.array(draw(st.lists(LEAF_VALUES, min_size=size, max_size=size))).reshape(leaf_shape)
        dtype = draw(st.sampled_from(FLOATS)) if i else "float64"
        requires_grad = draw(st.booleans()) if i else True
        program.add(f"{name} = m.tensor({literal(data)}, dtype=m.{dtype}, requires_grad={requires_grad})")
    steps = [draw_cast, draw_cast, draw_cast, draw_arithmetic, draw_arithmetic, draw_arithmetic,
             draw_reduction, draw_reduction, draw_requires_grad, draw_backward]
    ok = True
    for _ in range(draw(st.integers(1, 8))):
        ok = draw(st.sampled_from(steps))(draw, program)
        if not ok:
            break
    if ok:
        draw_backward(draw, program)
    return program


def loosest_float(namespace: dict, names: list[str]) -> str:
    """The float dtype of least precision among the program's tensors."""
    present = {dtype_name(namespace[n]) for n in names if n in namespace}
    return next((d for d in FLOATS if d in present), "float64")


# Programs are cheap (tiny tensors); they get ten times the profile's examples, as the views test.
@settings(max_examples=10 * settings.default.max_examples)
@given(program=cast_programs())
def test_casts_in_differentiated_programs(program: Program) -> None:
    source = program.source()
    mine, theirs = execute(mt, program.lines), execute(torch, program.lines)
    assert_same_stop(source, mine, theirs)
    mine_ns, theirs_ns = mine[0], theirs[0]
    for name in [n for n in program.names if n in theirs_ns]:
        a, b = mine_ns[name], theirs_ns[name]
        where = f"program:\n{source}\n{name}"
        assert tuple(a.shape) == tuple(b.shape), f"{where}: shape {tuple(a.shape)}, PyTorch {tuple(b.shape)}"
        assert dtype_name(a) == dtype_name(b), f"{where}: dtype {dtype_name(a)}, PyTorch {dtype_name(b)}"
        assert_values_close(values(a), values(b), dtype_name(b),
                            f"{where}: values\n  microtensor {values(a).tolist()}\n"
                            f"  PyTorch     {values(b).tolist()}")
        assert bool(a.requires_grad) == b.requires_grad, \
            f"{where}: requires_grad {a.requires_grad}, PyTorch {b.requires_grad}"
        assert bool(a.is_leaf) == b.is_leaf, f"{where}: is_leaf {a.is_leaf}, PyTorch {b.is_leaf}"
    # Backward adds the contributions to a tensor's gradient in an order of its own, rounding in
    # that tensor's dtype: leaf gradients carry the rounding of the program's least precise float.
    dtype = loosest_float(theirs_ns, program.names)
    for name in [n for n in program.names if n in theirs_ns and theirs_ns[n].is_leaf]:
        assert_same_grad(f"program:\n{source}\ngradient of {name}", mine_ns[name].grad,
                         theirs_ns[name].grad, dtype)


# ------------------------------------------------------------- hooks and .grad assignments


def other_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The tensor's shape, and ones that are not it (fewer, more or permuted sides)."""
    return [shape, shape, (), (1,), (1, *shape), shape[::-1] if len(shape) > 1 else (shape[0] + 1,)]


def gradient_value(draw, shape: tuple[int, ...], dtype: str) -> str:
    """What is assigned to ``.grad`` or returned by a hook: a tensor of a drawn dtype and shape
    (the tensor's own mostly), or a Python list or float (PyTorch: TypeError)."""
    kind = draw(st.sampled_from(["tensor", "tensor", "tensor", "list", "float"]))
    if kind == "list":
        return repr([0.5] * math.prod(shape))
    if kind == "float":
        return "0.5"
    target = draw(st.sampled_from([dtype, dtype, *DTYPES]))
    return f"m.full({draw(st.sampled_from(other_shapes(shape)))}, 2, dtype=m.{target})"


def draw_hook(draw, program: Program, shape: tuple[int, ...], dtype: str) -> bool:
    """A hook on the leaf or the intermediate: it observes (returns None), scales the gradient,
    casts it, or returns a drawn value in its place."""
    target = draw(st.sampled_from(["x", "y"]))
    kind = draw(st.sampled_from(["none", "scale", "cast", "replace", "sum", "unsqueeze"]))
    body = {"none": "None", "scale": "g * 3", "sum": "g.sum()", "unsqueeze": "g[None]"}.get(kind)
    if kind == "cast":
        body = f"g.to(m.{draw(st.sampled_from(DTYPES))})"
    elif kind == "replace":
        body = gradient_value(draw, shape, dtype)
    return program.add(f"{program.fresh()} = {target}.register_hook(lambda g: {body})")


def draw_assignment(draw, program: Program, shape: tuple[int, ...], dtype: str) -> bool:
    """``.grad`` of the leaf or the intermediate set to None or to a drawn value, named first
    so that its value after a later backward (which adds to it in place) is compared too."""
    target = draw(st.sampled_from(["x", "x", "y"]))
    if draw(st.integers(0, 3)) == 0:
        return program.add(f"{target}.grad = None")
    name = program.fresh()
    return (program.add(f"{name} = {gradient_value(draw, shape, dtype)}")
            and program.add(f"{target}.grad = {name}"))


def draw_remove(draw, program: Program) -> bool:
    handles = [n for n in program.names if not isinstance(program.shadow[n], torch.Tensor)]
    if not handles:
        return True
    return program.add(f"{draw(st.sampled_from(handles))}.remove()")


def draw_hook_backward(draw, program: Program, shape: tuple[int, ...]) -> bool:
    """From the leaf directly or through the intermediate; the graph is kept for the next one."""
    size = math.prod(shape)
    weights = np.array(draw(st.lists(st.sampled_from([-1.0, 0.5, 2.0, 1.0]), min_size=size,
                                     max_size=size))).reshape(shape)
    src = draw(st.sampled_from(["x", "y", "y"]))
    return program.add(f"({src} * m.tensor({literal(weights)}, dtype=x.dtype)).sum()"
                       f".backward(retain_graph=True)")


@st.composite
def hook_programs(draw) -> Program:
    program = Program()
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(st.sampled_from([(3,), (2, 3)]))
    data = np.array(draw(st.lists(LEAF_VALUES, min_size=math.prod(shape),
                                  max_size=math.prod(shape)))).reshape(shape)
    program.add(f"x = m.tensor({literal(data)}, dtype=m.{dtype}, requires_grad=True)")
    program.add(f"y = x * {draw(st.sampled_from(['2', 'x']))}")
    ok = True
    for _ in range(draw(st.integers(1, 6))):
        step = draw(st.sampled_from(["hook", "hook", "assign", "assign", "remove", "backward"]))
        if step == "hook":
            ok = draw_hook(draw, program, shape, dtype)
        elif step == "assign":
            ok = draw_assignment(draw, program, shape, dtype)
        elif step == "remove":
            ok = draw_remove(draw, program)
        else:
            ok = draw_hook_backward(draw, program, shape)
        if not ok:
            break
    if ok:  # a backward pass last, now and then a second
        for _ in range(draw(st.integers(1, 2))):
            if not draw_hook_backward(draw, program, shape):
                break
    return program


@settings(max_examples=5 * settings.default.max_examples)
@given(program=hook_programs())
def test_hooks_and_grad_assignments(program: Program) -> None:
    source = program.source()
    mine, theirs = execute(mt, program.lines), execute(torch, program.lines)
    assert_same_stop(source, mine, theirs)
    mine_ns, theirs_ns = mine[0], theirs[0]
    dtype = dtype_name(theirs_ns["x"])
    for name in ("x", "y"):
        with warnings.catch_warnings():  # PyTorch warns when a non-leaf's .grad is read
            warnings.simplefilter("ignore", UserWarning)
            theirs_grad = theirs_ns[name].grad
        assert_same_grad(f"program:\n{source}\ngradient of {name}", mine_ns[name].grad,
                         theirs_grad, dtype)
    # The tensors assigned to .grad: backward adds to the one it finds in place.
    for name in [n for n in program.names if isinstance(theirs_ns.get(n), torch.Tensor)]:
        assert_same_grad(f"program:\n{source}\n{name}", mine_ns[name], theirs_ns[name],
                         dtype_name(theirs_ns[name]))


# ----------------------------------------------------------- grad mode across generators


class Thrown(Exception):  # noqa: N818 - what the caller throws into the generator
    pass


def decorated(lib, spelling: str, segments: list[str], on_throw: str, log: list):
    """A generator function under the drawn decorator (``no_grad()``, or bare ``no_grad``).
    Its code logs the mode it runs in at each resumption: each segment yields plainly or
    inside its own ``with no_grad()``/``enable_grad()``; a thrown ``Thrown`` is caught and
    the generator goes on, returns or raises it again; ``finally`` logs the mode at closing."""
    name = spelling.rstrip("()")
    decorator = getattr(lib, name)() if spelling.endswith("()") else getattr(lib, name)

    def mode() -> bool:
        return lib.is_grad_enabled()

    @decorator
    def steps():
        log.append(("start", mode()))
        try:
            for i, segment in enumerate(segments):
                try:
                    if segment == "plain":
                        got = yield i
                    else:
                        with getattr(lib, segment)():
                            got = yield i
                            log.append(("inside its own " + segment, mode()))
                    log.append(("resumed", got, mode()))
                except Thrown:
                    log.append(("caught", mode()))
                    if on_throw == "return":
                        return "returned after the throw"
                    if on_throw == "raise":
                        raise
            return "ran to the end"
        finally:
            log.append(("finally", mode()))

    return steps


def drive(lib, spelling: str, segments: list[str], on_throw: str,
          actions: list[tuple[str, bool]]) -> list:
    """Run the caller's actions, each in its drawn mode; log every outcome and the caller's
    mode during (and after) the action. Everything runs inside ``enable_grad`` so that a mode
    the generator leaked cannot outlive the test."""
    log: list = []
    try:
        function = decorated(lib, spelling, segments, on_throw, log)
    except Exception as err:  # noqa: BLE001 - compared with PyTorch's
        return [("decorating raised", type(err).__name__)]
    with lib.enable_grad():
        generator = function()
        for i, (action, caller_enabled) in enumerate(actions):
            with lib.enable_grad() if caller_enabled else lib.no_grad():
                try:
                    if action == "next":
                        outcome = ("yielded", next(generator))
                    elif action == "send":
                        outcome = ("yielded", generator.send(f"sent at action {i}"))
                    elif action == "throw":
                        outcome = ("yielded", generator.throw(Thrown()))
                    else:
                        outcome = ("closed", generator.close())
                except StopIteration as stop:
                    outcome = ("stopped", stop.value)
                except Exception as err:  # noqa: BLE001 - compared with PyTorch's
                    outcome = ("raised", type(err).__name__)
                log.append((action, *outcome, "caller's mode", lib.is_grad_enabled()))
            log.append(("after the action's block", lib.is_grad_enabled()))
        generator.close()
        log.append(("after close", lib.is_grad_enabled()))
    log.append(("after all", lib.is_grad_enabled()))
    return log


@given(spelling=st.sampled_from(["no_grad()", "enable_grad()", "no_grad", "enable_grad"]),
       segments=st.lists(st.sampled_from(["plain", "plain", "no_grad", "enable_grad"]), min_size=1,
                         max_size=4),
       on_throw=st.sampled_from(["continue", "return", "raise"]),
       actions=st.lists(st.tuples(st.sampled_from(["next", "next", "send", "send", "throw", "close"]),
                                  st.booleans()), min_size=1, max_size=6))
def test_grad_mode_across_generators(spelling: str, segments: list[str], on_throw: str,
                                     actions: list[tuple[str, bool]]) -> None:
    mine = drive(mt, spelling, segments, on_throw, actions)
    theirs = drive(torch, spelling, segments, on_throw, actions)
    assert mine == theirs, "\n".join(
        [f"@{spelling} over segments {segments}, on a throw: {on_throw}; actions {actions}",
         f"{'microtensor':<60} PyTorch"]
        + [f"{m!s:<60} {t}" for m, t in zip_longest(mine, theirs, fillvalue="")])
