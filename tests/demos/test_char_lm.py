"""The char_lm demo end to end, on a tiny model and a small repetitive text."""

import os
import re
import signal

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
    saved = mt.load(out / "checkpoint.ckpt")
    losses = saved["train_losses"]
    assert saved["step"] == 40 and losses.shape == (40,) and np.isfinite(losses).all()
    assert losses[-5:].mean() < losses[:5].mean() - 1.0  # an easy text: clearly learning
    assert saved["val_losses"][:, 0].tolist() == [5, 10, 15, 20, 25, 30, 35, 40]
    sample = (out / "sample.txt").read_text(encoding="utf-8")
    assert len(sample) == 1 + 5 * 30 and set(sample) <= set(TEXT)  # the prefix "\n", then 150


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
    assert "interrupted at step 5" in capsys.readouterr().out
    assert mt.load(tmp_path / "stopped" / "checkpoint.ckpt")["step"] == 5
    assert char_lm.main(["--resume", "--out", str(tmp_path / "stopped")]) == 0

    straight = mt.load(tmp_path / "straight" / "checkpoint.ckpt")
    resumed = mt.load(tmp_path / "stopped" / "checkpoint.ckpt")
    assert resumed["step"] == straight["step"] == 12
    np.testing.assert_array_equal(resumed["train_losses"], straight["train_losses"])
    np.testing.assert_array_equal(resumed["val_losses"], straight["val_losses"])
    for name, value in straight["model"].items():
        np.testing.assert_array_equal(resumed["model"][name].data, value.data, err_msg=name)


def test_resume_can_extend_the_run_but_not_change_the_text(tmp_path):
    text = write_text(tmp_path)
    out = str(tmp_path / "run")
    assert char_lm.main(["--text", text, "--out", out, "--steps", "5", *TINY]) == 0
    assert char_lm.main(["--resume", "--out", out, "--steps", "7"]) == 0
    assert mt.load(tmp_path / "run" / "checkpoint.ckpt")["train_losses"].shape == (7,)
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
    assert "--dropout must be in [0, 1)" in one_line_error(capsys, ["--dropout", "1.5", *out])
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
    for flag in ("--text", "--preset", "--resume", "--sample", "--minutes", "--threads", "--top-k"):
        assert flag in text


def test_without_graphviz_the_dot_file_is_written_and_the_run_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROTENSOR_DOT", str(tmp_path / "no-such-dot"))
    out = tmp_path / "run"
    assert char_lm.main(["--text", write_text(tmp_path), "--out", str(out), "--steps", "3",
                         *TINY]) == 0
    assert (out / "graph.dot").read_text().startswith("digraph")
    assert not (out / "graph.svg").exists()
    assert "no Graphviz program is installed to render it to .svg" in capsys.readouterr().out
