"""The documentation site: `mkdocs build --strict` passes (broken links, missing references and
failing tutorial cells fail it), and the built pages work offline in headless Chromium: no
console errors, no request outside the site, live explorers, a working search box."""

import importlib
import importlib.util
import re
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Each reference page and the modules it documents: every name of a module's ``__all__`` (its
#: submodules aside) has an entry there.
REFERENCE = {
    "microtensor": ["microtensor"],
    "nn": ["microtensor.nn", "microtensor.nn.utils"],
    "nn.functional": ["microtensor.nn.functional"],
    "optim": ["microtensor.optim"],
    "lr_scheduler": ["microtensor.optim.lr_scheduler"],
    "viz": ["microtensor.viz"],
    "testing": ["microtensor.testing"],
    "autograd": ["microtensor.autograd", "microtensor.autograd.functional"],
    "utils.data": ["microtensor.utils.data"],
}

#: Anything a page loads from the network (scripts, styles, images, frames, fonts).
EXTERNAL = re.compile(r'''(?:src|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//'''
                      r'''|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//''', re.I)


def test_site_builds_strict_and_reports_its_time_and_size(site, capsys):
    assert (site.path / "index.html").exists()
    tutorials = sorted((ROOT / "docs" / "tutorials").glob("*.py"))
    built = sorted(p.stem for p in (site.path / "tutorials").glob("*.html"))
    assert built == [p.stem for p in tutorials]
    largest = max(site.pages, key=lambda p: p.stat().st_size)
    inline = {p.stem: p.stat().st_size for p in (site.path / "tutorials").glob("*.html")
              if "<iframe srcdoc" in p.read_text(encoding="utf-8")}
    with capsys.disabled():
        print(f"\nsite: built in {site.seconds:.1f} s, {site.size / 1e6:.1f} MB in "
              f"{len(site.pages)} pages; largest {largest.relative_to(site.path)} "
              f"{largest.stat().st_size / 1e6:.1f} MB; tutorial pages with explorers: "
              + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sorted(inline.items())))
    # An explorer inline keeps its page light enough to open at once (the README says how big).
    assert inline and max(inline.values()) < 2e6, inline


def test_pages_load_nothing_from_the_network(site):
    """Static check of every built file that a browser reads (the browser test below sees the
    requests themselves)."""
    offenders = {}
    for path in site.path.rglob("*"):
        if path.suffix in (".html", ".css", ".js") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            hits = [text[m.start():m.end() + 60] for m in EXTERNAL.finditer(text)]
            if hits:
                offenders[path.relative_to(site.path).as_posix()] = hits[:3]
    assert offenders == {}


def test_every_link_inside_the_site_resolves(site):
    """Every relative link of every page reaches a file of the site, and its #fragment an id
    there. (Strict mode checks the Markdown pages' links to files; this also covers the
    tutorials' pages, which mkdocs-jupyter renders outside Markdown, and the tables of contents.)"""
    ids, broken = {}, []
    for page in site.pages:
        if page.name == "404.html":  # absolute links, for a server (see below)
            continue
        for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.read_text(encoding="utf-8")):
            if re.match(r"(?:[a-z][a-z0-9+.-]*:|//)", href, re.I):
                continue  # a link out of the site (not followed) or mailto:
            url = urllib.parse.urlsplit(href)
            target = (page.parent / urllib.parse.unquote(url.path)).resolve() if url.path else page
            if not target.is_file():
                broken.append(f"{page.relative_to(site.path)}: {href}")
            elif url.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\bid="([^"]*)"', target.read_text(encoding="utf-8")))
                if urllib.parse.unquote(url.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(site.path)}: {href}")
    assert sorted(set(broken)) == []


@pytest.mark.parametrize("page", REFERENCE)
def test_reference_page_has_every_public_name(site, page):
    html = (site.path / "reference" / f"{page}.html").read_text(encoding="utf-8")
    documented = {anchor.rsplit(".", 1)[-1] for anchor in re.findall(r'id="(microtensor\.[\w.]+)"', html)}
    missing = {}
    for name in REFERENCE[page]:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__: its reference would be guessed"
        public = [n for n in module.__all__ if not isinstance(getattr(module, n), type(module))]
        missing[name] = sorted(set(public) - documented)
    assert missing == {name: [] for name in REFERENCE[page]}


