"""In-place writes and views, as programs: hypothesis writes a short program of views (index,
slice, transpose, reshape, view, detach, unsqueeze, split; integer and mask indexing, which
copy) and in-place ops (``add_``, ``sub_``, ``mul_``, ``zero_``, ``fill_``, ``copy_``,
``t[i] = v``, ``+=``, ``-=``, ``*=``, some under ``no_grad``) on recorded and unrecorded
tensors, with ``retain_grad()`` and ``requires_grad_()`` now and then; the same source runs
with ``m`` bound to microtensor and to torch, and every tensor's value, shape,
``requires_grad`` and ``is_leaf``, every leaf's and retained gradient (after a random upstream
gradient from all tensors that require grad), and whether each step or the backward raises
must agree.

The program is drawn while PyTorch runs it (so shapes are known and a step PyTorch rejects
ends the program), then replayed from its source in both libraries; a failure prints the source.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle_compare import assert_values_close
from oracle_strategies import NICE

import microtensor as mt

MAX_STEPS = 7


def literal(array: np.ndarray) -> str:
    return repr(array.tolist())


class Program:
    """Statements over tensors named t0, t1, ... and the library ``m``."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: list[str] = []
        self.leaves: list[str] = []
        self.retained: list[str] = []
        self.shadow = {"m": torch}  # PyTorch's run while drawing

    def fresh(self) -> str:
        name = f"t{len(self.names)}"
        self.names.append(name)
        return name

    def add(self, line: str) -> bool:
        """Run ``line`` in PyTorch and keep it; False (and the program ends) if PyTorch raises."""
        self.lines.append(line)
        try:
            exec(line, self.shadow)  # noqa: S102 - the oracle's own generated statements
        except Exception as err:  # noqa: BLE001 - a rejected step is part of the program
            read_graphs(self.shadow)
            if "refer to a single memory location" in str(err):
                # A copy from memory that overlaps the destination: PyTorch refuses what numpy
                # leaves undefined; out of the oracle's scope, so the step is dropped.
                return self._drop()
            if "function that returns multiple views" in str(err):
                # A write to (or a use after a write of) a piece of split: ordinary views here,
                # on purpose (docs/engine/differences.md); dropped.
                return self._drop()
            return False
        read_graphs(self.shadow)
        return True

    def _drop(self) -> bool:
        """Forget the last step, and the name it was to make; the program goes on."""
        line = self.lines.pop()
        if self.names and line.startswith(f"{self.names[-1]} = "):
            self.names.pop()
        return True

    def source(self) -> str:
        return "\n".join(self.lines)


