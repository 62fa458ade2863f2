"""The benchmark suite measures the right thing: its hand-written numpy gradients are
right, every variant computes the same loss, gradients and update, microtensor's graphs
leave nothing for the cyclic GC, and a run writes a complete report. No timings are
asserted."""

import contextlib
import gc

import numpy as np
import pytest

import benchmarks.__main__
import benchmarks.run
from benchmarks import per_op
from benchmarks.agreement import DisagreementError, compare
from benchmarks.compare import compare as compare_reports
from benchmarks.compare import measures, recorded
from benchmarks.reference import HandWrittenNumpy, gradient_check
from benchmarks.report import render
from benchmarks.run import Settings, run, specs
from benchmarks.timing import time_interleaved
from benchmarks.variants import variants_for
from benchmarks.workloads import W1, W3, W4, make_problem, replace

QUICK = specs(Settings.quick())


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """One BLAS thread while these tests run, as in the benchmark (restored afterwards):
    on a busy two-core machine, two OpenBLAS threads make W3's small matmuls crawl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the tests are only slower without it
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    with limits:
        yield


@pytest.mark.parametrize("spec", [replace(W1, seq_len=5, batch=3), replace(W3, seq_len=5, batch=3),
                                  W4(20)], ids=lambda s: s.cell + ("" if s.readout else " unroll"))
def test_reference_gradients_match_finite_differences(spec):
    assert gradient_check(make_problem(spec), coordinates=4) < 1e-6


@pytest.mark.parametrize("spec", QUICK, ids=lambda s: s.name)
def test_every_variant_agrees_with_the_reference(spec):
    """Loss, gradients and (with an optimizer) the updated parameters, in quick mode's
    workloads; the PyTorch variants take part when PyTorch is installed."""
    problem = make_problem(spec)
    factories = variants_for(spec)
    assert list(factories)[0] == HandWrittenNumpy.label
    for label, make in list(factories.items())[1:]:
        found = compare(HandWrittenNumpy(problem), make(problem), label, spec.optimizer is not None)
        assert found.worst < 1e-9, label
        assert (found.update is None) == (spec.optimizer is None)


class _WrongGradient(HandWrittenNumpy):
    def gradients(self):
        grads = dict(super().gradients())
        grads["weight_hh"] = grads["weight_hh"] * (1 + 1e-6)
        return grads


class _WrongUpdate(HandWrittenNumpy):
    def update(self):
        super().update()
        self.params["bias_out"] += 1e-6


@pytest.mark.parametrize("variant, message", [(_WrongGradient, "gradient of weight_hh"),
                                              (_WrongUpdate, "bias_out after the optimizer step")])
def test_a_variant_that_differs_is_caught(variant, message):
    problem = make_problem(replace(W1, seq_len=4))
    with pytest.raises(DisagreementError, match=message):
        compare(HandWrittenNumpy(problem), variant(problem), "wrong", update=True)


def test_cpu_time_leaves_out_time_the_thread_does_not_run():
    """A sleep takes wall time and (next to) no CPU time: what --cpu-time relies on."""
    import time

    def nap():
        time.sleep(0.02)

    (wall,) = time_interleaved({"nap": nap}, rounds=2, warmup=0)
    (cpu,) = time_interleaved({"nap": nap}, rounds=2, warmup=0, cpu=True)
    assert wall.median >= 0.02 and cpu.median < 0.01


def test_microtensor_graphs_hold_no_reference_cycles():
    """A training step's graph is freed by reference counting alone."""
    spec = replace(W3, seq_len=6, batch=2)
    model = variants_for(spec, with_torch=False)["microtensor nn.LSTM"](make_problem(spec))
    gc.collect()
    gc.disable()
    try:
        model.forward_backward()
        model.update()
        assert gc.collect() == 0
    finally:
        gc.enable()


SMALL = [replace(W1, seq_len=5), replace(W3, seq_len=5, batch=2), W4(10), W4(20)]
MACHINE = {"date": "today", "cpu": "cpu", "cores": 2, "platform": "p", "python": "3",
           "numpy": np.__version__, "torch": None, "environment": {}, "blas": ["openblas"]}


def _small_run(monkeypatch, memory=True):
    monkeypatch.setattr(benchmarks.run, "specs", lambda settings: SMALL)
    settings = Settings(rounds={s.name: 1 for s in SMALL}, unroll_lengths=(10, 20),
                        profile_steps={"W1": 1, "W4 T=20": 1}, with_torch=False, memory=memory,
                        per_op_rounds=1, per_op_calls=1)
    return run(settings)


def test_a_run_writes_a_complete_report(monkeypatch):
    """A whole run (checks, timing, single ops, profiles, memory subprocesses) on shortened
    workloads."""
    text = render(_small_run(monkeypatch), MACHINE)
    for heading in ("## Machine", "## Ratios at a glance", "## Targets", "## Single ops", "### W1:",
                    "### W3:", "### W4 T=20:", "## W4: how time and memory grow with T",
                    "## What the profile showed"):
        assert heading in text
    assert "issue" not in text.lower()  # the report speaks to users
    assert "| W3 time | microtensor nn.LSTM |" in text
    assert "| W3 time | microtensor nn.LSTM fused |" in text
    assert "| W1 time | microtensor per-step ops |" in text  # no PyTorch: said so, not skipped
    assert "not measured: PyTorch did not run" in text
    assert "peak memory (process RSS) | microtensor nn.RNN |" in text
    assert "| single-op forward, the slowest op | microtensor `" in text
    assert "| single-op backward per node, the slowest op | microtensor `" in text
    assert "`OPENBLAS_CORETYPE` not set" in text
    for case in per_op.CASES:
        assert f"| {case.label} |" in text


