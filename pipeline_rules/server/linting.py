"""Linting a ruleset posted as bytes, exactly as ``pipeline-rules lint`` lints a file."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace

from pipeline_rules import i18n
from pipeline_rules.lint import Diagnostic, lint_file

#: The name posted rulesets get in diagnostics.
POSTED = "<request>"
SEVERITIES = ("error", "warning", "info")


def lint_bytes(data: bytes, name: str = POSTED, lang: str = i18n.DEFAULT) -> list[Diagnostic]:
    """Every diagnostic of a ruleset given as bytes (UTF-8, BOM allowed), named ``name``."""
    # Through lint_file's stdin path, so a bad encoding or an oversized text is explained with
    # the same positions and messages as on the command line.
    found = lint_file("-", lang=lang, stdin=io.BytesIO(data))
    return [replace(d, file=name) for d in found]


def summary(diagnostics: list[Diagnostic]) -> dict[str, int]:
    """Diagnostics per severity, every severity present (zeros included)."""
    counts = Counter(d.severity.value for d in diagnostics)
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}
