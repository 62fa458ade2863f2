"""demos.curvature: the quick run writes its summary and plot, and the power iteration on
Hessian-vector products finds the largest eigenvalue of an explicit Hessian."""

import importlib.util
import re

import numpy as np
import pytest

import microtensor as mt
from demos import curvature
from microtensor.nn import functional as F
from models.classifier import SequenceClassifier
from models.tasks import adding_problem


def tiny_problem(cell):
    """A float64 model with 2 hidden units (15 parameters as an RNN, 51 as an LSTM), its
    parameters, and its loss on 4 sequences of length 4."""
    mt.manual_seed(3)
    model = SequenceClassifier(input_size=2, hidden_size=2, num_classes=1, cell=cell).double()
    x, y = adding_problem(4, 4, np.random.default_rng(0))
    x, y = mt.tensor(x.astype(np.float64)), mt.tensor(y.astype(np.float64))
    return model, list(model.parameters()), lambda: F.mse_loss(model(x), y)


def flat_gradient(params, loss_fn):
    grads = mt.grad(loss_fn(), params)
    return np.concatenate([g.numpy().ravel() for g in grads])


def finite_difference_hessian(params, loss_fn, eps=1e-5):
    """The Hessian, column by column, from central differences of first-order gradients:
    nothing in it goes through a double backward."""
    columns = []
    for p in params:
        for index in np.ndindex(p.shape):
            saved = p.array[index]
            p.array[index] = saved + eps
            ahead = flat_gradient(params, loss_fn)
            p.array[index] = saved - eps
            behind = flat_gradient(params, loss_fn)
            p.array[index] = saved
            columns.append((ahead - behind) / (2 * eps))
    hessian = np.stack(columns, axis=1)
    return (hessian + hessian.T) / 2


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_hessian_vector_products_are_the_explicit_hessians_columns(cell):
    model, params, loss_fn = tiny_problem(cell)
    explicit = finite_difference_hessian(params, loss_fn)
    gradients = list(mt.grad(loss_fn(), params, create_graph=True))
    sizes = [p.numel() for p in params]
    columns = []
    for column in np.eye(sum(sizes)):
        basis = [c.reshape(p.shape) for c, p in zip(np.split(column, np.cumsum(sizes)[:-1]), params)]
        product = curvature.hessian_vector_product(gradients, params, basis)
        columns.append(np.concatenate([h.ravel() for h in product]))
    np.testing.assert_allclose(np.stack(columns, axis=1), explicit, atol=1e-7)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_largest_eigenvalue_matches_eigvalsh_of_the_explicit_hessian(cell):
    model, params, loss_fn = tiny_problem(cell)
    eigenvalues = np.linalg.eigvalsh(finite_difference_hessian(params, loss_fn))
    gradients = list(mt.grad(loss_fn(), params, create_graph=True))
    start = [np.random.default_rng(1).standard_normal(p.shape) for p in params]
    found = curvature.largest_eigenvalue(gradients, params, start, iterations=5000, tol=1e-14)
    assert found.value == pytest.approx(eigenvalues[-1], abs=1e-6)
    # and the vector is its eigenvector: H v = lambda v
    product = curvature.hessian_vector_product(gradients, params, found.vector)
    for hv, v in zip(product, found.vector):
        np.testing.assert_allclose(hv, found.value * v, atol=1e-5)


def test_a_negative_dominant_eigenvalue_is_shifted_away():
    """H = diag(6 w) at w = (1, -2, 0.5): the dominant eigenvalue is -12, the largest 6."""
    w = mt.tensor([1.0, -2.0, 0.5], dtype=mt.float64, requires_grad=True)
    (g,) = mt.grad((w ** 3).sum(), [w], create_graph=True)
    start = [np.ones(3)]
    dominant = curvature.power_iteration([g], [w], start, 500, 1e-15)
    assert dominant.value == pytest.approx(-12, abs=1e-9)
    found = curvature.largest_eigenvalue([g], [w], start, 500, 1e-15)
    assert found.value == pytest.approx(6, abs=1e-9) and found.products > dominant.products
    np.testing.assert_allclose(np.abs(found.vector[0]), [1, 0, 0], atol=1e-4)


def test_quick_run_writes_the_summary_and_the_plot(tmp_path, capsys):
    assert curvature.main(["--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    summary = (tmp_path / "summary.txt").read_text()
    assert "T=8, hidden 4, batch 16, 20 steps" in summary
    for name in ("tanh RNN", "LSTM"):
        rows = re.findall(rf"^{re.escape(name)} +(\d+) +([\d.]+) +(\S+) +(\S+) +(\S+) +(\d+)$",
                          summary, re.MULTILINE)
        assert [int(r[0]) for r in rows] == [0, 10, 20]
        for _, loss, top_all, top_recurrent, grad_norm, products in rows:
            # five products per power iteration (two per eigenvalue when the first is negative)
            assert np.isfinite(float(top_all)) and np.isfinite(float(top_recurrent))
            assert float(loss) > 0 and float(grad_norm) > 0 and 2 <= int(products) <= 20
        assert f"{name}: top eigenvalue (all)" in summary
    assert "top eig (all)" in printed
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "curvature.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert "skipped curvature.png" in printed


def test_explicit_flags_win_over_quick():
    args = curvature.parse_args(["--quick", "--steps", "7"])
    assert (args.steps, args.length, args.hidden) == (7, 8, 4)
    assert curvature.parse_args([]).length == 50


@pytest.mark.parametrize("argv, message", [
    (["--length", "1"], "--length must be at least 2"),
    (["--iterations", "0"], "argument --iterations: expected an integer > 0, got '0'"),
    (["--tol", "nan"], "argument --tol: expected a number > 0, got 'nan'"),
    (["--curvature-batch", "10000000000", "--hidden", "10000"], "make --length, --hidden"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        curvature.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and message in err, err
