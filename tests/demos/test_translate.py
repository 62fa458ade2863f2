"""Smoke test of demos.translate on tiny settings: both models train, everything is written."""

import importlib.util
import re
import sys

import pytest

from demos import translate

pytest.importorskip("num2words", reason="demos.translate needs num2words (the demos extra)")

TINY = ["--limit", "120", "--steps", "12", "--batch", "16", "--hidden", "6", "--embed", "4",
        "--eval-every", "6", "--examples", "2", "--lr", "0.02"]


def test_tiny_run_scores_both_models_and_writes_every_output(tmp_path, capsys):
    assert translate.main([*TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "108 training pairs, 12 held out" in printed

    summary = (tmp_path / "summary.txt").read_text()
    rows = re.findall(r"^(with attention|without attention) +([\d.]+)% +([\d.]+)% +([\d.]+) +([\d.]+)$",
                      summary, re.MULTILINE)
    assert [r[0] for r in rows] == ["with attention", "without attention"]
    assert all(0 <= float(v) <= 100 for r in rows for v in r[1:3])
    assert len(re.findall(r"6: [\d.]+%, 12: [\d.]+%", summary)) == 2  # accuracy during training

    translations = (tmp_path / "translations.txt").read_text()
    assert translations.count("reference") == 2 and translations.count("beam 4:") == 4
    wrong = re.findall(r"^(with|without) attention: (\d+) held-out numbers? wrong", translations,
                       re.MULTILINE)
    assert [w[0] for w in wrong] == ["with", "without"] and all(int(w[1]) <= 12 for w in wrong)
    assert "attention" in (tmp_path / "graph.dot").read_text()
    if importlib.util.find_spec("matplotlib"):
        for name in ("attention.png", "loss.png"):
            assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_missing_num2words_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "num2words", None)
    with pytest.raises(SystemExit) as exit_info:
        translate.main([*TINY, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: the number pairs need the num2words package: pip install 'microtensor[demos]'\n"


@pytest.mark.parametrize("argv, reason", [
    (["--held-out", "1"], "argument --held-out: expected a number in (0, 1), 0 and 1 excluded, got '1'"),
    (["--limit", "5"], "--limit must be at least 10"),
    (["--limit", "10000000"], "argument --limit: expected an integer from 1 to 1000000"),
    (["--hidden", "10000000"], "of memory and this machine has"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0"),
    (["--beam", "0"], "argument --beam: expected an integer > 0"),
    (["--steps", "x"], "argument --steps: expected an integer > 0"),
])
def test_bad_arguments_exit_2_with_one_line(argv, reason, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        translate.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and reason in err and err.count("\n") == 1


def test_the_unrolled_graph_is_two_numbers_of_different_lengths_with_padding_and_attention(tmp_path):
    assert translate.main([*TINY, "--out", str(tmp_path)]) == 0
    source = (tmp_path / "graph.dot").read_text()
    title = re.search(r"\ttitle \[[^\n]*label=<<B>(.*?)</B>>", source).group(1)
    assert title.count("→") == 2 and title.endswith("padding greyed")
    # The encoder's packed steps and the decoder's masked ones are both drawn as padding (in a
    # step's title, or on its cell), and the kept attention weights as edges.
    padded = re.findall(r"(encoder|decoder)[^\n]*?padding 1 of 2", source)
    assert {"encoder", "decoder"} <= set(padded)
    assert "__attention" in source
    assert "decoder · t=0 · ‘&lt;s&gt;’" in source  # each step labelled with the word it reads
    if (tmp_path / "graph.svg").exists():  # rendered: the explorer's page is there too
        assert (tmp_path / "graph.html").read_text().rstrip().endswith("</html>")
