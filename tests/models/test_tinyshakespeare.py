"""Tiny Shakespeare ships with the repository, so the command the README and the demos page
give runs as written."""

import hashlib
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "models" / "data" / "tinyshakespeare.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_the_shipped_text_is_the_documented_file():
    data = TEXT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256
    assert SHA256 in (TEXT.parent / "README.md").read_text(encoding="utf-8")
    text = data.decode("utf-8")
    assert len(text) == 1_115_394 and len(set(text)) == 65


@pytest.mark.parametrize("page", ["README.md", "docs/demos.md"])
def test_the_shakespeare_command_names_the_shipped_file(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    commands = re.findall(r"`([^`]*--preset\s+shakespeare[^`]*)`", text)
    assert commands, f"{page} gives no --preset shakespeare command"
    for command in commands:
        words = shlex.split(command)
        path = ROOT / words[words.index("--text") + 1]  # commands run from the repository root
        assert path.resolve() == TEXT, command
