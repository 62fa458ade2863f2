"""Adamax against live PyTorch (many steps, options, dtypes, groups, a state_dict round trip
mid-run), by hand, and its option errors."""

import numpy as np
import pytest

import microtensor as mt
from microtensor.optim import Adamax

TORCH_MISSING = "the PyTorch oracle extra (pip install -e '.[oracle]') is not installed"
STEPS, SAVE_AT = 60, 25
# Relative to the largest parameter: float32 rounds each step's small differences (an fma
# here, a reordering there) into parameters that feed the next gradient.
RTOL = {"float32": 1e-6, "float64": 1e-14}


def oracle():
    """PyTorch, or skip the calling test."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


def make_groups(params, group_options):
    """Group 0: a matrix and a parameter that never gets a gradient; group 1 its own options."""
    return [{"params": [params[0], params[2]]}, {"params": [params[1]], **group_options}]


def gradient(seed, p, t):
    """Noise of a size that changes over the run, plus a pull towards 0 so errors feed back."""
    noise = np.random.default_rng(seed).standard_normal(p.shape)
    return noise * (1 + 3 * np.sin(t)) + 0.5 * p.astype(np.float64)


def run_both(opt_name, options, group_options, dtype, save_dir=None, seed=0):
    """(microtensor's, PyTorch's) parameter values after each step, as float64 arrays.

    With ``save_dir``, both optimizers are rebuilt mid-run on fresh copies of the parameters
    from their state dicts (ours through ``mt.save`` and ``mt.load``)."""
    torch = oracle()

    def build(lib, params):
        return getattr(lib.optim, opt_name)(make_groups(params, group_options), **options)

    rng = np.random.default_rng(seed)
    p0 = [rng.standard_normal(s).astype(dtype) for s in [(3, 2), (4,), (2,)]]
    ours = [mt.tensor(p, requires_grad=True) for p in p0]
    theirs = [torch.tensor(p, requires_grad=True) for p in p0]
    opt_ours, opt_theirs = build(mt, ours), build(torch, theirs)
    out_ours, out_theirs = [], []
    for t in range(STEPS):
        if save_dir is not None and t == SAVE_AT:
            mt.save(opt_ours.state_dict(), save_dir / "opt.npz")
            ours = [mt.tensor(p.data, requires_grad=True) for p in ours]
            opt_ours = build(mt, ours)
            opt_ours.load_state_dict(mt.load(save_dir / "opt.npz"))
            saved = opt_theirs.state_dict()
            theirs = [p.detach().clone().requires_grad_() for p in theirs]
            opt_theirs = build(torch, theirs)
            opt_theirs.load_state_dict(saved)
        for i, (a, b) in enumerate(zip(ours[:2], theirs[:2])):
            # the same noise for both, each pulled towards its own parameter
            a.grad = mt.tensor(gradient([seed, t, i], a.data, t).astype(dtype))
            b.grad = torch.tensor(gradient([seed, t, i], b.detach().numpy(), t).astype(dtype))
        opt_ours.step()
        opt_theirs.step()
        out_ours.append(np.concatenate([p.data.ravel() for p in ours]).astype(np.float64))
        out_theirs.append(np.concatenate([p.detach().numpy().ravel() for p in theirs]))
    check_same_state(opt_ours.state_dict(), opt_theirs.state_dict(), dtype)
    return np.array(out_ours), np.array(out_theirs)


def check_same_state(ours, theirs, dtype):
    """The same parameter indices, state names and step counts, and close buffers."""
    assert ours["param_groups"] == theirs["param_groups"]
    assert list(ours["state"]) == list(theirs["state"]) == [0, 2]  # 1 never had a gradient
    for index, state in theirs["state"].items():
        assert list(ours["state"][index]) == list(state)
        for key, value in state.items():
            expected = value.numpy()
            got = np.asarray(ours["state"][index][key])
            if key != "step" and key != "mu_product":
                assert got.dtype == expected.dtype == np.dtype(dtype)
            # relative to the largest entry, as the parameters: a buffer's entries near 0 are
            # differences of the gradients, which carry the parameters' rounding
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got, expected, rtol=0, atol=RTOL[dtype] * scale)


def assert_close(ours, theirs, dtype):
    scale = np.abs(theirs).max()
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=RTOL[dtype] * scale)


OPTIONS = [
    ({}, {}),
    (dict(lr=0.05), {"lr": 0.01, "betas": (0.5, 0.9)}),
    (dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1), {"maximize": True}),
    (dict(lr=0.03, maximize=True, weight_decay=0.05), {"weight_decay": 0, "eps": 0.5}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS)
def test_matches_pytorch(options, group_options, dtype):
    ours, theirs = run_both("Adamax", options, group_options, dtype)
    assert_close(ours, theirs, dtype)
    assert (ours[:, -2:] == ours[0, -2:]).all()  # no gradient, no move


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options, group_options", OPTIONS[1:3])
def test_state_dict_round_trip_mid_run_matches_pytorch(options, group_options, dtype, tmp_path):
    ours, theirs = run_both("Adamax", options, group_options, dtype, save_dir=tmp_path)
    assert_close(ours, theirs, dtype)
    uninterrupted, _ = run_both("Adamax", options, group_options, dtype)
    assert np.array_equal(ours, uninterrupted)


def test_state_dict_mirrors_pytorchs():
    torch = oracle()
    ours, theirs = mt.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opts = [Adamax([ours], lr=0.1), torch.optim.Adamax([theirs], lr=0.1)]
    ours.grad, theirs.grad = mt.ones(2), torch.ones(2)
    for opt in opts:
        opt.step()
    sd_ours, sd_theirs = (opt.state_dict() for opt in opts)
    assert sd_ours["param_groups"] == sd_theirs["param_groups"]
    assert list(sd_ours["state"][0]) == list(sd_theirs["state"][0])
    assert sd_ours["state"][0]["step"] == sd_theirs["state"][0]["step"].item() == 1


def test_steps_by_hand(run):
    w = mt.tensor([0.0], dtype=mt.float64, requires_grad=True)
    opt = Adamax([w], lr=1.0, betas=(0.5, 0.5), eps=0.0)
    got = run(opt, w, [np.array([2.0]), np.array([-1.0])])
    # 1: m = 1, u = 2, step 1 / 0.5 * 1 / 2 = 1.  2: m = 0, no move (u = max(1, 1) = 1).
    np.testing.assert_allclose(np.concatenate(got), [-1.0, -1.0], rtol=1e-15)
    assert opt.state[w]["exp_inf"].item() == 1.0


def test_defaults_are_torchs():
    group = Adamax([mt.ones(1, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, maximize=False,
        differentiable=False, capturable=False)


@pytest.mark.parametrize("options, message", [
    (dict(lr=-1e-3), "Adamax: lr must be a number >= 0, got -0.001"),
    (dict(eps=-1.0), "Adamax: eps must be a number >= 0"),
    (dict(weight_decay=-0.1), "Adamax: weight_decay must be a number >= 0"),
    (dict(betas=(1.0, 0.999)), r"Adamax: beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, -0.1)), r"Adamax: beta2 must be in \[0, 1\)"),
    (dict(betas=0.9), "Adamax: betas must be a pair"),
    (dict(foreach=True), r"Adamax: foreach=True is not supported \(only PyTorch's default"),
    (dict(capturable=True), "Adamax: capturable=True is not supported"),
    (dict(differentiable=True), "Adamax: differentiable=True is not supported"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        Adamax([mt.ones(1, requires_grad=True)], **options)


def test_invalid_group_option_names_the_optimizer():
    with pytest.raises(ValueError, match="Adamax: eps must be"):
        Adamax([{"params": [mt.ones(1, requires_grad=True)], "eps": -1.0}])
