"""python -m microtensor.viz: renders a chosen model's unrolled graph to a file."""

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from microtensor.viz.__main__ import main

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_cli_writes_the_dot_source_for_each_model(tmp_path, model, capsys):
    out = tmp_path / "g.dot"
    assert main(["--model", model, "--steps", "3", "--layers", "2", "--out", str(out)]) == 0
    source = out.read_text()
    steps = re.findall(r"\tsubgraph cluster_step(\d) \{\n\t\tgraph \[[^\n]*label=<<B>t=(\d)</B>>", source)
    assert steps == [("0", "0"), ("1", "1"), ("2", "2")]  # every step framed and titled, in order
    layers = re.findall(r"\tsubgraph cluster_step0_l\d \{\n\t\tgraph \[[^\n]*label=<([^>]*)>", source)
    assert layers == [f"{model}.l0", f"{model}.l1"]  # both layers are drawn, with their names
    assert "wrote" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program installed (optional tool)")
def test_cli_renders_svg_with_a_window_and_reports_norms(tmp_path, capsys):
    out = tmp_path / "long.svg"
    assert main(["--model", "rnn", "--steps", "40", "--window", "30:33", "--out", str(out)]) == 0
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml")
    # the window's steps are titled frames, op by op, with the data attribute a script reads
    titled = {g.get("data-step"): "".join(t.text for t in g.iter(f"{SVG}text"))
              for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "cluster"}
    assert {step: title for step, title in titled.items() if title} == {
        "30": "t=30", "31": "t=31", "32": "t=32"}
    assert (tmp_path / "long.dot").exists()
    printed = capsys.readouterr().out
    assert "||dL/dh_t||: t=39:" in printed and "t=0:" in printed


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps: must be at least 1"),
    (["--out", "graph.gif"], "--out: must end in"),
    (["--window", "3-5"], "expected START:STOP"),
    (["--model", "transformer"], "invalid choice"),
])
def test_cli_rejects_bad_arguments_with_a_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    # integer counts
    (["--steps", "-3"], "argument --steps: must be at least 1, got -3"),
    (["--layers", "two"], "argument --layers: expected an integer, got 'two'"),
    (["--hidden", "0"], "argument --hidden: must be at least 1, got 0"),
    (["--batch", "1.5"], "argument --batch: expected an integer"),
    (["--input-size", "0"], "argument --input-size: must be at least 1"),
    (["--max-op-steps", "-5"], "argument --max-op-steps: must be at least 0, got -5"),
    (["--seed", "-5"], "argument --seed: must be at least 0, got -5"),
    # windows
    (["--window", "5:2"], "START:STOP needs 0 <= START < STOP, got '5:2'"),
    (["--window=-1:4"], "START:STOP needs 0 <= START < STOP"),
    (["--steps", "10", "--window", "20:30"], "--window 20:30 starts after the last step (--steps 10)"),
    # packed lengths
    (["--lengths", "3,0"], "argument --lengths: every length must be at least 1, got '3,0'"),
    (["--lengths", "3;2"], "argument --lengths: expected lengths like 6,2,4, got '3;2'"),
    (["--steps", "4", "--lengths", "4,9"], "--lengths: 9 is longer than --steps 4"),
    # thresholds
    (["--vanish-below", "nan"], "argument --vanish-below: must be a finite number >= 0, got 'nan'"),
    (["--vanish-below", "inf"], "must be a finite number >= 0"),
    (["--vanish-below=-1e-3"], "must be a finite number >= 0"),
    (["--vanish-below", "small"], "expected a number, got 'small'"),
    # sizes beyond memory, refused before anything is allocated
    (["--steps", "1000000000", "--hidden", "4096"], "needs about"),
])
def test_every_numeric_flag_is_validated_with_a_one_line_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m microtensor.viz: error: ") and message in last


def test_a_size_beyond_memory_states_the_estimate(capsys):
    with pytest.raises(SystemExit):
        main(["--steps", "1000000000", "--hidden", "4096"])
    err = capsys.readouterr().err
    assert re.search(r"needs about [\d.]+ GiB; this machine has [\d.]+ GiB available", err)


def test_out_into_a_missing_folder_creates_it(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "g.dot"
    assert main(["--steps", "2", "--out", str(out)]) == 0
    assert out.read_text().startswith("digraph")


def test_out_below_a_file_says_why_it_cannot(tmp_path, capsys):
    (tmp_path / "plain").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "plain" / "g.svg")])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot create the folder" in last and "plain' is a file" in last


@pytest.mark.skipif(not HAS_GRAPHVIZ, reason="no Graphviz program installed (optional tool)")
def test_cli_writes_the_explorer_for_html(tmp_path, capsys):
    out = tmp_path / "bptt.html"
    assert main(["--model", "lstm", "--steps", "4", "--out", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="explorer-data"' in page and "<svg" in page


def test_cli_draws_a_packed_batch_with_its_padding(tmp_path, capsys):
    out = tmp_path / "packed.dot"
    assert main(["--model", "gru", "--steps", "5", "--lengths", "5,2,4", "--detail", "op",
                 "--out", str(out)]) == 0
    source = out.read_text()
    # One sequence is padding at t=2, 3 (row 1), two at t=4 (rows 1, 2).
    assert re.findall(r"label=<<B>t=(\d) · padding (\d) of 3</B>>", source) == [
        ("2", "1"), ("3", "1"), ("4", "2")]
    assert len(re.findall(r"\tpadding\d+ \[", source)) == 3 and "rows 1, 2" in source
    assert "packed sequences of lengths 5, 2, 4" in source
    out = tmp_path / "plain.dot"
    assert main(["--model", "gru", "--steps", "5", "--detail", "op", "--out", str(out)]) == 0
    assert not re.search(r"\tpadding\d+ \[|· padding", out.read_text())
