"""Curvature: the largest eigenvalue of the loss Hessian of a tanh RNN and an LSTM on the
adding problem, at initialisation and through training.

The Hessian is never formed. Power iteration needs only Hessian-vector products, and
each is one more backward pass through a recorded gradient (a double backward)::

    g = mt.grad(loss, params, create_graph=True)          # once per measurement
    hv = mt.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), params, retain_graph=True)

(``mt.autograd.functional.hvp`` computes the same product, but from a function of the
parameters and from the forward pass on, each time; power iteration reuses one recorded
gradient, so each further product costs one backward pass.)

Two Hessians are measured from the same recorded gradient: with respect to all the
model's parameters (recurrent layer and readout: the curvature the optimizer sees), and
with respect to the recurrent weights ``W_hh`` alone (where Pascanu, Mikolov and Bengio
2013 place the loss "cliffs": walls of high curvature where the gradient explodes).

The story it tells, beside ``demos.vanishing`` (T=50, seeds 0 to 2): the tanh RNN's
gradient through time vanishes, and so does its curvature along ``W_hh``: from 2 to 4 at
initialisation it falls to 0.2 to 0.7 while the RNN sits at the 1/6 baseline, a loss
nearly flat in the weights that would carry the first marker. The LSTM starts flatter
still there (0.2); once it uses the first marker (loss below 0.01 by step 500 to 800) its
curvature along ``W_hh`` grows 40 to 70 times, to 9 to 14, and over all parameters from
3.3 to 37 to 50: a model that carries a number over 50 steps is sensitive to its
recurrent weights. And the cliff: with seed 0 the RNN's curvature along ``W_hh`` jumps
from 0.6 to 31 at step 950 and its training gradient norm to 32 (about 100 times its
usual size) ten steps later, then both fall back.

    python -m demos.curvature                 # T=50, a few minutes on 2 CPU cores
    python -m demos.curvature --quick         # seconds: tiny sizes, to check it runs

Power iteration finds the eigenvalue of largest magnitude; when that one is negative (far
from a minimum), a second, shifted iteration finds the largest (most positive) one, which
is what is reported. Writes curvature.png and summary.txt (every measurement) to
runs/curvature/.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import microtensor as mt
from demos.common import (
    NonFiniteLossError,
    StopOnInterrupt,
    add_run_arguments,
    blas_threads,
    check_finite,
    check_memory,
    exit_diverged,
    fail,
    make_parser,
    output_dir,
    positive_float,
    positive_int,
    progress,
    pyplot,
    run_main,
    say,
)
from microtensor.nn import functional as F
from models.classifier import SequenceClassifier
from models.tasks import ADDING_BASELINE_MSE, adding_problem

#: (name, cell) of the two models compared.
MODELS = (("tanh RNN", "rnn"), ("LSTM", "lstm"))
#: What ``--quick`` sets (flags given explicitly still win): tiny sizes, for tests.
QUICK = {"length": 8, "steps": 20, "batch": 16, "hidden": 4, "measure_every": 10,
         "curvature_batch": 16, "iterations": 5}


@dataclass
class Estimate:
    """A power-iteration result: the eigenvalue, its unit eigenvector (one array per
    parameter) and the Hessian-vector products it took."""

    value: float
    vector: list[np.ndarray]
    products: int


def hessian_vector_product(gradients: list[mt.Tensor], params: list[mt.Tensor],
                           vector: list[np.ndarray]) -> list[np.ndarray]:
    """``H v`` from ``gradients``, recorded with ``create_graph=True`` for ``params``: the
    derivative of ``sum(g . v)``. The recorded gradient is kept for the next product.

    >>> w = mt.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = mt.grad((w ** 3).sum(), [w], create_graph=True)  # H = diag(6 w)
    >>> hessian_vector_product([g], [w], [np.array([1.0, 1.0])])[0].tolist()
    [6.0, 12.0]
    """
    directional = sum((g * mt.tensor(v, dtype=g.dtype)).sum() for g, v in zip(gradients, vector))
    products = mt.grad(directional, params, retain_graph=True)
    return [p.numpy().astype(np.float64) for p in products]


def power_iteration(gradients: list[mt.Tensor], params: list[mt.Tensor], start: list[np.ndarray],
                    iterations: int, tol: float, shift: float = 0.0) -> Estimate:
    """The eigenvalue of largest magnitude of ``H - shift I``, by power iteration from ``start``.

    Stops after ``iterations`` products, or earlier once the Rayleigh quotient changes by
    less than ``tol`` of itself.

    >>> w = mt.tensor([1.0, -2.0], requires_grad=True)
    >>> (g,) = mt.grad((w ** 3).sum(), [w], create_graph=True)  # H = diag(6, -12)
    >>> round(power_iteration([g], [w], [np.array([1.0, 1.0])], 100, 1e-12).value, 6)
    -12.0
    """
    vector = _unit(start)
    value = math.nan
    for k in range(1, iterations + 1):
        product = hessian_vector_product(gradients, params, vector)
        if shift:
            product = [p - shift * v for p, v in zip(product, vector)]
        previous, value = value, float(sum(np.vdot(p, v) for p, v in zip(product, vector)))
        norm = _norm(product)
        if norm == 0:  # v is in the null space: H v = 0, and 0 is all power iteration can say
            return Estimate(0.0, vector, k)
        vector = [p / norm for p in product]
        if abs(value - previous) <= tol * abs(value):
            break
    return Estimate(value, vector, k)


def largest_eigenvalue(gradients: list[mt.Tensor], params: list[mt.Tensor], start: list[np.ndarray],
                       iterations: int, tol: float) -> Estimate:
    """The Hessian's largest (most positive) eigenvalue, by power iteration from ``start``.

    Power iteration finds the eigenvalue of largest magnitude, ``d``. Far from a minimum
    that may be negative; then the largest eigenvalue is ``d`` plus the dominant one of
    ``H - d I``, whose eigenvalues are all >= 0. Warm-started from the previous
    measurement's vector, a later estimate often needs only a few products: the top
    direction turns slowly.

    >>> w = mt.tensor([1.0, -2.0], requires_grad=True)
    >>> (g,) = mt.grad((w ** 3).sum(), [w], create_graph=True)  # H = diag(6, -12)
    >>> round(largest_eigenvalue([g], [w], [np.array([1.0, 1.0])], 100, 1e-12).value, 6)
    6.0
    """
    dominant = power_iteration(gradients, params, start, iterations, tol)
    if dominant.value >= 0:
        return dominant
    shifted = power_iteration(gradients, params, start, iterations, tol, shift=dominant.value)
    return Estimate(shifted.value + dominant.value, shifted.vector,
                    dominant.products + shifted.products)


def _norm(arrays: list[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def _unit(arrays: list[np.ndarray]) -> list[np.ndarray]:
    norm = _norm(arrays)
    return [a / norm for a in arrays]


@dataclass
class Measurement:
    """The curvature batch's loss, gradient norm and top eigenvalues at one step."""

    step: int
    loss: float
    grad_norm: float
    top_all: float  # the largest eigenvalue, with respect to all parameters
    top_recurrent: float  # with respect to the recurrent weights W_hh alone
    products: int  # Hessian-vector products both estimates took


