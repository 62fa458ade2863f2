"""Issue 18, second round: where nn did something else than PyTorch without saying so.

Half-precision gradient clipping, the dtype and target checks of LayerNorm and the losses,
and the state_dict of a model that ties a module or a parameter under two names. Each test
states PyTorch 2.13's numbers where they can be written down; the ones that run PyTorch
itself skip (with one line saying why) when it is not installed.
"""

import math

import numpy as np
import pytest

import microtensor as mt
from microtensor.nn.utils import clip_grad_norm_

TORCH_MISSING = "the PyTorch oracle extra (pip install -e '.[oracle]') is not installed"


def oracle():
    """PyTorch, or skip the calling test."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


# ---------------------------------------------------------------- 4: clip_grad_norm_ in half

def with_grads(grads, dtypes):
    """A parameter per gradient, each holding that gradient in its dtype."""
    params = []
    for g, dtype in zip(grads, dtypes):
        p = mt.zeros(np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = mt.tensor(g, dtype=dtype)
        params.append(p)
    return params


def test_clip_half_gradients_whose_squares_overflow_half():
    # 300² + 400² = 250000 is past float16's largest (65504): the sum of squares runs in float32.
    (p,) = with_grads([[300.0, 400.0]], [mt.float16])
    total = clip_grad_norm_(p, max_norm=1.0)
    assert total.dtype == mt.float16 and total.item() == 500.0
    assert p.grad.dtype == mt.float16
    assert p.grad.tolist() == [0.60009765625, 0.80029296875]  # PyTorch's, bit for bit


def test_clip_half_gradients_whose_squares_underflow_half():
    # (1e-4)² is below float16's smallest subnormal: today's norm was 0.
    (p,) = with_grads([[1e-4, 1e-4]], [mt.float16])
    total = clip_grad_norm_(p, max_norm=1.0)
    assert total.dtype == mt.float16 and total.item() == 0.00014150142669677734
    assert p.grad.tolist() == [0.00010001659393310547] * 2  # under max_norm: untouched


@pytest.mark.parametrize("norm_type, norm, grads", [
    (math.inf, 400.0, [0.75, 1.0]),
    (1.0, 700.0, [0.428466796875, 0.5712890625]),
    (2.0, 500.0, [0.60009765625, 0.80029296875]),
])
def test_clip_half_gradients_other_norms(norm_type, norm, grads):
    (p,) = with_grads([[300.0, 400.0]], [mt.float16])
    total = clip_grad_norm_(p, 1.0, norm_type=norm_type)
    assert total.dtype == mt.float16 and total.item() == norm and p.grad.tolist() == grads


def test_clip_half_norm_past_half_range_is_inf_and_refused_if_asked():
    # The norm itself (84852.8) does not fit in float16: PyTorch returns inf and zeroes.
    (p,) = with_grads([[60000.0, 60000.0]], [mt.float16])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert p.grad.tolist() == [60000.0, 60000.0]  # a refused clip changes nothing
    total = clip_grad_norm_(p, 1.0)
    assert total.dtype == mt.float16 and total.item() == math.inf
    assert p.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtypes, norm, dtype, grads", [
    # Each gradient's norm is taken in its own dtype, then the norms are promoted together.
    ((mt.float16, mt.float32), 1300.0, mt.float32, [[0.230712890625, 0.3076171875],
                                                   [0.9230769276618958]]),
    ((mt.float32, mt.float16), 1300.0, mt.float32, [[0.23076923191547394, 0.3076923191547394],
                                                   [0.9228515625]]),
    ((mt.float16, mt.float64), 1300.0, mt.float64, [[0.230712890625, 0.3076171875],
                                                   [0.9230769223668639]]),
    ((mt.float32, mt.float64), 1300.0, mt.float64, [[0.23076923191547394, 0.3076923191547394],
                                                   [0.9230769223668639]]),
])
def test_clip_mixed_dtypes_promote_the_norm(dtypes, norm, dtype, grads):
    params = with_grads([[300.0, 400.0], [1200.0]], dtypes)
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == dtype and total.item() == norm
    assert [p.grad.tolist() for p in params] == grads
    assert [p.grad.dtype for p in params] == list(dtypes)


def test_clip_mixed_dtypes_a_half_norm_that_overflows_stays_inf():
    # The float16 gradient's own norm is inf before the float32 one joins it (PyTorch too).
    a, b = with_grads([[60000.0, 60000.0], [1.0]], [mt.float16, mt.float32])
    assert clip_grad_norm_([a, b], 1.0).item() == math.inf
    a, b = with_grads([[60000.0, 60000.0], [1.0]], [mt.float32, mt.float16])
    total = clip_grad_norm_([a, b], 1.0)
    assert total.dtype == mt.float32 and total.item() == pytest.approx(84852.8125, rel=1e-7)
    assert b.grad.tolist() == [1.1801719665527344e-05]


def test_clip_without_gradients_returns_zero_in_the_default_dtype():
    mt.set_default_dtype(mt.float64)
    total = clip_grad_norm_([mt.zeros(2, requires_grad=True)], 1.0)
    assert total.dtype == mt.float64 and total.item() == 0.0


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("dtypes", [("float16",), ("float16", "float16"), ("float16", "float32"),
                                    ("float32", "float16"), ("float64", "float16"),
                                    ("float32", "float64"), ("float32", "float32")])
@pytest.mark.parametrize("seed", range(4))
def test_clip_matches_pytorch(norm_type, dtypes, seed):
    torch = oracle()
    rng = np.random.default_rng(seed)
    scale = [1e-5, 1.0, 300.0, 3e4][seed]  # underflow, plain, overflow of half's squares, of half
    grads = [np.clip(rng.standard_normal(int(rng.integers(1, 60))) * scale, -6e4, 6e4)
             for _ in dtypes]
    max_norm = float(rng.choice([0.5, 1.0, 7.0]))
    ours = with_grads(grads, dtypes)
    theirs = []
    for g, dtype in zip(grads, dtypes):
        p = torch.zeros(len(g), dtype=getattr(torch, dtype), requires_grad=True)
        p.grad = torch.tensor(g, dtype=getattr(torch, dtype))
        theirs.append(p)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert str(total.dtype) == str(expected.dtype).removeprefix("torch.")
    assert [p.grad.dtype for p in ours] == [p.dtype for p in ours]
    if set(dtypes) == {"float16"}:
        # Rounded to half, the float32 sums agree whatever their order: bit for bit.
        np.testing.assert_array_equal(total.data, expected.numpy())  # nan equals nan here
        for p, q in zip(ours, theirs):
            np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
        return
    # float32 sums in another order than PyTorch's vectorised ones: an ulp or two apart.
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(),
                                   rtol=1e-3 if p.dtype == mt.float16 else 1e-6)
