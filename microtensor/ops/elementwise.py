"""Elementwise ops. Gradients may come back in the broadcast shape: the engine
sums them down to each input's shape, and brings mixed dtypes to one before
``forward`` (the ``promote`` rule), so none of these ops deals with either."""

import numbers

import numpy as np

from ..autograd import Function, _state
from ..errors import DtypeError


def _refuse_bool(op: str, x: np.ndarray) -> None:
    """PyTorch has no arithmetic meaning for some ops on bools (use ``~``, ``^`` instead)."""
    if x.dtype.kind == "b":
        raise DtypeError(f"{op} is not supported on bool tensors")


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    promote = "common"

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    promote = "numeric"  # as PyTorch: no subtraction with bools (numpy's own refusal covers bool - bool)

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    promote = "common"

    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        return (None if b is None else grad * b), (None if a is None else grad * a)


class Div(Function):
    promote = "float"  # true division: integers divide into the default float dtype

    def forward(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        # PyTorch's formulas, grouped as it groups them: where b is 0 the double backward's
        # infinities and nans then come out where PyTorch's do.
        return grad / b, (None if a is None else -grad * (a / b / b))


class Neg(Function):
    def forward(self, x):
        _refuse_bool("Negation", x)
        return -x

    def backward(self, grad):
        return -grad


def _power(base, exponent, number_exponent):
    """``base ** exponent`` with PyTorch's special values. For a Python number it takes 0.5 as
    sqrt and -0.5 as 1 / sqrt (``-inf ** 0.5`` is nan, ``-0. ** -0.5`` is -inf); for a tensor,
    C's pow throughout (inf and inf there). numpy's own loop takes a broadcast 0.5 as sqrt."""
    if number_exponent:
        if exponent == 0.5:
            return np.sqrt(base)
        if exponent == -0.5:
            return 1 / np.sqrt(base)
        return np.power(base, exponent)
    out = np.power(base, exponent)  # bool ** bool: int8, cast back by the caller
    if np.asarray(out).dtype.kind != "f" or not np.any(exponent == 0.5):
        return out
    # pow(x, 0.5): +inf at -inf, +0 at -0 (adding 0.0 makes -0 +0), else sqrt.
    return np.where(exponent == 0.5, np.where(base == -np.inf, np.inf, np.sqrt(base) + 0.0), out)


class Pow(Function):
    promote = "common"

    def forward(self, base, exponent, number_exponent=False):
        dtype = np.result_type(base, exponent)  # numbers are weak: the tensor's dtype
        if dtype.kind in "iu" and np.any(np.asarray(exponent) < 0):
            # PyTorch rounds integer powers with negative exponents toward zero; numpy refuses.
            with np.errstate(divide="ignore"):
                real = np.asarray(base, np.float64) ** exponent
            out = np.where(np.isfinite(real), np.trunc(real), 0).astype(dtype)
        else:
            out = np.asarray(_power(base, exponent, number_exponent)).astype(dtype, copy=False)
        if number_exponent and type(exponent) is np.ndarray:  # a number promoted to 0-d: the
            exponent = exponent.item()  # number again, as backward's formula takes it
        self.number_exponent = number_exponent
        self.save_for_backward(base, exponent, out if self.needs_input_grad[1] else None)
        return out

    def backward(self, grad):
        # PyTorch's pow_backward, pow_backward_self and pow_backward_exponent, grouped as there
        # (a where around the product, not inside it): the double backward then has PyTorch's
        # zeros where the first masks a nan or an infinity.
        base, exponent, out = self.saved_tensors
        need_base, need_exponent = self.needs_input_grad
        grad_base = grad_exp = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_base and self.number_exponent:  # x**0 is a constant: zeros, no graph
                grad_base = (np.zeros_like(grad) if exponent == 0
                             else grad * (exponent * base ** (exponent - 1)))
            elif need_base:  # gradient 0 where the exponent is 0, even at x = 0 (0 * 0**-1)
                grad_base = np.where(exponent == 0, 0, grad * (exponent * base ** (exponent - 1)))
            if need_exponent and isinstance(base, numbers.Number):  # 2 ** x: log 2 a number
                log_base = float(np.log(base))
                grad_exp = (grad * (out * log_base) if base != 0
                            else grad * np.where(exponent >= 0, 0, out * log_base))
            elif need_exponent:  # d(b^e)/de = b^e log b, taken as 0 at b = 0 for e >= 0
                grad_exp = grad * np.where((base == 0) & (exponent >= 0), 0, out * np.log(base))
        return grad_base, grad_exp


# ------------------------------------------------------------------- unary math
class Exp(Function):
    promote = "float"

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out


class Log(Function):
    promote = "float"

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Sqrt(Function):
    promote = "float"

    def forward(self, x):
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    def forward(self, x):
        _refuse_bool("abs", x)
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * np.where(np.isnan(x), 0, np.sign(x))  # 0 at x = 0 and at NaN, as PyTorch


#: 2/sqrt(pi) - 1, kept apart from the 1 so that erf(x) = x + x * (...) loses no bits near 0.
_TWO_OVER_SQRT_PI_MINUS_1 = 0.12837916709551257390
_SQRT_PI = 1.7724538509055160273


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64, within 2 ulps of ``math.erf`` (numpy has none). Below |x| = 1 the
    Maclaurin series ``2/sqrt(pi) x sum (-x^2)^n / (n! (2n+1))`` (alternating, but its terms stay
    below 1 there, so little cancels); from 1 on, ``1 - erfc(x)`` with erfc's continued fraction
    ``exp(-x^2) / (sqrt(pi) (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))))``, evaluated from
    the tail back (stable); from 6 on erfc is below half an ulp of 1, so erf is +-1."""
    shape, x = np.shape(x), np.asarray(x, np.float64).ravel()  # 1-d: 0-d arrays take no masks
    a = np.abs(x)
    out = np.sign(x)  # +-1 beyond 6 (and at +-inf); nan stays nan
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        small = a < 1.0
        if small.any():
            xs = x[small]
            z = xs * xs
            term, series = np.ones_like(xs), np.zeros_like(xs)
            for n in range(1, 26):  # the 26th term is below 1e-26: past double precision
                term = term * (-z / n)
                series = series + term / (2 * n + 1)
            out[small] = xs + xs * (_TWO_OVER_SQRT_PI_MINUS_1
                                    + (1 + _TWO_OVER_SQRT_PI_MINUS_1) * series)  # keeps -0
        middle = (a >= 1.0) & (a < 6.0)
        if middle.any():
            am = a[middle]
            # The fraction converges slowly near 1: 200 levels reach double precision there,
            # 60 from 2 on (measured against math.erfc).
            t = am.copy()
            for n in range(200 if am.min() < 2.0 else 60, 0, -1):
                t = am + (n / 2) / t
            out[middle] = np.copysign(1 - np.exp(-am * am) / (_SQRT_PI * t), x[middle])
    return out.reshape(shape)


class Erf(Function):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, computed in float64 and
    rounded to the input's dtype; gradient ``2/sqrt(pi) * exp(-x^2)``.

    >>> import microtensor as mt
    >>> mt.tensor([0.0, 0.5, -3.0], dtype=mt.float64).erf().tolist()
    [0.0, 0.5204998778130465, -0.9999779095030014]
    """

    promote = "float"

    def forward(self, x):
        self.save_for_backward(x)
        return _erf(x).astype(x.dtype, copy=False)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * ((1 + _TWO_OVER_SQRT_PI_MINUS_1) * np.exp(-(x * x)))


