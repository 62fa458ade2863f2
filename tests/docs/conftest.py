"""The documentation site, built once per session, and a headless Chromium to open it in."""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What `mkdocs build` needs, by import name, with the package that brings it (the docs extra).
SITE_PACKAGES = {"mkdocs": "mkdocs", "material": "mkdocs-material", "mkdocstrings": "mkdocstrings",
                 "mkdocstrings_handlers.python": "mkdocstrings-python",
                 "mkdocs_jupyter": "mkdocs-jupyter", "jupytext": "jupytext", "nbclient": "nbclient",
                 "ipykernel": "ipykernel"}


def quiet_env():
    """The environment for the build and the tutorials: no bytecode written into the repository,
    and no banner from Material about MkDocs 2."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_MKDOCS_2_WARNING": "1"}


def repository_files():
    """Every file of the working tree but .git's and bytecode, with its size and mtime."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__")]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            files[path.relative_to(ROOT).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return files


def changed_files(before, after):
    """The paths created, removed or rewritten between two ``repository_files`` listings."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class Site:
    """A built site: its directory, the build's output and time, and its pages."""

    def __init__(self, path, seconds, output):
        self.path, self.seconds, self.output = path, seconds, output

    @property
    def pages(self):
        return sorted(self.path.rglob("*.html"))

    @property
    def size(self):
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


@pytest.fixture(scope="session")
def repository():
    """What the tests of the site and the tutorials share: ``repository.ROOT``,
    ``repository.files()``, ``repository.changed(before, after)`` and ``repository.env()``."""
    class Repository:
        files = staticmethod(repository_files)
        changed = staticmethod(changed_files)
        env = staticmethod(quiet_env)
    Repository.ROOT = ROOT
    return Repository


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """``mkdocs build --strict`` of the repository's site into a temporary directory, once; the
    tests using it skip, naming the package, when the docs extra is not installed."""
    for module, package in SITE_PACKAGES.items():
        if importlib.util.find_spec(module.split(".")[0]) is None or (
                "." in module and importlib.util.find_spec(module) is None):
            pytest.skip(f"{package} not installed (pip install -e '.[docs]')")
    path = tmp_path_factory.mktemp("site") / "site"
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(path)],
                         cwd=ROOT, env=quiet_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{output[-6000:]}"
    return Site(path, seconds, output)
