"""``Erf``: values within 2 ulps of ``math.erf`` (numpy has no erf), special values, dtypes,
and the gradient 2/sqrt(pi) exp(-x^2)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck, tensors


def ulps(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.abs(actual - expected) / np.spacing(np.abs(expected))


def test_erf_within_two_ulps_of_math_erf_on_a_dense_grid():
    grid = np.concatenate([np.linspace(-7, 7, 140_001), np.geomspace(1e-300, 7, 20_000),
                           -np.geomspace(1e-300, 7, 20_000), np.geomspace(5e-324, 1e-300, 50),
                           np.nextafter([1.0, 6.0], 0), [1.0, 6.0, 2.0, 0.5]])
    expected = np.array([math.erf(v) for v in grid])
    assert ulps(mt.tensor(grid).erf().numpy(), expected).max() <= 2


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_erf_of_any_double_within_two_ulps(v):
    assert ulps(mt.erf(mt.tensor([v], dtype=mt.float64)).numpy(), np.array([math.erf(v)]))[0] <= 2


def test_erf_special_values():
    x = mt.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 1e308, -1e308], dtype=mt.float64)
    out = mt.erf(x).numpy()
    assert out[:4].tolist() == [0.0, 0.0, 1.0, -1.0] and np.isnan(out[4])
    assert np.signbit(out[1]) and not np.signbit(out[0])  # -0 stays -0
    assert out[5:].tolist() == [1.0, -1.0]


@pytest.mark.parametrize("dtype", [mt.float16, mt.float32, mt.float64])
def test_erf_keeps_floating_dtypes(dtype):
    x = np.linspace(-3, 3, 61).astype(dtype)
    expected = np.array([math.erf(v) for v in x.astype(np.float64)])
    out = mt.tensor(x).erf()
    assert out.dtype == dtype
    # Computed in float64 and rounded once: within an ulp of the dtype (2 in float64).
    assert ulps(out.numpy().astype(np.float64), expected.astype(dtype).astype(np.float64)
                ).max() <= (2 if dtype == mt.float64 else 1)


def test_erf_of_integers_and_bools_is_the_default_float():
    assert mt.erf(mt.tensor([1, 2])).dtype == mt.float32
    assert mt.tensor([True]).erf().tolist() == [pytest.approx(math.erf(1.0))]


def test_erf_gradient_is_two_over_sqrt_pi_exp_minus_x_squared():
    x = mt.tensor([-2.0, 0.0, 0.5, 3.0, math.inf], dtype=mt.float64, requires_grad=True)
    x.erf().sum().backward()
    expected = 2 / math.sqrt(math.pi) * np.exp(-np.array([-2.0, 0.0, 0.5, 3.0, math.inf]) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15)


@given(x=tensors(min_value=-4, max_value=4))
def test_erf_gradcheck(x):
    assert gradcheck(mt.erf, [x])


def test_erf_matches_pytorch(torch):
    values = np.linspace(-6, 6, 1201)
    for dtype in (np.float32, np.float64):
        x = mt.tensor(values.astype(dtype), requires_grad=True)
        tx = torch.tensor(values.astype(dtype), requires_grad=True)
        x.erf().sum().backward()
        tx.erf().sum().backward()
        tol = 1e-6 if dtype == np.float32 else 1e-15
        np.testing.assert_allclose(x.erf().detach().numpy(), tx.erf().detach().numpy(), atol=tol)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol * 10, atol=tol)
