"""Run one call in microtensor and in PyTorch and compare what comes out.

A call's tensor operands are described once, as numpy arrays (``Arr``), and built in each
library; the results are compared by value (nan-aware, with a tolerance set by the dtype),
dtype, shape and type, and a raised error on one side must be matched by one on the other.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import microtensor as mt

DTYPES = ("bool", "int32", "int64", "float16", "float32", "float64")
FLOATS = ("float16", "float32", "float64")

# Absolute and relative tolerance of a value of each dtype. The oracle's finite values lie in
# [-10, 10] and reductions see at most a few dozen of them, so these bound rounding-order
# differences (numpy's pairwise sums against PyTorch's vectorised ones), not semantics.
TOLERANCE = {"float16": (1e-2, 1e-2), "float32": (1e-4, 1e-5), "float64": (1e-9, 1e-9)}


class Arr:
    """A tensor operand: ``array`` becomes a tensor of its dtype in each library; float arrays
    require grad when the test checks gradients."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __repr__(self) -> str:
        dtype = str(self.array.dtype)
        values = _literal(self.array)
        if self.array.size == 0:
            return f"tensor({values}, dtype={dtype}).reshape{self.array.shape}"
        return f"tensor({values}, dtype={dtype})"


def _literal(array: np.ndarray) -> str:
    """A Python literal that rebuilds ``array`` (nan and inf spelled as float('...'))."""
    text = repr(array.tolist())
    return text.replace("nan", "float('nan')").replace("inf", "float('inf')")


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def mt_dtype(name: str) -> Any:
    """microtensor's dtype object of that name (float16 through numpy while mt lacks it)."""
    return getattr(mt, name, None) or np.dtype(name)


class Lib:
    """One library as the table's calls see it: ``lib.m`` is ``mt`` or ``torch``, ``lib.F`` its
    ``nn.functional``, ``lib.tensor(Arr)`` builds an operand."""

    def __init__(self, name: str, requires_grad: bool) -> None:
        self.name = name
        self.m = mt if name == "mt" else torch
        self.F = self.m.nn.functional
        self.requires_grad = requires_grad
        self.leaves: list[Any] = []

    def tensor(self, arr: Arr) -> Any:
        array = arr.array.copy()
        grad = self.requires_grad and array.dtype.kind == "f"
        if self.name == "mt":
            t = mt.tensor(array, requires_grad=grad)
        else:
            t = torch.from_numpy(array).requires_grad_(grad)
        if grad:
            self.leaves.append(t)
        return t

    def dtype(self, name: str) -> Any:
        return mt_dtype(name) if self.name == "mt" else torch_dtype(name)

    def build(self, value: Any) -> Any:
        """Replace every ``Arr`` inside lists, tuples and dicts by a tensor."""
        if isinstance(value, Arr):
            return self.tensor(value)
        if isinstance(value, DType):
            return self.dtype(value.name)
        if isinstance(value, list):
            return [self.build(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.build(v) for v in value)
        if isinstance(value, dict):
            return {k: self.build(v) for k, v in value.items()}
        return value


@dataclass(frozen=True)
class DType:
    """A dtype argument (``x.to(dtype)``), spelled the same in both libraries."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"raises {type(self.error).__name__}: {str(self.error).splitlines()[0][:200]}"
        return f"returns {summary(self.result)}"


def run(lib: Lib, call: Callable, args: tuple, kwargs: dict) -> Outcome:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built_args, built_kwargs = lib.build(args), lib.build(kwargs)
            return Outcome(result=call(lib, *built_args, **built_kwargs))
    except Exception as err:  # noqa: BLE001 - any error is an outcome to compare
        return Outcome(error=err)


def is_tensor(x: Any) -> bool:
    return isinstance(x, (mt.Tensor, torch.Tensor))


def as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):  # force: PyTorch's all-zero double-backward results refuse plain numpy()
        return x.detach().numpy(force=True)
    return np.asarray(x.array)


def dtype_name(x: Any) -> str:
    return str(x.dtype).replace("torch.", "")


def summary(x: Any) -> str:
    if is_tensor(x):
        return f"{as_array(x).tolist()!r} (shape {tuple(x.shape)}, {dtype_name(x)})"
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(summary(v) for v in x) + ")"
    return repr(x)


def assert_values_close(actual: np.ndarray, expected: np.ndarray, dtype: str, what: str) -> None:
    if dtype in TOLERANCE:
        atol, rtol = TOLERANCE[dtype]
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def compare(mine: Any, theirs: Any, where: str = "result") -> None:
    """Assert that microtensor's result ``mine`` matches PyTorch's ``theirs``."""
    if is_tensor(theirs):
        assert isinstance(mine, mt.Tensor), \
            f"{where}: PyTorch returns a tensor, microtensor returns {type(mine).__name__}"
        assert tuple(mine.shape) == tuple(theirs.shape), \
            f"{where}: shape {tuple(mine.shape)}, PyTorch {tuple(theirs.shape)}"
        assert dtype_name(mine) == dtype_name(theirs), \
            f"{where}: dtype {dtype_name(mine)}, PyTorch {dtype_name(theirs)}"
        assert_values_close(as_array(mine), as_array(theirs), dtype_name(theirs), f"{where}: values")
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(mine, (tuple, list)) and len(mine) == len(theirs), \
            f"{where}: PyTorch returns {len(theirs)} items, microtensor {summary(mine)}"
        for i, (a, b) in enumerate(zip(mine, theirs)):
            compare(a, b, f"{where}[{i}]")
    else:
        assert not is_tensor(mine), f"{where}: PyTorch returns {theirs!r}, microtensor a tensor"
        assert type(mine) is type(theirs) and (mine == theirs or mine != mine and theirs != theirs), \
            f"{where}: {mine!r}, PyTorch {theirs!r}"


def compare_outcomes(mine: Outcome, theirs: Outcome, what: str) -> None:
    """Both raise or neither; where PyTorch says "Dimension out of range" (an IndexError) the
    error must be an IndexError here too, unless microtensor rejected the dtype first (a
    TypeError: which check runs first is not semantics); results must agree."""
    if theirs.error is not None or mine.error is not None:
        assert (theirs.error is None) == (mine.error is None), \
            f"{what}\n  microtensor {mine.describe()}\n  PyTorch     {theirs.describe()}"
        if isinstance(theirs.error, IndexError) and str(theirs.error).startswith("Dimension out of range"):
            assert isinstance(mine.error, (IndexError, TypeError)), \
                f"{what}\n  microtensor {mine.describe()}\n  PyTorch     {theirs.describe()}"
        return
    try:
        compare(mine.result, theirs.result)
    except AssertionError as err:
        raise AssertionError(f"{what}\n  {err}\n  microtensor {mine.describe()}\n"
                             f"  PyTorch     {theirs.describe()}") from None


def float_outputs(result: Any) -> list:
    """The floating tensors among a result (a tensor, or tuples of them)."""
    if is_tensor(result):
        return [result] if dtype_name(result) in FLOATS else []
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in float_outputs(r)]
    return []
