"""Elementwise ops. Gradients may come back in the broadcast shape: the engine
sums them down to each input's shape, so none of these ops deals with broadcasting."""

import numpy as np

from ..autograd import Function


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        grad_a = grad / b
        return (grad_a if need_a else None), (-grad_a * a / b if need_b else None)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Pow(Function):
    def forward(self, base, exponent):
        out = base ** exponent
        self.save_for_backward(base, exponent, out)
        return out

    def backward(self, grad):
        base, exponent, out = self.saved_tensors
        need_base, need_exponent = self.needs_input_grad
        grad_base = None
        if need_base:  # x**0 is constant: gradient 0 even at x = 0, where 0 * 0**-1 is nan
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_base = grad * np.where(exponent == 0, 0, exponent * base ** (exponent - 1))
        # d(b^e)/de = b^e log b; only computed when asked, since log b is nan for b < 0.
        grad_exp = grad * out * np.log(base) if need_exponent else None
        return grad_base, grad_exp


# ------------------------------------------------------------------- unary math
class Exp(Function):
    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Sqrt(Function):
    def forward(self, x):
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * np.sign(x)  # 0 at x = 0, as PyTorch


# ---------------------------------------------------------------- activations
class Tanh(Function):
    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (1 - out * out)


class Sigmoid(Function):
    def forward(self, x):
        # Through tanh: one transcendental and no overflow for large |x|, unlike 1/(1+e^-x).
        out = 0.5 + 0.5 * np.tanh(0.5 * x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out * (1 - out)


class Relu(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.maximum(x, 0)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * (x > 0)


class Clamp(Function):
    def forward(self, x, min=None, max=None):  # noqa: A002 - PyTorch's names
        self.save_for_backward(x)
        self.bounds = (min, max)
        return np.clip(x, min, max)

    def backward(self, grad):
        (x,) = self.saved_tensors
        low, high = self.bounds
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return grad * inside


# ---------------------------------------------------------- choosing elements
class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        share = (a > b) + 0.5 * (a == b)  # ties split the gradient evenly, as PyTorch
        return grad * share, grad * (1 - share)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        share = (a < b) + 0.5 * (a == b)
        return grad * share, grad * (1 - share)


class Where(Function):
    def forward(self, condition, a, b):
        self.save_for_backward(condition)
        return np.where(condition, a, b)

    def backward(self, grad):
        (condition,) = self.saved_tensors
        zero = np.zeros((), grad.dtype)
        return None, np.where(condition, grad, zero), np.where(condition, zero, grad)


# --------------------------------------------------------------------- copies
class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


class Cast(Function):
    """Change dtype; the engine casts the gradient back to the input's dtype."""

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, grad):
        return grad
