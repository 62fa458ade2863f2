"""A Griffe extension for the API reference (mkdocstrings, ``force_inspection``).

The reference is built by inspecting the imported package, so that what is bound at import
time (``mt.exp``, the methods ``ops.METHODS`` adds to ``Tensor``) is documented too. This
extension then

- leaves out of each module what is not its public API: what its ``__all__`` does not list
  (every documented module has one; ``tests/docs/test_site.py`` checks), or in the modules
  they re-export from, what those merely import and their plain values (``TYPE_CHECKING``);
  the ``filters`` option leaves out names starting with ``_`` (griffe's ``filters: public``
  does not reach the members of re-exported classes);
- turns the docstrings' doctest examples, bare ``>>>`` lines that Markdown would read as nested
  block quotes, into ``pycon`` code blocks.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each doctest example of ``text`` (a cleaned docstring) in a ``pycon`` code fence.

    An example runs from a ``>>>`` line to the next blank line. Lines indented by four spaces or
    more are left alone: Markdown already shows them as code.
    """
    lines, out, i, fenced = text.split("\n"), [], 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("```"):
            fenced = not fenced
        elif not fenced and stripped.startswith(">>>") and len(indent) < 4:
            block = []
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out += [indent + "```pycon", *block, indent + "```"]
            if i < len(lines) and lines[i].strip():
                out.append("")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class Reference(griffe.Extension):
    """Doctests as code blocks, and each module's members cut to its public API."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)

    def on_module_members(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        runtime = importlib.import_module(mod.path)
        exported = getattr(runtime, "__all__", None)
        for name in list(mod.members):
            value = getattr(runtime, name, None)
            if inspect.ismodule(value):
                continue  # submodules have pages of their own
            if exported is not None:
                public = name in exported
            else:  # a module the documented ones re-export from: what it defines
                public = callable(value) and getattr(value, "__module__", None) == mod.path
            if not public:
                del mod.members[name]
