"""SARIF 2.1.0 logs, for code-scanning dashboards (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline_rules import __version__
from pipeline_rules.lint.engine import Diagnostic
from pipeline_rules.lint.rules import all_rules
from pipeline_rules.ruleset.problems import Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/pipeline-rules/pipeline-rules"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_location(file: str) -> dict[str, str]:
    """Where a linted file is: relative to the working directory when it lies below it."""
    if file == "<stdin>":
        return {"uri": "stdin"}
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return {"uri": path.resolve().as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def sarif_log(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> dict[str, Any]:
    """The SARIF log object of one lint run."""
    rules = list(all_rules().values())
    index = {r.name: i for i, r in enumerate(rules)}
    artifact_index = {f: i for i, f in enumerate(files)}
    results = []
    for d in diagnostics:
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": artifact_location(d.file),
                "region": {"startLine": d.line, "startColumn": d.column},
            },
        }
        if d.file in artifact_index:
            location["physicalLocation"]["artifactLocation"]["index"] = artifact_index[d.file]
        if d.source_line:
            location["physicalLocation"]["region"]["snippet"] = {"text": d.source_line}
        if d.path:
            location["logicalLocations"] = [{"fullyQualifiedName": d.path, "kind": "member"}]
        result: dict[str, Any] = {"ruleId": d.rule}
        if d.rule in index:  # checks across files (a versions folder's) have no rule entry
            result["ruleIndex"] = index[d.rule]
        result.update({"level": _LEVEL[d.severity], "message": {"text": d.message},
                       "locations": [location]})
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pipeline-rules",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [{
                    "id": r.name,
                    "shortDescription": {"text": r.summary},
                    "fullDescription": {"text": r.summary},
                    "help": {"text": r.doc, "markdown": r.doc},
                    "helpUri": f"{INFORMATION_URI}/blob/main/docs/rules.md#{r.name}",
                    "defaultConfiguration": {"level": _LEVEL[r.severity]},
                    "properties": {"tags": [r.family]},
                } for r in rules],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "artifacts": [{"location": artifact_location(f)} for f in files],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
