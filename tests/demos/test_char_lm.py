"""The char_lm demo end to end, on a tiny model and a small repetitive text."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import microtensor as mt
from demos import char_lm

TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 40  # 1,880 characters
TINY = ["--hidden", "16", "--embedding", "6", "--batch", "4", "--seq-len", "8",
        "--eval-every", "5", "--sample-every", "10", "--sample-len", "30", "--lr", "0.05"]


def write_text(folder, text=TEXT):
    path = folder / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run shared by the tests that only read its outputs."""
    folder = tmp_path_factory.mktemp("char_lm")
    out = folder / "run"
    code = char_lm.main(["--text", write_text(folder), "--out", str(out), "--steps", "40", *TINY])
    return code, out


def test_training_writes_every_output_and_the_loss_falls(trained):
    code, out = trained
    assert code == 0
    for name in ("checkpoint.ckpt", "loss.png", "sample.txt", "graph.dot"):
        assert (out / name).is_file(), name
    if mt.viz.render.shutil.which("dot") or mt.viz.render.shutil.which("graphviz-pure"):
        assert (out / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        # The chunk where training started and where it ended, side by side.
        assert compared(out)["labels"] == ["before training (step 0)", "after training (step 40)"]
    saved = mt.load(out / "checkpoint.ckpt")
    losses = saved["train_losses"]
    assert saved["step"] == 40 and losses.shape == (40,) and np.isfinite(losses).all()
    assert losses[-5:].mean() < losses[:5].mean() - 1.0  # an easy text: clearly learning
    assert saved["val_losses"][:, 0].tolist() == [5, 10, 15, 20, 25, 30, 35, 40]
    sample = (out / "sample.txt").read_text(encoding="utf-8")
    assert len(sample) == 1 + 5 * 30 and set(sample) <= set(TEXT)  # the prefix "\n", then 150


def compared(out):
    """The comparison page's data (mt.viz.compare)."""
    page = (out / "compare_before_after.html").read_text(encoding="utf-8")
    assert page.count('<iframe data-side="') == 2
    data = json.loads(re.search(r'id="compare-data">(.*?)</script>', page, re.S).group(1))
    assert data["lengths"] == [8, 8]  # the chunk: 8 characters
    return data


def test_run_prints_the_bigram_baseline_and_the_verdict(tmp_path, capsys):
    code = char_lm.main(["--text", write_text(tmp_path), "--out", str(tmp_path / "run"),
                         "--steps", "5", *TINY])
    printed = capsys.readouterr().out
    assert code == 0
    assert "bigram baseline (add-one smoothing): validation loss" in printed
    assert re.search(r"done in [\d.]+ min: validation loss [\d.]+ nats/char (beats|does NOT beat) "
                     r"the bigram baseline [\d.]+", printed)


def test_sample_from_the_checkpoint_alone(trained, capsys):
    _, out = trained
    assert char_lm.main(["--sample", "--out", str(out), "--prefix", "the ", "--sample-len",
                         "25", "--top-k", "3"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("the ") and len(text) == 4 + 25 and set(text) <= set(TEXT)


def interrupt_at_first_validation(monkeypatch):
    """Press Ctrl-C (a real SIGINT) right after the first validation."""
    validate = char_lm.Run.validate

    def validate_then_interrupt(run):
        loss = validate(run)
        if len(run.val_losses) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(char_lm.Run, "validate", validate_then_interrupt)


def test_ctrl_c_saves_and_resume_continues_exactly(tmp_path, monkeypatch, capsys):
    # Two layers with dropout: the resumed run must also restore the random generator.
    args = ["--text", write_text(tmp_path), "--steps", "12", "--layers", "2", "--dropout", "0.3",
            *TINY]
    assert char_lm.main([*args, "--out", str(tmp_path / "straight")]) == 0

    with monkeypatch.context() as patch:
        interrupt_at_first_validation(patch)
        assert char_lm.main([*args, "--out", str(tmp_path / "stopped")]) == 130
    assert "interrupted (SIGINT) at step 5" in capsys.readouterr().out
    assert mt.load(tmp_path / "stopped" / "checkpoint.ckpt")["step"] == 5
    assert char_lm.main(["--resume", "--out", str(tmp_path / "stopped")]) == 0

    straight = mt.load(tmp_path / "straight" / "checkpoint.ckpt")
    resumed = mt.load(tmp_path / "stopped" / "checkpoint.ckpt")
    assert resumed["step"] == straight["step"] == 12
    np.testing.assert_array_equal(resumed["train_losses"], straight["train_losses"])
    np.testing.assert_array_equal(resumed["val_losses"], straight["val_losses"])
    for name, value in straight["model"].items():
        np.testing.assert_array_equal(resumed["model"][name].array, value.array, err_msg=name)


def test_resume_can_extend_the_run_but_not_change_the_text(tmp_path):
    text = write_text(tmp_path)
    out = str(tmp_path / "run")
    assert char_lm.main(["--text", text, "--out", out, "--steps", "5", *TINY]) == 0
    assert char_lm.main(["--resume", "--out", out, "--steps", "7"]) == 0
    assert mt.load(tmp_path / "run" / "checkpoint.ckpt")["train_losses"].shape == (7,)
    if mt.viz.render.shutil.which("dot") or mt.viz.render.shutil.which("graphviz-pure"):
        assert compared(tmp_path / "run")["labels"] == ["step 5 (resumed)", "after training (step 7)"]
    write_text(tmp_path, TEXT.upper())
    with pytest.raises(SystemExit) as stopped:
        char_lm.main(["--resume", "--out", out, "--steps", "9"])
    assert stopped.value.code == 2


def one_line_error(capsys, argv):
    with pytest.raises(SystemExit) as stopped:
        char_lm.main(argv)
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and len(err.splitlines()) == 1, err
    return err


def test_bad_arguments_and_unreadable_text_exit_2_with_one_line(tmp_path, capsys):
    out = ["--out", str(tmp_path / "run")]
    assert "--steps: expected an integer > 0, got '0'" in one_line_error(capsys, ["--steps", "0", *out])
    assert "invalid choice: 'cnn'" in one_line_error(capsys, ["--cell", "cnn", *out])
    assert "--dropout: expected a number in [0, 1), 1 excluded, got '1.5'" in \
        one_line_error(capsys, ["--dropout", "1.5", *out])
    assert "not allowed with argument" in one_line_error(capsys, ["--sample", "--resume", *out])
    missing = str(tmp_path / "missing.txt")
    assert "cannot read" in one_line_error(capsys, ["--text", missing, *out])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "holds 0 characters" in one_line_error(capsys, ["--text", str(empty), *out])
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1") * 10)
    assert "not UTF-8" in one_line_error(capsys, ["--text", str(tmp_path / "latin1.txt"), *out])
    small = write_text(tmp_path, "abcdefghij" * 5)
    assert "too short for one chunk" in one_line_error(capsys, ["--text", small, *out])
    assert "no checkpoint at" in one_line_error(capsys, ["--sample", *out])


def test_sample_prefix_outside_the_vocabulary_is_one_line(trained, capsys):
    _, out = trained
    err = one_line_error(capsys, ["--sample", "--out", str(out), "--prefix", "Z"])
    assert "--prefix: Vocabulary: 'Z' is not one of the model's" in err


def test_help_documents_every_mode(capsys):
    with pytest.raises(SystemExit) as stopped:
        char_lm.main(["--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--text", "--preset", "--resume", "--sample", "--force", "--minutes", "--threads",
                 "--top-k"):
        assert flag in text
    assert "(default: a new paragraph)" in text and "(default: )" not in text


def test_without_graphviz_the_dot_file_is_written_and_the_run_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROTENSOR_DOT", str(tmp_path / "no-such-dot"))
    out = tmp_path / "run"
    assert char_lm.main(["--text", write_text(tmp_path), "--out", str(out), "--steps", "3",
                         *TINY]) == 0
    assert (out / "graph.dot").read_text().startswith("digraph")
    assert not (out / "graph.svg").exists() and not (out / "compare_before_after.html").exists()
    printed = capsys.readouterr().out
    assert "no Graphviz program is installed to render it to .svg" in printed
    assert "no comparison page: " in printed


# ------------------------------------------------------------------ nothing is lost
ROOT = pathlib.Path(__file__).resolve().parents[2]


def stop_at_step(patch, step):
    """Press Ctrl-C (a real SIGINT) right after training step ``step``."""
    train_step = char_lm.Run.train_step

    def train_step_then_interrupt(run):
        loss = train_step(run)
        if run.step == step:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    patch.setattr(char_lm.Run, "train_step", train_step_then_interrupt)


def test_sigterm_to_a_real_process_saves_and_resume_continues_exactly(tmp_path, monkeypatch):
    args = ["--text", write_text(tmp_path), "--steps", "100000", "--layers", "2", "--dropout",
            "0.3", *TINY]
    stopped = tmp_path / "stopped"
    process = subprocess.Popen([sys.executable, "-m", "demos.char_lm", *args, "--out", str(stopped)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (stopped / "checkpoint.ckpt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "SIGTERM: stopping after this step and saving" in err
    step = int(re.search(r"interrupted \(SIGTERM\) at step (\d+): saved", out).group(1))
    assert mt.load(stopped / "checkpoint.ckpt")["step"] == step

    # A run never stopped, and the resumed one, both to a few steps past the stop.
    with monkeypatch.context() as patch:
        stop_at_step(patch, step + 3)
        assert char_lm.main([*args, "--out", str(tmp_path / "straight")]) == 130
        assert char_lm.main(["--resume", "--out", str(stopped)]) == 130
    straight = mt.load(tmp_path / "straight" / "checkpoint.ckpt")
    resumed = mt.load(stopped / "checkpoint.ckpt")
    assert resumed["step"] == straight["step"] == step + 3
    np.testing.assert_array_equal(resumed["train_losses"], straight["train_losses"])
    for name, value in straight["model"].items():
        np.testing.assert_array_equal(resumed["model"][name].array, value.array, err_msg=name)


def test_a_second_ctrl_c_while_saving_finishes_the_save_and_exits_quietly(tmp_path, monkeypatch,
                                                                        capsys):
    save = char_lm.mt.save

    def press_ctrl_c_then_save(obj, path):
        os.kill(os.getpid(), signal.SIGINT)  # the second press, the save still to do
        save(obj, path)

    with monkeypatch.context() as patch:
        stop_at_step(patch, 3)
        patch.setattr(char_lm.mt, "save", press_ctrl_c_then_save)
        code = char_lm.main(["--text", write_text(tmp_path), "--out", str(tmp_path / "run"),
                             "--steps", "12", *TINY])
    assert code == 130
    assert "finishing the checkpoint first" in capsys.readouterr().err
    assert mt.load(tmp_path / "run" / "checkpoint.ckpt")["step"] == 3
    assert os.listdir(tmp_path / "run") == ["checkpoint.ckpt"]  # no temporary left


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_keeps_the_last_good_checkpoint_and_says_how_to_go_on(tmp_path, capsys):
    out = tmp_path / "run"
    assert char_lm.main(["--text", write_text(tmp_path), "--out", str(out), "--steps", "5",
                         *TINY]) == 0
    good = (out / "checkpoint.ckpt").read_bytes()
    capsys.readouterr()
    # Adam moves every weight by about the learning rate: 1e38 overflows float32 at once.
    assert char_lm.main(["--resume", "--out", str(out), "--steps", "40", "--lr", "1e38"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: step \d+: the training loss is (nan|inf) \(peak learning rate "
                        r"1e\+38\); stopped without saving: .*checkpoint.ckpt still holds step 5; "
                        r"continue from it with a lower learning rate: python -m demos.char_lm "
                        r"--resume --out .* --lr 1e\+37", err), err
    assert (out / "checkpoint.ckpt").read_bytes() == good


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_run_diverging_before_its_first_save_says_to_start_again(tmp_path, capsys):
    assert char_lm.main(["--text", write_text(tmp_path), "--out", str(tmp_path / "run"),
                         "--steps", "40", *TINY[:-2], "--lr", "1e38"]) == 1
    assert "no checkpoint of this run was saved yet; start again with a lower learning rate, " \
           "for example --lr 1e+37" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.ckpt").exists()


def test_a_new_run_never_replaces_a_trained_model(tmp_path, capsys):
    args = ["--text", write_text(tmp_path), "--out", str(tmp_path / "run"), "--steps", "5", *TINY]
    assert char_lm.main(args) == 0
    trained = (tmp_path / "run" / "checkpoint.ckpt").read_bytes()
    err = one_line_error(capsys, args)
    assert "already holds a run (checkpoint.ckpt); continue it with python -m demos.char_lm " \
           "--resume --out" in err and "another --out" in err and "--force" in err
    assert (tmp_path / "run" / "checkpoint.ckpt").read_bytes() == trained
    assert char_lm.main([*args, "--force", "--seed", "1"]) == 0
    assert (tmp_path / "run" / "checkpoint.ckpt").read_bytes() != trained


@pytest.fixture
def five_steps(tmp_path):
    """A finished 5-step run to resume, and a function to rewrite its checkpoint."""
    out = tmp_path / "run"
    assert char_lm.main(["--text", write_text(tmp_path), "--out", str(out), "--steps", "5",
                         *TINY]) == 0

    def rewrite(change):
        saved = mt.load(out / "checkpoint.ckpt")
        change(saved)
        mt.save(saved, out / "checkpoint.ckpt")

    return out, rewrite


def set_path(saved, keys, value):
    for key in keys[:-1]:
        saved = saved[key]
    saved[keys[-1]] = value


@pytest.mark.parametrize("keys, value, message", [
    (["text_crc"], None, "has no 'text_crc' field"),
    (["step"], None, "has no 'step' field"),
    (["rng"], None, "has no 'rng' field"),
    (["text_crc"], "abc", "'text_crc' field should be a CRC-32 (an integer), got 'abc'"),
    (["step"], -1, "'step' field should be an integer >= 0, got -1"),
    (["step"], 7, "'train_losses' field should be a float array of one loss per step (7)"),
    (["rng"], {"bit_generator": "PCG64"}, "'rng' field is not a state of numpy's PCG64 generator"),
    (["rng"], [1, 2], "'rng' field should be a numpy generator state, got [1, 2]"),
    (["settings", "hidden"], 0, "'settings' field has hidden = 0, which should be an integer > 0"),
    (["settings", "cell"], ["lstm"], "'settings' field has cell = ['lstm'], which should be one of"),
    (["settings", "lr"], "fast", "'settings' field has lr = 'fast', which should be a number > 0"),
    (["settings", "hidden"], 32, "'config' field says hidden_size 16 but the checkpoint's settings "
                                 "say hidden 32"),
    (["config", "hidden_size"], 32, "'config' field says hidden_size 32 but the checkpoint's "
                                    "settings say hidden 16"),
    (["model", "readout.weight"], mt.zeros(3, 3), "'model' field does not fit the settings stored "
                                                  "with it"),
    (["optimizer", "param_groups"], [], "'optimizer' field does not fit the settings stored"),
    (["state"], mt.zeros(2, 2), "'state' field should be None or the recurrent state (1, 4, 16) "
                                "of a lstm"),
    (["val_losses"], np.zeros(3), "'val_losses' field should be a float array of (step, loss) rows"),
])
def test_resume_refuses_a_checkpoint_with_a_missing_or_bad_field(five_steps, capsys, keys, value,
                                                                message):
    out, rewrite = five_steps
    if value is None:
        rewrite(lambda saved: saved.pop(keys[0]))
    else:
        rewrite(lambda saved: set_path(saved, keys, value))
    capsys.readouterr()
    err = one_line_error(capsys, ["--resume", "--out", str(out)])
    assert str(out / "checkpoint.ckpt") in err and message in err, err


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "128"], "--hidden 128: the run in {out} was trained with --hidden 16, which "
                          "cannot change on --resume (only --steps, --lr, --clip, --eval-every, "
                          "--sample-every can)"),
    (["--cell", "gru"], "--cell gru: the run in {out} was trained with --cell lstm"),
    (["--seed", "3"], "--seed 3: the run in {out} was trained with --seed 0"),
    (["--text", "{other}"], "--text {other}: the run in {out} was trained with --text"),
    (["--preset", "shakespeare"], "--preset cannot be used with --resume"),
])
def test_resume_refuses_settings_that_cannot_change(five_steps, capsys, tmp_path, argv, message):
    out, _ = five_steps
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    argv = [a.format(other=other) for a in argv]
    capsys.readouterr()
    err = one_line_error(capsys, ["--resume", "--out", str(out), *argv])
    assert message.format(out=out, other=other) in err, err


def test_resume_may_change_the_steps_and_learning_rate_and_repeat_the_rest(five_steps):
    out, _ = five_steps
    text = str(out.parent / "corpus.txt")
    assert char_lm.main(["--resume", "--out", str(out), "--steps", "7", "--lr", "0.01",
                         "--hidden", "16", "--text", text]) == 0
    saved = mt.load(out / "checkpoint.ckpt")
    assert saved["step"] == 7 and saved["settings"]["lr"] == 0.01


@pytest.mark.parametrize("key, value, message", [
    ("hidden_size", "16", "'config' field should be model settings: a cell (rnn, gru, lstm) "
                          "and sizes > 0"),
    ("hidden_size", 10**9, "these settings need about"),
    ("cell", "cnn", "'config' field should be model settings"),
    ("vocab", np.array([3, 1]), "'config' field does not describe a model: Vocabulary"),
    ("embedding_dim", 7, "'model' field does not fit the model its 'config' describes"),
])
def test_sample_refuses_a_checkpoint_whose_config_is_bad(five_steps, capsys, key, value, message):
    out, rewrite = five_steps
    rewrite(lambda saved: set_path(saved, ["config", key], value))
    capsys.readouterr()
    assert message in one_line_error(capsys, ["--sample", "--out", str(out)])


def test_sample_with_an_empty_prefix_prints_only_generated_text(trained, capsys):
    _, out = trained
    assert char_lm.main(["--sample", "--out", str(out), "--prefix", "", "--sample-len", "25"]) == 0
    text = capsys.readouterr().out
    assert len(text) == 25 + 1 and set(text) <= set(TEXT)  # and print's newline
