"""Finding and running the Graphviz layout program, without a shell and with a timeout.

The ``graphviz`` Python package only writes DOT; laying it out needs a program.
We look, in order, for: the ``program`` argument, the ``MICROTENSOR_DOT``
environment variable, ``dot`` on PATH (system Graphviz, the reference build),
then ``graphviz-pure`` (a self-contained port that ``pip install
'microtensor[render]'`` brings, so rendering works on a fresh machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

ENV_VAR = "MICROTENSOR_DOT"
FORMATS = ("svg", "png", "pdf")

INSTALL_HINT = (
    "Install one of:\n"
    "  pip install 'microtensor[render]'      (graphviz-pure: self-contained, no system packages)\n"
    "  sudo apt-get install graphviz          (Debian/Ubuntu)\n"
    "  brew install graphviz                  (macOS)\n"
    "  conda install -c conda-forge graphviz\n"
    f"or point {ENV_VAR} at a dot executable.")


class GraphvizNotFoundError(RuntimeError):
    """No Graphviz layout program could be found; the message says how to get one."""


class RenderError(RuntimeError):
    """The layout program failed and wrote nothing usable."""


def find_dot(program: str | os.PathLike | None = None) -> Path:
    """The Graphviz program to run: ``program``, ``$MICROTENSOR_DOT``, ``dot``, ``graphviz-pure``.

    >>> from microtensor.viz import find_dot
    >>> find_dot().name in ("dot", "graphviz-pure") or True
    True
    """
    for explicit, origin in ((program, "the program argument"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if explicit:
            path = shutil.which(str(explicit))
            if path is None:
                raise GraphvizNotFoundError(f"{origin} names {explicit!r}, which is not an "
                                            f"executable program.\n{INSTALL_HINT}")
            return Path(path)
    for name in ("dot", "graphviz-pure"):
        path = shutil.which(name)
        if path:
            return Path(path)
    # pip may put graphviz-pure next to this interpreter without that folder being on PATH.
    for folder in {sysconfig.get_path("scripts"), os.path.dirname(sys.executable)}:
        candidate = shutil.which("graphviz-pure", path=folder)
        if candidate:
            return Path(candidate)
    raise GraphvizNotFoundError(f"no Graphviz program found (looked for {ENV_VAR}, 'dot' and "
                                f"'graphviz-pure').\n{INSTALL_HINT}")


def run_dot(source: str, format: str, program: str | os.PathLike | None = None,  # noqa: A002
            timeout: float = 120.0, pinned: bool = False) -> bytes:
    """Lay out DOT ``source`` and return the ``format`` bytes (svg, png or pdf).

    ``pinned=True`` draws a source whose nodes and edges carry their positions (``pos``, as
    the unrolled pictures do): the program runs as ``neato -n2``, which lays out nothing.

    >>> from microtensor.viz import run_dot
    >>> run_dot("digraph { a -> b }", "svg")[:5] in (b"<?xml", b"<svg ")
    True
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    exe = find_dot(program)
    if format == "pdf" and exe.name == "graphviz-pure":
        raise RenderError("graphviz-pure cannot write PDF; render .svg or .png, or install system "
                          "Graphviz (apt-get install graphviz / brew install graphviz) for PDF")
    # A session of its own, so a timeout can end the program and anything it started.
    args = [str(exe), *(["-Kneato", "-n2"] if pinned else []), f"-T{format}"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=os.name == "posix")
    try:
        stdout, stderr = proc.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise RenderError(f"{exe.name} did not finish laying out the graph within {timeout:g} s; "
                          "draw fewer steps at op level (window=..., detail='cell')") from None
    except BaseException:  # Ctrl-C: leave no layout program running
        _kill_group(proc)
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        if done.stdout and format == "svg" and b"</svg>" in done.stdout:
            warnings.warn(f"{exe.name} exited with status {done.returncode} but wrote an SVG; "
                          f"keeping it. It said: {message}", RuntimeWarning, stacklevel=2)
            return done.stdout
        raise RenderError(f"{exe.name} -T{format} failed with status {done.returncode}: {message}")
    return done.stdout


def render_file(source: str, path: str | os.PathLike, program: str | os.PathLike | None = None,
                timeout: float = 120.0, pinned: bool = False) -> Path:
    """Write ``source`` to ``path`` with ``.dot`` suffix, then the picture ``path`` names.

    The format comes from ``path``'s suffix (``.svg``, ``.png``, ``.pdf``, or ``.dot``
    for the source alone). The ``.dot`` file is written first, so it is there even
    when no Graphviz program is.

    >>> import tempfile, pathlib
    >>> from microtensor.viz import render_file
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.svg"
    >>> render_file("digraph { a -> b }", out).suffix
    '.svg'
    """
    path = Path(path)
    dot_path = path.with_suffix(".dot")
    write_atomic(dot_path, source.encode("utf-8"))
    format = path.suffix.lstrip(".").lower()  # noqa: A001
    if format == "dot":
        return dot_path
    write_atomic(path, run_dot(source, format, program=program, timeout=timeout, pinned=pinned))
    return path


def _kill_group(proc: subprocess.Popen) -> None:
    """End ``proc`` and every process it started (its session), then reap it."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.communicate()


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half.

    The temporary is created fresh and exclusively next to ``path`` (a file or link that
    someone placed there beforehand is never written through) and removed on any failure.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomic(p, b"hi").read_bytes()
    b'hi'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a picture is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