@dataclass
class Run:
    """One model's measurements, training gradient norms and time."""

    name: str
    measurements: list[Measurement] = field(default_factory=list)
    train_grad_norms: list[float] = field(default_factory=list)  # every training step's
    seconds: float = 0.0  # training and measuring
    measure_seconds: float = 0.0  # measuring only


class Curvature:
    """Measures one model's curvature on a fixed batch, warm-starting each power iteration
    from the last one's eigenvector."""

    def __init__(self, model: SequenceClassifier, batch: tuple[np.ndarray, np.ndarray],
                 iterations: int, tol: float, seed: int) -> None:
        self.model, self.iterations, self.tol = model, iterations, tol
        self.x, self.y = mt.tensor(batch[0]), mt.tensor(batch[1])
        names, self.params = zip(*model.named_parameters())
        self.params = list(self.params)
        self.recurrent = names.index("rnn.weight_hh_l0")
        rng = np.random.default_rng(seed)
        self.start_all = [rng.standard_normal(p.shape) for p in self.params]
        self.start_recurrent = [rng.standard_normal(self.params[self.recurrent].shape)]

    def measure(self, step: int) -> Measurement:
        loss = F.mse_loss(self.model(self.x), self.y)
        gradients = list(mt.grad(loss, self.params, create_graph=True))
        grad_norm = _norm([g.detach().numpy().astype(np.float64) for g in gradients])
        full = largest_eigenvalue(gradients, self.params, self.start_all, self.iterations, self.tol)
        k = self.recurrent
        recurrent = largest_eigenvalue([gradients[k]], [self.params[k]], self.start_recurrent,
                                   self.iterations, self.tol)
        self.start_all, self.start_recurrent = full.vector, recurrent.vector
        return Measurement(step, loss.item(), grad_norm, full.value, recurrent.value,
                           full.products + recurrent.products)


