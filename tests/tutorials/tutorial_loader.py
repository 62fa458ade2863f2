"""Run a tutorial port with PyTorch or with microtensor behind its ``torch`` names.

A port (``ports/NAME.py``) is written for PyTorch. For microtensor, only its import lines are
rewritten (``import torch`` -> ``import microtensor as torch``, ``torch.nn`` ->
``microtensor.nn``, ...), and the loader checks that every other line is left as it was: a
port passes only if the tutorial's own code runs unchanged on microtensor.
"""

import re
import types
from pathlib import Path

PORTS = Path(__file__).parent / "ports"
# The PyTorch modules a port may import, and microtensor's module for each.
MODULES = {"torch": "microtensor", "torch.nn": "microtensor.nn",
           "torch.nn.functional": "microtensor.nn.functional", "torch.optim": "microtensor.optim",
           "torch.utils.data": "microtensor.utils.data"}
IMPORT = re.compile(r"^import (?P<module>[\w.]+)(?P<alias> as \w+)?$")
FROM_IMPORT = re.compile(r"^from (?P<module>[\w.]+) import (?P<names>[\w, ]+)$")


def rewrite_line(line: str) -> str:
    """``line`` for microtensor: a PyTorch import line made to import microtensor's module under
    the same name; any other line unchanged.

    >>> rewrite_line("import torch")
    'import microtensor as torch'
    >>> rewrite_line("import torch.nn.functional as F")
    'import microtensor.nn.functional as F'
    >>> rewrite_line("from torch.utils.data import DataLoader")
    'from microtensor.utils.data import DataLoader'
    >>> rewrite_line("x = torch.zeros(2)")
    'x = torch.zeros(2)'
    """
    if match := IMPORT.match(line):
        module, alias = match["module"], match["alias"]
        if module in MODULES:
            if alias is None and module != "torch":
                # ``import torch.nn`` binds ``torch``: no single import line does that for
                # microtensor, so a port must write ``import torch.nn as nn``.
                raise ValueError(f"write {line!r} with 'as NAME'")
            return f"import {MODULES[module]}{alias or ' as torch'}"
    if (match := FROM_IMPORT.match(line)) and match["module"] in MODULES:
        return f"from {MODULES[match['module']]} import {match['names']}"
    return line


def port_source(name: str, library: str) -> str:
    """The source of port ``name`` as run with ``library`` ("torch" or "microtensor"), after
    checking that only import lines differ between the two."""
    source = (PORTS / f"{name}.py").read_text()
    if library == "torch":
        return source
    if library != "microtensor":
        raise ValueError(f"library must be 'torch' or 'microtensor', not {library!r}")
    lines = source.splitlines(keepends=True)
    rewritten = [rewrite_line(line.rstrip("\n")) + line[len(line.rstrip("\n")):] for line in lines]
    changed = [old for old, new in zip(lines, rewritten) if old != new]
    assert all(IMPORT.match(old.rstrip("\n")) or FROM_IMPORT.match(old.rstrip("\n"))
               for old in changed), changed
    assert changed, f"port {name} imports nothing from torch"
    return "".join(rewritten)


def load(name: str, library: str) -> types.ModuleType:
    """Execute port ``name`` as a fresh module with ``library`` behind its ``torch`` names."""
    path = PORTS / f"{name}.py"
    module = types.ModuleType(f"tutorial_{name}_{library}")
    module.__file__ = str(path)
    # Compiled under the port's own path: line numbers in tracebacks are the port's, since the
    # rewrite keeps every line where it was.
    exec(compile(port_source(name, library), str(path), "exec"), module.__dict__)
    return module
