"""Hypothesis profiles: "ci" (the default here) is reproducible and bounded; "dev" explores more.

Pick one with HYPOTHESIS_PROFILE=dev.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fresh_defaults():
    """Each test starts with float32 as the default dtype and a seeded generator."""
    import microtensor as mt

    mt.set_default_dtype(mt.float32)
    mt.manual_seed(0)
    np.random.seed(0)
    yield
    mt.set_default_dtype(mt.float32)


@pytest.fixture
def torch():
    """PyTorch, the oracle that tests compare with, or the test is skipped saying how to
    install it (``torch`` is an optional extra; CI always installs it)."""
    return pytest.importorskip(
        "torch", reason="the PyTorch oracle extra (pip install -e '.[oracle]') is not installed")


#: The system browser the page tests drive (never a downloaded build).
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")  # one sync playwright at a time: it closes with its module
def browser():
    """Headless system Chromium through Playwright; the test skips, naming what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python package) not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        yield chromium
        chromium.close()
