"""demos/common.py: one-line errors, argument types, output folder, optional matplotlib, Ctrl-C."""

import builtins
import os
import signal

import pytest

from demos.common import (
    StopOnInterrupt,
    add_run_arguments,
    blas_threads,
    fail,
    make_parser,
    output_dir,
    positive_float,
    positive_int,
    pyplot,
)


def test_fail_prints_one_line_and_exits_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        fail("--text x.txt: no such file")
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: --text x.txt: no such file\n"


def test_parser_errors_are_one_line_naming_the_option(capsys):
    parser = make_parser("python -m demos.x", "Trains x.")
    parser.add_argument("--steps", type=positive_int, default=3)
    parser.add_argument("--lr", type=positive_float, default=0.1)
    add_run_arguments(parser, "runs/x")
    for argv, reason in ((["--steps", "-1"], "argument --steps: expected an integer > 0, got '-1'"),
                         (["--lr", "inf"], "argument --lr: expected a number > 0, got 'inf'"),
                         (["--bogus"], "unrecognized arguments: --bogus")):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(argv)
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and err.count("\n") == 1 and reason in err, err
    args = parser.parse_args(["--steps", "7"])
    assert (args.steps, args.lr, args.out, args.seed) == (7, 0.1, "runs/x", 0)


def test_output_dir_creates_parents_or_fails_in_one_line(tmp_path, capsys):
    assert output_dir(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit):
        output_dir(tmp_path / "file" / "run")
    assert capsys.readouterr().err.startswith("error: cannot create the output folder")


def test_pyplot_says_what_it_skips_without_matplotlib(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert pyplot("the loss plot") is None
    assert "skipped the loss plot: matplotlib is not installed" in capsys.readouterr().out


def test_first_ctrl_c_is_a_request_the_second_interrupts(capsys):
    previous = signal.getsignal(signal.SIGINT)
    with StopOnInterrupt() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous
    assert "stopping after this step and saving" in capsys.readouterr().err


def test_blas_threads_limits_numpy_blas_inside_the_block():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is optional")
    import numpy  # noqa: F401  (loads the BLAS library threadpoolctl looks for)

    with blas_threads(1):
        counts = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                  if pool["user_api"] == "blas"]
    assert counts and all(n == 1 for n in counts)
