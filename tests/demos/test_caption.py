"""Smoke test of demos.caption on tiny settings: it trains, scores every strip length and
writes every output."""

import importlib.util
import re

import numpy as np
import pytest

from demos import caption

TINY = ["--steps", "12", "--batch", "16", "--hidden", "6", "--embed", "8", "--word-embed", "4",
        "--test-strips", "10", "--eval-every", "6", "--examples", "2", "--lr", "0.02"]


def test_tiny_run_scores_every_length_and_writes_every_output(tmp_path, capsys):
    assert caption.main([*TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "1438 digit images to train on, 359 held out" in printed

    summary = (tmp_path / "summary.txt").read_text()
    rows = re.findall(r"^ +(\d) +([\d.]+)% +([\d.]+)% +([\d.]+|nan)%$", summary, re.MULTILINE)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert all(0 <= float(v) <= 100 for r in rows for v in r[1:3])
    assert re.search(r"3-digit strips during training: 6: [\d.]+%, 12: [\d.]+%", summary)
    assert len((tmp_path / "captions.txt").read_text().splitlines()) == 10
    assert "attention" in (tmp_path / "graph.dot").read_text()
    if importlib.util.find_spec("matplotlib"):
        for name in ("attention.png", "loss.png"):
            assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_the_baseline_without_attention_trains_on_the_same_strips(tmp_path):
    assert caption.main([*TINY, "--baseline", "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert re.search(r"^with attention: training .* CPU;", summary, re.MULTILINE)
    assert re.search(r"^without attention: training .* CPU;", summary, re.MULTILINE)
    # five rows with attention peaks, then five without
    assert len(re.findall(r"^ +\d +[\d.]+% +[\d.]+% +([\d.]+|nan)%$", summary, re.MULTILINE)) == 5
    assert len(re.findall(r"^ +\d +[\d.]+% +[\d.]+%$", summary, re.MULTILINE)) == 5
    assert len(re.findall(r"3-digit strips during training: 6: [\d.]+%, 12: [\d.]+%", summary)) == 2


def test_scores_count_missing_and_extra_words_as_wrong():
    assert caption.word_accuracy([[3, 4]], [[3, 4, 5]]) == (0.0, 2 / 3)
    assert caption.word_accuracy([[3, 4, 5, 6]], [[3, 4, 5]]) == (0.0, 3 / 4)


@pytest.mark.parametrize("argv, reason", [
    (["--held-out", "0"], "argument --held-out: expected a number in (0, 1), 0 and 1 excluded, got '0'"),
    (["--max-gap", "-1"], "argument --max-gap: expected an integer >= 0, got '-1'"),
    (["--max-gap", "41"], "--max-gap must be at most 40 columns, got 41"),
    (["--test-strips", "100000000"], "of memory and this machine has"),
    (["--batch", "0"], "argument --batch: expected an integer > 0"),
])
def test_bad_arguments_exit_2_with_one_line(argv, reason, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        caption.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and reason in err and err.count("\n") == 1


def test_the_unrolled_graph_is_two_strips_of_different_lengths_with_padding(tmp_path):
    assert caption.main([*TINY, "--out", str(tmp_path)]) == 0
    source = (tmp_path / "graph.dot").read_text()
    title = re.search(r"\ttitle \[[^\n]*label=<<B>(.*?)</B>>", source).group(1)
    assert title.count("“") == 2 and title.endswith("padding greyed")
    assert {"encoder", "decoder"} <= set(re.findall(r"(encoder|decoder)[^\n]*?padding 1 of 2", source))


def test_two_lengths_picks_strips_with_different_numbers_of_digits():
    from models.digit_strips import Strips

    strips = Strips(np.zeros((3, 8, 24)), np.array([16, 16, 24]), [[1, 2], [3, 4], [5, 6, 7]],
                    [[0, 8], [0, 8], [0, 8, 16]])
    two = caption.two_lengths(strips)
    assert two.digits == [[1, 2], [5, 6, 7]] and two.widths.tolist() == [16, 24]
    assert two.pixels.shape == (2, 8, 24)
    same = caption.two_lengths(Strips(np.zeros((2, 8, 8)), np.array([8, 8]), [[1], [2]], [[0], [0]]))
    assert same.digits == [[1]]
