"""Vanishing gradients: a tanh RNN against an LSTM on the adding problem.

Each input is a sequence of (value, marker) pairs; the target is the sum of the two
marked values, one marked in each half of the sequence. Predicting the mean, 1.0,
scores an MSE of 1/6 = 0.167: a model has learned something only below that.

1. The gradient reaching each step. One recorded backward pass gives ||dL/dh_t|| for
   every step t; in a tanh RNN it shrinks roughly geometrically with the distance from
   the loss, so the early marker gets almost no learning signal. In an LSTM the cell
   state carries it back through the forget gate, multiplied by f ~ sigmoid(bias) per
   step: a forget-gate bias of 1 (f ~ 0.73 instead of 0.5) keeps far more of it.
2. Training. The same data, initial weights and optimizer for every run; only the
   cell, gradient clipping and the forget-gate bias change. The RNN stays near the
   0.167 baseline; the LSTM drives the MSE below 0.01.
3. Why, side by side. The trained tanh RNN and the trained LSTM (forget bias 1) read the
   same test sequences in one comparison page, on one colour scale: per step, the gain of
   the recurrent path (the gradient step t passes back to t-1 over the gradient that
   reached t) stays below 1 in the RNN, while the LSTM's cell state passes its gradient
   back almost whole, through the units whose forget gate sits near 1.

    python -m demos.vanishing                 # T=50, about 2 minutes on 2 CPU cores
    python -m demos.vanishing --length 100    # harder: the LSTM needs more --steps

Writes gradient_norms_init.png, gradient_norms_trained.png, training_curves.png,
summary.txt (the numbers), bptt_rnn.html (the explorer of the RNN at initialisation) and
compare_rnn_lstm.html (the trained RNN and LSTM side by side) to runs/vanishing/.
"""

from __future__ import annotations

import argparse
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
from microtensor.nn.utils import clip_grad_norm_
from microtensor.viz.views.gains import gate_means, gate_where_gradient_flows
from models.classifier import SequenceClassifier
from models.tasks import ADDING_BASELINE_MSE, adding_problem

#: The MSE the LSTM should get below (the target the task is usually judged by).
SOLVED_MSE = 0.01
TEST_SIZE = 1000
NORM_BATCH = 32  # sequences in the batch whose backward pass is recorded


@dataclass
class Setting:
    """One training run: which cell, whether to clip, and the LSTM's forget-gate bias."""

    name: str
    cell: str
    clip: bool = False
    forget_bias: float | None = None  # None: PyTorch's default initialisation


SETTINGS = (
    Setting("tanh RNN", "rnn"),
    Setting("tanh RNN + clipping", "rnn", clip=True),
    Setting("LSTM", "lstm"),
    Setting("LSTM + clipping", "lstm", clip=True),
    Setting("LSTM + clipping + forget bias 1", "lstm", clip=True, forget_bias=1.0),
)
#: The comparison page's two runs: the plain tanh RNN and the LSTM that learns the task fastest.
COMPARED = (SETTINGS[0], SETTINGS[-1])


@dataclass
class Result:
    setting: Setting
    steps: list[int] = field(default_factory=list)  # when the test MSE was measured
    test_mse: list[float] = field(default_factory=list)
    norms_init: dict[int, float] = field(default_factory=dict)
    norms_trained: dict[int, float] = field(default_factory=dict)
    max_grad_norm: float = 0.0
    clipped_steps: int = 0
    seconds: float = 0.0
    model: SequenceClassifier | None = field(default=None, repr=False)  # as training left it

    @property
    def solved_at(self) -> int | None:
        """The first measured step with a test MSE below ``SOLVED_MSE``."""
        return next((s for s, m in zip(self.steps, self.test_mse) if m < SOLVED_MSE), None)


def set_forget_bias(lstm: mt.nn.LSTM, value: float) -> None:
    """Start every forget gate at ``sigmoid(value)``.

    The gate rows of an LSTM's weights and biases are ordered i, f, g, o, so the forget
    gate owns rows ``H:2H``. The layer adds ``bias_ih`` and ``bias_hh``; one gets
    ``value`` and the other 0, so their sum is ``value``.

    >>> lstm = mt.nn.LSTM(2, 3)
    >>> set_forget_bias(lstm, 1.0)
    >>> (lstm.bias_ih_l0 + lstm.bias_hh_l0)[3:6].tolist()
    [1.0, 1.0, 1.0]
    """
    size = lstm.hidden_size
    with mt.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[size:2 * size] = value
            getattr(lstm, f"bias_hh_l{k}")[size:2 * size] = 0.0