def test_reference_examples_are_code_blocks(site):
    """Doctest examples are highlighted Python console blocks (the prompt styled as one), not
    Markdown's nested block quotes."""
    pages = sorted((site.path / "reference").glob("*.html"))
    quoted = [p.name for p in pages if "<blockquote>" in p.read_text(encoding="utf-8")]
    assert quoted == []
    assert '<span class="gp">&gt;&gt;&gt; </span>' in (site.path / "reference" / "testing.html").read_text(
        encoding="utf-8")


def test_doctest_fences():
    pytest.importorskip("griffe", reason="griffe (from mkdocstrings[python]) not installed")
    spec = importlib.util.spec_from_file_location("reference_hook", ROOT / "docs/hooks/reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    text = "Adds.\n>>> 1 + 1\n2\n\nIndented:\n\n    >>> kept\n\n```\n>>> fenced\n```"
    assert hook.fence_doctests(text) == (
        "Adds.\n\n```pycon\n>>> 1 + 1\n2\n```\n\nIndented:\n\n    >>> kept\n\n```\n>>> fenced\n```")


# ------------------------------------------------------------------ in the browser


@pytest.fixture(scope="module")
def open_site_page(site, browser):
    """``open_site_page(path)`` opens a built page from file:// and returns ``(page, problems)``:
    console errors, uncaught exceptions and every request for something outside the site."""
    inside = site.path.resolve().as_uri() + "/"
    opened = []

    def open_site_page(path):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        opened.append(page)
        problems = []
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"exception: {e}"))
        page.on("request", lambda r: None if r.url.startswith((inside, "about:", "data:", "blob:"))
                else problems.append(f"request {r.url}"))
        page.goto(path.resolve().as_uri(), wait_until="load")
        return page, problems

    yield open_site_page
    for page in opened:
        page.close()


def test_every_page_loads_without_errors_or_requests_outside_the_site(site, open_site_page):
    problems = {}
    # 404.html is served by a web server for any missing address, so its links are absolute
    # (from the site's root): it does not work opened from a file.
    for path in (p for p in site.pages if p.name != "404.html"):
        page, seen = open_site_page(path)
        page.wait_for_timeout(200)  # late errors: deferred scripts, the explorers' frames
        if seen:
            problems[path.relative_to(site.path).as_posix()] = seen[:5]
        page.close()
    assert problems == {}


def test_every_embedded_explorer_plays(site, open_site_page):
    played = {}
    for path in sorted((site.path / "tutorials").glob("*.html")):
        page, problems = open_site_page(path)
        for i, element in enumerate(page.query_selector_all("iframe[srcdoc]")):
            element.scroll_into_view_if_needed()
            frame = element.content_frame()
            frame.wait_for_function("window.explorer || window.comparison", timeout=30_000)
            explorers = ([frame.query_selector(f'iframe[data-side="{side}"]').content_frame()
                          for side in (0, 1)] if frame.evaluate("!!window.comparison") else [frame])
            for j, explorer in enumerate(explorers):
                explorer.wait_for_function("window.explorer !== undefined", timeout=30_000)
                before = explorer.evaluate("window.explorer.frame()")
                explorer.click("#play")
                explorer.wait_for_function(f"window.explorer.frame() > {before}", timeout=15_000)
                played[f"{path.stem} #{i}.{j}"] = explorer.evaluate("window.explorer.frame()")
        assert problems == [], path.name
        page.close()
    # Backprop through time drawn, the vanishing RNN beside the LSTM, the LSTM's gates.
    assert {key.split(" ")[0] for key in played} == {
        "02_bptt_drawn", "03_why_rnns_forget", "04_lstm_gates"}, played


def test_search_finds_forget_gate(site, open_site_page):
    page, problems = open_site_page(site.path / "index.html")
    box = page.locator("input.md-search__input")  # in the header, at this window's width
    box.click()
    box.press_sequentially("forget gate", delay=20)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        results = page.locator(".md-search-result__item")
        if results.count():
            break
        page.wait_for_timeout(200)
    assert page.locator(".md-search-result__item").count() > 0
    assert "forget" in page.text_content(".md-search-result__list").lower()
    assert problems == []
