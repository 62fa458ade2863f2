"""detect_anomaly: the first NaN or inf raises, naming the op that made it."""

import numpy as np
import pytest

import microtensor as mt


def test_forward_nan_names_the_op():
    x = mt.tensor([-1.0, 4.0], requires_grad=True)
    expected = r"Sqrt produced nan/inf in its forward output \(shape \(2,\)\)"
    with pytest.raises(FloatingPointError, match=expected), mt.detect_anomaly():
        x.sqrt()


def test_backward_inf_names_the_op_and_where_it_was_made():
    x = mt.tensor([0.0, 4.0], dtype=mt.float64, requires_grad=True)
    with mt.detect_anomaly():
        y = x.sqrt()  # finite forward; d sqrt/dx at 0 is inf
        with pytest.raises(FloatingPointError) as err:
            y.sum().backward()
    message = str(err.value)
    assert "Sqrt.backward produced nan/inf in the gradient for input 0" in message
    assert "test_anomaly.py" in message  # the creation site is shown


def test_no_checks_outside_anomaly_mode():
    x = mt.tensor([-1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = x.sqrt()
    assert np.isnan(y.array).all()


def test_anomaly_mode_ends_with_the_block():
    with mt.detect_anomaly():
        pass
    with np.errstate(divide="ignore"):
        assert np.isinf(mt.tensor([0.0]).log().array).all()
