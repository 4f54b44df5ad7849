"""Linting versions folders: the checks made across the files of one ruleset kept in versions.

Each file is linted on its own as any ruleset; what only the folder shows is found here by the
folder rules (:mod:`pipeline_rules.lint.rules.versions`) — a file that is not a version, a
version of another ruleset id, two versions taking effect at one instant or with one revision
(errors: the folder cannot be used), and no version in force yet at the time of the lint run (a
warning: deals are judged by the first version until it is).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pipeline_rules import i18n
from pipeline_rules.lint.rules import all_rules
from pipeline_rules.ruleset.catalog import (
    RulesetError,
    RulesetText,
    compile_text,
    declares_revision,
    ruleset_files,
    version_folders,
)
from pipeline_rules.ruleset.checks import check_folder
from pipeline_rules.ruleset.checks.config import LintConfig
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.compiled import CompiledRuleset


def versions_folders(paths: Iterable[str]) -> list[Path]:
    """The versions folders among lint's paths: a directory whose files declare a
    ``revision``, and every sub-directory of a directory given."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if name == "-" or not path.is_dir():
            continue
        subs = [path / sub for sub in version_folders(path)]
        if subs:
            found.extend(subs)
        elif any(declares_revision(RulesetText(e.path, Path(e.path).read_bytes()))
                 for e in ruleset_files(path)):
            found.append(path)
    return found


def lint_versions(folder: Path, now: datetime, lang: str = i18n.DEFAULT,
                  config: LintConfig | None = None) -> list[Diagnostic]:
    """The folder's problems across its files, found by the folder rules (each file's own are
    lint's per file)."""
    compiled: list[CompiledRuleset] = []
    for entry in ruleset_files(folder):
        path = Path(entry.path)
        try:
            compiled.append(compile_text(RulesetText(str(path), path.read_bytes()), lang))
        except (RulesetError, OSError):
            continue  # its own lint says why
    return check_folder(compiled, all_rules().values(), now, config, lang)


__all__ = ["lint_versions", "versions_folders"]
