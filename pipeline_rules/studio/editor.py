"""The editor's work: a draft linted as it is typed (markers with their spans, the rule's page,
the did-you-mean as a fix), the draft drawn, and saving exactly the text shown.

Pure functions of a text, except :func:`save` and :func:`save_version`, which write one file
through a temporary renamed over it (as every output of the project is written).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.lint import Diagnostic, all_rules, lint
from pipeline_rules.outputs.files import atomic_output
from pipeline_rules.ruleset.loader import Document, decode, load_document
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.server.errors import ApiError
from pipeline_rules.server.linting import summary
from pipeline_rules.studio.context import FileText, Workspace, digest
from pipeline_rules.studio.diagram import draw

#: Rules whose finding names two stages that are each as much at fault as the other: the
#: editor marks both.
SYMMETRIC = frozenset({"parallel-stages"})
_QUOTED = re.compile(r"'([^']+)'")
_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*'|[^\s,:{}\[\]#]+(?::[^\s,{}\[\]#]+)*")


@dataclass(frozen=True)
class Checked:
    """A draft's diagnostics (as JSON-ready data) and its diagram."""

    diagnostics: list[dict[str, Any]]
    summary: dict[str, int]
    diagram: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The answer of the check endpoint."""
        return {"diagnostics": self.diagnostics, "summary": self.summary,
                "diagram": self.diagram}


def _span(line: str, column: int) -> int:
    """The column just past the token (a key, a word, a quoted string) starting at
    ``column``; the end of the line when no token starts there."""
    found = _TOKEN.match(line, column - 1)
    if found is None or found.end() == column - 1:
        return max(len(line) + 1, column + 1)
    return found.end() + 1


def _fix(diagnostic: Diagnostic, line: str) -> dict[str, Any] | None:
    """The did-you-mean as an edit of the marked line: the wrong text replaced by the
    suggestion (None when the wrong text is not where the diagnostic points)."""
    if diagnostic.suggestion is None or diagnostic.replaces is None:
        return None
    start = line.find(diagnostic.replaces, diagnostic.column - 1)
    if start < 0:
        start = line.find(diagnostic.replaces)
    if start < 0:
        return None
    return {"line": diagnostic.line, "from": start + 1,
            "to": start + 1 + len(diagnostic.replaces), "insert": diagnostic.suggestion,
            "label": diagnostic.suggestion}


def _marker(diagnostic: Diagnostic, lines: list[str]) -> dict[str, Any]:
    line = lines[diagnostic.line - 1] if 0 < diagnostic.line <= len(lines) else ""
    marker = diagnostic.to_dict()
    marker["end_column"] = _span(line, diagnostic.column)
    marker["fix"] = _fix(diagnostic, line)
    return marker


def check_text(name: str, text: str, lang: str = i18n.DEFAULT) -> Checked:
    """Lint a draft as ``pipeline-rules lint`` would and draw it."""
    data = text.encode("utf-8")
    try:
        source = decode(data, name)
    except DocumentError:
        # Over the size cap or not text: lint says why, with a position, and nothing is drawn.
        from pipeline_rules.server.linting import lint_bytes

        found = lint_bytes(data, name, lang)
        return Checked([d.to_dict() | {"end_column": d.column + 1, "fix": None} for d in found],
                       summary(found), draw(None, found))
    document: Document | None
    try:
        document = load_document(source)
    except DocumentError:
        document = None
    found = list(lint(source, None, lang, document))
    lines = text.splitlines()
    diagram = draw(document, found)
    markers = [_marker(d, lines) for d in found]
    stages = {s["id"]: s for s in diagram.get("stages", [])}
    for diagnostic in found:
        if diagnostic.rule not in SYMMETRIC:
            continue
        for stage in _QUOTED.findall(diagnostic.message):
            where = stages.get(stage)
            if where is None or "id_line" not in where or where["id_line"] == diagnostic.line:
                continue
            other = Diagnostic(diagnostic.rule, diagnostic.severity, diagnostic.message,
                               diagnostic.file, where["id_line"], where["id_column"],
                               f"/stages/{where['index']}/id")
            markers.append(_marker(other, lines) | {"related": diagnostic.line})
    markers.sort(key=lambda m: (m["line"], m["column"], m["rule"]))
    return Checked(markers, summary(found), diagram)


def rule_pages() -> dict[str, dict[str, str]]:
    """Every lint rule's page: its summary, default severity and documentation."""
    return {name: {"summary": rule.summary, "severity": rule.severity.value, "doc": rule.doc}
            for name, rule in all_rules().items()}


def _say(key: str, lang: str, **args: object) -> str:
    return i18n.render(f"studio.editor.{key}", args, lang)


def said(key: str, lang: str, **args: object) -> str:
    """A studio message in ``lang`` (``studio.editor.<key>`` of the catalogs)."""
    return _say(key, lang, **args)


def _number(value: int, lang: str) -> str:
    return f"{value:,}".replace(",", "\u00a0" if lang == "ru" else ",")


