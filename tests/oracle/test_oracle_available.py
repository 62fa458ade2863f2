"""The oracle runs against the PyTorch it was written for (or says why it does not run)."""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install -e '.[oracle]')")

PINNED = "2.13.0"  # as in pyproject.toml's oracle extra


def test_torch_is_the_pinned_version():
    """Another PyTorch may differ in the edge cases the oracle checks; pin and bump together."""
    assert torch.__version__.split("+")[0] == PINNED, (
        f"the oracle expects torch {PINNED} (pyproject.toml extra 'oracle'), found {torch.__version__}")
