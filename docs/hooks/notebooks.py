"""An MkDocs hook for the tutorials' pages (mkdocs-jupyter): nothing from the network, the
notebook styles once for the whole site, and a table of contents whose links work.

mkdocs-jupyter's notebook template adds to every page

- MathJax (a ``<script>`` for a CDN's copy, or an empty ``src``) and its configuration: the site
  works offline, so the tutorials write formulas in Unicode (‖∂L/∂h_t‖) and both are removed;
- a module script that imports Mermaid from a CDN when a page has a Mermaid diagram: removed;
- JupyterLab's styles, about 0.6 MB, inline: written once as ``assets/notebook-<hash>.css``
  (its ``url(...)``s are all ``data:``) and linked from each page instead.

mkdocs-jupyter also builds a page's table of contents from its headings with their inline code
removed, so "Why `.detach()`" is listed as "Why" and links to ``#why``, while the heading's id is
``why-detach``. Here the table is built from the headings as written (fenced code blocks aside,
as mkdocs-jupyter does), so names and ids agree.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import jupytext
import mkdocs_jupyter.plugin
from mkdocs.utils import get_relative_url

_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_MERMAID = re.compile(r'<script type="module">(?:(?!</script>).)*?\.jp-Mermaid.*?</script>', re.S)
_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.S)
#: Inline styles larger than this are moved to a file of their own.
_LARGE = 50_000


def _toc_tokens(path: str, toc_depth: int) -> tuple[list[dict], str | None]:
    """``mkdocs_jupyter.plugin._get_nb_toc_tokens``, with inline code kept in the headings."""
    notebook = jupytext.read(path)
    text = "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    tokens = mkdocs_jupyter.plugin._get_markdown_toc(re.sub(r"```.*?```", "", text, flags=re.S),
                                                     toc_depth)
    title = next((token["name"] for token in tokens if token["level"] == 1), None)
    return tokens, title


mkdocs_jupyter.plugin._get_nb_toc_tokens = _toc_tokens


def on_post_page(output: str, page, config) -> str:  # noqa: ANN001 - MkDocs' hook signature
    if "jupyter-wrapper" not in output:
        return output
    output = _MERMAID.sub("", _MATHJAX.sub("", output))

    def to_file(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < _LARGE or "url(" in re.sub(r"url\(\s*[\"']?data:", "", css):
            return match.group(0)
        name = f"assets/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        path = Path(config["site_dir"]) / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(css, encoding="utf-8")
        return f'<link rel="stylesheet" href="{get_relative_url(name, page.url)}">'

    return _STYLE.sub(to_file, output)
