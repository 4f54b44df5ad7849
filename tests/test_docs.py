"""Generated reference docs are fresh, and every rule documents itself the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT

from pipeline_rules.lint import all_rules
from pipeline_rules.lint.docgen import GENERATED

DOCS = Path(__file__).resolve().parent.parent / "docs"
HEADINGS = ("## What it finds", "## Why it matters", "## Example", "## Use instead")


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_docs_are_up_to_date(name: str) -> None:
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert committed == GENERATED[name](), (
        f"docs/{name} is stale: run `python -m pipeline_rules.lint.docgen` and commit the result")


@pytest.mark.parametrize("name", list(all_rules()))
def test_every_rule_has_a_summary_and_the_four_headings(name: str) -> None:
    rule = all_rules()[name]
    assert rule.summary.endswith("."), rule.summary
    positions = [rule.doc.find(h) for h in HEADINGS]
    assert all(p > 0 for p in positions), f"{name} lacks one of {HEADINGS}"
    assert positions == sorted(positions), f"{name}: headings out of order"


def test_rule_names_are_kebab_case() -> None:
    for name in all_rules():
        assert name == name.lower()
        assert all(part.isalnum() for part in name.split("-")), name


def test_public_names_are_exported() -> None:
    import pipeline_rules

    for name in pipeline_rules.__all__:
        assert getattr(pipeline_rules, name) is not None, name


@pytest.mark.parametrize("name", ["enforce.md", "evaluate.md", "analyze.md", "api.md",
                                  "runtime.md"])
def test_python_examples_in_docs_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(DOCS.parent)
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, f"docs/{name} has no python example"
    for block in blocks:
        exec(compile(block, f"docs/{name}", "exec"), {})


def test_public_typing_is_mypy_clean_for_users() -> None:
    """A CRM's code using the public API passes mypy --strict (py.typed is honoured)."""
    import subprocess
    import sys

    root = DOCS.parent
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
         "/dev/null", str(root / "tests" / "typing" / "user_code.py")],
        capture_output=True, text=True, check=False, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_architecture_doc_names_every_package_and_the_enforced_layers() -> None:
    import re
    import tomllib

    doc = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    packages = sorted(p.name for p in (ROOT / "pipeline_rules").iterdir()
                      if (p / "__init__.py").is_file())
    missing = [p for p in packages if f"`{p}/" not in doc and f"`{p}`" not in doc]
    assert not missing, f"docs/architecture.md does not describe {missing}"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    layers = config["tool"]["importlinter"]["contracts"][0]["layers"]
    enforced = [name.strip().removeprefix("pipeline_rules.")
                for layer in layers for name in layer.split("|")]
    table = re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", doc.split("## Modules")[0], re.M)
    documented = [name for row in table for name in row if name]
    assert documented == enforced