def test_a_report_reads_back_as_the_numbers_it_was_written_from(monkeypatch):
    results = _small_run(monkeypatch, memory=False)
    today = measures(results)
    back = recorded(render(results, MACHINE))
    assert set(back) == set(today)
    assert {"W1: microtensor per-step ops", "W4 T=20: microtensor nn.RNN fused",
            "`x[i]` (1, 100): microtensor fwd+bwd", "`tanh(a)` (1, 100): microtensor backward per node"
            } <= set(back)
    assert "`x[i]` (1, 100): microtensor backward per node" not in back  # x[i] does not chain
    for key, value in today.items():
        assert back[key] == pytest.approx(value, abs=0.006), key


def test_compare_flags_only_microtensor_numbers_more_than_15_percent_worse():
    before = {"W1: microtensor nn.RNN": 4.0, "W2: microtensor nn.RNN": 1.5,
              "W1: torch nn.RNN": 3.0, "`a + b` (100, 1): microtensor forward": 3.0,
              "W4 T=10000: microtensor nn.RNN": 13.5}
    today = {"W1: microtensor nn.RNN": 4.59, "W2: microtensor nn.RNN": 1.74,
             "W1: torch nn.RNN": 9.0, "`a + b` (100, 1): microtensor forward": 1.0}
    lines, worse = compare_reports(today, before)
    assert worse == 1  # 1.74 / 1.5 = 1.16; 4.59 / 4 = 1.1475 is within 15%; torch is not ours
    flagged = [line for line in lines if line.endswith("**worse** |")]
    assert flagged == ["| W2: microtensor nn.RNN | 1.50 | 1.74 | +16% | **worse** |"]
    assert any(line.startswith("Not measured today (1): W4 T=10000") for line in lines)


def test_per_op_checks_each_library_against_numpy(monkeypatch):
    wrong = replace(per_op.CASES[1], numpy_backward=lambda g, out, a, b: (g * b, g * b))
    with pytest.raises(AssertionError, match=r"microtensor `a \* b` \(100, 1\): gradient differs"):
        per_op.measure(wrong, rounds=1, calls=1, with_torch=False)


@pytest.fixture
def main_without_measuring(monkeypatch, tmp_path):
    """``python -m benchmarks`` with a canned run and its default report in ``tmp_path``."""
    results = _small_run(monkeypatch, memory=False)
    monkeypatch.setattr(benchmarks.run, "run", lambda settings: results)
    monkeypatch.setattr(benchmarks.__main__, "RESULTS", tmp_path / "RESULTS.md")
    return results


def test_a_quick_run_prints_its_table_and_writes_nothing(main_without_measuring, tmp_path, capsys):
    assert benchmarks.__main__.main(["--quick", "--no-torch"]) == 0
    printed = capsys.readouterr().out
    assert "## Ratios at a glance" in printed and "## Single ops" in printed
    assert "| W1 | " in printed
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, written", [([], "RESULTS.md"), (["--quick", "--write"], "RESULTS.md"),
                                           (["--quick", "--output", "{tmp}/mine.md"], "mine.md")])
def test_a_full_run_or_write_or_output_writes_the_report(main_without_measuring, tmp_path, argv,
                                                          written):
    assert benchmarks.__main__.main([a.format(tmp=tmp_path) for a in argv]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [written]
    assert (tmp_path / written).read_text().startswith("# Benchmark results")


def test_compare_prints_recorded_beside_today_and_fails_when_worse(main_without_measuring, tmp_path,
                                                                    capsys):
    report = tmp_path / "old.md"
    report.write_text(render(main_without_measuring, MACHINE))
    assert benchmarks.__main__.main(["--quick", "--compare", str(report)]) == 0
    printed = capsys.readouterr().out
    assert f"## Today against {report}" in printed
    assert "0 of microtensor's numbers more than 15% worse" in printed

    lines = report.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| microtensor nn.RNN | "))
    cells = lines[row].split(" | ")
    cells[2] = "0.01x"  # recorded as far faster than today: today is flagged as worse
    lines[row] = " | ".join(cells)
    report.write_text("\n".join(lines))
    assert benchmarks.__main__.main(["--quick", "--compare", str(report)]) == 1
    assert "| W1: microtensor nn.RNN | 0.01 |" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    (None, "--compare: cannot read"),
    ("# notes\n\nno tables here\n", "holds no benchmark ratios"),
    ("### W1: x\n\n| variant | median ms | ratio |\n|---|---|---|\n| microtensor nn.RNN | 1 | fast |\n",
     "has a table cell that is not a number"),
])
def test_compare_with_a_bad_report_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    report = tmp_path / "old.md"
    if content is not None:
        report.write_text(content)
    with pytest.raises(SystemExit) as stopped:
        benchmarks.__main__.main(["--quick", "--compare", str(report)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("python -m benchmarks: error:")
    assert not (tmp_path / "RESULTS.md").exists()


def test_an_output_folder_that_does_not_exist_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        benchmarks.__main__.main(["--quick", "--output", str(tmp_path / "missing" / "r.md")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("missing' does not exist")
