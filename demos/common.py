"""Plumbing the demos share: argument parsing, the output folder, one-line errors, a
progress bar, optional matplotlib, and a Ctrl-C that stops cleanly between steps.

A demo reads as its training loop because all of this lives here::

    parser = make_parser("python -m demos.NAME", __doc__)
    add_run_arguments(parser, default_out="runs/NAME")
    args = parser.parse_args(argv)
    out = output_dir(args.out)
    with StopOnInterrupt() as stop, progress(total=args.steps) as bar:
        for step in ...:
            ...
            bar.set_postfix(loss=...); bar.update()
            if stop.requested:
                save_checkpoint(); break
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, NoReturn

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from microtensor.viz import plots


# --------------------------------------------------------------------- errors, arguments
def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with status 2 (as argparse).

    >>> fail("--text missing.txt: no such file")
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show each option's default (unless it is None or False: nothing to say), and keep
    the module docstring's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")


def make_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose ``--help`` shows defaults and whose errors are one line.

    >>> parser = make_parser("python -m demos.x", "Trains x.")
    >>> _ = parser.add_argument("--steps", type=positive_int, default=10, help="steps")
    >>> parser.parse_args([]).steps
    10
    """
    return _Parser(prog=prog, description=description, formatter_class=_Formatter)


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer > 0.

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer > 0, got '0'
    """
    return _positive(text, int, "an integer")


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number > 0.

    >>> positive_float("2e-3")
    0.002
    >>> positive_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number > 0, got 'nan'
    """
    return _positive(text, float, "a number")


def _positive(text: str, convert: Callable[[str], Any], what: str) -> Any:
    try:
        value = convert(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text!r}")
    return value


def add_run_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Add ``--out`` (the one folder every output goes to) and ``--seed``.

    >>> parser = make_parser("demo", None)
    >>> add_run_arguments(parser, "runs/demo")
    >>> args = parser.parse_args(["--seed", "3"])
    >>> args.out, args.seed
    ('runs/demo', 3)
    """
    parser.add_argument("--out", default=default_out, metavar="DIR",
                        help="folder for every output (checkpoints, plots, samples)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")


def output_dir(path: str | Path) -> Path:
    """Create ``path`` (and its parents) if needed and return it; a one-line error if it
    cannot be.

    >>> import tempfile
    >>> output_dir(Path(tempfile.mkdtemp()) / "runs" / "demo").is_dir()
    True
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"cannot create the output folder {path}: {err.strerror or err}")
    return path


# ------------------------------------------------------------------ progress, messages
def progress(total: int, initial: int = 0, desc: str | None = None) -> tqdm:
    """A tqdm progress bar over training steps, on stderr. It hides itself when stderr is
    not a terminal (logs, tests), so print what must be kept with ``say``.

    >>> with progress(total=3, desc="training") as bar:
    ...     for _ in range(3):
    ...         bar.set_postfix(loss=1.0, refresh=False)
    ...         bar.update()
    """
    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True,
                mininterval=0.5, file=sys.stderr, disable=None)


def say(message: str) -> None:
    """Print a line to stdout without breaking an active progress bar.

    >>> say("step 10: loss 1.23")
    step 10: loss 1.23
    """
    tqdm.write(message, file=sys.stdout)


def pyplot(skipping: str) -> ModuleType | None:
    """matplotlib's ``pyplot`` (drawing to files only), or None after saying what is skipped.

    >>> pyplot("the loss curve").__name__  # matplotlib is in the [test] extra
    'matplotlib.pyplot'
    """
    try:
        return plots.pyplot()
    except ImportError as err:
        say(f"skipped {skipping}: {err}")
        return None


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Limit numpy's BLAS to ``count`` threads inside the block.

    Why: a recurrent network multiplies small matrices one timestep at a time, where a
    second BLAS thread gains little, and OpenBLAS threads that spin while another process
    holds the cores made steps 10 to 40 times slower on a shared 2-core machine.

    >>> import numpy as np
    >>> with blas_threads(1):
    ...     float((np.ones((2, 2)) @ np.ones(2))[0])
    2.0
    """
    with threadpool_limits(limits=count, user_api="blas"):
        yield


# ---------------------------------------------------------------------------- Ctrl-C
class StopOnInterrupt:
    """Inside the block, the first Ctrl-C sets ``requested`` instead of raising, so the
    training loop can finish its step, save a consistent checkpoint and stop; a second
    Ctrl-C raises ``KeyboardInterrupt`` as usual.

    A flag rather than a handler that saves: an interrupt in the middle of an optimizer
    step would save half-updated parameters.

    >>> import os, signal
    >>> with StopOnInterrupt() as stop:
    ...     os.kill(os.getpid(), signal.SIGINT)
    ...     stop.requested
    True
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopOnInterrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: signals cannot be caught here
            self._previous = None
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this step and saving (press again to quit now)",
              file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
