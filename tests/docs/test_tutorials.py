"""Every tutorial runs as a plain script, as a reader would run it: `python
docs/tutorials/NN_name.py` from the repository root exits 0 and writes nothing into the
repository. So a change to the library that breaks a tutorial fails here even without the site
build (which executes them again as notebooks)."""

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.py"))

#: Each tutorial is meant to take 10-25 s of CPU; this only catches a hung one.
TIMEOUT = 300


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_as_a_script(tutorial, repository, capsys):
    before = repository.files()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, tutorial.relative_to(ROOT).as_posix()], cwd=ROOT,
                         env=repository.env(), capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    assert run.returncode == 0, f"{tutorial.name} failed:\n{(run.stdout + run.stderr)[-6000:]}"
    written = repository.changed(before, repository.files())
    assert written == [], f"{tutorial.name} wrote into the repository: {written}"
    with capsys.disabled():
        print(f"\n{tutorial.name}: {seconds:.1f} s wall, {cpu:.1f} s CPU")
