"""benchmarks.second_order: both libraries' H v of W3's loss agree with finite differences of
the hand-written numpy gradients, a wrong one is refused before timing, and the section
reports every library (no timings are asserted)."""

import importlib.util

import numpy as np
import pytest

from benchmarks import second_order
from benchmarks.agreement import DisagreementError
from benchmarks.workloads import W3, make_problem, replace

SHORT = replace(W3, seq_len=4, batch=3)
HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_every_library_agrees_and_the_section_has_a_row_for_each():
    result = second_order.measure(1, with_torch=True, spec=SHORT)
    libraries = ["microtensor", "torch"] if HAS_TORCH else ["microtensor"]
    assert list(result.agreement) == libraries
    assert all(worst < second_order.FD_TOLERANCE for worst in result.agreement.values())
    assert [t.label for t in result.timings] == [f"{lib} {part}" for lib in libraries
                                                  for part in ("backward", "hvp")]
    text = "\n".join(second_order.section(result))
    for lib in libraries:
        assert f"| {lib} | " in text
    assert ("microtensor over PyTorch: backward" in text) == HAS_TORCH


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_microtensor_and_torch_products_agree_to_round_off():
    import microtensor as mt
    from benchmarks.variants import load_torch

    problem = make_problem(SHORT)
    ours = second_order.SecondOrder(problem, mt).hvp()
    theirs = second_order.SecondOrder(problem, load_torch()).hvp()
    for name in problem.params:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=1e-13)


def test_a_wrong_product_is_refused_before_timing(monkeypatch):
    right = second_order.SecondOrder.hvp
    monkeypatch.setattr(second_order.SecondOrder, "hvp",
                        lambda self: {k: 2 * v for k, v in right(self).items()})
    with pytest.raises(DisagreementError, match="microtensor nn.LSTM: H v differs"):
        second_order.measure(1, with_torch=False, spec=SHORT)


def test_a_run_with_the_section_reports_it_and_compare_leaves_it_out(monkeypatch):
    """The section is measured when ``second_order_rounds`` asks (``Settings.quick`` and ``full``
    do), printed with the overview and written in the report; ``--compare`` reads no numbers
    from it, so recorded reports compare as before."""
    import benchmarks.run
    from benchmarks.compare import recorded
    from benchmarks.report import overview, render
    from benchmarks.run import Results, Settings, run

    assert Settings.quick().second_order_rounds > 0 and Settings.full().second_order_rounds > 0
    monkeypatch.setattr(benchmarks.run, "specs", lambda settings: [])
    monkeypatch.setattr(benchmarks.run, "measure_second_order",
                        lambda rounds, with_torch, cpu: second_order.measure(rounds, with_torch, cpu,
                                                                             spec=SHORT))
    results = run(Settings(rounds={}, unroll_lengths=(), profile_steps={}, with_torch=False,
                           memory=False, second_order_rounds=1))
    machine = {"date": "today", "cpu": "cpu", "cores": 2, "platform": "p", "python": "3",
               "numpy": np.__version__, "torch": None, "environment": {}, "blas": ["openblas"]}
    text = render(results, machine)
    assert "## Second order: Hessian-vector products of W3's loss" in text
    assert "| microtensor | " in "\n".join(overview(results))
    assert recorded(text) == {}
    assert "## Second order" not in "\n".join(overview(Results(results.settings)))
