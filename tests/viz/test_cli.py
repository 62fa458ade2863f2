"""python -m microtensor.viz: renders a chosen model's unrolled graph to a file."""

import shutil

import pytest

from microtensor.viz.__main__ import main

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_cli_writes_the_dot_source_for_each_model(tmp_path, model, capsys):
    out = tmp_path / "g.dot"
    assert main(["--model", model, "--steps", "3", "--layers", "2", "--out", str(out)]) == 0
    source = out.read_text()
    assert "cluster_t0" in source and "cluster_t2" in source
    assert f"{model}.l1" in source  # both layers are drawn, with their names
    assert "wrote" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program installed (optional tool)")
def test_cli_renders_svg_with_a_window_and_reports_norms(tmp_path, capsys):
    out = tmp_path / "long.svg"
    assert main(["--model", "rnn", "--steps", "40", "--window", "30:33", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "long.dot").exists()
    printed = capsys.readouterr().out
    assert "||dL/dh_t||: t=39:" in printed and "t=0:" in printed


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--out", "graph.gif"], "--out must end in"),
    (["--window", "3-5"], "expected START:STOP"),
    (["--model", "transformer"], "invalid choice"),
])
def test_cli_rejects_bad_arguments_with_a_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
