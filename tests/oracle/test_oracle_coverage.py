"""Every public op has a row in the oracle's table: each callable of ``mt.__all__``, each method
and operator of ``mt.Tensor``, each function of ``mt.nn.functional``. A new op without a row
fails here, naming it; a name that is not an op is left out in ``NOT_OPS``, with the reason.

How rows are named (``oracle_table.py``): ``mt.NAME`` for ``mt.NAME(...)``, ``Tensor.NAME``
(or bare ``NAME``) for ``x.NAME(...)``, ``F.NAME`` for ``F.NAME(...)``, and the operator's
name (``add``, ``radd``, ``getitem``...) for ``x + y``; a variant appends ``_what`` or
``(what)`` (``mt.sum_dtype``). A row names the longest public name it starts with, so
``Tensor.add_`` covers ``add_`` and not ``add``.
"""

from __future__ import annotations

import inspect
import operator

from oracle_table import ROWS

import microtensor as mt
import microtensor.nn.functional as F

#: The public names that are not ops, by why. One table for the three namespaces.
NOT_OPS: dict[str, tuple[str, ...]] = {
    "dtypes, PyTorch's aliases of them, and the type system's queries and settings "
    "(promotion is test_oracle_promotion.py's)": (
        "mt.bool", "mt.double", "mt.float", "mt.float16", "mt.float32", "mt.float64", "mt.half",
        "mt.int", "mt.int8", "mt.int16", "mt.int32", "mt.int64", "mt.long", "mt.short",
        "mt.uint8", "mt.can_cast", "mt.promote_types", "mt.result_type", "mt.get_default_dtype",
        "mt.set_default_dtype"),
    "devices (the CPU only)": (
        "mt.accelerator", "mt.cuda", "mt.device", "mt.get_default_device",
        "mt.set_default_device"),
    "random-number generators": ("mt.Generator", "mt.manual_seed"),
    "autograd's machinery, not ops on values (replayed against PyTorch in "
    "test_oracle_programs.py and by the rows grad_twice, backward_twice, hooked, retained, no_grad)": (
        "mt.Function", "mt.grad", "mt.no_grad", "mt.enable_grad", "mt.inference_mode",
        "mt.set_grad_enabled", "mt.is_grad_enabled", "mt.detect_anomaly",
        "Tensor.backward", "Tensor.register_hook", "Tensor.retain_grad", "Tensor.requires_grad_"),
    "microtensor's own instruments, no PyTorch counterpart (tests/viz)": ("mt.observe", "mt.scope"),
    "saving, loading and printing": ("mt.save", "mt.load", "mt.CheckpointError",
                                     "mt.set_printoptions"),
    "modules and classes, whose ops are rows of their own": (
        "mt.nn", "mt.optim", "mt.utils", "mt.viz", "mt.Tensor"),
    "error types": ("mt.DtypeError", "mt.ShapeError"),
    "the legacy typed classes (tests/engine/test_legacy_forms.py)": (
        "mt.BoolTensor", "mt.ByteTensor", "mt.CharTensor", "mt.DoubleTensor", "mt.FloatTensor",
        "mt.HalfTensor", "mt.IntTensor", "mt.LongTensor", "mt.ShortTensor"),
}
SKIPPED = {name for names in NOT_OPS.values() for name in names}

#: The in-place operators' rows are named by their symbol.
OPERATOR_ROWS = {"iadd": "Tensor.+=", "isub": "Tensor.-=", "imul": "Tensor.*=",
                 "itruediv": "Tensor./="}


def operators() -> list[str]:
    """Tensor's operator methods, as rows name them: ``__add__`` is ``add``, ``__radd__``
    ``radd`` (an operator is a dunder of the ``operator`` module, or its reflection)."""
    names = [n[2:-2] for n in vars(mt.Tensor) if n.startswith("__") and n.endswith("__")]
    functions = {n[2:-2] for n, f in vars(operator).items()
                 if callable(f) and not inspect.isclass(f)}
    return sorted(n for n in names if n in functions or (n[:1] == "r" and n[1:] in functions))


def public_names() -> dict[str, list[str]]:
    """The public names of each namespace, with the rows' prefix: ``mt.`` functions (every
    name of ``__all__``), ``Tensor.`` methods (callable attributes), ``F.`` functions (those
    defined in ``mt.nn``: the module's imports from the core are not its API)."""
    functional = [n for n, f in vars(F).items() if not n.startswith("_") and inspect.isfunction(f)
                  and f.__module__.startswith("microtensor.nn")]
    methods = [n for n in dir(mt.Tensor)
               if not n.startswith("_") and callable(getattr(mt.Tensor, n))]
    return {"mt.": list(mt.__all__), "Tensor.": methods, "F.": functional}


def covered(prefix: str, names: list[str], row_names: list[str]) -> set[str]:
    """The names among ``names`` that some row ``prefix + name[_what|(what)]`` covers."""
    found = set()
    for row_name in row_names:
        if not row_name.startswith(prefix):
            continue
        rest = row_name[len(prefix):]
        matches = [n for n in names if rest == n or rest.startswith((f"{n}_", f"{n}("))]
        if matches:
            found.add(max(matches, key=len))
    return found


def missing() -> list[str]:
    row_names = [r.name for r in ROWS]
    ops = operators()
    # A bare row is a method call (``exp`` is ``x.exp()``) unless it is an operator's.
    bare = [f"Tensor.{n}" for n in row_names if "." not in n and n not in ops]
    gaps = []
    for prefix, names in public_names().items():
        wanted = [n for n in names if prefix + n not in SKIPPED]
        rows = row_names + bare if prefix == "Tensor." else row_names
        gaps += [prefix + n for n in sorted(set(wanted) - covered(prefix, wanted, rows))]
    gaps += [f"operator {n}" for n in ops if OPERATOR_ROWS.get(n, n) not in row_names]
    return gaps


def test_every_public_op_has_an_oracle_row() -> None:
    gaps = missing()
    assert not gaps, f"{len(gaps)} public ops without a row in oracle_table.py: {', '.join(gaps)}"


def test_not_ops_names_only_public_names_without_rows() -> None:
    """The skip table holds no stale name, and no name it skips has a row (a name with a row
    is an op: it belongs in the check, not in the table)."""
    public = {prefix + n for prefix, names in public_names().items() for n in names}
    assert sorted(SKIPPED - public) == [], "NOT_OPS names a name that is not public"
    rows = {r.name for r in ROWS}
    assert sorted(SKIPPED & rows) == [], "NOT_OPS skips a name that has a row"