def build(setting: Setting, hidden: int, seed: int) -> SequenceClassifier:
    """The model of ``setting``, from ``seed``: runs of the same cell start identical."""
    mt.manual_seed(seed)
    model = SequenceClassifier(input_size=2, hidden_size=hidden, num_classes=1, cell=setting.cell)
    if setting.forget_bias is not None:
        set_forget_bias(model.rnn, setting.forget_bias)
    return model


def step_norms(model: SequenceClassifier, x: np.ndarray, y: np.ndarray) -> dict[int, float]:
    """``||dL/dh_t||`` for every step t, from one recorded backward pass."""
    with mt.viz.record() as recording:
        loss = F.mse_loss(model(mt.tensor(x)), mt.tensor(y))
        loss.backward()
    model.zero_grad()
    return mt.viz.trace(loss, recording).step_norms("h")


def recorded_pass(model: SequenceClassifier, test: tuple[np.ndarray, np.ndarray]
                  ) -> tuple[mt.Tensor, mt.viz.Recording]:
    """One forward and backward pass of ``model`` on the first ``NORM_BATCH`` test sequences,
    recorded."""
    with mt.viz.record() as recording:
        loss = F.mse_loss(model(mt.tensor(test[0][:NORM_BATCH])), mt.tensor(test[1][:NORM_BATCH]))
        loss.backward()
    model.zero_grad()
    return loss, recording


def write_explorer(setting: Setting, args: argparse.Namespace, test: tuple[np.ndarray, np.ndarray],
                   path: Path) -> Path | None:
    """One recorded pass of ``setting``'s model at initialisation, as the interactive explorer."""
    loss, recording = recorded_pass(build(setting, args.hidden, args.seed), test)
    try:
        return mt.viz.explore(loss, recording, title=f"{setting.name} at initialisation, T={args.length}",
                              detail="cell").save(path)
    except (mt.viz.GraphvizNotFoundError, mt.viz.RenderError) as err:
        say(f"no explorer page: {str(err).splitlines()[0]}")
        return None


def write_comparison(results: list[Result], args: argparse.Namespace, test: tuple[np.ndarray, np.ndarray],
                     path: Path) -> Path | None:
    """The trained runs of ``COMPARED`` on the same test sequences, side by side in one page
    (``mt.viz.compare``); says what each passes back per step."""
    trained = {r.setting.name: r.model for r in results}
    if any(s.name not in trained for s in COMPARED):
        say(f"no comparison page: training stopped before the {COMPARED[-1].name} run")
        return None
    passes = [recorded_pass(trained[s.name], test) for s in COMPARED]
    say("What the recurrent path passes back per step (gain: ‖sent back to t-1‖ / ‖reached t‖):")
    for setting, (loss, recording) in zip(COMPARED, passes):
        say(f"  {setting.name + ', trained:':<42} {recurrent_path(mt.viz.trace(loss, recording))}")
    try:
        page = mt.viz.compare(*passes, labels=tuple(f"{s.name}, trained" for s in COMPARED), detail="cell",
                              title=f"Adding problem, T={args.length}: why the RNN's gradient vanishes "
                                    "and the LSTM's does not")
        return page.save(path)
    except (mt.viz.GraphvizNotFoundError, mt.viz.RenderError) as err:
        say(f"no comparison page: {str(err).splitlines()[0]}")
        return None


def recurrent_path(graph: mt.viz.Graph, vanish_below: float = 1e-6) -> str:
    """What the recurrent path does to the gradient per step, as the comparison page's gains view
    says it: the median gain through h (and c), over the steps where the gradient reaching the
    state has not vanished (below ``vanish_below`` the ratio is one of rounding errors); and an
    LSTM's forget gate: its mean, and its mean weighted by |∂L/∂c| (the factor the gradient
    itself meets on the way back through c).
    """
    layers = sorted({n.layer for n in graph.nodes.values() if n.name == "forget"})
    gains = []
    for state in ("h", "c") if layers else ("h",):
        name = None if state == "h" else state  # None: each step's hidden state
        reached = graph.step_norms(name)
        alive = [gain for t, gain in graph.step_gains(name).items() if reached.get(t, 0.0) >= vanish_below]
        gains.append(f"through {state} {np.median(alive):.3f}" if alive else f"through {state} – (vanished)")
    said = "median gain " + ", ".join(gains)
    if layers:
        mean = np.mean([v for layer in layers for v in gate_means(graph, layer, "forget").values()])
        flows = np.mean([v for layer in layers
                         for v in gate_where_gradient_flows(graph, layer, "forget", "c").values()])
        said += f"; forget gate {mean:.3f} on average, {flows:.3f} where the gradient flows " \
                "(weighted by |∂L/∂c|)"
    return said


@mt.no_grad()
def evaluate(model: SequenceClassifier, x: np.ndarray, y: np.ndarray) -> float:
    """The MSE of ``model`` on the test sequences ``x`` with targets ``y``."""
    return F.mse_loss(model(mt.tensor(x)), mt.tensor(y)).item()


