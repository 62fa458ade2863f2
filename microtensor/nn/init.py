"""Parameter initialisation, in place, from the generator that ``mt.manual_seed`` seeds.

Each function fills a tensor under ``no_grad`` (as PyTorch's ``nn.init`` does) and
returns it, so a layer's ``reset_parameters`` reads as a list of distributions.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import no_grad
from ..generators import generator
from ..tensor import Tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from U(a, b).

    >>> import microtensor as mt
    >>> w = mt.nn.init.uniform_(mt.zeros(1000), -0.1, 0.1)
    >>> bool((w.abs() <= 0.1).all())
    True
    """
    if a > b:
        raise ValueError(f"uniform_: the lower bound a={a} is above the upper bound b={b}")
    with no_grad():
        return tensor.copy_(generator().uniform(a, b, tensor.shape).astype(tensor.dtype))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from N(mean, std²).

    >>> import microtensor as mt
    >>> w = mt.nn.init.normal_(mt.zeros(10000), mean=3.0, std=0.1)
    >>> round(w.mean().item(), 1)
    3.0
    """
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    with no_grad():
        return tensor.copy_(generator().normal(mean, std, tensor.shape).astype(tensor.dtype))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` (e.g. a forget-gate bias of 1).

    >>> import microtensor as mt
    >>> mt.nn.init.constant_(mt.zeros(3), 1.0).tolist()
    [1.0, 1.0, 1.0]
    """
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros.

    >>> import microtensor as mt
    >>> mt.nn.init.zeros_(mt.ones(2)).tolist()
    [0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones.

    >>> import microtensor as mt
    >>> mt.nn.init.ones_(mt.zeros(2)).tolist()
    [1.0, 1.0]
    """
    return constant_(tensor, 1.0)


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for ``nonlinearity`` (``param``: leaky_relu's negative slope,
    0.01 if None), the factor the xavier and kaiming schemes scale their std by.

    >>> import microtensor as mt
    >>> mt.nn.init.calculate_gain("tanh"), round(mt.nn.init.calculate_gain("relu"), 4)
    (1.6666666666666667, 1.4142)
    """
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        # bool is an int to Python but not a slope (PyTorch refuses it too)
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # PyTorch's value, chosen for self-normalising networks
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` as PyTorch counts them: a weight is (out, in, *kernel), so
    fan_in = in * prod(kernel) and fan_out = out * prod(kernel)."""
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str, op: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _xavier_scale(tensor: Tensor, op: str) -> float:
    """sqrt(2 / (fan_in + fan_out)); PyTorch divides by zero for a (0, 0) tensor, as here."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        raise ZeroDivisionError(f"{op}: fan_in + fan_out is 0 for a tensor of shape "
                                f"{tensor.shape}")
    return math.sqrt(2.0 / float(fan_in + fan_out))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot's uniform: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import microtensor as mt
    >>> w = mt.nn.init.xavier_uniform_(mt.zeros(30, 20))  # bound sqrt(6 / 50)
    >>> bool((w.abs() <= (6 / 50) ** 0.5).all())
    True
    """
    # PyTorch's order of operations: the std first, then sqrt(3) * std (same rounding)
    std = gain * _xavier_scale(tensor, "xavier_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot's normal: N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> import microtensor as mt
    >>> w = mt.nn.init.xavier_normal_(mt.zeros(500, 300))  # std sqrt(2 / 800) = 0.05
    >>> round(float(w.array.std()), 2)
    0.05
    """
    return normal_(tensor, 0.0, gain * _xavier_scale(tensor, "xavier_normal_"))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, op: str) -> float | None:
    """He's std, gain / sqrt(fan); None for a tensor with no elements, which PyTorch leaves
    alone with a warning (its fan may be 0)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, op))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He's uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), where fan is fan_in
    or fan_out (``mode``) and gain is ``calculate_gain(nonlinearity, a)``.

    >>> import microtensor as mt
    >>> w = mt.nn.init.kaiming_uniform_(mt.zeros(16, 8), nonlinearity="relu")  # bound sqrt(6/8)
    >>> bool((w.abs() <= (6 / 8) ** 0.5).all())
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He's normal: N(0, std²) with std = gain / sqrt(fan) (``mode`` picks fan_in or fan_out,
    gain is ``calculate_gain(nonlinearity, a)``).

    >>> import microtensor as mt
    >>> w = mt.nn.init.kaiming_normal_(mt.zeros(800, 200), mode="fan_out", nonlinearity="relu")
    >>> round(float(w.array.std()), 2)  # sqrt(2 / 800)
    0.05
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor: Tensor, gain: float = 1) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a normal sample;
    a tensor of more than 2 dimensions is flattened to (shape[0], rest).

    >>> import microtensor as mt
    >>> q = mt.nn.init.orthogonal_(mt.zeros(3, 3), gain=2.0)
    >>> bool(((q.T @ q - 4 * mt.eye(3)).abs() < 1e-5).all())
    True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor  # nothing to fill (PyTorch returns it as is)
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = generator().standard_normal((rows, cols))
    if rows < cols:  # QR gives orthonormal columns, so a wide matrix is built transposed
        flat = flat.T
    q, r = np.linalg.qr(flat)
    # Fixing the signs by R's diagonal makes Q uniform over orthogonal matrices (Mezzadri)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with no_grad():
        return tensor.copy_((q * gain).reshape(tensor.shape).astype(tensor.dtype))


def _erfinv(y: np.ndarray) -> np.ndarray:
    """The inverse error function (numpy has none): Winitzki's approximation (good to 2e-3),
    then Newton steps to float64 precision; ±1 give ±inf."""
    erf, erfc = np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.log1p(-y * y)
        c = 2 / (np.pi * 0.147) + log / 2
        x = np.sign(y) * np.sqrt(np.sqrt(c * c - log / 0.147) - c)
        finite = np.isfinite(x)
        x_, y_ = np.abs(x[finite]), np.abs(y[finite])  # erfinv is odd
        tail = y_ > 0.5
        for _ in range(5):  # each step about squares the error
            slope = 2 / math.sqrt(math.pi) * np.exp(-x_ * x_)
            # Near 0, Newton on erf(x) = y; in the tail, where erf(x) rounds to 1, on
            # log erfc(x) = log(1 - y) (1 - y is exact there), which is nearly straight
            step = np.empty_like(x_)
            head = ~tail
            step[head] = (erf(x_[head]).astype(np.float64) - y_[head]) / slope[head]
            erfc_x = erfc(x_[tail]).astype(np.float64)
            step[tail] = (np.log(erfc_x) - np.log1p(-y_[tail])) * -erfc_x / slope[tail]
            x_ = x_ - step
        x[finite] = np.copysign(x_, y[finite])
    return x


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Fill ``tensor`` from N(mean, std²) truncated to [a, b] (``a`` and ``b`` are values, not
    numbers of stds), by PyTorch's method: the inverse normal CDF of a uniform sample between
    the CDFs of a and b, then clamped to [a, b].

    >>> import microtensor as mt
    >>> w = mt.nn.init.trunc_normal_(mt.zeros(1000), std=1.0, a=-0.5, b=0.5)
    >>> bool(((w >= -0.5) & (w <= 0.5)).all())
    True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)

    def cdf(x: float) -> float:  # the standard normal's
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    low, high = 2 * cdf((a - mean) / std) - 1, 2 * cdf((b - mean) / std) - 1
    if low > high:
        raise ValueError(f"trunc_normal_: the lower bound a={a} is above the upper bound b={b}")
    # erfinv of U(2 cdf(a) - 1, 2 cdf(b) - 1), scaled: PyTorch's sampler, in float64
    values = _erfinv(generator().uniform(low, high, tensor.shape))
    values = np.clip(values * (std * math.sqrt(2.0)) + mean, a, b)
    with no_grad():
        return tensor.copy_(values.astype(tensor.dtype))