def draw_leaf(draw, program: Program, shape: tuple[int, ...]) -> bool:
    name = program.fresh()
    values = np.array(draw(st.lists(NICE, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    requires_grad = draw(st.booleans())
    if requires_grad:
        program.leaves.append(name)
    return program.add(f"{name} = m.tensor({literal(values.reshape(shape))}, dtype=m.float64, "
                       f"requires_grad={requires_grad})")


def draw_view(draw, program: Program) -> bool:
    src = draw(st.sampled_from(program.names))
    shape = tuple(program.shadow[src].shape)
    kinds = ["detach", "reshape", "view", "unsqueeze", "none"]
    if shape and shape[0]:
        # ints and masks index by copy, not by view: writes to the result must not reach src
        kinds += ["index", "slice", "slice", "split", "ints", "mask"]
    if len(shape) >= 2:
        kinds += ["transpose", "column", "last"]
    kind = draw(st.sampled_from(kinds))
    if kind == "index":
        expr = f"{src}[{draw(st.integers(-shape[0], shape[0] - 1))}]"
    elif kind == "ints":
        expr = f"{src}[{sorted(set(draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1))))}]"
    elif kind == "mask":
        expr = f"{src}[{src} > 0]"
    elif kind == "split":
        expr = f"{src}.split(1)[{draw(st.integers(0, shape[0] - 1))}]"
    elif kind == "last":
        expr = f"{src}[..., 0]"
    elif kind == "none":
        expr = f"{src}[None]"
    elif kind == "slice":
        start = draw(st.integers(0, shape[0] - 1))
        expr = f"{src}[{start}:{draw(st.integers(start + 1, shape[0]))}]"
    elif kind == "column":
        expr = f"{src}[:, {draw(st.integers(0, shape[1] - 1))}]"
    elif kind == "transpose":
        expr = f"{src}.transpose(0, -1)"
    elif kind in ("reshape", "view"):
        expr = f"{src}.{kind}(-1)"
    elif kind == "unsqueeze":
        expr = f"{src}.unsqueeze(0)"
    else:
        expr = f"{src}.detach()"
    return program.add(f"{program.fresh()} = {expr}")


def draw_compute(draw, program: Program) -> bool:
    """A recorded op: ``*`` by a constant saves nothing; ``x * x`` saves its input and ``exp``
    its output, so a later in-place write to them must make backward raise."""
    src = draw(st.sampled_from(program.names))
    expr = draw(st.sampled_from([f"{src} * 2", f"{src} * {src}", f"{src}.exp()", f"{src} + 1",
                                 f"{src}.tanh()", f"{src}.sum()", f"{src}.clone()"]))
    return program.add(f"{program.fresh()} = {expr}")


def draw_requires_grad(draw, program: Program) -> bool:
    """Start recording from a tensor mid-program (PyTorch allows it on leaves only). Not on
    views: a view made a leaf of its own this way is a PyTorch corner whose answers (is it
    a leaf, may it be written, where does its gradient go) depend on which of its base's
    other views were used since; out of the oracle's scope."""
    candidates = [n for n in program.names if program.shadow[n]._base is None]
    if not candidates:
        return True
    name = draw(st.sampled_from(candidates))
    if name not in program.leaves:
        program.leaves.append(name)
    return program.add(f"{name}.requires_grad_()")


def _recorded(t: torch.Tensor) -> bool:
    try:
        return t.grad_fn is not None
    except RuntimeError:  # a split view whose base was written: PyTorch refuses to rebase it
        return False


def _replayed_view(t: torch.Tensor) -> bool:
    """A view whose base was written in place: PyTorch regenerates the view's graph from the
    base, and its views then send their gradient to the base directly, past this tensor's
    retained ``.grad``. Which path a retained gradient takes there is PyTorch's replay detail,
    out of the oracle's scope (the leaves' gradients are still compared)."""
    return t._base is not None and t._base._version > 0


def draw_retain_grad(draw, program: Program) -> bool:
    """Keep a non-leaf's gradient; in-place ops later in the program must not change which
    tensor's gradient it is (PyTorch: the tensor's value at the end)."""
    recorded = [n for n in program.names if _recorded(program.shadow[n])]
    if not recorded:
        return True
    name = draw(st.sampled_from(recorded))
    if name not in program.retained:
        program.retained.append(name)
    return program.add(f"{name}.retain_grad()")


def operand(draw, program: Program, shape: tuple[int, ...], written: torch.Tensor) -> str:
    """A scalar, or a tensor of the program whose shape broadcasts to ``shape`` and that does
    not partly overlap the ``written`` memory."""
    fits = _readable(program, shape, written)
    if fits and draw(st.booleans()):
        return draw(st.sampled_from(fits))
    return repr(draw(NICE))


def _readable(program: Program, shape: tuple[int, ...], written: torch.Tensor) -> list[str]:
    return [n for n in program.names if _broadcasts_to(tuple(program.shadow[n].shape), shape)
            and not _partly_overlaps(program.shadow[n], written)]


def _partly_overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` share memory without being the same elements in the same order.
    An in-place op that reads one while writing the other then answers by PyTorch's loop
    order (undefined: it refuses some such overlaps, not all); microtensor reads the old
    values. Out of the oracle's scope."""
    same = a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
    return not same and np.shares_memory(a.detach().numpy(), b.detach().numpy())


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def draw_inplace(draw, program: Program) -> bool:
    # Mostly a tensor that may be written (a leaf that requires grad may not, outside no_grad).
    writable = [n for n in program.names if n not in program.leaves]
    dst = draw(st.sampled_from(writable if writable and draw(st.integers(0, 3)) else program.names))
    written = program.shadow[dst]
    shape = tuple(written.shape)
    kind = draw(st.sampled_from(["add_", "mul_", "sub_", "add_alpha", "zero_", "fill_", "copy_",
                                 "+=", "-=", "*=", "setitem", "setitem"]))
    if kind in ("add_", "mul_", "sub_"):
        line = f"{dst}.{kind}({operand(draw, program, shape, written)})"
    elif kind == "add_alpha":
        line = f"{dst}.add_({operand(draw, program, shape, written)}, alpha={draw(NICE)!r})"
    elif kind == "zero_":
        line = f"{dst}.zero_()"
    elif kind == "fill_":
        line = f"{dst}.fill_({draw(NICE)!r})"
    elif kind == "copy_":
        fits = _readable(program, shape, written)
        if not fits:
            return True  # nothing to copy from that does not overlap: draw another step
        line = f"{dst}.copy_({draw(st.sampled_from(fits))})"
    elif kind in ("+=", "-=", "*="):
        line = f"{dst} {kind} {operand(draw, program, shape, written)}"
    else:
        index = setitem_index(draw, shape)
        try:
            region = tuple(eval(f"{dst}[{index}]", program.shadow).shape)  # noqa: S307 - our own index
        except RuntimeError:  # PyTorch refuses to read this view any more: the step will fail
            region = ()
        line = f"{dst}[{index}] = {operand(draw, program, region, written)}"
    if draw(st.integers(0, 3)) == 0:
        line = f"with m.no_grad():\n    {line}"
    return program.add(line)


def setitem_index(draw, shape: tuple[int, ...]) -> str:
    if not shape or not shape[0]:
        return "..."
    kinds = ["int", "slice", "ellipsis", "ints", "mask"] + (["int, slice"] if len(shape) >= 2 else [])
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(-shape[0], shape[0] - 1))
    if kind == "int":
        return str(i)
    if kind == "ints":  # distinct: with repeats, which write wins is unspecified in PyTorch
        return str(sorted({i % shape[0], draw(st.integers(0, shape[0] - 1))}))
    if kind == "mask":
        return str(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    if kind == "slice":
        return f"{draw(st.integers(0, shape[0] - 1))}:"
    if kind == "ellipsis":
        return "..."
    return f"{i}, {draw(st.integers(0, shape[1] - 1))}:"


@st.composite
def programs(draw) -> Program:
    program = Program()
    shape = draw(st.sampled_from([(3,), (2, 3), (3, 2), (2, 2, 2)]))
    ok = draw_leaf(draw, program, shape)
    for _ in range(draw(st.integers(0, 2))):  # more leaves: the same shape or a row of it
        ok = ok and draw_leaf(draw, program, draw(st.sampled_from([shape, shape[-1:]])))
    if ok and draw(st.booleans()):  # a recorded copy, which in-place ops may write
        ok = program.add(f"{program.fresh()} = t0 * 1")
    steps = [draw_view, draw_view, draw_compute, draw_inplace, draw_inplace, draw_retain_grad,
             draw_requires_grad]
    for _ in range(draw(st.integers(1, MAX_STEPS))):
        if not ok:
            break
        ok = draw(st.sampled_from(steps))(draw, program)
    return program


def execute(lib, program: Program) -> tuple[dict, int | None, Exception | None]:
    """Run the program's statements in order; stop at the first that raises."""
    namespace = {"m": lib}
    for i, line in enumerate(program.lines):
        try:
            exec(line, namespace)  # noqa: S102 - the oracle's own generated statements
        except Exception as err:  # noqa: BLE001 - compared with PyTorch
            return namespace, i, err
        read_graphs(namespace)
    return namespace, None, None


def read_graphs(namespace: dict) -> None:
    """Read every tensor's ``grad_fn``. PyTorch rebuilds a view's graph after a write to its
    base only when that is read, and some of its checks see the graph as it was before (a
    view whose base entered the graph by a write counts as "a leaf" until then): its answers
    depend on which reads a program happens to make. Reading after every step makes them
    the same whatever the program reads, and as eager as microtensor's views are."""
    for value in namespace.values():
        if isinstance(value, (torch.Tensor, mt.Tensor)):
            # A split view whose base was written: PyTorch refuses to rebase it.
            with contextlib.suppress(RuntimeError):
                value.grad_fn  # noqa: B018 - read for its effect


def values(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.array)


# One test covers all programs; it gets ten times the profile's examples (fast: tiny tensors).
@settings(max_examples=10 * settings.default.max_examples)
@given(program=programs(), seed=st.integers(0, 2**32 - 1))
def test_views_and_inplace_programs(program: Program, seed: int) -> None:
    source = program.source()
    mine, mine_at, mine_err = execute(mt, program)
    theirs, theirs_at, theirs_err = execute(torch, program)
    assert mine_at == theirs_at, (
        f"program:\n{source}\nmicrotensor stops at statement {mine_at} ({mine_err!r}), "
        f"PyTorch at {theirs_at} ({theirs_err!r})")
    names = [n for n in program.names if n in theirs]
    for name in names:
        a, b = mine[name], theirs[name]
        where = f"program:\n{source}\n{name}"
        assert tuple(a.shape) == tuple(b.shape), f"{where}: shape {a.shape}, PyTorch {tuple(b.shape)}"
        assert_values_close(values(a), values(b), "float64",
                            f"{where}: values\n  microtensor {values(a).tolist()}\n"
                            f"  PyTorch     {values(b).tolist()}")
        assert bool(a.requires_grad) == b.requires_grad, \
            f"{where}: requires_grad {a.requires_grad}, PyTorch {b.requires_grad}"
        try:
            leaf = b.is_leaf
        except RuntimeError:  # a split view whose base was written: PyTorch refuses to say
            continue
        assert bool(a.is_leaf) == leaf, f"{where}: is_leaf {a.is_leaf}, PyTorch {leaf}"
    if theirs_err is not None:
        return

    rng = np.random.default_rng(seed)
    outputs = [n for n in names if theirs[n].requires_grad]
    if not outputs:
        return
    upstream = {n: rng.standard_normal(tuple(theirs[n].shape)) for n in outputs}
    errors = []
    for lib, namespace in ((mt, mine), (torch, theirs)):
        try:
            grads = {n: lib.tensor(upstream[n]) if lib is mt else torch.from_numpy(upstream[n])
                     for n in outputs}
            sum((namespace[n] * grads[n]).sum() for n in outputs).backward()
            errors.append(None)
        except Exception as err:  # noqa: BLE001 - compared with PyTorch
            errors.append(err)
    if errors[0] is None and "function that returns multiple views" in str(errors[1]):
        # The pieces of split are ordinary views here, on purpose (docs/engine/differences.md):
        # PyTorch refuses a backward through one whose base was
        # written in place; microtensor rebases it as any view.
        return
    assert (errors[0] is None) == (errors[1] is None), (
        f"program:\n{source}\nbackward from {outputs}: microtensor {errors[0]!r}, PyTorch {errors[1]!r}")
    if errors[1] is not None:
        return
    for name in program.leaves + [n for n in program.retained if not _replayed_view(theirs[n])]:
        with warnings.catch_warnings():  # a "leaf" made non-leaf by a later in-place op
            warnings.simplefilter("ignore", UserWarning)
            a, b = mine[name].grad, theirs[name].grad
        expected = np.zeros(tuple(theirs[name].shape)) if b is None else values(b)
        actual = np.zeros(tuple(mine[name].shape)) if a is None else values(a)
        assert_values_close(actual, expected, "float64",
                            f"program:\n{source}\nbackward from {outputs}: gradient of {name}\n"
                            f"  microtensor {actual.tolist()}\n  PyTorch     {expected.tolist()}")


def second_derivatives(lib, namespace: dict, outputs: list[str], leaves: list[str],
                       upstream: dict, direction: dict) -> list[np.ndarray]:
    """The leaves' gradient of ``sum(output² * upstream)``, recorded (``create_graph``), then the
    gradient of its dot product with ``direction``: a Hessian-vector product of the program.
    The square makes it nonzero for programs that are linear in their leaves, so every view and
    write's recorded backward takes part."""
    def tensor(a):
        return lib.tensor(a) if lib is mt else torch.from_numpy(a)

    loss = sum((namespace[n] * namespace[n] * tensor(upstream[n])).sum() for n in outputs)
    targets = [namespace[n] for n in leaves]
    firsts = lib.autograd.grad(loss, targets, create_graph=True, allow_unused=True)
    terms = [(g * tensor(direction[n])).sum() for g, n in zip(firsts, leaves)
             if g is not None and g.requires_grad]
    if not terms:
        return [np.zeros(tuple(t.shape)) for t in targets]
    seconds = lib.autograd.grad(sum(terms), targets, allow_unused=True)
    return [np.zeros(tuple(t.shape)) if s is None else values(s) for t, s in zip(targets, seconds)]


@given(program=programs(), seed=st.integers(0, 2**32 - 1))
def test_views_and_inplace_programs_differentiated_twice(program: Program, seed: int) -> None:
    """The same programs, through a recorded backward pass: second derivatives (and whether
    they raise) agree with PyTorch's double backward."""
    mine, _, mine_err = execute(mt, program)
    theirs, _, theirs_err = execute(torch, program)
    if mine_err is not None or theirs_err is not None:
        return  # compared by test_views_and_inplace_programs
    names = [n for n in program.names if n in theirs]
    outputs = [n for n in names if theirs[n].requires_grad]
    leaves = [n for n in program.leaves if theirs[n].requires_grad and theirs[n].is_leaf]
    if not outputs or not leaves:
        return
    rng = np.random.default_rng(seed)
    upstream = {n: rng.standard_normal(tuple(theirs[n].shape)) for n in outputs}
    direction = {n: rng.standard_normal(tuple(theirs[n].shape)) for n in leaves}
    results = []
    for lib, namespace in ((mt, mine), (torch, theirs)):
        try:
            results.append(second_derivatives(lib, namespace, outputs, leaves, upstream, direction))
        except Exception as err:  # noqa: BLE001 - compared with PyTorch
            results.append(err)
    source = program.source()
    if not isinstance(results[0], Exception) and "function that returns multiple views" in str(results[1]):
        return  # split's pieces are ordinary views here, on purpose (see the test above)
    assert isinstance(results[0], Exception) == isinstance(results[1], Exception), (
        f"program:\n{source}\nsecond derivatives: microtensor {results[0]!r}, PyTorch {results[1]!r}")
    if isinstance(results[1], Exception):
        return
    for name, actual, expected in zip(leaves, *results):
        assert_values_close(actual, expected, "float64",
                            f"program:\n{source}\nsecond derivative of {name}\n"
                            f"  microtensor {actual.tolist()}\n  PyTorch     {expected.tolist()}")