def train(setting: Setting, args: argparse.Namespace, test: tuple[np.ndarray, np.ndarray],
          stop: StopOnInterrupt) -> Result:
    """Train one setting for ``args.steps`` steps (or until Ctrl-C), measuring as it goes."""
    result = Result(setting)
    model = build(setting, args.hidden, args.seed)
    result.norms_init = step_norms(model, test[0][:NORM_BATCH], test[1][:NORM_BATCH])
    optimizer = mt.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)  # every run sees the same batches
    max_norm = args.clip if setting.clip else float("inf")  # inf: measure, never scale
    result.steps.append(0)
    result.test_mse.append(evaluate(model, *test))
    start = time.perf_counter()
    with progress(total=args.steps, desc=setting.name) as bar:
        for step in range(1, args.steps + 1):
            x, y = adding_problem(args.batch, args.length, rng)
            loss = F.mse_loss(model(mt.tensor(x)), mt.tensor(y))
            check_finite(loss.item(), step)  # before the update spoils the weights
            optimizer.zero_grad()
            loss.backward()
            norm = clip_grad_norm_(model.parameters(), max_norm).item()
            result.max_grad_norm = max(result.max_grad_norm, norm)
            result.clipped_steps += norm > max_norm
            optimizer.step()
            if step % args.eval_every == 0 or step == args.steps or stop.requested:
                result.steps.append(step)
                result.test_mse.append(evaluate(model, *test))
                bar.set_postfix(test_mse=f"{result.test_mse[-1]:.4f}", refresh=False)
            bar.update()
            if stop.requested:
                break
    result.seconds = time.perf_counter() - start
    result.norms_trained = step_norms(model, test[0][:NORM_BATCH], test[1][:NORM_BATCH])
    result.model = model
    solved = f"below {SOLVED_MSE} at step {result.solved_at}" if result.solved_at else \
        f"never below {SOLVED_MSE}"
    say(f"{setting.name:<32} test MSE {result.test_mse[-1]:.4f} after {result.steps[-1]} steps "
        f"({solved}; {result.seconds:.0f} s)")
    return result


def summary(results: list[Result], args: argparse.Namespace, baseline: float) -> str:
    """The numbers, as the text of summary.txt."""
    lines = [
        f"adding problem: T={args.length}, hidden {args.hidden}, batch {args.batch}, "
        f"{args.steps} steps, Adam lr {args.lr}, clip norm {args.clip}, seed {args.seed}",
        f"baseline (always predict 1.0): MSE {ADDING_BASELINE_MSE:.4f} in theory, "
        f"{baseline:.4f} on the {TEST_SIZE} test sequences",
        "",
        f"{'run':<32}  {'final MSE':>9}  {'best MSE':>9}  {'steps to <' + str(SOLVED_MSE):>14}  "
        f"{'max grad norm':>13}  {'clipped steps':>13}  {'seconds':>7}",
    ]
    for r in results:
        lines.append(f"{r.setting.name:<32}  {r.test_mse[-1]:>9.4f}  {min(r.test_mse):>9.4f}  "
                     f"{r.solved_at or 'never':>14}  {r.max_grad_norm:>13.3g}  "
                     f"{r.clipped_steps if r.setting.clip else '-':>13}  {r.seconds:>7.1f}")
    lines += ["", "gradient reaching the first step, relative to the last: "
                  "||dL/dh_0|| / ||dL/dh_T-1||"]
    for r in results:
        lines.append(f"{r.setting.name:<32}  at init {ratio(r.norms_init):.1e}, "
                     f"trained {ratio(r.norms_trained):.1e}")
    lines += ["", verdict(results)]
    return "\n".join(lines) + "\n"


def ratio(norms: dict[int, float]) -> float:
    """||dL/dh|| at the first step over ||dL/dh|| at the last.

    >>> ratio({0: 1e-6, 1: 1e-3, 2: 1.0})
    1e-06
    """
    steps = sorted(norms)
    return norms[steps[0]] / norms[steps[-1]]


def verdict(results: list[Result]) -> str:
    """One honest sentence per cell: did the best run of it solve the task?"""
    out = []
    for cell, label in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
        runs = [r for r in results if r.setting.cell == cell]
        if not runs:
            continue
        best = min(runs, key=lambda r: min(r.test_mse))
        if best.solved_at:
            out.append(f"The {label} got below MSE {SOLVED_MSE} ({best.setting.name}, step "
                       f"{best.solved_at}).")
        else:
            out.append(f"The {label} did not get below MSE {SOLVED_MSE} within {best.steps[-1]} "
                       f"steps (best {min(best.test_mse):.4f}, baseline {ADDING_BASELINE_MSE:.3f}).")
    return " ".join(out)


