"""Every row of the oracle's table, run in microtensor and in PyTorch on the same drawn inputs.

``test_forward`` draws every dtype and compares result values, dtypes, shapes and errors;
``test_gradient`` draws float64 operands that require grad, sends the same random upstream
gradient back through both libraries, and compares which outputs require grad and every
leaf's gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle_compare import (
    DTYPES,
    Arr,
    Lib,
    Outcome,
    as_array,
    assert_values_close,
    compare_outcomes,
    dtype_name,
    float_outputs,
    is_tensor,
    run,
)
from oracle_table import ROWS, Row
from torch.nn.attention import SDPBackend, sdpa_kernel

GRAD_ROWS = [r for r in ROWS if r.grad]


def describe_call(row: Row, args: tuple, kwargs: dict) -> str:
    spelled = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{row.name}({', '.join(spelled)})"


def shapes_and_dtypes(outcome: Outcome) -> Outcome:
    """For random ops: keep what must agree (shape, dtype), drop the drawn values."""
    def strip(x):
        if is_tensor(x):
            return (tuple(x.shape), dtype_name(x))
        if isinstance(x, (tuple, list)):
            return tuple(strip(v) for v in x)
        return x
    return outcome if outcome.error else Outcome(result=strip(outcome.result))


def test_table_covers_each_row_once():
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names)), "duplicate row names"


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
@given(data=st.data())
def test_forward(row: Row, data) -> None:
    args, kwargs = row.sample(data.draw, DTYPES)
    mine = run(Lib("mt", requires_grad=False), row.call, args, kwargs)
    theirs = run(Lib("torch", requires_grad=False), row.call, args, kwargs)
    if not row.values:
        mine, theirs = shapes_and_dtypes(mine), shapes_and_dtypes(theirs)
    compare_outcomes(mine, theirs, describe_call(row, args, kwargs))


def backward(lib: Lib, outputs: list, upstream: list) -> Outcome:
    """Send ``upstream`` back from ``outputs`` (one: ``backward(gradient)``; several: through
    the sum of their products with it)."""
    try:
        grads = [lib.m.tensor(g) if lib.name == "mt" else lib.m.from_numpy(g) for g in upstream]
        if len(outputs) == 1:
            outputs[0].backward(grads[0])
        else:
            sum((o * g).sum() for o, g in zip(outputs, grads)).backward()
        return Outcome(result=None)
    except Exception as err:  # noqa: BLE001 - compared with PyTorch's outcome
        return Outcome(error=err)


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r.name for r in GRAD_ROWS])
@given(data=st.data())
def test_gradient(row: Row, data) -> None:
    args, kwargs = row.sample(data.draw, ("float64",))
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream gradient seed")
    what = describe_call(row, args, kwargs)
    mine_lib, torch_lib = Lib("mt", requires_grad=True), Lib("torch", requires_grad=True)
    mine = run(mine_lib, row.call, args, kwargs)
    theirs = run(torch_lib, row.call, args, kwargs)
    compare_outcomes(mine, theirs, what)
    if theirs.error is not None:
        return
    mine_out, torch_out = float_outputs(mine.result), float_outputs(theirs.result)
    assert [bool(o.requires_grad) for o in mine_out] == [o.requires_grad for o in torch_out], \
        f"{what}: which outputs require grad differs"
    pairs = [(m, t) for m, t in zip(mine_out, torch_out) if t.requires_grad]
    if not pairs:
        return
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(tuple(t.shape)).astype(as_array(t).dtype) for _, t in pairs]
    compare_outcomes(backward(mine_lib, [m for m, _ in pairs], upstream),
                     backward(torch_lib, [t for _, t in pairs], upstream), f"{what}: backward")
    for i, (m, t) in enumerate(zip(mine_lib.leaves, torch_lib.leaves)):
        expected = np.zeros(tuple(t.shape)) if t.grad is None else as_array(t.grad)
        actual = np.zeros(tuple(m.shape)) if m.grad is None else as_array(m.grad)
        assert actual.shape == expected.shape, \
            f"{what}: gradient of input {i} has shape {actual.shape}, PyTorch {expected.shape}"
        if m.grad is not None and t.grad is not None:
            assert dtype_name(m.grad) == dtype_name(t.grad), \
                f"{what}: gradient of input {i} has dtype {dtype_name(m.grad)}, PyTorch {dtype_name(t.grad)}"
        assert_values_close(actual, expected, "float64",
                            f"{what}: gradient of input {i}\n  microtensor {actual.tolist()}\n"
                            f"  PyTorch     {expected.tolist()}\n  upstream {upstream}")


def second_order(lib: Lib, outputs: list, upstream: list, directions: list) -> Outcome:
    """The derivative of ``sum(grad_i * v_i)`` with respect to every leaf, where ``grad`` is the
    leaves' gradient of the outputs for ``upstream`` (recorded: ``create_graph=True``) and
    ``v`` are ``directions``: the second-order check, as PyTorch's double backward gives it.
    Leaves with no gradient, or one that does not depend on them, get zeros."""
    m = lib.m
    try:
        grads = [m.tensor(g) if lib.name == "mt" else m.from_numpy(g) for g in upstream]
        firsts = m.autograd.grad(outputs, lib.leaves, grads, create_graph=True, allow_unused=True)
        terms = [(g * (m.tensor(v) if lib.name == "mt" else m.from_numpy(v))).sum()
                 for g, v in zip(firsts, directions) if g is not None and g.requires_grad]
        if not terms:
            return Outcome(result=[np.zeros(tuple(leaf.shape)) for leaf in lib.leaves])
        seconds = m.autograd.grad(sum(terms), lib.leaves, allow_unused=True)
        return Outcome(result=[np.zeros(tuple(leaf.shape)) if s is None else as_array(s)
                               for leaf, s in zip(lib.leaves, seconds)])
    except Exception as err:  # noqa: BLE001 - compared with PyTorch's outcome
        return Outcome(error=err)


#: Rows whose double backward PyTorch cannot run, with why: microtensor's is checked against
#: finite differences of its own first-order gradient (itself checked against PyTorch's).
TORCH_HAS_NO_DOUBLE_BACKWARD = {
    "F.layer_norm": "without weight=, PyTorch's double backward fails ('Expected a proper "
                    "Tensor but got None ... for argument #1 'other'')",
}


def infinite_pos_weight(row: Row, kwargs: dict) -> bool:
    """docs/engine/differences.md: with an infinite ``pos_weight``, the second derivative
    of ``binary_cross_entropy_with_logits`` at a logit of 0 may be nan where PyTorch's is inf
    (inf times softplus's zero-derivative piece at 0)."""
    weight = kwargs.get("pos_weight")
    return (row.name.startswith("F.binary_cross_entropy_with_logits") and weight is not None
            and not np.isfinite(weight.array).all())


def perturbed(value, steps: list[np.ndarray], scale: float):
    """``value`` (a call's arguments) with each float ``Arr``, in the order ``Lib.build`` makes
    them leaves, moved by ``scale`` times its step."""
    if isinstance(value, Arr):
        if value.array.dtype.kind != "f":
            return value
        return Arr(value.array + scale * steps.pop(0))
    if isinstance(value, (list, tuple)):
        return type(value)(perturbed(v, steps, scale) for v in value)
    if isinstance(value, dict):
        return {k: perturbed(v, steps, scale) for k, v in value.items()}
    return value


def first_order(row: Row, args, kwargs, picked: list[int], upstream: list) -> list[np.ndarray]:
    """The leaves' gradient of ``sum(output_i * upstream_i)`` over the picked float outputs."""
    lib = Lib("mt", requires_grad=True)
    outputs = float_outputs(run(lib, row.call, args, kwargs).result)
    backward(lib, [outputs[i] for i in picked], upstream)
    return [np.zeros(tuple(leaf.shape)) if leaf.grad is None else as_array(leaf.grad)
            for leaf in lib.leaves]


def finite_difference_hvp(row: Row, args, kwargs, picked, upstream, directions) -> list:
    """H v by central differences of the first-order gradient along ``directions``."""
    eps = 1e-6
    plus = first_order(row, perturbed(args, list(directions), eps),
                       perturbed(kwargs, list(directions[_count_floats(args):]), eps),
                       picked, upstream)
    minus = first_order(row, perturbed(args, list(directions), -eps),
                        perturbed(kwargs, list(directions[_count_floats(args):]), -eps),
                        picked, upstream)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _count_floats(value) -> int:
    if isinstance(value, Arr):
        return int(value.array.dtype.kind == "f")
    if isinstance(value, (list, tuple)):
        return sum(_count_floats(v) for v in value)
    if isinstance(value, dict):
        return sum(_count_floats(v) for v in value.values())
    return 0


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r.name for r in GRAD_ROWS])
@given(data=st.data())
def test_second_order(row: Row, data) -> None:
    args, kwargs = row.sample(data.draw, ("float64",))
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream gradient seed")
    what = describe_call(row, args, kwargs)
    mine_lib, torch_lib = Lib("mt", requires_grad=True), Lib("torch", requires_grad=True)
    mine = run(mine_lib, row.call, args, kwargs)
    # PyTorch's math attention: its CPU flash kernel has no double backward.
    with sdpa_kernel(SDPBackend.MATH):
        theirs = run(torch_lib, row.call, args, kwargs)
    if theirs.error is not None or mine.error is not None:
        return  # the forward and first-order tests compare these
    picked = [i for i, (m, t) in enumerate(zip(float_outputs(mine.result),
                                               float_outputs(theirs.result)))
              if t.requires_grad and m.requires_grad]
    if not picked or not torch_lib.leaves:
        return
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(tuple(float_outputs(theirs.result)[i].shape)) for i in picked]
    directions = [rng.standard_normal(tuple(t.shape)) for t in torch_lib.leaves]
    mine2 = second_order(mine_lib, [float_outputs(mine.result)[i] for i in picked], upstream,
                         directions)
    with sdpa_kernel(SDPBackend.MATH):
        theirs2 = second_order(torch_lib, [float_outputs(theirs.result)[i] for i in picked],
                               upstream, directions)
    if theirs2.error is not None and row.name in TORCH_HAS_NO_DOUBLE_BACKWARD and mine2.error is None:
        if not all(np.isfinite(as_array(leaf)).all() for leaf in mine_lib.leaves):
            return  # finite differences say nothing at inf or nan
        theirs2 = Outcome(result=finite_difference_hvp(row, args, kwargs, picked, upstream,
                                                       directions))
        for i, (actual, expected) in enumerate(zip(mine2.result, theirs2.result)):
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5, err_msg=(
                f"{what}: second derivative of input {i} against finite differences"))
        return
    if theirs2.error is not None and mine2.error is None:
        raise AssertionError(f"{what}: PyTorch's double backward raised "
                             f"{type(theirs2.error).__name__}: {theirs2.error}; microtensor's did not")
    if mine2.error is not None:
        if theirs2.error is None:
            raise AssertionError(f"{what}: double backward raised {type(mine2.error).__name__}: "
                                 f"{mine2.error}; PyTorch's did not") from mine2.error
        return
    for i, (actual, expected) in enumerate(zip(mine2.result, theirs2.result)):
        assert actual.shape == expected.shape, \
            f"{what}: second derivative of input {i} has shape {actual.shape}, PyTorch {expected.shape}"
        if infinite_pos_weight(row, kwargs):
            actual = np.where(np.isnan(actual) & np.isinf(expected), expected, actual)
        assert_values_close(actual, expected, "float64",
                            f"{what}: second derivative of input {i}\n  microtensor "
                            f"{actual.tolist()}\n  PyTorch     {expected.tolist()}")
