"""The project stands alone: it points at no document outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folders and files whose text a reader gets: none may send them to a document they do not have.
SCANNED = ("pipeline_rules", "docs", "README.md", "schemas", "examples", "rulesets", "benchmarks",
           "tests")
#: Design notes kept outside the repository, and a source document's rule numbering.
OUTSIDE = re.compile(
    r"DESIGN\.md|LIBRARY-NOTES|STYLE\.md|REGULATIONS\.md"
    r"|\bseed(?:'s)? (?:rule )?S\d|\brule S\d")
TEXT = {".py", ".md", ".json", ".yaml", ".yml", ".toml", ".txt", ".html", ".js", ".css", ".csv",
        ".jsonl", ".cfg", ".ini"}


def tracked(*paths: str) -> list[Path]:
    """The tracked files under ``paths`` (every file there when this is not a git checkout)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=ROOT,
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        found: list[Path] = []
        for path in (ROOT / p for p in paths):
            found.extend([path] if path.is_file() else (f for f in path.rglob("*") if f.is_file()))
        return sorted(found)
    return [ROOT / name for name in listed.decode("utf-8").split("\0") if name]


def test_no_reference_to_documents_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    hits = []
    for path in tracked(*SCANNED):
        if path.suffix not in TEXT or path.resolve() == this or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, ("say what the rule or contract means instead of pointing outside the "
                      "repository:\n" + "\n".join(hits))


@pytest.mark.parametrize("text", [
    "see DESIGN.md §3", "LIBRARY-NOTES", "STYLE.md", "REGULATIONS.md", "Reminders (seed S4)",
    "the seed's rule S11", "The seed's S5 case", "rule S9"])
def test_the_pattern_catches_outside_references(text: str) -> None:
    assert OUTSIDE.search(text)


@pytest.mark.parametrize("text", ["seed=42", "--seed 42", "a seeded generator", "SLA", "S3 bucket"])
def test_the_pattern_lets_ordinary_words_pass(text: str) -> None:
    assert not OUTSIDE.search(text)