def plot_norms(results: list[Result], out: Path, when: str) -> Path | None:
    """``||dL/dh_t||`` against t, one panel per model, at "init" or when "trained"."""
    if when == "init":  # a clipping run starts as the same network as its unclipped twin
        series = {r.setting.name.replace(" + clipping", ""): r.norms_init for r in results
                  if not (r.setting.clip and r.setting.forget_bias is None)}
        title = "‖∂L/∂h_t‖ at initialisation (adding problem, loss at the last step)"
    else:
        series = {r.setting.name: r.norms_trained for r in results}
        title = "‖∂L/∂h_t‖ after training (adding problem, loss at the last step)"
    path = out / f"gradient_norms_{when}.png"
    try:
        return mt.viz.plot_step_norms(series, path, title=title)
    except ImportError:
        say(f"skipped {path.name}: matplotlib is not installed (pip install 'microtensor[plot]')")
        return None


def plot_training(results: list[Result], path: Path) -> Path | None:
    """Test MSE against training step for every run, with the baseline and the target."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in results:
        ax.semilogy(r.steps, r.test_mse, label=r.setting.name, linewidth=1.5)
    ax.axhline(ADDING_BASELINE_MSE, color="#999999", linestyle="--", linewidth=1)
    ax.text(0, ADDING_BASELINE_MSE, " predict the mean (1/6)", va="bottom", fontsize=8, color="#666666")
    ax.axhline(SOLVED_MSE, color="#2ca02c", linestyle=":", linewidth=1)
    ax.text(0, SOLVED_MSE, f" solved ({SOLVED_MSE})", va="bottom", fontsize=8, color="#2ca02c")
    ax.set_xlabel("training step")
    ax.set_ylabel("test MSE")
    ax.set_title("Adding problem: the RNN stays at the baseline, the LSTM learns")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked: a one-line error and exit status 2 on bad values."""
    parser = make_parser("python -m demos.vanishing", __doc__)
    add_run_arguments(parser, default_out="runs/vanishing")
    parser.add_argument("--length", type=positive_int, default=50,
                        help="sequence length T (try 100 with more --steps)")
    parser.add_argument("--steps", type=positive_int, default=1500, help="training steps per run")
    parser.add_argument("--batch", type=positive_int, default=64, help="sequences per step")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden units")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate")
    parser.add_argument("--clip", type=positive_float, default=1.0,
                        help="gradient norm limit in the runs that clip")
    parser.add_argument("--eval-every", type=positive_int, default=50,
                        help="steps between test MSE measurements")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="BLAS threads for numpy (one is fastest for these small matrices, "
                             "and far faster when other programs share the cores)")
    args = parser.parse_args(argv)
    if args.length < 2:
        fail(f"--length must be at least 2 (one marker in each half), got {args.length}")
    # float32 LSTM: per step and sequence about 24 saved values per hidden unit, in a
    # training batch and in the recorded pass; the float64 test set is evaluated at once.
    check_memory(4 * args.length * args.hidden * 24 * (args.batch + NORM_BATCH)
                 + 8 * args.length * TEST_SIZE * (3 + 6 * args.hidden), "--length, --hidden or --batch")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with blas_threads(args.threads):
        return run(args)


def run(args: argparse.Namespace) -> int:
    """Train every setting, then write the summary, the plots, the explorer and comparison pages."""
    out = output_dir(args.out)

    test = adding_problem(TEST_SIZE, args.length, np.random.default_rng(args.seed + 1))
    baseline = float(np.mean((test[1] - 1.0) ** 2))
    say(f"Adding problem, T={args.length}: predicting 1.0 gives test MSE {baseline:.4f} "
        f"(1/6 = {ADDING_BASELINE_MSE:.4f})")
    results = []
    with StopOnInterrupt() as stop:
        for setting in SETTINGS:
            try:
                results.append(train(setting, args, test, stop))
            except NonFiniteLossError as err:
                exit_diverged(err, f"the {setting.name} diverged: try a lower --lr than {args.lr:g}")
            if stop.requested:
                say("interrupted: the summary covers the runs so far")
                break

    text = summary(results, args, baseline)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    say("\n" + text)
    written = [plot_norms(results, out, "init"), plot_norms(results, out, "trained"),
               plot_training(results, out / "training_curves.png"),
               write_explorer(SETTINGS[0], args, test, out / "bptt_rnn.html"),
               write_comparison(results, args, test, out / "compare_rnn_lstm.html")]
    say("Wrote " + ", ".join(str(p) for p in [out / "summary.txt", *written] if p is not None))
    return stop.exit_code  # 0, or 128 + the signal that stopped training early


if __name__ == "__main__":
    run_main(main)
