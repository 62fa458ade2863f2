"""Side by side with live PyTorch: one of microtensor's optimizers and its ``torch.optim``
twin step the same parameters with the same gradients (many steps, two parameter groups,
a state_dict round trip mid-run), and their trajectories and state dicts are compared.

Shared by the tests of NAdam, RAdam, Adamax and Adadelta, which import it by its module name
(pytest puts this directory, which has no ``__init__.py``, on ``sys.path`` for them, as
tests/oracle does for ``oracle_compare``). Without torch, each check skips its test.
"""

import numpy as np
import pytest

import microtensor as mt

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
            ours = [mt.tensor(p.array, requires_grad=True) for p in ours]
            opt_ours = build(mt, ours)
            opt_ours.load_state_dict(mt.load(save_dir / "opt.npz"))
            saved = opt_theirs.state_dict()
            theirs = [p.detach().clone().requires_grad_() for p in theirs]
            opt_theirs = build(torch, theirs)
            opt_theirs.load_state_dict(saved)
        for i, (a, b) in enumerate(zip(ours[:2], theirs[:2])):
            # the same noise for both, each pulled towards its own parameter
            a.grad = mt.tensor(gradient([seed, t, i], a.array, t).astype(dtype))
            b.grad = torch.tensor(gradient([seed, t, i], b.detach().numpy(), t).astype(dtype))
        opt_ours.step()
        opt_theirs.step()
        out_ours.append(np.concatenate([p.array.ravel() for p in ours]).astype(np.float64))
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
            # NAdam's mu_product is a scalar of the default dtype, not a buffer like the
            # parameter (its dtype is checked in test_nadam.py)
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


def check_matches_pytorch(opt_name, options, group_options, dtype):
    """A run with ``options`` (group 1 overriding with ``group_options``) follows PyTorch's,
    and the parameter that never gets a gradient never moves."""
    ours, theirs = run_both(opt_name, options, group_options, dtype)
    assert_close(ours, theirs, dtype)
    assert (ours[:, -2:] == ours[0, -2:]).all()  # no gradient, no move


def check_round_trip_matches_pytorch(opt_name, options, group_options, dtype, save_dir,
                                     exact=True):
    """A run rebuilt from state dicts mid-run follows PyTorch's (rebuilt the same way), and
    the uninterrupted run: bit for bit when ``exact``, else within the tolerance."""
    ours, theirs = run_both(opt_name, options, group_options, dtype, save_dir=save_dir)
    assert_close(ours, theirs, dtype)
    uninterrupted, _ = run_both(opt_name, options, group_options, dtype)
    if exact:
        assert np.array_equal(ours, uninterrupted)
    else:
        assert_close(ours, uninterrupted, dtype)


def check_state_dict_mirrors_pytorchs(opt_name):
    """After one step with ``lr=0.1``, the same groups, state names and step count as
    PyTorch's; returns both state dicts, for checks of the optimizer's own state."""
    torch = oracle()
    ours, theirs = mt.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opts = [getattr(mt.optim, opt_name)([ours], lr=0.1),
            getattr(torch.optim, opt_name)([theirs], lr=0.1)]
    ours.grad, theirs.grad = mt.ones(2), torch.ones(2)
    for opt in opts:
        opt.step()
    sd_ours, sd_theirs = (opt.state_dict() for opt in opts)
    assert sd_ours["param_groups"] == sd_theirs["param_groups"]
    assert list(sd_ours["state"][0]) == list(sd_theirs["state"][0])
    assert sd_ours["state"][0]["step"] == sd_theirs["state"][0]["step"].item() == 1
    return sd_ours, sd_theirs