def train(name: str, cell: str, args: argparse.Namespace,
          curvature_batch: tuple[np.ndarray, np.ndarray], stop: StopOnInterrupt) -> Run:
    """Train one model with Adam (no clipping: the cliffs are the point), measuring the
    curvature every ``args.measure_every`` steps."""
    run = Run(name)
    mt.manual_seed(args.seed)
    model = SequenceClassifier(input_size=2, hidden_size=args.hidden, num_classes=1, cell=cell)
    curvature = Curvature(model, curvature_batch, args.iterations, args.tol, args.seed)
    optimizer = mt.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)  # both models see the same batches
    start = time.perf_counter()

    def measure(step: int) -> None:
        began = time.perf_counter()
        run.measurements.append(m := curvature.measure(step))
        run.measure_seconds += time.perf_counter() - began
        check_finite(m.top_all, step, "top eigenvalue")

    measure(0)
    with progress(total=args.steps, desc=name) as bar:
        for step in range(1, args.steps + 1):
            x, y = adding_problem(args.batch, args.length, rng)
            loss = F.mse_loss(model(mt.tensor(x)), mt.tensor(y))
            check_finite(loss.item(), step)
            optimizer.zero_grad()
            loss.backward()
            norm = _norm([p.grad.numpy().astype(np.float64) for p in model.parameters()])
            run.train_grad_norms.append(check_finite(norm, step, "gradient norm"))
            optimizer.step()
            if step % args.measure_every == 0 or step == args.steps or stop.requested:
                measure(step)
                bar.set_postfix(top_eig=f"{run.measurements[-1].top_all:.3g}", refresh=False)
            bar.update()
            if stop.requested:
                break
    run.seconds = time.perf_counter() - start
    first, last = run.measurements[0], run.measurements[-1]
    say(f"{name:<9} top eigenvalue {first.top_all:.3g} -> {last.top_all:.3g} (all parameters), "
        f"{first.top_recurrent:.3g} -> {last.top_recurrent:.3g} (W_hh); loss {last.loss:.4f} "
        f"after {last.step} steps ({run.seconds:.0f} s, {run.measure_seconds:.0f} s of it measuring)")
    return run


def table(runs: list[Run], every: bool) -> str:
    """The measurements as a table: all of them, or (``every=False``) five per model."""
    lines = [f"{'model':<9}  {'step':>5}  {'loss':>7}  {'top eig (all)':>13}  "
             f"{'top eig (W_hh)':>14}  {'grad norm':>9}  {'H v':>4}"]
    for run in runs:
        rows = run.measurements
        if not every:  # the first, the last and three between
            picks = sorted({round(i * (len(rows) - 1) / 4) for i in range(5)})
            rows = [rows[i] for i in picks]
        for m in rows:
            lines.append(f"{run.name:<9}  {m.step:>5}  {m.loss:>7.4f}  {m.top_all:>13.4g}  "
                         f"{m.top_recurrent:>14.4g}  {m.grad_norm:>9.3g}  {m.products:>4}")
    return "\n".join(lines)


def summary(runs: list[Run], args: argparse.Namespace) -> str:
    """The text of summary.txt: the settings, each model's extremes, every measurement."""
    lines = [f"adding problem: T={args.length}, hidden {args.hidden}, batch {args.batch}, "
             f"{args.steps} steps, Adam lr {args.lr}, no clipping, seed {args.seed}",
             f"curvature on a fixed batch of {args.curvature_batch} sequences, every "
             f"{args.measure_every} steps; power iteration: at most {args.iterations} "
             f"Hessian-vector products, tolerance {args.tol:g}",
             f"baseline (always predict 1.0): MSE {ADDING_BASELINE_MSE:.4f}", ""]
    for run in runs:
        ms = run.measurements
        peak = max(ms, key=lambda m: abs(m.top_all))
        peak_recurrent = max(ms, key=lambda m: abs(m.top_recurrent))
        steepest = int(np.argmax(run.train_grad_norms)) + 1 if run.train_grad_norms else 0
        lines.append(
            f"{run.name}: top eigenvalue (all) {ms[0].top_all:.4g} at init, {ms[-1].top_all:.4g} at "
            f"step {ms[-1].step}, largest {peak.top_all:.4g} at step {peak.step}; (W_hh) "
            f"{ms[0].top_recurrent:.4g} at init, {ms[-1].top_recurrent:.4g} at the end, largest "
            f"{peak_recurrent.top_recurrent:.4g} at step {peak_recurrent.step}; largest training "
            f"gradient norm {max(run.train_grad_norms, default=0):.3g} at step {steepest}; "
            f"{run.seconds:.1f} s ({run.measure_seconds:.1f} s measuring)")
    return "\n".join([*lines, "", table(runs, every=True)]) + "\n"


