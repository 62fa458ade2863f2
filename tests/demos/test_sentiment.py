"""Smoke test of demos.sentiment on tiny settings: both models train, the table parses."""

import importlib.util
import os
import re
import signal

import numpy as np
import pytest

from demos import sentiment

TINY = ["--steps", "30", "--batch", "16", "--hidden", "6", "--embed", "4", "--lr", "0.05",
        "--train-distances", "5,6", "--test-distances", "5,7", "--negation-rate", "0.1"]


def test_tiny_run_prints_falling_losses_and_writes_the_table(tmp_path, capsys):
    assert sentiment.main([*TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("tanh RNN", "LSTM"):
        first, last = map(float, re.search(
            rf"{name}: training loss ([\d.]+) over the first 15 steps, ([\d.]+) over the last 15",
            printed).groups())
        # with 10% negated, the adjective alone is right 90% of the time: quickly learned
        assert np.isfinite([first, last]).all() and last < first

    summary = (tmp_path / "summary.txt").read_text()
    rows = {int(m[0]): [float(v) for v in m[1:]] for m in re.findall(
        r"^ +(\d+) +([\d.]+)% \( *([\d.]+)%\) +([\d.]+)% \( *([\d.]+)%\)$", summary, re.MULTILINE)}
    assert sorted(rows) == [5, 7]
    assert all(0 <= v <= 100 for values in rows.values() for v in values)
    assert "tanh RNN" in summary and "LSTM" in summary and "GRU" not in summary
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert "skipped accuracy.png" in printed


@pytest.mark.parametrize("argv, reason", [
    (["--cells", "rnn,cnn"], "--cells must be distinct names"),
    (["--cells", "lstm,lstm"], "--cells must be distinct names"),
    (["--train-distances", "9,6"], "LOW <= HIGH"),
    (["--train-distances", "5"], "LOW,HIGH"),
    (["--test-distances", "3,10"], "distances must be at least 5"),
    (["--test-distances", "a,b"], "comma-separated integers"),
    (["--negation-rate", "1"], "--negation-rate: expected a number in (0, 1), 0 and 1 excluded"),
])
def test_bad_arguments_exit_2_with_one_line(argv, reason, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sentiment.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and reason in err and err.count("\n") == 1


def test_sigterm_stops_training_and_tests_the_models_so_far(tmp_path, monkeypatch, capsys):
    sentences = sentiment.negation_sentences
    calls = []

    def sigterm_on_the_fifth_batch(*args):
        calls.append(1)
        if len(calls) == 6:  # the first call draws the examples printed at the start
            os.kill(os.getpid(), signal.SIGTERM)
        return sentences(*args)

    monkeypatch.setattr(sentiment, "negation_sentences", sigterm_on_the_fifth_batch)
    assert sentiment.main([*TINY, "--out", str(tmp_path)]) == 128 + signal.SIGTERM
    printed = capsys.readouterr().out
    assert "interrupted: testing the models trained so far" in printed
    assert "over the last 2 (5 steps" in printed
    assert "tanh RNN" in (tmp_path / "summary.txt").read_text()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_stops_naming_the_step(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        sentiment.main([*TINY, "--lr", "1e38", "--out", str(tmp_path)])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: step \d+: the training loss is (nan|inf); the tanh RNN diverged: "
                        r"try a lower --lr than 1e\+38", err), err
