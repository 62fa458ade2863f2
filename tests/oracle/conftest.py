"""The live PyTorch oracle: differential tests that run the same calls in microtensor and in
PyTorch and compare values, dtypes, shapes, gradients and errors.

Without torch nothing here can run: every module but ``test_oracle_available.py`` (which skips,
saying how to install it) is left out of collection. CI installs torch through the ``oracle``
extra, pinned to the version whose behaviour these tests expect.
"""

import importlib.util
from pathlib import Path

if importlib.util.find_spec("torch") is None:
    collect_ignore = [p.name for p in Path(__file__).parent.glob("*.py")
                      if p.name not in ("conftest.py", "test_oracle_available.py")]
else:
    import torch

    # One thread: the machine's cores are shared, and the oracle's tensors are tiny.
    torch.set_num_threads(1)