def plot(runs: list[Run], path: Path) -> Path | None:
    """Top eigenvalue against training step (log scale), and the training gradient norm."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, (top, grads) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 2]})
    colours = {"tanh RNN": "#d62728", "LSTM": "#1f77b4"}
    for run in runs:
        steps = [m.step for m in run.measurements]
        colour = colours.get(run.name)
        top.semilogy(steps, _positive([m.top_all for m in run.measurements]), color=colour,
                     marker="o", markersize=3, label=f"{run.name}: all parameters")
        top.semilogy(steps, _positive([m.top_recurrent for m in run.measurements]), color=colour,
                     linestyle="--", marker="s", markersize=3, label=f"{run.name}: W_hh only")
        grads.semilogy(range(1, len(run.train_grad_norms) + 1), run.train_grad_norms,
                       color=colour, linewidth=0.7, label=run.name)
    top.set_ylabel("largest eigenvalue of the Hessian")
    top.set_title("Adding problem: curvature of the loss (power iteration on H v)")
    top.grid(True, which="major", alpha=0.3)
    top.legend(fontsize=8)
    grads.set_ylabel("training gradient norm")
    grads.set_xlabel("training step")
    grads.grid(True, which="major", alpha=0.3)
    grads.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _positive(values: list[float]) -> list[float]:
    """``values`` with those a log scale cannot show (<= 0: no positive curvature) as gaps."""
    return [v if v > 0 else math.nan for v in values]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked: a one-line error and exit status 2 on bad values."""
    parser = make_parser("python -m demos.curvature", __doc__)
    add_run_arguments(parser, default_out="runs/curvature")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (T=8, hidden 4, 20 steps): seconds, to check it runs; "
                             "flags given explicitly still win")
    parser.add_argument("--length", type=positive_int, default=50, help="sequence length T")
    parser.add_argument("--steps", type=positive_int, default=1000, help="training steps per model")
    parser.add_argument("--batch", type=positive_int, default=64, help="sequences per training step")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden units")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate")
    parser.add_argument("--measure-every", type=positive_int, default=50,
                        help="training steps between curvature measurements")
    parser.add_argument("--curvature-batch", type=positive_int, default=128,
                        help="sequences in the fixed batch whose loss Hessian is measured")
    parser.add_argument("--iterations", type=positive_int, default=20,
                        help="most Hessian-vector products per power iteration")
    parser.add_argument("--tol", type=positive_float, default=1e-3,
                        help="stop a power iteration when the estimate changes by less than "
                             "this fraction")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="BLAS threads for numpy (one is fastest for these small matrices)")
    first, _ = parser.parse_known_args(argv)
    if first.quick:
        parser.set_defaults(**QUICK)
    args = parser.parse_args(argv)
    if args.length < 2:
        fail(f"--length must be at least 2 (one marker in each half), got {args.length}")
    # float32 LSTM, about 24 saved values per hidden unit and step for a training batch;
    # the recorded gradient of the curvature batch keeps about three times as many.
    check_memory(4 * args.length * args.hidden * 24 * (args.batch + 3 * args.curvature_batch),
                 "--length, --hidden, --batch or --curvature-batch")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with blas_threads(args.threads):
        return run(args)


def run(args: argparse.Namespace) -> int:
    """Train and measure both models, then write the summary and the plot."""
    out = output_dir(args.out)
    batch = adding_problem(args.curvature_batch, args.length, np.random.default_rng(args.seed + 1))
    runs = []
    with StopOnInterrupt() as stop:
        for name, cell in MODELS:
            try:
                runs.append(train(name, cell, args, batch, stop))
            except NonFiniteLossError as err:
                exit_diverged(err, f"the {name} diverged: try a lower --lr than {args.lr:g}")
            if stop.requested:
                say("interrupted: the summary covers the runs so far")
                break
    text = summary(runs, args)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    say("\n" + table(runs, every=False))
    written = [out / "summary.txt", plot(runs, out / "curvature.png")]
    say("Wrote " + ", ".join(str(p) for p in written if p is not None))
    return stop.exit_code


if __name__ == "__main__":
    run_main(main)
