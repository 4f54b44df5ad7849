"""The project stands alone: it points at no document outside the repository, and the top-level
``schemas/`` are exact copies of the package's own."""

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


def schema_drift(packaged: Path, copies: Path) -> list[str]:
    """How the ``*.json`` files in ``copies`` differ from those in ``packaged``."""
    ours = {p.name: p.read_bytes() for p in packaged.glob("*.json")}
    theirs = {p.name: p.read_bytes() for p in copies.glob("*.json")}
    return ([f"{name}: only in {packaged.name}/" for name in sorted(ours.keys() - theirs.keys())]
            + [f"{name}: only in {copies.name}/" for name in sorted(theirs.keys() - ours.keys())]
            + [f"{name}: differs" for name in sorted(ours.keys() & theirs.keys())
               if ours[name] != theirs[name]])


def test_top_level_schemas_are_exact_copies_of_the_packaged_ones() -> None:
    """``pipeline_rules/schemas`` (what the package loads and ships) is authoritative; ``schemas/``
    is what editors and the docs point at. In git the package's folder is a symlink to
    ``../schemas``; should it ever become a real folder (a platform without symlinks, a packaging
    change), the two must still not drift."""
    packaged = ROOT / "pipeline_rules" / "schemas"
    assert (packaged / "ruleset.schema.json").is_file()
    assert not schema_drift(packaged, ROOT / "schemas"), (
        "copy pipeline_rules/schemas/*.json over schemas/")


def test_schema_drift_sees_missing_extra_and_changed_files(tmp_path: Path) -> None:
    packaged, copies = tmp_path / "packaged", tmp_path / "copies"
    packaged.mkdir()
    copies.mkdir()
    for name in ("a.json", "b.json", "c.json"):
        (packaged / name).write_text("{}\n")
    (copies / "a.json").write_text("{}\n")
    (copies / "b.json").write_text("{} \n")
    (copies / "d.json").write_text("{}\n")
    assert schema_drift(packaged, copies) == [
        "c.json: only in packaged/", "d.json: only in copies/", "b.json: differs"]


#: What a user reads or runs (tests and benchmarks may read the shared data folder CI provides).
USER_FACING = ("pipeline_rules", "docs", "README.md", "schemas", "examples", "rulesets")


def test_user_facing_text_names_no_folder_outside_the_repository() -> None:
    hits = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for path in tracked(*USER_FACING) if path.suffix in TEXT and path.is_file()
            for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1)
            if re.search(r"(?:\.\./|\b)shared/", line)]
    assert not hits, ("name the public source of the data instead of a folder beside the "
                      "checkout:\n" + "\n".join(hits))
