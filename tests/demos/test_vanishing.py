"""Smoke test of demos.vanishing on tiny settings: every run trains, the summary parses."""

import importlib.util
import json
import os
import re
import signal

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import microtensor as mt
from demos import vanishing

TINY = ["--length", "8", "--steps", "20", "--batch", "16", "--hidden", "4", "--lr", "0.05",
        "--eval-every", "10"]


def test_tiny_run_writes_a_summary_with_every_setting(tmp_path, capsys):
    assert vanishing.main([*TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    summary = (tmp_path / "summary.txt").read_text()

    theory, measured = map(float, re.search(
        r"MSE ([\d.]+) in theory, ([\d.]+) on the 1000 test", summary).groups())
    assert theory == pytest.approx(1 / 6, abs=1e-4) and abs(measured - theory) < 0.03
    for setting in vanishing.SETTINGS:
        row = next(line for line in summary.splitlines() if line.startswith(setting.name + "  "))
        final, best = map(float, row[len(setting.name):].split()[:2])
        assert np.isfinite(final) and 0 < best <= final
        ratios = re.search(rf"^{re.escape(setting.name)} +at init ([\d.e+-]+), trained ([\d.e+-]+)",
                           summary, re.MULTILINE)
        assert all(0 < float(r) < 10 for r in ratios.groups())
    assert "did not get below MSE 0.01 within 20 steps" in summary  # honest about short runs
    # The trained RNN and LSTM side by side: what each passes back per step, in words and in a page.
    rnn, lstm = (re.search(rf"^  {re.escape(s.name)}, trained: +(.*)$", printed, re.MULTILINE).group(1)
                 for s in vanishing.COMPARED)
    assert re.fullmatch(r"median gain through h [\d.]+", rnn)
    assert re.fullmatch(r"median gain through h [\d.]+, through c [\d.]+; forget gate [\d.]+ on average, "
                        r"[\d.]+ where the gradient flows \(weighted by \|∂L/∂c\|\)", lstm)
    if mt.viz.render.shutil.which("dot") or mt.viz.render.shutil.which("graphviz-pure"):
        page = (tmp_path / "compare_rnn_lstm.html").read_text()
        data = json.loads(re.search(r'id="compare-data">(.*?)</script>', page, re.S).group(1))
        assert data["labels"] == [f"{s.name}, trained" for s in vanishing.COMPARED]
        assert data["lengths"] == [8, 8] and page.count('<iframe data-side="') == 2
        assert str(tmp_path / "compare_rnn_lstm.html") in printed
    if importlib.util.find_spec("matplotlib"):
        for name in ("gradient_norms_init.png", "gradient_norms_trained.png", "training_curves.png"):
            assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    else:
        assert "skipped" in printed


def test_a_run_measures_the_test_mse_from_step_0_and_it_falls(capsys):
    """Guessing ~0 at initialisation is far off the targets (about 1); 20 steps learn the mean."""
    args = vanishing.parse_args(TINY)
    test = vanishing.adding_problem(64, args.length, np.random.default_rng(1))
    with vanishing.StopOnInterrupt() as stop:
        result = vanishing.train(vanishing.SETTINGS[2], args, test, stop)
    assert result.steps == [0, 10, 20]
    assert result.test_mse[-1] < result.test_mse[0]
    assert sorted(result.norms_init) == list(range(8))


def test_forget_bias_sets_the_second_quarter_of_the_summed_bias():
    lstm = mt.nn.LSTM(3, 5)
    before = (lstm.bias_ih_l0 + lstm.bias_hh_l0).array.copy()
    vanishing.set_forget_bias(lstm, 1.0)
    after = (lstm.bias_ih_l0 + lstm.bias_hh_l0).array
    np.testing.assert_allclose(after[5:10], 1.0)
    np.testing.assert_array_equal(np.delete(after, range(5, 10)), np.delete(before, range(5, 10)))


@pytest.mark.parametrize("threads", [None, 2])
def test_training_runs_with_one_blas_thread_unless_told(threads, tmp_path, monkeypatch):
    """Two OpenBLAS threads that spin while other programs hold the cores made each run
    about five times slower on a shared 2-core machine; --threads chooses."""
    seen = []

    def record_threads(*args):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        raise KeyboardInterrupt  # enough: the thread count is what this test is about

    monkeypatch.setattr(vanishing, "train", record_threads)
    argv = [*TINY, "--out", str(tmp_path)] + ([] if threads is None else ["--threads", str(threads)])
    with pytest.raises(KeyboardInterrupt):
        vanishing.main(argv)
    with threadpool_limits(threads or 1, user_api="blas"):  # a 1-core machine caps it at 1
        expected = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert seen == [expected]


@pytest.mark.parametrize("argv", [["--length", "1"], ["--steps", "-3"], ["--clip", "0"],
                                  ["--threads", "0"]])
def test_bad_arguments_exit_2_with_one_line(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        vanishing.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_sigterm_stops_training_and_still_writes_the_summary(tmp_path, monkeypatch, capsys):
    batches = vanishing.adding_problem
    calls = []

    def sigterm_on_the_fifth_batch(*args):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return batches(*args)

    monkeypatch.setattr(vanishing, "adding_problem", sigterm_on_the_fifth_batch)
    assert vanishing.main([*TINY, "--out", str(tmp_path)]) == 128 + signal.SIGTERM
    printed = capsys.readouterr().out
    assert "interrupted: the summary covers the runs so far" in printed
    assert "no comparison page: training stopped before the LSTM + clipping + forget bias 1 run" in printed
    summary = (tmp_path / "summary.txt").read_text()
    assert "tanh RNN                          " in summary and "LSTM" not in summary
    assert not (tmp_path / "compare_rnn_lstm.html").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_stops_naming_the_step(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        vanishing.main([*TINY[:-4], "--lr", "1e38", "--eval-every", "10", "--out", str(tmp_path)])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: step \d+: the training loss is (nan|inf); the tanh RNN diverged: "
                        r"try a lower --lr than 1e\+38", err), err
