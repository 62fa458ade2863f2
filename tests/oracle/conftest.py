"""The live PyTorch oracle: differential tests that run the same calls in microtensor and in
PyTorch and compare values, dtypes, shapes, gradients and errors.

The whole directory is skipped when torch is not importable; CI installs it
(``pip install -e '.[oracle]'``, pinned to the version whose behaviour these tests expect).
"""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install -e '.[oracle]')")

# One thread: the machine's cores are shared, and the oracle's tensors are tiny.
torch.set_num_threads(1)
