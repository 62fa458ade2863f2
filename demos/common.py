"""Plumbing the demos share: argument parsing and checking (one-line errors, sizes refused
up front if they cannot fit in memory), the output folder (a trained model is never
replaced silently), a progress bar, optional matplotlib, a Ctrl-C or SIGTERM that stops
cleanly between steps and never interrupts a save, a guard against a loss that turned
into NaN, and one-line errors for a checkpoint with missing or bad fields.

A demo reads as its training loop because all of this lives here::

    parser = make_parser("python -m demos.NAME", __doc__)
    add_run_arguments(parser, default_out="runs/NAME")
    args = parser.parse_args(argv)
    out = output_dir(args.out)
    with StopOnInterrupt() as stop, progress(total=args.steps) as bar:
        for step in ...:
            ...
            check_finite(loss, step)
            bar.set_postfix(loss=...); bar.update()
            if stop.requested:
                with stop.saving():
                    save_checkpoint()
                break
    ...

    if __name__ == "__main__":
        run_main(main)  # the exit status; a forced quit is one line, not a traceback
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, NoReturn

import numpy as np
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
    """Show each option's default (unless it is None, False or "": nothing to say), and
    keep the module docstring's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == "":
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")


def make_parser(prog: str, description: str | None, add_help: bool = True) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose ``--help`` shows defaults and whose errors are one line
    (``add_help=False`` for a first pass that picks out one option).

    >>> parser = make_parser("python -m demos.x", "Trains x.")
    >>> _ = parser.add_argument("--steps", type=positive_int, default=10, help="steps")
    >>> parser.parse_args([]).steps
    10
    """
    return _Parser(prog=prog, description=description, formatter_class=_Formatter,
                   add_help=add_help)


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


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0 (a seed, a size that may be zero).

    >>> non_negative_int("0")
    0
    >>> non_negative_int("-5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 0, got '-5'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def int_up_to(maximum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer from 1 to ``maximum`` (for a count that costs time
    and memory in proportion, such as characters to generate).

    >>> int_up_to(100)("100")
    100
    >>> int_up_to(100)("101")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer from 1 to 100, got '101'
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected an integer from 1 to {maximum}, got {text!r}")
        return value

    parse.__name__ = f"integer from 1 to {maximum}"  # what argparse names in its messages
    return parse


def number_in(low: float, high: float, *, low_open: bool, high_open: bool) -> Callable[[str], float]:
    """An argparse ``type``: a number in an interval, written as mathematicians do
    (``(0, 1)`` excludes both ends, ``[0, 1)`` includes 0), and the message says in words
    which ends are excluded.

    >>> rate = number_in(0, 1, low_open=True, high_open=True)
    >>> rate("0.3")
    0.3
    >>> rate("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number in (0, 1), 0 and 1 excluded, got '0'
    >>> number_in(0, 1, low_open=False, high_open=True)("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number in [0, 1), 1 excluded, got '1'
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    excluded = [f"{end:g}" for end, is_open in ((low, low_open), (high, high_open)) if is_open]
    words = f", {' and '.join(excluded)} excluded" if excluded else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (above and below):  # nan fails both
            raise argparse.ArgumentTypeError(f"expected a number in {interval}{words}, got {text!r}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse


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
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")


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


def refuse_to_replace(checkpoint: Path, force: bool, prog: str) -> None:
    """Stop with a one-line message if ``checkpoint`` exists and ``force`` is not set: a
    new run in the same folder would replace a trained model at its first save.

    >>> import tempfile
    >>> refuse_to_replace(Path(tempfile.mkdtemp()) / "checkpoint.ckpt", False, "demo")  # none yet
    """
    if checkpoint.exists() and not force:
        fail(f"{checkpoint.parent} already holds a run ({checkpoint.name}); continue it with "
             f"{prog} --resume --out {checkpoint.parent}, start a new one with another --out, or "
             "replace it with --force")


# ------------------------------------------------------------------------ memory
def machine_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the OS does not say.

    >>> machine_memory() is None or machine_memory() > 2**20
    True
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX
        return None


def human_bytes(nbytes: float) -> str:
    """A byte count for people: 1.5 GB, 64.0 TB (powers of 1000, as memory is sold).

    >>> human_bytes(1.5e9), human_bytes(512)
    ('1.5 GB', '512 bytes')
    """
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes:.0f} bytes"


def check_memory(estimate: float, flags: str) -> None:
    """Refuse, before allocating anything, settings whose estimated memory (``estimate``
    bytes) exceeds the machine's; ``flags`` names the settings that decide it.

    >>> check_memory(1e6, "--hidden")
    >>> check_memory(1e18, "--hidden")
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    available = machine_memory()
    if available is not None and estimate > available:
        fail(f"these settings need about {human_bytes(estimate)} of memory and this machine has "
             f"{human_bytes(available)}; make {flags} smaller")


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


# ------------------------------------------------------------------ checkpoints
class CheckpointFields:
    """Reads a loaded checkpoint's fields for ``--resume``: a missing or malformed field
    stops the demo with one line naming the file and the field, not a traceback.

    >>> fields = CheckpointFields({"step": 3}, Path("run/checkpoint.ckpt"))
    >>> fields.get("step", lambda v: isinstance(v, int) and v >= 0, "an integer >= 0")
    3
    >>> fields.get("rng", lambda v: True, "a generator state")
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """

    def __init__(self, saved: Any, path: Path) -> None:
        if not isinstance(saved, dict):
            fail(f"{path} holds a {type(saved).__name__}, not a training checkpoint")
        self.saved, self.path = saved, path

    def get(self, name: str, valid: Callable[[Any], bool], expected: str) -> Any:
        """``saved[name]`` if ``valid`` says so; else a one-line error saying what it should be."""
        if name not in self.saved:
            fail(f"{self.path} has no {name!r} field, so the run cannot be resumed from it")
        value = self.saved[name]
        try:
            ok = valid(value)
        except (TypeError, ValueError, KeyError, AttributeError):
            ok = False
        if not ok:
            self.bad(name, f"should be {expected}, got {_short(value)}")
        return value

    def bad(self, name: str, problem: str) -> NoReturn:
        """Stop: field ``name`` of the checkpoint has ``problem`` (one line)."""
        fail(f"{self.path}: the checkpoint's {name!r} field {problem.splitlines()[0]}")


def _short(value: Any) -> str:
    """A value's repr cut to fit in a one-line message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any, minimum: int = 0) -> bool:
    """Whether ``value`` is an integer (a Python or numpy int, not a bool) >= ``minimum``.

    >>> is_int(3), is_int(True), is_int(-1), is_int(2.0)
    (True, False, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


# --------------------------------------------------------------------- diverged runs
class NonFiniteLossError(ArithmeticError):
    """The loss (or the gradient norm) became NaN or infinite at ``step``: training cannot
    continue from here, and the weights after this step must not be saved."""

    def __init__(self, what: str, value: float, step: int) -> None:
        super().__init__(f"step {step}: the {what} is {value}")
        self.what, self.value, self.step = what, value, step


def exit_diverged(err: NonFiniteLossError, advice: str) -> NoReturn:
    """Print ``error: <what diverged at which step>; <advice>`` on one line and exit with
    status 1: the run failed (status 2 is for a bad command line).

    >>> exit_diverged(NonFiniteLossError("training loss", float("nan"), 4), "try a lower --lr")
    Traceback (most recent call last):
    ...
    SystemExit: 1
    """
    print(f"error: {err}; {advice}", file=sys.stderr)
    raise SystemExit(1)


def check_finite(value: float, step: int, what: str = "training loss") -> float:
    """``value`` if it is finite; raises ``NonFiniteLossError`` naming ``step`` otherwise. Call it
    before ``optimizer.step()``, so the weights are still the last good ones.

    >>> check_finite(1.25, step=3)
    1.25
    >>> check_finite(float("nan"), step=7)
    Traceback (most recent call last):
    ...
    demos.common.NonFiniteLossError: step 7: the training loss is nan
    """
    if not math.isfinite(value):
        raise NonFiniteLossError(what, value, step)
    return value


# ---------------------------------------------------------------- Ctrl-C and SIGTERM
#: What stops a training run cleanly: Ctrl-C, and what ``kill``, a job scheduler or a
#: container runtime sends (SIGTERM) before it kills a process for good.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnInterrupt:
    """Inside the block, the first Ctrl-C (SIGINT) or SIGTERM sets ``requested`` instead of
    stopping the program, so the training loop can finish its step, save a consistent
    checkpoint and stop; a second one raises ``KeyboardInterrupt`` as usual, except
    inside ``saving()``, where the save is finished first.

    A flag rather than a handler that saves: an interrupt in the middle of an optimizer
    step would save half-updated parameters.

    >>> import os, signal
    >>> with StopOnInterrupt() as stop:
    ...     os.kill(os.getpid(), signal.SIGTERM)
    ...     stop.requested, stop.signal_name, stop.exit_code
    (True, 'SIGTERM', 143)
    """

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self.exit_code = 0  # the shell's 128 + signal number once a signal has come
        self._saving = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnInterrupt:
        for signum in STOP_SIGNALS:
            # Outside the main thread signals cannot be caught: then the block does nothing.
            with contextlib.suppress(ValueError):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            if self._saving:
                print(f"\n{name}: finishing the checkpoint first", file=sys.stderr)
                return
            raise KeyboardInterrupt
        self.requested, self.signal_name, self.exit_code = True, name, 128 + signum
        print(f"\n{name}: stopping after this step and saving (press Ctrl-C again to quit now)",
              file=sys.stderr)

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        """Inside the block (a checkpoint being written), even a second signal only stops
        the run after the block: a save is never cut short.

        >>> import os, signal
        >>> with StopOnInterrupt() as stop, stop.saving():
        ...     os.kill(os.getpid(), signal.SIGINT)
        ...     os.kill(os.getpid(), signal.SIGINT)
        ...     "still saving"
        'still saving'
        """
        self._saving = True
        try:
            yield
        finally:
            self._saving = False

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def run_main(main: Callable[[], int]) -> NoReturn:
    """Run a demo's ``main`` as a program: its return value is the exit status, and a
    Ctrl-C that stops it outright (a second one, or one outside training) ends it with
    one line and status 130, not a traceback.

    >>> def main():
    ...     raise KeyboardInterrupt
    >>> run_main(main)
    Traceback (most recent call last):
    ...
    SystemExit: 130
    """
    try:
        code = main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 128 + signal.SIGINT
    raise SystemExit(code)