# ------------------------------------------------------------ more unary math
class Log1p(Function):
    """``log(1 + x)``, exact near 0; gradient ``1 / (1 + x)``."""

    promote = "float"

    def forward(self, x):
        self.save_for_backward(x)
        return np.log1p(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x + 1)


class Expm1(Function):
    """``exp(x) - 1``, exact near 0; gradient ``exp(x)``, the output plus one."""

    promote = "float"

    def forward(self, x):
        out = np.expm1(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (out + 1)


class Sin(Function):
    promote = "float"

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * np.cos(x)


class Cos(Function):
    promote = "float"

    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * -np.sin(x)


class Rsqrt(Function):
    """``1 / sqrt(x)``; gradient ``-out**3 / 2``, from the output (as PyTorch: -inf at 0)."""

    promote = "float"

    def forward(self, x):
        with np.errstate(divide="ignore"):
            out = 1 / np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return -0.5 * grad * out * out * out


class Reciprocal(Function):
    """``1 / x``; gradient ``-out**2``, from the output (as PyTorch: -inf at 0)."""

    promote = "float"

    def forward(self, x):
        with np.errstate(divide="ignore"):
            out = 1 / x
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return -grad * (out * out)


class _Flat:
    """For piecewise constant ops (sign, floor, ceil, round): a zero gradient everywhere, jumps
    included, as PyTorch gives (not an error). Not a ``Function`` itself: ops mix it in."""

    def backward(self, grad):
        return np.zeros_like(grad)


class Sign(_Flat, Function):
    """-1, 0 or 1 in the input's dtype (bools stay as they are); 0 at nan and at -0, as PyTorch
    (numpy's sign keeps both)."""

    def forward(self, x):
        if x.dtype.kind == "b":
            return x.copy()
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


class Floor(_Flat, Function):
    """Round down; integers come back as they are (bools are refused, as PyTorch)."""

    def forward(self, x):
        _refuse_bool("floor", x)
        return np.floor(x) if x.dtype.kind == "f" else x.copy()


class Ceil(_Flat, Function):
    """Round up; integers come back as they are (bools are refused, as PyTorch)."""

    def forward(self, x):
        _refuse_bool("ceil", x)
        return np.ceil(x) if x.dtype.kind == "f" else x.copy()


class Round(_Flat, Function):
    """Round half to even, at ``decimals`` places (negative: tens, hundreds...), as PyTorch:
    ``rint(x * 10**d) / 10**d`` (``rint(x / 10**-d) * 10**-d`` for negative ``d``), float16
    through float32. ``decimals=None`` (not given) leaves integers as they are; with
    ``decimals``, PyTorch rounds floating point tensors only (even at 0)."""

    def forward(self, x, decimals=None):
        _refuse_bool("round", x)
        if x.dtype.kind != "f":
            if decimals is None:
                return x.copy()
            raise DtypeError(f"round(decimals=...) is not implemented for {x.dtype} tensors "
                             "(floating point only, as in PyTorch)")
        if not decimals:
            return np.rint(x)
        compute = np.float32 if x.dtype == np.float16 else x.dtype.type
        with np.errstate(over="ignore", invalid="ignore"):  # 10**400 is inf, as in C's pow
            scale = compute(np.power(10.0, abs(decimals)))
            y = x.astype(compute)
            out = np.rint(y / scale) * scale if decimals < 0 else np.rint(y * scale) / scale
        return out.astype(x.dtype)


# ---------------------------------------------------------- rounded division
def _remainder(a, b):
    """Python's ``%`` (the divisor's sign). Floats as PyTorch: ``fmod``, plus ``b`` where the
    signs differ, so ``-0. % 2.`` stays -0 (numpy's remainder makes it +0)."""
    if np.result_type(a, b).kind != "f":
        return np.remainder(a, b)
    mod = np.fmod(a, b)
    return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


def _trunc_divide(a, b):
    """``a / b`` rounded toward zero; integers exactly (``a - fmod(a, b)`` is a multiple of b)."""
    if np.result_type(a, b).kind != "f":
        return (a - np.fmod(a, b)) // b
    return np.trunc(np.true_divide(a, b))


def _divide(op: str, divide, a, b) -> np.ndarray:
    """``divide(a, b)`` in their common dtype, with PyTorch's refusals: bools, and an integer
    divisor of 0 (numpy would give 0 with a warning) unless the result is empty."""
    dtype = np.result_type(a, b)
    if dtype.kind == "b":
        raise DtypeError(f"{op} is not supported on bool tensors")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(divide(a, b)).astype(dtype, copy=False)
    if dtype.kind in "iu" and out.size and np.any(np.asarray(b) == 0):
        raise RuntimeError("ZeroDivisionError: integer division by zero")
    return out


def _rounded_quotient(a, b, rounding_mode: str):
    """``a / b`` rounded down (``"floor"``) or toward zero (``"trunc"``) inside a gradient
    formula: numpy on arrays; on a recorded pass's tensors PyTorch's ``div(rounding_mode=...)``
    op, whose gradient is zero (rounding ``a / b`` recorded would send ``0 / b``, nan, back
    where ``b`` is 0)."""
    if _state.recording_backward:
        return DivRounded.apply(a, b, rounding_mode=rounding_mode)
    if rounding_mode == "floor":
        return np.floor_divide(a, b)
    return _trunc_divide(a, b)


class Remainder(Function):
    """``a - b * floor(a / b)``; gradients ``1`` and ``-floor(a / b)`` (PyTorch's). PyTorch has
    no gradient for a Python-number dividend (``2.0 % x``): ``number_dividend`` refuses it too."""

    promote = "common"

    def forward(self, a, b, number_dividend=False):
        self.number_dividend = number_dividend
        self.save_for_backward(*((a, b) if self.needs_input_grad[1] else ()))
        return _divide("remainder", _remainder, a, b)

    def backward(self, grad):
        if self.number_dividend:
            raise NotImplementedError("the derivative of remainder(number, tensor) is not "
                                      "implemented, as in PyTorch")
        if not self.needs_input_grad[1]:
            return grad, None
        a, b = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad, -grad * _rounded_quotient(a, b, "floor")


class Fmod(Function):
    """C's ``fmod``, the remainder with the dividend's sign; gradients ``1`` and
    ``-trunc(a / b)``."""

    promote = "common"

    def forward(self, a, b):
        self.save_for_backward(*((a, b) if self.needs_input_grad[1] else ()))
        return _divide("fmod", np.fmod, a, b)

    def backward(self, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        a, b = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad, -grad * _rounded_quotient(a, b, "trunc")


class FloorDivide(Function):
    """``floor(a / b)`` in the common dtype (integers stay integers). PyTorch has no gradient
    for it: its output requires grad, and backward through it raises, here too."""

    promote = "common"

    def forward(self, a, b):
        return _divide("floor_divide", np.floor_divide, a, b)  # numpy's algorithm is PyTorch's

    def backward(self, grad):
        raise NotImplementedError("the derivative of floor_divide is not implemented, as in "
                                  "PyTorch; use div(..., rounding_mode='floor') for a zero one")


class DivRounded(Function):
    """``a / b`` rounded toward zero (``"trunc"``) or down (``"floor"``), in the common dtype;
    a zero gradient for both operands, as PyTorch's ``div(rounding_mode=...)``."""

    promote = "common"

    def forward(self, a, b, rounding_mode):
        if rounding_mode == "floor":
            return _divide("div", np.floor_divide, a, b)
        return _divide("div", _trunc_divide, a, b)

    def backward(self, grad):
        return np.zeros_like(grad), np.zeros_like(grad)


# ---------------------------------------------------------------- activations
class Tanh(Function):
    promote = "float"

    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        d = 1 - out * out  # then grad * d in place: one temporary fewer on the recurrent hot path
        d *= grad
        return d


class Sigmoid(Function):
    promote = "float"

    def forward(self, x):
        # Through tanh: one transcendental and no overflow for large |x|, unlike 1/(1+e^-x).
        out = np.tanh(x * 0.5)  # 0.5 + 0.5 * tanh(0.5 * x), the last two steps in place
        out *= 0.5
        out += 0.5
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        d = 1 - out  # grad * out * (1 - out), in one temporary
        d *= out
        d *= grad
        return d


class Relu(Function):
    def forward(self, x):
        _refuse_bool("relu", x)
        out = np.maximum(x, 0)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * ~(out <= 0)  # NaN passes its gradient on, as PyTorch


class Clamp(Function):
    """``min(max(x, low), high)`` (either bound may be None, a number or a tensor). Each
    element's gradient goes to whichever of the three it took its value from."""

    promote = "common"  # the bounds take part: an int tensor clamped at 0.5 becomes float

    def forward(self, x, low, high):
        if low is not None and high is not None:  # PyTorch's two-bound kernel has no bool
            _refuse_bool("clamp", x)
        self.save_for_backward(x, low, high)
        out = x if low is None else np.maximum(x, low)
        return out if high is None else np.minimum(out, high)

    def backward(self, grad):
        x, low, high = self.saved_tensors
        _, need_low, need_high = self.needs_input_grad
        if low is None or high is None:  # one bound: masks from it alone
            if low is not None:
                return grad * (x >= low), (grad * (x < low) if need_low else None), None
            return grad * (x <= high), None, (grad * (x > high) if need_high else None)
        # low at or above high: high wins (its gradient only above)
        return (grad * ((x >= low) & (x <= high)),
                grad * ((x < low) & (low < high)) if need_low else None,
                grad * ((x > high) | (low > high)) if need_high else None)


# ---------------------------------------------------------- choosing elements
class Maximum(Function):
    promote = "common"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        half = np.where(a == b, 0.5, 1.0)  # ties split the gradient evenly; a NaN gets it whole
        return grad * half * ~(a < b), grad * half * ~(a > b)  # (both sides, as PyTorch)


class Minimum(Function):
    promote = "common"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        half = np.where(a == b, 0.5, 1.0)
        return grad * half * ~(a > b), grad * half * ~(a < b)


class Where(Function):
    """``a`` where the boolean ``condition`` holds, else ``b`` (a keyword: it takes no part in
    type promotion and gets no gradient)."""

    promote = "common"

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad):
        zero = np.zeros((), grad.dtype)
        return np.where(self.condition, grad, zero), np.where(self.condition, zero, grad)


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
