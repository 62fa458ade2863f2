"""PyTorch's type promotion, exhaustively: every pair of operands drawn from (each dtype as a
tensor, each dtype as a 0-d tensor, a Python bool, int and float) under ``+ - * / ** @`` and the
comparisons, against the dtype (or the error) PyTorch's operator gives and against
``torch.result_type``; and ``mt.promote_types`` against ``torch.promote_types`` for every pair.

Each test collects every mismatch of its slice of the matrix, so one failure lists them all.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch
from oracle_compare import DTYPES, Lib, compare_outcomes, mt_dtype, run, torch_dtype

import microtensor as mt

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "**": operator.pow, "@": operator.matmul, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


class Operand:
    """A tensor of a dtype (``(2, 2)``, ``kind="tensor"``), a 0-d tensor, or a Python scalar."""

    def __init__(self, kind: str, value: object) -> None:
        self.kind, self.value = kind, value

    def __repr__(self) -> str:
        return repr(self.value) if self.kind == "scalar" else f"{self.kind} {self.value}"

    def build(self, lib: Lib, left: bool) -> object:
        if self.kind == "scalar":
            return self.value
        # Values keep every op defined and exact: no division by zero, no overflow.
        values = [[1, 2], [2, 1]] if left else [[2, 1], [1, 2]]
        array = np.array(values if self.kind == "tensor" else 2, dtype=self.value)
        if self.value == "bool":
            array = array.astype(bool)
        return mt.tensor(array) if lib.name == "mt" else torch.from_numpy(array)


OPERANDS = ([Operand("tensor", d) for d in DTYPES] + [Operand("0-d", d) for d in DTYPES]
            + [Operand("scalar", v) for v in (True, 2, 2.5)])


def _mismatches(check, pairs) -> list[str]:
    found = []
    for left, right in pairs:
        try:
            check(left, right)
        except AssertionError as err:
            found.append(str(err))
    return found


@pytest.mark.parametrize("left", OPERANDS, ids=repr)
@pytest.mark.parametrize("symbol", OPERATORS)
def test_operator_result_dtype(symbol: str, left: Operand) -> None:
    op = OPERATORS[symbol]

    def check(left: Operand, right: Operand) -> None:
        def call(lib):
            return op(left.build(lib, True), right.build(lib, False))
        compare_outcomes(run(Lib("mt", False), lambda lib: call(lib), (), {}),
                         run(Lib("torch", False), lambda lib: call(lib), (), {}),
                         f"{left!r} {symbol} {right!r}")

    rights = [r for r in OPERANDS if not (left.kind == "scalar" and r.kind == "scalar")]
    found = _mismatches(check, [(left, r) for r in rights])
    assert not found, f"{len(found)} of {len(rights)} differ from PyTorch:\n" + "\n".join(found)


@pytest.mark.parametrize("left", OPERANDS, ids=repr)
def test_result_type(left: Operand) -> None:
    def check(left: Operand, right: Operand) -> None:
        expected = torch.result_type(left.build(Lib("torch", False), True),
                                     right.build(Lib("torch", False), False))
        try:
            got = mt.result_type(left.build(Lib("mt", False), True), right.build(Lib("mt", False), False))
        except Exception as err:  # noqa: BLE001 - reported as a mismatch
            raise AssertionError(f"mt.result_type({left!r}, {right!r}) raises "
                                 f"{type(err).__name__}: {err}") from None
        assert str(np.dtype(got)) == str(expected).replace("torch.", ""), \
            f"mt.result_type({left!r}, {right!r}) is {got}, torch.result_type {expected}"

    rights = [r for r in OPERANDS if not (left.kind == "scalar" and r.kind == "scalar")]
    found = _mismatches(check, [(left, r) for r in rights])
    assert not found, f"{len(found)} of {len(rights)} differ from PyTorch:\n" + "\n".join(found)


def test_promote_types() -> None:
    def check(a: str, b: str) -> None:
        expected = str(torch.promote_types(torch_dtype(a), torch_dtype(b))).replace("torch.", "")
        try:
            got = str(np.dtype(mt.promote_types(mt_dtype(a), mt_dtype(b))))
        except Exception as err:  # noqa: BLE001 - reported as a mismatch
            raise AssertionError(f"mt.promote_types({a}, {b}) raises {type(err).__name__}: {err}") from None
        assert got == expected, f"mt.promote_types({a}, {b}) is {got}, torch.promote_types {expected}"

    found = _mismatches(check, [(a, b) for a in DTYPES for b in DTYPES])
    assert not found, f"{len(found)} of {len(DTYPES) ** 2} differ from PyTorch:\n" + "\n".join(found)


@pytest.mark.parametrize("name", DTYPES)
def test_dtype_exported(name: str) -> None:
    """``mt.float16`` and friends exist and are what tensors of that dtype report."""
    dtype = getattr(mt, name)
    assert mt.zeros(2, dtype=dtype).dtype == dtype
