"""The Python examples of the README and of every guide page in docs/ run as written: a page's
blocks in order, in one namespace (a page is read top to bottom), each page on its own."""

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    """The page's fenced Python blocks; a block may sit indented inside a list item."""
    return [textwrap.dedent(block)
            for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)]


def test_the_guides_have_examples():
    with_examples = {p.relative_to(ROOT).as_posix() for p in PAGES if python_blocks(p)}
    assert {"README.md", "docs/engine/index.md", "docs/engine/adding_an_op.md",
            "docs/nn/adding_a_cell.md", "docs/viz/index.md"} <= with_examples


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files
    namespace: dict = {}
    for i, block in enumerate(python_blocks(page)):
        exec(compile(block, f"{page.relative_to(ROOT)} python block {i}", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()  # e.g. the hypothesis test of the custom op


def test_the_readme_links_reach_files_of_the_repository():
    """The README is read on the repository's page, outside the site: each relative link (the
    guides, the pictures) names a file, and each #fragment a heading of a Markdown file."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        file = ROOT / path
        if not file.is_file():
            broken.append(target)
        elif fragment:
            headings = re.findall(r"^#+ (.*)$", file.read_text(encoding="utf-8"), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            if fragment not in slugs:
                broken.append(target)
    assert broken == []
