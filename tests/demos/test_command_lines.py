"""Every demo refuses every bad command-line value the same way: exit status 2 and one
line on stderr naming the flag, never a traceback, and before any work is done. One test
per family of flags: counts, rates, seeds, fractions, sizes too big for memory, choices,
text files."""

import subprocess
import sys
from pathlib import Path

import pytest

from demos import char_lm, curvature, min_char_rnn, sentiment, soup, vanishing

ROOT = Path(__file__).resolve().parents[2]
DEMOS = {"char_lm": char_lm, "curvature": curvature, "min_char_rnn": min_char_rnn,
         "sentiment": sentiment, "soup": soup, "vanishing": vanishing}
#: Sizes no machine has memory for: each demo must refuse them with its estimate.
HUGE = "10000000"
SMALL_BATCH = ["--batch", "4", "--seq-len", "8"]  # chunks the test's short text can fill


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    return str(path)


def refused(demo, argv, capsys, tmp_path, text):
    """Run ``demo`` with ``argv``; assert it exits 2 with one line; return that line."""
    extra = {"char_lm": ["--text", text, "--out", str(tmp_path / "run")],
             "min_char_rnn": ["--text", text], "soup": ["--out", str(tmp_path / "run")],
             "sentiment": ["--out", str(tmp_path / "run")],
             "vanishing": ["--out", str(tmp_path / "run")],
             "curvature": ["--out", str(tmp_path / "run")]}[demo]
    with pytest.raises(SystemExit) as stopped:
        DEMOS[demo].main([*argv, *extra])
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def cases(flags_by_demo, values):
    return [(demo, flag, value) for demo, flags in flags_by_demo.items() for flag in flags
            for value in values]


@pytest.mark.parametrize("demo, flag, value", cases({
    "char_lm": ["--steps", "--hidden", "--layers", "--batch", "--seq-len", "--eval-every",
                "--sample-every", "--threads", "--top-k"],
    "min_char_rnn": ["--steps", "--hidden", "--seq-len", "--sample-every"],
    "sentiment": ["--steps", "--batch", "--hidden", "--embed"],
    "soup": ["--steps", "--hidden"],
    "vanishing": ["--length", "--steps", "--batch", "--hidden", "--eval-every"],
    "curvature": ["--length", "--steps", "--batch", "--hidden", "--measure-every",
                  "--curvature-batch", "--iterations", "--threads"],
}, ["0", "-3", "2.5", "x"]))
def test_counts_must_be_positive_integers(demo, flag, value, capsys, tmp_path, text):
    err = refused(demo, [flag, value], capsys, tmp_path, text)
    assert f"argument {flag}: expected an integer > 0, got '{value}'" in err


@pytest.mark.parametrize("demo, flag, value", cases({
    "char_lm": ["--lr", "--clip", "--minutes", "--temperature"],
    "min_char_rnn": ["--lr"], "sentiment": ["--lr", "--clip"], "soup": ["--lr"],
    "vanishing": ["--lr", "--clip"], "curvature": ["--lr", "--tol"],
}, ["0", "-1", "nan", "inf", "fast"]))
def test_rates_must_be_positive_finite_numbers(demo, flag, value, capsys, tmp_path, text):
    err = refused(demo, [flag, value], capsys, tmp_path, text)
    assert f"argument {flag}: expected a number > 0, got '{value}'" in err


@pytest.mark.parametrize("demo", sorted(DEMOS))
@pytest.mark.parametrize("value", ["-5", "1.5", "seed"])
def test_seeds_must_be_non_negative_integers(demo, value, capsys, tmp_path, text):
    err = refused(demo, ["--seed", value], capsys, tmp_path, text)
    assert f"argument --seed: expected an integer >= 0, got '{value}'" in err


@pytest.mark.parametrize("demo, flag, value, interval", [
    ("char_lm", "--dropout", "1", "[0, 1), 1 excluded"),
    ("char_lm", "--dropout", "-0.1", "[0, 1), 1 excluded"),
    ("char_lm", "--dropout", "nan", "[0, 1), 1 excluded"),
    ("sentiment", "--negation-rate", "0", "(0, 1), 0 and 1 excluded"),
    ("sentiment", "--negation-rate", "1.0", "(0, 1), 0 and 1 excluded"),
])
def test_fractions_say_which_ends_are_excluded(demo, flag, value, interval, capsys, tmp_path, text):
    err = refused(demo, [flag, value], capsys, tmp_path, text)
    assert f"argument {flag}: expected a number in {interval}, got '{value}'" in err


@pytest.mark.parametrize("demo, argv", [
    ("char_lm", ["--hidden", HUGE, *SMALL_BATCH]),
    ("char_lm", ["--layers", "100000", "--hidden", "1000", *SMALL_BATCH]),
    ("min_char_rnn", ["--hidden", HUGE]), ("sentiment", ["--hidden", HUGE]),
    ("sentiment", ["--test-distances", "5," + HUGE]), ("soup", ["--hidden", HUGE]),
    ("vanishing", ["--length", HUGE]), ("vanishing", ["--hidden", HUGE]),
])
def test_sizes_too_big_for_memory_are_refused_up_front_with_the_estimate(demo, argv, capsys,
                                                                         tmp_path, text):
    err = refused(demo, argv, capsys, tmp_path, text)
    assert "these settings need about" in err and "of memory and this machine has" in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--cell", "cnn"], "argument --cell: invalid choice: 'cnn'"),
    (["--optimizer", "sgd"], "argument --optimizer: invalid choice: 'sgd'"),
    (["--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
    (["--embedding", "-1"], "argument --embedding: expected an integer >= 0, got '-1'"),
    (["--sample-len", "0"], "argument --sample-len: expected an integer from 1 to 1000000"),
    (["--sample-len", "100000000"], "argument --sample-len: expected an integer from 1 to 1000000"),
    (["--force", "--resume"], "argument --resume: not allowed with argument --force"),
])
def test_char_lm_choices_and_bounded_sizes(argv, message, capsys, tmp_path, text):
    assert message in refused("char_lm", argv, capsys, tmp_path, text)


@pytest.mark.parametrize("demo", ["char_lm", "min_char_rnn"])
def test_text_files_that_cannot_be_read(demo, capsys, tmp_path):
    err = refused(demo, ["--text", str(tmp_path / "missing.txt")], capsys, tmp_path,
                  str(tmp_path / "missing.txt"))
    assert "--text: cannot read" in err and "missing.txt" in err


@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_as_real_programs_bad_values_exit_2_without_a_traceback(demo):
    """The same through ``python -m`` (the issue's --sample-every 0 once raised
    ZeroDivisionError in min_char_rnn)."""
    flag = "--sample-every" if demo == "min_char_rnn" else "--steps"
    result = subprocess.run([sys.executable, "-m", f"demos.{demo}", flag, "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"argument {flag}: expected an integer > 0, got '0'" in result.stderr
