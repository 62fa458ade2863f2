"""One BLAS thread for every timing, and a description of the machine for the report.

BLAS reads its thread count once, when numpy loads, so ``pin_threads`` sets the
environment variables when numpy is not loaded yet, and also asks threadpoolctl (if
installed) to limit pools that are already running. The variables that tune OpenBLAS
for a CPU (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``) are only recorded, never set:
some machines need them.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import sys
from typing import Any

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_RECORDED_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "NVPL_", "BLIS_", "GOTO_")


def pin_threads(threads: int = 1) -> None:
    """Limit BLAS to ``threads`` threads, through ``THREAD_VARIABLES`` and threadpoolctl.

    (PyTorch's own pool is limited where the PyTorch variants load it.)

    >>> THREAD_VARIABLES[0]
    'OPENBLAS_NUM_THREADS'
    """
    if "numpy" not in sys.modules:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it, only the variables above apply
        return
    threadpool_limits(threads)


def describe() -> dict[str, Any]:
    """Date, machine, library versions, BLAS pools and the BLAS-related environment.

    >>> sorted(describe())[:3]
    ['blas', 'cores', 'cpu']
    """
    import numpy as np

    info: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": _torch_version(),
        "environment": {k: v for k, v in sorted(os.environ.items())
                        if k.startswith(_RECORDED_PREFIXES)},
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["blas"] = ["threadpoolctl not installed: pools not inspected"]
    else:
        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                        f"({p.get('architecture', '?')}), {p['num_threads']} thread(s)"
                        for p in threadpool_info()]
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _torch_version() -> str | None:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
