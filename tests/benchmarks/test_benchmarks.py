"""The benchmark suite measures the right thing: its hand-written numpy gradients are
right, every variant computes the same loss, gradients and update, microtensor's graphs
leave nothing for the cyclic GC, and a run writes a complete report. No timings are
asserted."""

import contextlib
import gc

import numpy as np
import pytest

import benchmarks.run
from benchmarks.agreement import DisagreementError, compare
from benchmarks.reference import HandWrittenNumpy, gradient_check
from benchmarks.report import render
from benchmarks.run import Settings, run, specs
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


def test_a_run_writes_a_complete_report(monkeypatch):
    """A whole run (checks, timing, profiles, memory subprocesses) on shortened workloads."""
    small = [replace(W1, seq_len=5), replace(W3, seq_len=5, batch=2), W4(10), W4(20)]
    monkeypatch.setattr(benchmarks.run, "specs", lambda settings: small)
    settings = Settings(rounds={s.name: 1 for s in small}, unroll_lengths=(10, 20),
                        profile_steps={"W1": 1, "W4 T=20": 1}, with_torch=False)
    text = render(run(settings), {"date": "today", "cpu": "cpu", "cores": 2, "platform": "p",
                                  "python": "3", "numpy": np.__version__, "torch": None,
                                  "environment": {}, "blas": ["openblas"]})
    for heading in ("## Machine", "## Targets of issue 6", "### W1:", "### W3:", "### W4 T=20:",
                    "## W4: how time and memory grow with T", "## What the profile showed"):
        assert heading in text
    assert "| W3 time | microtensor nn.LSTM |" in text
    assert "| W3 time | microtensor nn.LSTM fused |" in text
    assert "peak memory (process RSS) | microtensor nn.RNN |" in text
    assert "`OPENBLAS_CORETYPE` not set" in text
