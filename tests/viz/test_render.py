"""Finding the Graphviz program and running it safely; real renders with every engine installed."""

import os
import re
import shutil
import stat
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz import render as render_mod

PROGRAMS = [p for p in ("dot", "graphviz-pure") if shutil.which(p)]


def fake_program(tmp_path, body):
    """An executable that stands in for dot (a Python script, run without a shell)."""
    path = tmp_path / "fake-dot"
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def small_graph(title=None):
    w = mt.ones(2, requires_grad=True)
    w.name = "w"
    h = mt.zeros(2)
    with mt.viz.record() as rec:
        for t in range(3):
            with mt.scope(layer="rnn", t=t):
                h = (h + w).tanh()
                h.name = "h"
        loss = h.sum()
        loss.backward()
    return mt.viz.draw_graph(loss, rec, title=title)


SVG = "{http://www.w3.org/2000/svg}"


def elements(root, cls):
    """id -> the SVG group of each node, edge or cluster."""
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("class") == cls}


def outline(g):
    """(centre x, centre y, width, height) of a node's or cluster's outline, in Graphviz's coordinates."""
    shape = next(el for el in g.iter() if el.tag in (f"{SVG}polygon", f"{SVG}path"))
    numbers = [float(v) for v in re.findall(r"-?[\d.]+", shape.get("points") or shape.get("d"))]
    xs, ys = numbers[0::2], numbers[1::2]
    return (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
@pytest.mark.parametrize("program", PROGRAMS)
def test_real_render_writes_valid_svg_png_and_the_dot_source(tmp_path, program):
    dot = small_graph()
    dot.program = program
    svg = dot.render_to(tmp_path / "g.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    titles = [el.text for el in root.iter() if el.tag.endswith("title")]
    assert "cluster_step0" in titles and "cluster_step2" in titles
    assert (tmp_path / "g.dot").read_text() == dot.source
    png = dot.render_to(tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "image/svg+xml" in dot._repr_mimebundle_()


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
@pytest.mark.parametrize("program", PROGRAMS)
def test_the_program_draws_every_box_where_the_layout_pinned_it(program):
    dot = small_graph()
    dot.program = program
    nodes = elements(ET.fromstring(dot.svg()), "node")
    at = dot.plan.layout
    assert set(dot.plan.boxes) <= set(nodes)
    shifts = []
    for key in dot.plan.boxes:
        r = at.rects[key]
        cx, cy, w, h = outline(nodes[key])
        assert (w, h) == (pytest.approx(r.w, abs=1.5), pytest.approx(r.h, abs=1.5)), key
        shifts.append((cx - r.cx, cy - r.cy))  # (both y down: Graphviz's SVG negates DOT's y)
    # neato -n2 keeps every pinned point: the whole picture moves at most as one.
    assert np.ptp(np.array(shifts), axis=0) == pytest.approx([0, 0], abs=1)


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
@pytest.mark.parametrize("program", PROGRAMS)
def test_nothing_is_cut_off_at_the_edges_of_the_picture(tmp_path, program):
    image = pytest.importorskip("PIL.Image", reason="Pillow (matplotlib's dependency) reads the PNG")
    dot = small_graph(title="LSTM: 1 layer(s), 4 steps")  # the command line's kind of title
    dot.program = program
    pixels = np.asarray(image.open(dot.render_to(tmp_path / "g.png")).convert("L"))
    assert (pixels < 128).any()
    edges = {"left": pixels[:, :2], "right": pixels[:, -2:], "top": pixels[:2], "bottom": pixels[-2:]}
    assert {side: int(band.min()) for side, band in edges.items()} == dict.fromkeys(edges, 255)


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
def test_the_svg_carries_the_data_contract(tmp_path):
    dot = small_graph()
    drawn = dot.plan
    for root in (ET.fromstring(dot.svg()), ET.fromstring(dot.pipe("svg")),
                 ET.parse(dot.render_to(tmp_path / "g.svg")).getroot()):
        nodes = elements(root, "node")
        for key, box in drawn.boxes.items():
            g = nodes[key]
            assert g.get("data-kind") == box.kind and g.get("data-role") == box.role, key
            assert g.get("data-step") == (None if box.step is None else str(box.step)), key
            assert g.get("data-layer") == box.layer, key
        assert {b.role for b in drawn.boxes.values()} >= {"h", "loss", "param"}
        drawn_edges = elements(root, "edge")
        for link in drawn.links:  # one edge, or two for a state continued on the next row
            ids = [k for k in (link.key, f"{link.key}__out", f"{link.key}__in") if k in drawn_edges]
            assert ids in ([link.key], [f"{link.key}__out", f"{link.key}__in"]), link.key
            for key in ids:
                g = drawn_edges[key]
                attrs = (g.get("data-src"), g.get("data-dst"), g.get("data-kind"))
                assert attrs == (link.src, link.dst, link.kind), key
        assert sorted(link.kind for link in drawn.links).count("state") == 2
        frames = elements(root, "cluster")
        steps = {k: g.get("data-step") for k, g in frames.items()}
        assert steps == {f"step{t}": str(t) for t in drawn.detailed}


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
def test_the_svg_says_each_boxs_direction_and_each_layer_frames_layer():
    mt.manual_seed(0)
    rnn = mt.nn.RNN(3, 4, num_layers=2, bidirectional=True, dtype=mt.float64)
    out, _ = rnn(mt.randn(2, 1, 3, dtype=mt.float64))
    dot = mt.viz.draw_graph(out.sum(), detail="op")
    drawn = dot.plan
    root = ET.fromstring(dot.svg())
    nodes = elements(root, "node")
    directions = {(g.get("data-layer"), g.get("data-direction")) for key, g in nodes.items()
                  if key in drawn.boxes and g.get("data-step") is not None}
    assert directions == {("rnn.l0", "forward"), ("rnn.l1", "forward"),
                          ("rnn.l0_reverse", "reverse"), ("rnn.l1_reverse", "reverse")}
    layer_frames = {}
    for key, g in elements(root, "cluster").items():
        if "_l" in key:
            layer_frames.setdefault(g.get("data-step"), []).append(g.get("data-layer"))
    assert set(layer_frames) == {str(t) for t in drawn.steps}
    for step, layers in layer_frames.items():  # one frame per layer of the step, named by it
        assert sorted(layers) == sorted({b.layer for b in drawn.boxes.values() if str(b.step) == step})


def test_explicit_program_wins_and_a_bad_one_is_named(tmp_path, monkeypatch):
    fake = fake_program(tmp_path, "sys.stdout.write('<svg></svg>')")
    assert render_mod.find_dot(fake) == fake
    monkeypatch.setenv("MICROTENSOR_DOT", str(fake))
    assert render_mod.find_dot() == fake
    monkeypatch.setenv("MICROTENSOR_DOT", str(tmp_path / "nope"))
    with pytest.raises(mt.viz.GraphvizNotFoundError, match="MICROTENSOR_DOT names .*nope"):
        render_mod.find_dot()


def test_the_picture_is_drawn_pinned_by_neato_n2(tmp_path):
    fake = fake_program(tmp_path, "sys.stdin.read(); "
                                  "sys.stdout.write('<svg><!-- ' + ' '.join(sys.argv[1:]) + ' --></svg>')")
    g = small_graph()
    g.program = fake
    assert "<!-- -Kneato -n2 -Tsvg -->" in g.svg()
    assert g.pipe("png") == b"<svg><!-- -Kneato -n2 -Tpng --></svg>"
    assert mt.viz.run_dot("digraph {}", "svg", program=fake) == b"<svg><!-- -Tsvg --></svg>"  # not pinned


def test_dot_on_path_comes_before_graphviz_pure(tmp_path, monkeypatch):
    for name in ("dot", "graphviz-pure"):
        fake = fake_program(tmp_path, "")
        fake.rename(tmp_path / name)
    monkeypatch.delenv("MICROTENSOR_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert render_mod.find_dot().name == "dot"
    (tmp_path / "dot").unlink()
    assert render_mod.find_dot().name == "graphviz-pure"


def test_missing_program_still_writes_dot_and_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MICROTENSOR_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(render_mod.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(render_mod.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(mt.viz.GraphvizNotFoundError) as err:
        small_graph().render_to(tmp_path / "g.svg")
    message = str(err.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install",
                 "microtensor[render]"):
        assert hint in message
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()


def test_nonzero_exit_with_an_svg_keeps_it_and_warns(tmp_path):
    fake = fake_program(tmp_path, "sys.stdin.read(); sys.stdout.write('<svg></svg>'); "
                                  "sys.stderr.write('init_rank trouble'); sys.exit(1)")
    dot = small_graph()
    dot.program = fake
    with pytest.warns(RuntimeWarning, match="exited with status 1 but wrote an SVG.*init_rank"):
        path = dot.render_to(tmp_path / "g.svg")
    assert path.read_text() == "<svg></svg>"


def test_failure_without_output_raises_with_the_programs_message(tmp_path):
    fake = fake_program(tmp_path, "sys.stdin.read(); sys.stderr.write('syntax error'); sys.exit(2)")
    with pytest.raises(mt.viz.RenderError, match="failed with status 2: syntax error"):
        mt.viz.run_dot("digraph {}", "svg", program=fake)


def test_timeout_is_enforced(tmp_path):
    fake = fake_program(tmp_path, "import time; time.sleep(30)")
    with pytest.raises(mt.viz.RenderError, match="did not finish .* within 0.5 s"):
        mt.viz.run_dot("digraph {}", "svg", program=fake, timeout=0.5)


def test_no_shell_is_involved(tmp_path, monkeypatch):
    """A path with shell metacharacters is passed as one argument, never interpreted."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    odd = tmp_path / "g; touch pwned; .svg"
    fake = fake_program(tmp_path, "sys.stdin.read(); sys.stdout.write('<svg></svg>')")
    mt.viz.render_file("digraph {}", odd, program=fake)
    assert odd.exists() and not marker.exists()


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format must be one of"):
        mt.viz.run_dot("digraph {}", "gif", program=sys.executable)


def test_plot_step_norms_writes_an_svg(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is the optional plotting extra")
    path = mt.viz.plot_step_norms({"RNN": {0: 1e-9, 1: 1e-3, 2: 1.0}, "LSTM": [0.2, 0.5, 1.0]},
                                  tmp_path / "norms.svg")
    assert ET.parse(path).getroot().tag.endswith("svg")


def test_plot_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'microtensor\[plot\]'"):
        mt.viz.plot_step_norms({"RNN": [1.0]}, tmp_path / "x.svg")


def test_pdf_with_a_program_that_cannot_write_it_says_what_to_do(tmp_path):
    fake = fake_program(tmp_path, "")
    pure = fake.rename(tmp_path / "graphviz-pure")
    with pytest.raises(mt.viz.RenderError, match="graphviz-pure cannot write PDF"):
        mt.viz.run_dot("digraph {}", "pdf", program=pure)


@pytest.mark.skipif(not shutil.which("dot"), reason="system Graphviz (dot) not installed (optional tool)")
def test_pdf_with_system_graphviz(tmp_path):
    path = small_graph().render_to(tmp_path / "g.pdf")
    assert path.read_bytes()[:5] == b"%PDF-"


def real_graphviz_pure():
    """The graphviz-pure executable itself (not a version manager's shim, which needs its PATH)."""
    import sysconfig

    # (the interpreter's own folder too, resolved: a venv over a system install keeps it there)
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent),
                   str(Path(sys.executable).resolve().parent)):
        found = shutil.which("graphviz-pure", path=folder)
        if found:
            return Path(found)
    return None


@pytest.fixture
def only_graphviz_pure(tmp_path, monkeypatch):
    """A PATH that holds graphviz-pure and nothing else (no system dot)."""
    pure = real_graphviz_pure()
    if pure is None:
        pytest.skip("graphviz-pure not installed (optional tool)")
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "graphviz-pure").symlink_to(pure)
    monkeypatch.delenv("MICROTENSOR_DOT", raising=False)
    monkeypatch.setenv("PATH", str(folder))
    assert shutil.which("dot") is None
    return folder


def test_render_pipe_view_and_jupyter_use_the_finder(tmp_path, only_graphviz_pure, monkeypatch):
    from microtensor.viz import dot as dot_mod

    g = small_graph()
    assert g.pipe("svg").lstrip().startswith(b"<")
    assert "</svg>" in g.pipe(format="svg", encoding="utf-8")
    out = g.render(tmp_path / "graph", format="png")  # torchviz style: FILENAME.FORMAT beside the source
    assert out == str(tmp_path / "graph.png") and Path(out).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "graph").read_text() == g.source
    named = g.render(outfile=tmp_path / "sub" / "pic.svg", cleanup=True)
    assert Path(named).read_text().rstrip().endswith("</svg>") and not (tmp_path / "sub" / "pic.gv").exists()
    opened = []
    monkeypatch.setattr(dot_mod, "open_file", opened.append)
    viewed = g.view(tmp_path / "view.gv")
    assert opened == [Path(viewed)] and Path(viewed).exists()
    assert "</svg>" in g._repr_mimebundle_()["image/svg+xml"]
    assert g.pipe("svg", engine="neato") == g.pipe("svg")  # laid out already: neato -n2 draws it
    with pytest.raises(ValueError, match="laid out already"):
        g.pipe("svg", engine="circo")
    with pytest.raises(ValueError, match="renderer= is not supported"):
        g.pipe("svg", renderer="cairo")


def test_render_file_never_writes_through_a_placed_symlink(tmp_path):
    fake = fake_program(tmp_path, "sys.stdin.read(); sys.stdout.write('<svg>new</svg>')")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("out.svg.tmp", ".out.svg.tmp", "out.dot.tmp"):
        (tmp_path / name).symlink_to(victim)
    mt.viz.render_file("digraph {}", tmp_path / "out.svg", program=fake)
    assert victim.read_text() == "precious"
    assert (tmp_path / "out.svg").read_text() == "<svg>new</svg>"
    leftovers = {p.name for p in tmp_path.iterdir()} - {"fake-dot", "victim.txt", "out.svg", "out.dot",
                                                         "out.svg.tmp", ".out.svg.tmp", "out.dot.tmp"}
    assert leftovers == set()


def test_a_failed_render_leaves_no_temporary_and_keeps_the_old_picture(tmp_path, monkeypatch):
    fake = fake_program(tmp_path, "sys.stdin.read(); sys.stdout.write('<svg>new</svg>')")
    (tmp_path / "out.svg").write_text("<svg>old</svg>")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render_mod.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        mt.viz.render_file("digraph {}", tmp_path / "out.svg", program=fake)
    assert (tmp_path / "out.svg").read_text() == "<svg>old</svg>"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(not PROGRAMS, reason="no Graphviz program installed (optional tool)")
@pytest.mark.filterwarnings("ignore:trace. the graph has steps:UserWarning")  # its state is not named h
def test_control_characters_in_names_still_give_well_formed_svg_and_html(tmp_path):
    name = "bell\x07 nul\x00 esc\x1b del\x7f"
    w = mt.ones(2, requires_grad=True)
    w.name = name
    with mt.viz.record() as rec:
        with mt.scope(layer=name, t=0):
            h = (w * 2).tanh()
            h.name = name
        loss = h.sum()
        loss.backward()
    svg = mt.viz.draw_graph(loss, rec, title=name).svg()
    texts = [el.text for el in ET.fromstring(svg.encode()).iter() if el.tag.endswith("text")]
    assert "bell␇ nul␀ esc␛ del␡" in texts
    page = mt.viz.explore(loss, rec, title=name).html
    assert not any(c in page for c in "\x00\x07\x1b\x7f")


def test_timeout_ends_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    fake = fake_program(tmp_path, (
        "import subprocess, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)"))
    with pytest.raises(mt.viz.RenderError, match="did not finish"):
        mt.viz.run_dot("digraph {}", "svg", program=fake, timeout=1.5)
    child = int(pid_file.read_text())
    for _ in range(50):  # the killed grandchild is reaped by init shortly after
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child}/stat").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        pytest.fail("the layout program's child survived the timeout")
