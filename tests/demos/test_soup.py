"""Smoke test of demos.soup: a short run prints falling losses and writes both graphs."""

import html
import json
import re

import numpy as np
import pytest

import microtensor as mt
from demos import soup


def graphviz_available() -> bool:
    try:
        mt.viz.find_dot()
    except mt.viz.GraphvizNotFoundError:
        return False
    return True


def test_short_run_trains_both_models_and_draws_their_graphs(tmp_path, capsys):
    assert soup.main(["--steps", "40", "--lr", "0.1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out

    assert "soup  [1 0 0 0 0 0 0 0 0]" in printed  # the one-hot vectors
    assert len(re.findall(r"after 'soup is good' +h = \[", printed)) == 1
    for cell in ("RNN", "LSTM"):
        first, last = map(float, re.search(
            rf"{cell} loss: ([\d.]+) at the first step, ([\d.]+) after 40 steps", printed).groups())
        assert np.isfinite([first, last]).all() and last < first

    rnn_dot = (tmp_path / "rnn_graph.dot").read_text()
    lstm_dot = (tmp_path / "lstm_graph.dot").read_text()
    assert "cluster_step0" in rnn_dot and "cluster_step1" in rnn_dot
    assert "t=0 · ‘soup’" in rnn_dot and "t=1 · ‘is’" in rnn_dot  # each step labelled with its word
    assert "forget" in lstm_dot and "forget" not in rnn_dot  # the LSTM's gates are drawn
    if graphviz_available():
        for name in ("rnn_graph.svg", "lstm_graph.svg"):
            assert (tmp_path / name).read_text().rstrip().endswith("</svg>")
        for name in ("rnn_graph.png", "lstm_graph.png", "lstm_graph_small.png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for name in ("rnn_graph.html", "lstm_graph.html"):  # the explorer, self-contained
            page = (tmp_path / name).read_text()
            assert page.rstrip().endswith("</html>") and 'src="http' not in page
        # Both passes side by side, on one colour scale, each step labelled with its word.
        page = (tmp_path / "compare_rnn_lstm.html").read_text()
        data = json.loads(re.search(r'id="compare-data">(.*?)</script>', page, re.S).group(1))
        assert data["labels"] == ["tanh RNN", "LSTM"] and data["lengths"] == [2, 2]
        assert 'data-view="compare"' in page and page.count('<iframe data-side="') == 2
        assert html.escape("t=1 · ‘is’") in page
        assert str(tmp_path / "compare_rnn_lstm.html") in printed
    else:
        assert "no Graphviz program found" in printed and "no comparison page" in printed


def test_without_graphviz_the_dot_source_is_still_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MICROTENSOR_DOT", str(tmp_path / "no-such-dot"))
    assert soup.main(["--steps", "2", "--out", str(tmp_path)]) == 0
    assert "no Graphviz program found" in capsys.readouterr().out
    assert (tmp_path / "lstm_graph.dot").exists() and not (tmp_path / "lstm_graph.svg").exists()
    assert not (tmp_path / "compare_rnn_lstm.html").exists()


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--hidden", "x"], ["--lr", "-1"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        soup.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_stops_naming_the_step(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        soup.main(["--steps", "50", "--lr", "1e38", "--out", str(tmp_path)])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: step \d+: the training loss is (nan|inf); the RNN diverged: try a "
                        r"lower --lr than 1e\+38", err), err
