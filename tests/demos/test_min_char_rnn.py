"""demos.min_char_rnn: a short run prints its loss and samples; SIGTERM stops it with a
last sample; a diverging run names the step."""

import os
import re
import signal

import pytest

from demos import min_char_rnn

TEXT = "the cat sat on the mat.\n" * 40
TINY = ["--hidden", "8", "--seq-len", "8", "--sample-every", "10"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def test_a_short_run_prints_losses_and_samples_from_the_text(text, capsys):
    assert min_char_rnn.main(["--text", text, "--steps", "20", *TINY]) == 0
    printed = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"step (?:10|20): loss ([\d.]+) nats/char", printed)]
    assert len(losses) == 2 and losses[1] < losses[0]
    samples = re.findall(r"----\n(.*?)\n----", printed, re.DOTALL)
    assert len(samples) == 2 and all(len(s) == 200 and set(s) <= set(TEXT) for s in samples)


def test_sigterm_stops_after_the_step_with_a_last_sample(text, monkeypatch, capsys):
    loss = min_char_rnn.CharRNN.loss
    calls = []

    def sigterm_at_step_3(model, *args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss(model, *args)

    monkeypatch.setattr(min_char_rnn.CharRNN, "loss", sigterm_at_step_3)
    assert min_char_rnn.main(["--text", text, "--steps", "1000", *TINY]) == 128 + signal.SIGTERM
    assert re.search(r"step 3: loss [\d.]+ nats/char", capsys.readouterr().out)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_stops_naming_the_step(text, capsys):
    with pytest.raises(SystemExit) as stopped:
        min_char_rnn.main(["--text", text, "--steps", "200", *TINY, "--lr", "1e308"])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: step \d+: the training loss is (nan|inf); try a lower --lr than "
                        r"1e\+308", err), err
