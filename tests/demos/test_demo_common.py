"""demos/common.py: one-line errors, argument types, output folder, optional matplotlib,
Ctrl-C and SIGTERM, memory estimates, diverged losses, checkpoint fields."""

import argparse
import builtins
import os
import re
import signal

import pytest

from demos import common
from demos.common import (
    CheckpointFields,
    NonFiniteLossError,
    StopOnInterrupt,
    add_run_arguments,
    blas_threads,
    check_finite,
    check_memory,
    fail,
    int_up_to,
    make_parser,
    non_negative_int,
    number_in,
    output_dir,
    positive_float,
    positive_int,
    pyplot,
    refuse_to_replace,
    run_main,
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


def test_sigterm_is_a_stop_request_like_ctrl_c(capsys):
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with StopOnInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM"
        assert stop.exit_code == 128 + signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert {s: signal.getsignal(s) for s in previous} == previous
    assert "SIGTERM: stopping after this step and saving" in capsys.readouterr().err


def test_inside_saving_even_a_second_signal_waits_for_the_save(capsys):
    with StopOnInterrupt() as stop:
        with stop.saving():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            finished = True
        assert finished and stop.requested and stop.signal_name == "SIGINT"
        with pytest.raises(KeyboardInterrupt):  # outside the save: quit now, as usual
            os.kill(os.getpid(), signal.SIGINT)
    assert capsys.readouterr().err.count("finishing the checkpoint first") == 2


def test_run_main_turns_a_forced_quit_into_one_line_and_status_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        run_main(interrupted)
    assert stopped.value.code == 130 and capsys.readouterr().err.strip() == "interrupted"
    with pytest.raises(SystemExit) as stopped:
        run_main(lambda: 143)
    assert stopped.value.code == 143


@pytest.mark.parametrize("parse, text, message", [
    (non_negative_int, "-5", "expected an integer >= 0, got '-5'"),
    (non_negative_int, "1e3", "expected an integer >= 0, got '1e3'"),
    (number_in(0, 1, low_open=True, high_open=True), "0", "in (0, 1), 0 and 1 excluded, got '0'"),
    (number_in(0, 1, low_open=False, high_open=True), "nan", "in [0, 1), 1 excluded, got 'nan'"),
    (number_in(0, 1, low_open=False, high_open=False), "1.5", "in [0, 1], got '1.5'"),
    (int_up_to(10), "11", "expected an integer from 1 to 10, got '11'"),
])
def test_argument_types_name_the_accepted_range(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        parse(text)


def test_check_memory_refuses_with_the_estimate_and_the_flags(capsys, monkeypatch):
    monkeypatch.setattr(common, "machine_memory", lambda: 8 * 10**9)
    check_memory(7.9e9, "--hidden")
    with pytest.raises(SystemExit) as stopped:
        check_memory(6.4e13, "--hidden or --batch")
    assert stopped.value.code == 2
    assert capsys.readouterr().err == ("error: these settings need about 64.0 TB of memory and this "
                                       "machine has 8.0 GB; make --hidden or --batch smaller\n")


def test_check_finite_names_the_step_and_what_diverged():
    assert check_finite(2.5, step=1) == 2.5
    with pytest.raises(NonFiniteLossError, match="step 12: the gradient norm is inf") as info:
        check_finite(float("inf"), step=12, what="gradient norm")
    assert info.value.step == 12


def test_checkpoint_fields_name_the_file_and_the_field(capsys, tmp_path):
    fields = CheckpointFields({"step": "three", "rng": {}}, tmp_path / "c.ckpt")
    for name, valid in (("step", lambda v: v >= 0), ("missing", bool)):
        with pytest.raises(SystemExit):
            fields.get(name, valid, "an integer >= 0")
    first, second = capsys.readouterr().err.splitlines()
    assert first == f"error: {tmp_path / 'c.ckpt'}: the checkpoint's 'step' field should be an " \
                    "integer >= 0, got 'three'"
    assert second == f"error: {tmp_path / 'c.ckpt'} has no 'missing' field, so the run cannot be " \
                     "resumed from it"
    with pytest.raises(SystemExit):
        CheckpointFields([1, 2], tmp_path / "c.ckpt")


def test_refuse_to_replace_an_existing_checkpoint_unless_forced(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.ckpt"
    refuse_to_replace(checkpoint, force=False, prog="demo")
    checkpoint.write_bytes(b"trained")
    refuse_to_replace(checkpoint, force=True, prog="demo")
    with pytest.raises(SystemExit):
        refuse_to_replace(checkpoint, force=False, prog="demo")
    assert "--resume --out" in capsys.readouterr().err
