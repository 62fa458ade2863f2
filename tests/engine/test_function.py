"""Adding an op: a Function subclass gets every engine feature; mistakes get clear errors."""

import numpy as np
import pytest

import microtensor as mt


class Softplus(mt.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.logaddexp(0, x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + np.exp(-x))


class ScaledAdd(mt.Function):
    """Two inputs and an option: a * alpha + b."""

    def forward(self, a, b, alpha=1.0):
        self.alpha = alpha
        return a * alpha + b

    def backward(self, grad):
        return grad * self.alpha, grad


def test_custom_op_backward_and_broadcasting_handled_by_engine():
    a = mt.tensor(np.ones((2, 3)), requires_grad=True)
    b = mt.tensor(np.ones(3), requires_grad=True)
    ScaledAdd.apply(a, b, alpha=2.0).sum().backward()
    assert a.grad.tolist() == [[2.0] * 3] * 2
    assert b.grad.tolist() == [2.0] * 3  # summed over the broadcast axis by the engine


def test_custom_op_gets_hooks_anomaly_and_version_checks():
    x = mt.tensor([0.0, 1.0], dtype=mt.float64, requires_grad=True)
    y = Softplus.apply(x)
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, 2 / (1 + np.exp(-x.array)))

    with mt.detect_anomaly(), pytest.raises(FloatingPointError, match="Softplus produced nan/inf"):
        Softplus.apply(mt.tensor([np.nan]))

    z = mt.tensor([1.0], dtype=mt.float64)
    w = mt.tensor([1.0], dtype=mt.float64, requires_grad=True)
    out = Softplus.apply(z) * w  # Mul saves Softplus's output
    with mt.no_grad():
        z.add_(1)  # Softplus was not recorded (z needs no grad), so this write harms nothing
    out.sum().backward()
    assert w.grad is not None


def test_custom_op_records_scope_tags():
    x = mt.ones(2, requires_grad=True)
    with mt.scope(layer="lstm.l0", t=3), mt.scope(gate="forget"):
        y = Softplus.apply(x)
    assert dict(y.grad_fn.scope) == {"layer": "lstm.l0", "t": 3, "gate": "forget"}
    assert (x * 2).grad_fn.scope == ()


def test_backward_returning_wrong_shape_names_the_op():
    class Bad(mt.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return np.ones(5)

    x = mt.ones(3, requires_grad=True)
    expected = r"Bad.backward returned a gradient of shape \(5,\) for input 0, which has shape \(3,\)"
    with pytest.raises(ValueError, match=expected):
        Bad.apply(x).sum().backward()


def test_backward_returning_wrong_number_of_gradients_names_the_op():
    class Bad(mt.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, grad):
            return grad

    with pytest.raises(ValueError, match="Bad.backward returned 1 gradients for 2 inputs"):
        Bad.apply(mt.ones(2, requires_grad=True), mt.ones(2)).sum().backward()


def test_missing_backward_is_reported():
    class ForwardOnly(mt.Function):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="ForwardOnly does not support backward"):
        ForwardOnly.apply(mt.ones(1, requires_grad=True)).sum().backward()


def test_mismatched_shapes_name_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"Add: .*\(inputs: \(2, 3\) float32, \(4,\) float32\)"):
        mt.ones(2, 3) + mt.ones(4)
    with pytest.raises(ValueError, match=r"MatMul: .*\(inputs: \(2, 3\) float32, \(4, 2\) float32\)"):
        mt.ones(2, 3) @ mt.ones(4, 2)
    with pytest.raises(ValueError, match=r"Reshape: .*\(inputs: \(6,\) float32\)"):
        mt.ones(6).reshape(4, 2)
    with pytest.raises(IndexError, match=r"Index: .*\(inputs: \(3,\) float32\)"):
        mt.ones(3)[5]


def test_failed_op_records_nothing():
    a = mt.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError):
        a * mt.ones(4)
    assert a.grad is None and a.is_leaf


def test_outer_grad_is_summed_as_one_product_and_checked():
    class Weighted(mt.Function):
        """y = x @ w, returning w's gradient unmultiplied."""

        def forward(self, x, w):
            self.save_for_backward(x, w)
            return x @ w

        def backward(self, grad):
            x, w = self.saved_tensors
            return grad @ w.T, mt.autograd.OuterGrad(x, grad)

    rng = np.random.default_rng(0)
    w = mt.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    xs = [mt.tensor(rng.normal(size=(4, 3))) for _ in range(5)]
    sum(Weighted.apply(x, w).sum() for x in xs).backward()
    np.testing.assert_allclose(w.grad.array, sum(x.array.T @ np.ones((4, 2)) for x in xs))

    class Wrong(Weighted):
        def backward(self, grad):
            x, w = self.saved_tensors
            return None, mt.autograd.OuterGrad(grad, x)  # transposed: (2, 3), not (3, 2)

    with pytest.raises(ValueError, match=r"Wrong.backward returned a gradient of shape \(2, 3\)"):
        Wrong.apply(xs[0], w).sum().backward()
