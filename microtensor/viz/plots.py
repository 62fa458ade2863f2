"""Pictures where a plot beats a graph: gradient norm against timestep, on a log scale.

matplotlib is an optional extra (``pip install 'microtensor[plot]'``); everything
else in ``microtensor.viz`` works without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    """matplotlib's ``pyplot``, drawing to files only; ImportError saying how to get it.

    >>> pyplot().__name__  # matplotlib is in the [test] extra
    'matplotlib.pyplot'
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("matplotlib is not installed (pip install 'microtensor[plot]')") from None
    return plt


def plot_step_norms(series: Mapping[str, Mapping[int, float] | Sequence[float]],
                    path: str | os.PathLike, *, title: str = "Gradient reaching each step",
                    ylabel: str = "‖∂L/∂h_t‖", vanish_below: float | None = 1e-6) -> Path:
    """Plot ``||dL/dh_t||`` against timestep, one panel per model, side by side, log scale.

    ``series`` maps a model name to its norms (``{t: norm}`` as returned by
    ``Graph.step_norms()``, or a sequence indexed by t). The file type follows
    ``path``'s suffix (.svg, .png, .pdf).

    >>> import tempfile, pathlib
    >>> from microtensor.viz import plot_step_norms
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "norms.svg"
    >>> plot_step_norms({"RNN": [1e-8, 1e-4, 1.0], "LSTM": [0.1, 0.3, 1.0]}, out).exists()
    True
    """
    if not series:
        raise ValueError("plot_step_norms: nothing to plot (series is empty)")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.4), sharey=True,
                             squeeze=False)
    for ax, (name, norms) in zip(axes[0], series.items()):
        steps, values = _as_xy(norms)
        positive = values > 0
        ax.semilogy(steps[positive], values[positive], marker="o", markersize=3, linewidth=1.5)
        if vanish_below is not None:
            ax.axhline(vanish_below, color="#999999", linestyle="--", linewidth=1)
            ax.text(steps.min() if steps.size else 0, vanish_below, " vanished below",
                    va="bottom", fontsize=8, color="#777777")
        ax.set_title(name)
        ax.set_xlabel("timestep t (the loss is at the last step)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def _as_xy(norms: Mapping[int, float] | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(norms, Mapping):
        items = sorted(norms.items())
        return (np.array([t for t, _ in items], dtype=float),
                np.array([v for _, v in items], dtype=float))
    values = np.asarray(norms, dtype=float)
    return np.arange(values.size, dtype=float), values
