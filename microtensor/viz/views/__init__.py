"""The explorer's views besides the graph and its heat strip.

Each view is a module here with ``NAME`` and ``data(drawing, recording)``: what the view
shows, computed in Python from the ``Plan`` and the ``Recording`` and written into the
page's data under ``NAME`` (None leaves the view out of a page it has nothing for). Next
to it, ``<NAME>.js`` draws it: one function of ``ex``, the API the core script
(``explorer.js``) hands every view, into an element with ``data-view="<NAME>"``, styled by
``<NAME>.css``. A new view is one module, one script, one style sheet and one line in
``VIEWS``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from . import gains, rolled, units, weights

VIEWS: tuple[ModuleType, ...] = (units, weights, gains, rolled)


def script(view: ModuleType) -> str:
    """The view's script, wrapped so it runs once with the core's API."""
    body = Path(view.__file__).with_suffix(".js").read_text(encoding="utf-8")
    return f"// ---------------------------------------------------------------- {view.NAME}\n" \
           f"(function (ex) {{\n\"use strict\";\n{body}\n}})(window.explorerCore);\n"


def style(view: ModuleType) -> str:
    """The view's style sheet."""
    return Path(view.__file__).with_suffix(".css").read_text(encoding="utf-8")
