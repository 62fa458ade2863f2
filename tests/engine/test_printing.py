"""``repr(tensor)`` is PyTorch's text: the same digits, widths, wrapping, summaries and
suffixes, checked against PyTorch itself (only the dtype's spelling differs on purpose:
``dtype=float64`` where PyTorch prints ``dtype=torch.float64``)."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microtensor as mt

DTYPES = [np.dtype(d) for d in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64,
                                np.float16, np.float32, np.float64)]
# Shapes past the threshold of 1000 elements, so PyTorch prints a summary.
BIG_SHAPES = [(1001,), (40, 30), (3, 500), (12, 10, 10), (2000, 1), (2, 3, 4, 50)]


def torch_repr(torch, array: np.ndarray) -> str:
    """PyTorch's repr with the dtype spelled as microtensor spells it (numpy's name)."""
    return repr(torch.from_numpy(array)).replace("dtype=torch.", "dtype=")


@pytest.fixture
def restore_printoptions(torch):
    yield
    mt.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


@st.composite
def generated_arrays(draw, shape: tuple[int, ...]) -> np.ndarray:
    """Big arrays from a seeded generator: magnitudes around 10**exponent, spread over up
    to ``spread`` decades, maybe whole numbers, with nan/inf/zeros sprinkled in."""
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)  # asarray: shape () gives a numpy scalar
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        high = min(int(info.max), 10 ** draw(st.integers(0, 18)))
        return np.asarray(rng.integers(max(int(info.min), -high), high, shape, dtype=dtype,
                                       endpoint=True))
    exponent, spread = draw(st.integers(-10, 10)), draw(st.integers(0, 6))
    values = np.asarray(rng.standard_normal(shape)
                        * 10.0 ** (exponent + spread * rng.uniform(-1, 1, shape)))
    if draw(st.booleans()):
        values = np.round(values)
    flat = values.reshape(-1)
    for special in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]),
                                 max_size=4 if flat.size else 0)):
        flat[rng.integers(flat.size)] = special
    with np.errstate(over="ignore"):  # float16 turns big values into inf, as it should
        return np.asarray(values.astype(dtype))


@st.composite
def any_arrays(draw) -> np.ndarray:
    """Small arrays of any dtype with hypothesis's own values (extremes, subnormals, nan,
    inf, -0.0), or big generated ones."""
    if draw(st.booleans()):
        return draw(generated_arrays(draw(st.sampled_from(BIG_SHAPES))))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    if draw(st.booleans()):
        return draw(generated_arrays(shape))
    return draw(hnp.arrays(draw(st.sampled_from(DTYPES)), shape))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(any_arrays())
def test_repr_matches_pytorch(torch, array):
    assert repr(mt.from_numpy(array)) == torch_repr(torch, array)
    assert str(mt.from_numpy(array)) == repr(mt.from_numpy(array))


@pytest.mark.parametrize("values, dtype", [
    (3.2131739, None), ([1.5, 2.25], None), ([1.0, 2.0], None), ([], None), ([], np.int64),
    ([], np.bool_), (np.zeros((0, 3)), None), (np.zeros((2, 0, 1)), np.int32),
    ([0.0, -0.0], None), ([-0.0, 1.5], None), ([np.nan, np.inf, -np.inf], None),
    ([np.nan, 1.0, -np.inf], None), ([1e-5, 1.0], None), ([1.0, 1001.0], None),
    ([1e8, 1.0], None), ([1e9], None), ([123456789.0], np.float64), (-7, np.int8),
    ([True, False], None), ([[1, 22], [333, -4444]], np.int16), (np.arange(30.0) / 7, np.float64),
    (np.arange(24).reshape(2, 3, 4), np.uint8), (np.arange(1001.0), np.float16),
    (np.linspace(-1, 1, 1200).reshape(3, 4, 100), np.float64),
])
def test_documented_cases_match_pytorch(torch, values, dtype):
    array = np.asarray(values, dtype=dtype if dtype is not None else np.float32)
    assert repr(mt.from_numpy(array)) == torch_repr(torch, array)


def test_dtype_shown_unless_default_float_int64_or_bool(torch):
    mt.set_default_dtype(mt.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for array in [np.array([1.5, 2.0]), np.array([1.5], np.float32), np.array([], np.float64)]:
            assert repr(mt.from_numpy(array)) == torch_repr(torch, array)
    finally:
        torch.set_default_dtype(torch.float32)


def test_suffixes_in_pytorch_order_then_name(torch):
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == repr(torch.tensor([1.0, 2.0], requires_grad=True))
    y = x.double() * 2
    y.name = "y"
    # grad_fn shows the engine's op name (PyTorch: <MulBackward0>)
    assert repr(y) == "tensor([2., 4.], dtype=float64, grad_fn=<Mul>, name='y')"


def test_suffixes_wrap_past_linewidth(torch):
    array = np.arange(9, dtype=np.float64) + 0.5
    tx = torch.from_numpy(array).requires_grad_()
    expected = repr(tx).replace("dtype=torch.", "dtype=")
    assert "\n" in expected
    assert repr(mt.from_numpy(array).requires_grad_()) == expected


printoptions = st.fixed_dictionaries({}, optional={
    "precision": st.integers(0, 8), "threshold": st.integers(0, 200),
    "edgeitems": st.integers(0, 4), "linewidth": st.integers(10, 120),
    "profile": st.sampled_from(["default", "short", "full"]), "sci_mode": st.booleans(),
})


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(printoptions, any_arrays())
def test_set_printoptions_matches_pytorch(torch, restore_printoptions, options, array):
    mt.set_printoptions(**options)
    torch.set_printoptions(**options)
    assert repr(mt.from_numpy(array)) == torch_repr(torch, array)


def test_set_printoptions_resets_sci_mode_and_rejects_unknown_profiles(restore_printoptions):
    mt.set_printoptions(sci_mode=True)
    assert repr(mt.tensor([1.0, 2.0])) == "tensor([1.0000e+00, 2.0000e+00])"
    mt.set_printoptions(precision=1)  # sci_mode not given: automatic again, as in PyTorch
    assert repr(mt.tensor([1.0, 2.5])) == "tensor([1.0, 2.5])"
    with pytest.raises(ValueError, match=re.escape("profile must be one of")):
        mt.set_printoptions(profile="long")
