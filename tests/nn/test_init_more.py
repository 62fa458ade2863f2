"""nn.init's fan-based schemes (xavier, kaiming), orthogonal_ and trunc_normal_: bounds and
stds as PyTorch computes them, checked on samples large enough that a wrong fan or gain fails,
and against live PyTorch where it is installed."""

import math
import warnings

import numpy as np
import pytest

import microtensor as mt
from microtensor import nn

# (shape, fan_in, fan_out): a Linear weight is (out, in), a conv weight (out, in, *kernel)
FANS = [((7, 3), 3, 7), ((3, 7), 7, 3), ((16, 4, 3, 3), 36, 144), ((5, 2, 3), 6, 15),
        ((0, 3), 3, 0), ((4, 5, 1, 1, 2), 10, 8)]


@pytest.mark.parametrize("shape, fan_in, fan_out", FANS)
def test_fans(shape, fan_in, fan_out):
    assert nn.init._calculate_fan_in_and_fan_out(mt.zeros(shape)) == (fan_in, fan_out)


@pytest.mark.parametrize("shape", [f[0] for f in FANS])
def test_fans_match_pytorch(torch, shape):
    assert (nn.init._calculate_fan_in_and_fan_out(mt.zeros(shape))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape)))


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(), (4,)])
def test_fans_need_two_dimensions(name, shape):
    with pytest.raises(ValueError, match=r"init: fan in and fan out can not be computed for a "
                                         r"tensor with fewer than 2 dimensions, got shape"):
        getattr(nn.init, name)(mt.zeros(shape))


GAINS = [("linear", None, 1.0), ("conv2d", None, 1.0), ("conv_transpose3d", None, 1.0),
         ("sigmoid", None, 1.0), ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)),
         ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2,
         math.sqrt(2 / 1.04)), ("leaky_relu", 0, math.sqrt(2)), ("leaky_relu", 3,
         math.sqrt(2 / 10)), ("selu", None, 0.75), ("relu", 5.0, math.sqrt(2))]


@pytest.mark.parametrize("nonlinearity, param, gain", GAINS)
def test_calculate_gain(nonlinearity, param, gain):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-15)


@pytest.mark.parametrize("nonlinearity, param, gain", GAINS)
def test_calculate_gain_matches_pytorch(torch, nonlinearity, param, gain):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param)


@pytest.mark.parametrize("nonlinearity, param, message", [
    ("leaky_relu", True, "calculate_gain: negative_slope True is not a number"),
    ("leaky_relu", "0.1", "calculate_gain: negative_slope '0.1' is not a number"),
    ("swish", None, "calculate_gain: unsupported nonlinearity 'swish'"),
])
def test_calculate_gain_errors(nonlinearity, param, message):
    with pytest.raises(ValueError, match=message):
        nn.init.calculate_gain(nonlinearity, param)


# ------------------------------------------------------- the formulas, on large samples
# (shape, keyword arguments, PyTorch's bound or std as a function of fan_in and fan_out)
UNIFORM = [
    ((256, 512), "xavier_uniform_", {}, lambda i, o: math.sqrt(6 / (i + o))),
    ((64, 32, 3, 3), "xavier_uniform_", {"gain": 0.5}, lambda i, o: 0.5 * math.sqrt(6 / (i + o))),
    ((1000, 100), "xavier_uniform_", {"gain": 3.0}, lambda i, o: 3 * math.sqrt(6 / (i + o))),
    ((256, 512), "kaiming_uniform_", {}, lambda i, o: math.sqrt(6 / i)),  # a=0: the slope is 0
    ((256, 512), "kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"},
     lambda i, o: math.sqrt(6 / o)),
    ((64, 32, 3, 3), "kaiming_uniform_", {"a": 0.2}, lambda i, o: math.sqrt(6 / 1.04 / i)),
    ((64, 32, 3, 3), "kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "tanh"},
     lambda i, o: 5 / 3 * math.sqrt(3 / o)),
    ((1000, 100), "kaiming_uniform_", {"a": math.sqrt(5)}, lambda i, o: 1 / math.sqrt(i)),
]
NORMAL = [
    ((256, 512), "xavier_normal_", {}, lambda i, o: math.sqrt(2 / (i + o))),
    ((64, 32, 3, 3), "xavier_normal_", {"gain": 2.0}, lambda i, o: 2 * math.sqrt(2 / (i + o))),
    ((256, 512), "kaiming_normal_", {}, lambda i, o: math.sqrt(2 / i)),
    ((256, 512), "kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"},
     lambda i, o: math.sqrt(2 / o)),
    ((64, 32, 3, 3), "kaiming_normal_", {"a": 0.5, "mode": "fan_out"},
     lambda i, o: math.sqrt(2 / 1.25 / o)),
    ((1000, 100), "kaiming_normal_", {"nonlinearity": "selu"}, lambda i, o: 0.75 / math.sqrt(i)),
]


def fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


@pytest.mark.parametrize("shape, name, kwargs, bound", UNIFORM)
@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
def test_uniform_schemes_fill_up_to_the_bound(shape, name, kwargs, bound, dtype):
    mt.manual_seed(0)
    w = mt.zeros(shape, dtype=dtype, requires_grad=True)
    assert getattr(nn.init, name)(w, **kwargs) is w
    assert w.dtype == dtype and w.grad_fn is None and w.requires_grad
    b = bound(*fans(shape))
    # n >= 1e5 samples of U(-b, b): the largest |x| is within b/1e4 of b (all but
    # e^-20 of the time), so a bound a few percent off either way fails.
    top = np.abs(w.array).max()
    assert b * (1 - 1e-3) < top <= np.asarray(b, dtype=dtype)
    # symmetric with variance b^2 / 3
    n = w.numel()
    assert abs(w.array.mean()) < 6 * b / math.sqrt(3 * n)
    assert w.array.std() == pytest.approx(b / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("shape, name, kwargs, bound", UNIFORM)
def test_uniform_schemes_reach_pytorch_s_bound(torch, shape, name, kwargs, bound):
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.zeros(shape, dtype=torch.float64), **kwargs)
    mt.manual_seed(0)
    ours = getattr(nn.init, name)(mt.zeros(shape, dtype=mt.float64), **kwargs)
    b = bound(*fans(shape))
    their_top, our_top = theirs.abs().max().item(), np.abs(ours.array).max()
    assert their_top <= b and our_top <= b  # the same formula as PyTorch's ...
    assert our_top == pytest.approx(their_top, rel=1e-3)  # ... filled up to the same bound


@pytest.mark.parametrize("shape, name, kwargs, std", NORMAL)
def test_normal_schemes_have_the_std(shape, name, kwargs, std):
    mt.manual_seed(1)
    w = getattr(nn.init, name)(mt.zeros(shape, dtype=mt.float64), **kwargs)
    s, n = std(*fans(shape)), w.numel()
    # the sample std of n normals is off by about s / sqrt(2n) (< 0.3% here); 1% is 4 of those
    assert w.array.std() == pytest.approx(s, rel=0.01)
    assert abs(w.array.mean()) < 5 * s / math.sqrt(n)


@pytest.mark.parametrize("shape, name, kwargs, std", NORMAL)
def test_normal_schemes_match_pytorch_s_std(torch, shape, name, kwargs, std):
    torch.manual_seed(1)
    theirs = getattr(torch.nn.init, name)(torch.zeros(shape, dtype=torch.float64), **kwargs)
    ours = getattr(nn.init, name)(mt.zeros(shape, dtype=mt.float64), **kwargs)
    assert theirs.std().item() == pytest.approx(std(*fans(shape)), rel=0.01)
    assert ours.array.std() == pytest.approx(theirs.std().item(), rel=0.02)


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_bad_mode(name):
    with pytest.raises(ValueError, match=rf"{name}: mode 'fan' is not supported, use 'fan_in' "
                                         r"or 'fan_out'"):
        getattr(nn.init, name)(mt.zeros(3, 3), mode="fan")


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3)])
def test_kaiming_leaves_empty_tensors_alone_with_a_warning(name, shape):
    w = mt.zeros(shape)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(nn.init, name)(w) is w


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "orthogonal_",
                                  "trunc_normal_"])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_empty_tensors(name, shape):
    w = mt.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(nn.init, name)(w) is w and w.shape == shape


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
@pytest.mark.parametrize("shape", [(0, 0), (0, 0, 3)])
def test_xavier_of_no_fans_divides_by_zero_as_pytorch(name, shape):
    with pytest.raises(ZeroDivisionError, match=rf"{name}: fan_in \+ fan_out is 0 for a tensor "
                                                r"of shape \(0, 0"):
        getattr(nn.init, name)(mt.zeros(shape))


def test_ones_and_constant():
    w = mt.zeros(2, 3, dtype=mt.float64, requires_grad=True)
    assert nn.init.ones_(w) is w and np.all(w.array == 1) and w.grad_fn is None
    assert nn.init.constant_(w, -2.5) is w and np.all(w.array == -2.5)
    i = mt.zeros(3, dtype=mt.int64)
    assert nn.init.constant_(i, 2).tolist() == [2, 2, 2] and nn.init.ones_(i).tolist() == [1, 1, 1]


# --------------------------------------------------------------------------- orthogonal_
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (3, 2, 4), (8, 1, 1, 2), (1, 5),
                                   (5, 1)])