def refuse_size(text: str, limit: int, lang: str = i18n.DEFAULT) -> None:
    """A 413 for a text over ``limit`` bytes (a huge paste), said in the editor's words."""
    size = len(text.encode("utf-8"))
    if size > limit:
        raise ApiError(413, "text-too-large", _say("too-large", lang, size=_number(size, lang),
                                                   limit=_number(limit, lang)), limit=limit)


def _on_disk(workspace: Workspace, name: str) -> bytes | None:
    try:
        return workspace.path(name).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ApiError(409, "unreadable-file", f"{name}: {err.strerror or err}") from None


def _errors(name: str, text: str, lang: str) -> int:
    return check_text(name, text, lang).summary["error"]


def _write(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else None
    with atomic_output(str(path)) as temporary:
        with open(temporary, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        if mode is not None:
            os.chmod(temporary, mode)


def save(workspace: Workspace, name: str, text: str, loaded: str, force: bool,
         lang: str = i18n.DEFAULT) -> FileText:
    """Write ``text`` to the file ``name`` exactly, atomically. Refused (409) when the file
    on disk is no longer the one loaded (``loaded``: its digest then), and (422) when the text
    has lint errors unless ``force``."""
    with workspace.writing:
        return _save(workspace, name, text, loaded, force, lang)


def _save(workspace: Workspace, name: str, text: str, loaded: str, force: bool,
          lang: str) -> FileText:
    current = _on_disk(workspace, name)
    if current is None or digest(current) != loaded:
        raise ApiError(409, "changed-on-disk", _say(
            "removed" if current is None else "changed-on-disk", lang, name=name), file=name)
    errors = _errors(name, text, lang)
    if errors and not force:
        raise ApiError(422, "lint-errors", _say("lint-errors", lang, name=name, errors=i18n.plural(
            errors, "error", lang)), errors=errors)
    data = text.encode("utf-8")
    _write(workspace.path(name), data)
    return workspace.saved(name, text, digest(data))


_REVISION = re.compile(r"^revision:[^\n]*$", re.M)
_EFFECTIVE = re.compile(r"^effective:[^\n]*$", re.M)
_VERSION_LINE = re.compile(r"^version:[^\n]*$", re.M)
_EFFECTIVE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?$")


def _next_revision(workspace: Workspace, folder: str) -> int:
    highest = 0
    for other in workspace.names():
        if not other.startswith(folder + "/"):
            continue
        found = _REVISION.search(workspace.get(other).saved)
        value = found.group(0).split(":", 1)[1].split("#")[0].strip().strip("'\"") if found \
            else ""
        if value.isdigit():
            highest = max(highest, int(value))
    return highest + 1


def versioned(text: str, revision: int, effective: str) -> str:
    """The text with its top-level ``revision`` and ``effective`` set (added after
    ``version:`` when absent); every other line as it was."""
    # Each key replaced where it is, or added after the key written before it (the revision
    # after `version:`, the instant after the revision).
    for pattern, line, after in ((_REVISION, f"revision: {revision}", _VERSION_LINE),
                                 (_EFFECTIVE, f"effective: {effective}", _REVISION)):
        if pattern.search(text):
            text = pattern.sub(line, text, count=1)
        elif (anchor := after.search(text)) is not None:
            text = text[:anchor.end()] + "\n" + line + text[anchor.end():]
        else:
            text = line + "\n" + text
    return text


def save_version(workspace: Workspace, name: str, text: str, effective: str, force: bool,
                 lang: str = i18n.DEFAULT) -> FileText:
    """Write the text as a new version of the versions folder ``name`` lies in, taking effect
    at ``effective``: the next revision number, in a new file ``v<revision>.yaml`` beside
    it. The file edited is left as it is on disk."""
    with workspace.writing:
        return _save_version(workspace, name, text, effective, force, lang)


def _save_version(workspace: Workspace, name: str, text: str, effective: str, force: bool,
                  lang: str) -> FileText:
    folder, _, _ = name.rpartition("/")
    if not folder:
        raise ApiError(422, "not-versioned", _say("not-versioned", lang, name=name))
    effective = effective.strip()
    if not _EFFECTIVE_VALUE.match(effective):
        raise ApiError(422, "invalid-effective", _say("bad-effective", lang,
                                                      effective=effective), path="/effective")
    revision = _next_revision(workspace, folder)
    target = f"{folder}/v{revision}.yaml"
    if _on_disk(workspace, target) is not None:
        raise ApiError(409, "version-exists", _say("version-exists", lang, name=target),
                       file=target)
    new_text = versioned(text, revision, effective)
    errors = _errors(target, new_text, lang)
    if errors and not force:
        raise ApiError(422, "lint-errors", _say("lint-errors", lang, name=target,
                                                errors=i18n.plural(errors, "error", lang)),
                       errors=errors)
    data = new_text.encode("utf-8")
    _write(workspace.path(target), data)
    return workspace.saved(target, new_text, digest(data))


__all__ = ["SYMMETRIC", "Checked", "check_text", "refuse_size", "rule_pages", "said", "save",
           "save_version", "versioned"]