@pytest.mark.parametrize("gain", [1.0, 0.5, 3.0])
def test_orthogonal_rows_or_columns(shape, gain):
    mt.manual_seed(2)
    w = mt.zeros(shape, dtype=mt.float64, requires_grad=True)
    assert nn.init.orthogonal_(w, gain=gain) is w and w.grad_fn is None
    q = w.array.reshape(shape[0], -1)
    # tall (or square): orthogonal columns, Q^T Q = gain^2 I; wide: orthogonal rows
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-12)


def test_orthogonal_is_uniform_over_the_orthogonal_group():
    # Without the sign fix by R's diagonal, QR of a normal sample puts the diagonal of Q
    # mostly positive; with it, each entry has mean 0.
    mt.manual_seed(3)
    diag = np.array([np.diag(nn.init.orthogonal_(mt.zeros(4, 4, dtype=mt.float64)).array)
                     for _ in range(2000)])
    assert np.all(np.abs(diag.mean(axis=0)) < 0.06)  # std of a mean of 2000 is 0.011


def test_orthogonal_float32_and_pytorch(torch):
    ours = nn.init.orthogonal_(mt.zeros(20, 50), gain=2.0).array
    theirs = torch.nn.init.orthogonal_(torch.zeros(20, 50), gain=2.0).numpy()
    for q in (ours, theirs):
        assert q.dtype == np.float32
        np.testing.assert_allclose(q @ q.T, 4 * np.eye(20), atol=1e-5)


@pytest.mark.parametrize("shape", [(), (3,)])
def test_orthogonal_needs_two_dimensions(shape):
    with pytest.raises(ValueError, match=r"orthogonal_: only tensors with 2 or more dimensions "
                                         r"are supported, got shape"):
        nn.init.orthogonal_(mt.zeros(shape))


# ------------------------------------------------------------------------- trunc_normal_
def truncated_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [a, b]."""
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    alpha, beta = (a - mean) / std, (b - mean) / std
    z = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift**2
    return mean + std * shift, std * math.sqrt(var)


TRUNC = [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, -1.0, 4.0), (0.0, 0.02, -0.04, 0.04),
         (-3.0, 1.0, -3.5, 0.0), (0.5, 0.1, 0.0, 10.0), (0.0, 1.0, 2.0, 3.0)]


@pytest.mark.parametrize("mean, std, a, b", TRUNC)
def test_trunc_normal_stays_within_bounds_with_the_truncated_moments(mean, std, a, b):
    mt.manual_seed(4)
    w = mt.zeros(200_000, dtype=mt.float64, requires_grad=True)
    assert nn.init.trunc_normal_(w, mean, std, a, b) is w and w.grad_fn is None
    assert a <= w.array.min() and w.array.max() <= b
    m, s = truncated_moments(mean, std, a, b)
    assert abs(w.array.mean() - m) < 5 * s / math.sqrt(w.numel())
    assert w.array.std() == pytest.approx(s, rel=0.01)


@pytest.mark.parametrize("mean, std, a, b", TRUNC)
def test_trunc_normal_float32_and_pytorch(torch, mean, std, a, b):
    ours = nn.init.trunc_normal_(mt.zeros(100_000), mean, std, a, b).array
    theirs = torch.nn.init.trunc_normal_(torch.zeros(100_000), mean, std, a, b).numpy()
    for w in (ours, theirs):
        assert w.dtype == np.float32
        assert np.float32(a) <= w.min() and w.max() <= np.float32(b)
    s = truncated_moments(mean, std, a, b)[1]
    assert abs(ours.mean() - theirs.mean()) < 8 * s / math.sqrt(ours.size)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)


def test_trunc_normal_far_from_its_mean_warns_and_stays_within_bounds():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        w = nn.init.trunc_normal_(mt.zeros(1000, dtype=mt.float64), mean=10.0)
    assert np.all((w.array >= -2) & (w.array <= 2)) and np.all(np.isfinite(w.array))


def test_trunc_normal_bad_bounds():
    with pytest.raises(ValueError, match="trunc_normal_: the lower bound a=2 is above the upper "
                                         "bound b=1"):
        nn.init.trunc_normal_(mt.zeros(3), a=2, b=1)


def test_erfinv_is_exact_to_float64():
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 20001), [1e-300, -1e-12, 1 - 2**-52]])
    x = nn.init._erfinv(y.copy())
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(erf(x), y, rtol=4e-16, atol=0)
    assert nn.init._erfinv(np.array([1.0, -1.0])).tolist() == [math.inf, -math.inf]


@pytest.mark.parametrize("name", ["xavier_uniform_", "kaiming_normal_", "orthogonal_",
                                  "trunc_normal_"])
def test_seeded(name):
    mt.manual_seed(5)
    a = getattr(nn.init, name)(mt.zeros(4, 3)).array
    mt.manual_seed(5)
    np.testing.assert_array_equal(a, getattr(nn.init, name)(mt.zeros(4, 3)).array)
