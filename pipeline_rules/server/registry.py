"""The served rulesets: every YAML file of one directory, and every versions folder in it (one
ruleset kept in versions, docs/versions.md), reloaded when they change.

Each file's content is read, checked, compiled and given its evaluator (and so its state
machine) in full before anything points at it; a refresh then publishes a whole new
:class:`Snapshot` with one attribute assignment. A request reads the snapshot once and keeps the
:class:`Version` it found, so it sees one complete ruleset from start to end whatever a reload
does meanwhile. A file whose new content cannot be used keeps its last good version serving and
carries the diagnostics of the broken one until it is fixed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pipeline_rules.enforce.machine import PipelineMachine
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import (
    RulesetError,
    RulesetText,
    assemble,
    build_versions,
    compile_text,
    leads_outside,
    list_directory,
    outside_directory,
    ruleset_files,
    version_folders,
)
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.versions import Versions


class Signature(NamedTuple):
    """What tells one content of a file from the next without reading it."""

    mtime_ns: int
    size: int
    inode: int
    ctime_ns: int


@dataclass(frozen=True)
class Version:
    """One content of a ruleset file, compiled, with the evaluator and the state machine that
    serve it: built once per version, shared by every request (in any language)."""

    file: str
    id: str
    title: str
    loaded_at: datetime
    compiled: CompiledRuleset
    judge: Judge
    #: The ruleset's versions, when it is a versions folder (``compiled`` is the latest).
    versions: Versions | None = None

    def in_force(self, now: datetime) -> Evaluator:
        """The evaluator of the version in force at ``now`` (of the ruleset itself when it has
        no versions)."""
        evaluator = self.evaluator
        if self.versions is None:
            return evaluator
        return evaluator.by_version[self.versions.index_at(now)]

    @property
    def evaluator(self) -> Evaluator:
        """The evaluator of the ruleset."""
        return self.judge.evaluators[self.id]

    @property
    def machine(self) -> PipelineMachine:
        """The state machine that judges stage moves."""
        return self.evaluator.machine


@dataclass(frozen=True)
class Failure:
    """Why a file's current content cannot be served, and since when."""

    diagnostics: tuple[dict[str, Any], ...]
    failed_at: datetime
    #: Whether the content declared a ruleset id; if not, the file may be anything (a config
    #: file, a system file), so its diagnostics are not shown remotely word for word.
    declared: bool = True
    #: A link leading outside the directory: refused unread.
    outside: bool = False


@dataclass(frozen=True)
class FileState:
    """One file as last read: its signature, its last good version, its current failure."""

    file: str
    signature: Signature
    good: Version | None = None
    failure: Failure | None = None


@dataclass(frozen=True)
class Snapshot:
    """Every file and the versions served by ruleset id; never changed once published."""

    files: Mapping[str, FileState] = field(default_factory=dict)
    served: Mapping[str, Version] = field(default_factory=dict)
    #: File → the file whose version serves its id (the first by name wins a clash).
    shadowed: Mapping[str, str] = field(default_factory=dict)

    def served_id(self, file: str) -> str | None:
        """The ruleset id of a file's last good version, if it has one."""
        good = self.files[file].good if file in self.files else None
        return good.id if good is not None else None


class Scan(NamedTuple):
    """The ruleset files and versions folders of a directory with their signatures, and the
    links refused because they lead outside it (signed by the link itself, so a retargeted
    link is noticed)."""

    files: dict[str, Signature]
    outside: dict[str, Signature]


def scan(directory: Path) -> Scan:
    """The ruleset files of a directory and its versions folders, with their signatures (a
    folder's: of all its files together), and the links out of it."""
    listing = list_directory(directory)
    found: dict[str, Signature] = {}
    for entry in listing.files:
        try:
            st = entry.stat()
        except OSError:  # removed between the listing and the stat
            continue
        found[entry.name] = Signature(st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    for name in version_folders(directory):
        inner = scan_files(directory / name)
        if inner:
            # Any file edited, added or removed changes one of these.
            found[name] = Signature(max(s.mtime_ns for s in inner.values()),
                                    sum(s.size for s in inner.values()),
                                    hash(tuple(sorted((n, s.inode) for n, s in inner.items()))),
                                    max(s.ctime_ns for s in inner.values()))
    outside: dict[str, Signature] = {}
    for name in listing.outside:
        try:
            st = (directory / name).lstat()
        except OSError:
            continue
        outside[name] = Signature(st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    return Scan(found, outside)


def scan_files(directory: Path) -> dict[str, Signature]:
    """The ruleset files of one directory and their signatures."""
    found: dict[str, Signature] = {}
    try:
        entries = list(ruleset_files(directory))
    except OSError:
        return found
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        found[entry.name] = Signature(st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    return found


def _signature(path: Path) -> Signature | None:
    if path.is_dir():
        return scan(path.parent).files.get(path.name)
    try:
        st = path.stat()
    except OSError:
        return None
    return Signature(st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _diagnostic(file: str, rule: str, message: str) -> dict[str, Any]:
    """A diagnostic for a problem lint has no rule for, in the shape of lint's own."""
    return {"rule": rule, "severity": "error", "message": message, "file": file, "line": 1,
            "column": 1, "path": ""}


def build_version(file: str, data: bytes, now: datetime) -> Version | Failure:
    """Load, compile and equip one file's content, or say why it cannot be served."""
    try:
        compiled = compile_text(RulesetText(file, data))
        judge = Judge.of(assemble([(file, compiled)], single=True, path=file))
    except RulesetError as err:
        return Failure(tuple(d.to_dict() for d in err.diagnostics), now,
                       err.declared is not None)
    except Exception as err:  # a bug in loading must not stop the other files from serving
        return Failure((_diagnostic(file, "internal", f"could not load: {err!r}"),), now)
    return Version(file, compiled.id, compiled.ruleset.title, now, compiled, judge)


def build_folder(folder: str, texts: list[RulesetText], now: datetime) -> Version | Failure:
    """Load, compile and equip a versions folder, or say why it cannot be served."""
    try:
        versions = build_versions(texts, folder)
        if isinstance(versions, RulesetError):
            return Failure(tuple(d.to_dict() for d in versions.diagnostics), now)
        judge = Judge.of(assemble([], single=True, path=folder, versioned=[(folder, versions)]))
    except Exception as err:  # a bug in loading must not stop the other files from serving
        return Failure((_diagnostic(folder, "internal", f"could not load: {err!r}"),), now)
    latest = versions.latest
    return Version(folder, latest.id, latest.ruleset.title, now, latest, judge, versions)


def _publishable(snapshot_files: dict[str, FileState]) -> Snapshot:
    # The catalog's rule for an id two files declare: the first file by name keeps it.
    good = {name: state.good for name, state in sorted(snapshot_files.items())
            if state.good is not None}
    catalog = assemble((name, version.compiled) for name, version in good.items())
    served = {rid: good[file] for rid, file in catalog.files.items()}
    return Snapshot(snapshot_files, served, dict(catalog.shadowed))


class Registry:
    """The rulesets of one directory; :meth:`refresh` picks up changes, :attr:`snapshot` is
    what requests read."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.snapshot = Snapshot()
        # Refreshes come from one watcher, but tests and start-up may call too: one at a time.
        self._lock = threading.Lock()
        self._unreadable = False  # so a missing directory is logged once, not every second

    def get(self, ruleset_id: str) -> Version | None:
        """The version serving ``ruleset_id`` now, if any."""
        return self.snapshot.served.get(ruleset_id)

    def refresh(self) -> list[dict[str, Any]]:
        """Load what changed since the last refresh and publish it; return the reload events
        (for the log)."""
        with self._lock:
            current = self.snapshot
            try:
                found = scan(self.directory)
            except OSError as err:
                # The last good versions keep serving until the directory can be read again.
                reported, self._unreadable = self._unreadable, True
                return [] if reported else [{"event": "reload-failed",
                                             "directory": str(self.directory),
                                             "error": err.strerror or str(err)}]
            self._unreadable = False
            files: dict[str, FileState] = {}
            events: list[dict[str, Any]] = []
            changed = False
            for name, signature in sorted(found.outside.items()):
                old = current.files.get(name)
                if old is not None and old.signature == signature:
                    files[name] = old
                    continue
                # Nothing of a link leading out is read; no last good version keeps serving.
                refused = outside_directory(name)
                files[name] = FileState(name, signature, None, Failure(
                    tuple(d.to_dict() for d in refused.diagnostics), datetime.now(UTC),
                    outside=True))
                changed = True
                events.append({"event": "ruleset-refused", "file": name,
                               "reason": "a link that leads outside the ruleset directory"})
            for name, signature in sorted(found.files.items()):
                old = current.files.get(name)
                if old is not None and old.signature == signature:
                    files[name] = old
                    continue
                state, event = self._load(name, signature, old)
                if state is not None:
                    files[name] = state
                    changed = True
                elif old is not None:
                    files[name] = old  # still being written: read again on the next refresh
                if event is not None:
                    events.append(event)
            for name in sorted(current.files.keys() - files.keys() - found.files.keys()):
                changed = True
                gone = current.files[name].good
                events.append({"event": "ruleset-removed", "file": name,
                               "ruleset": gone.id if gone else None})
            if not changed:
                return events
            snapshot = _publishable(files)
            for name, holder in snapshot.shadowed.items():
                if current.shadowed.get(name) != holder:
                    events.append({"event": "ruleset-duplicate", "file": name,
                                   "ruleset": snapshot.served_id(name), "served_from": holder})
            self.snapshot = snapshot  # the one assignment that publishes the change
            return events

    def _load(self, name: str, signature: Signature,
              old: FileState | None) -> tuple[FileState | None, dict[str, Any] | None]:
        path = self.directory / name
        try:
            # Listed as inside the directory; checked again just before reading, so a link
            # swapped in since the listing is not followed out.
            if leads_outside(self.directory, name):
                return None, None  # the next scan refuses it
            if path.is_dir():
                texts = [RulesetText(f"{name}/{e.name}", (path / e.name).read_bytes())
                         for e in ruleset_files(path)]
            else:
                data = path.read_bytes()
        except OSError:
            return None, None  # gone or unreadable for a moment; the next scan tells
        if _signature(path) != signature:
            return None, None  # changed while being read: take the settled content next time
        outcome = build_folder(name, texts, datetime.now(UTC)) if path.is_dir() \
            else build_version(name, data, datetime.now(UTC))
        if isinstance(outcome, Version):
            kind = "ruleset-loaded" if old is None or old.good is None else "ruleset-reloaded"
            return (FileState(name, signature, outcome),
                    {"event": kind, "file": name, "ruleset": outcome.id})
        last_good = old.good if old is not None else None
        state = FileState(name, signature, last_good, outcome)
        first = outcome.diagnostics[0] if outcome.diagnostics else {}
        return state, {
            "event": "ruleset-error", "file": name,
            "ruleset": last_good.id if last_good else None,
            "serving": "last good version" if last_good else "nothing",
            "diagnostics": len(outcome.diagnostics),
            "first": f"{first.get('line')}:{first.get('column')}: [{first.get('rule')}] "
                     f"{first.get('message')}" if first else None}

    def listing(self) -> list[dict[str, Any]]:
        """Every file with its status, for ``GET /v1/rulesets``."""
        snapshot = self.snapshot
        return [describe(state, snapshot.shadowed.get(name))
                for name, state in sorted(snapshot.files.items())]


def describe(state: FileState, shadowed_by: str | None = None) -> dict[str, Any]:
    """One file's entry in the listing: what it serves, and what is wrong with it."""
    good, failure = state.good, state.failure
    diagnostics = list(failure.diagnostics) if failure else []
    if failure is not None and not failure.declared:
        diagnostics = [withheld(d) for d in diagnostics]
    if shadowed_by is not None and good is not None:
        diagnostics.append(_diagnostic(
            state.file, "duplicate-id",
            f"ruleset id '{good.id}' is already served from {shadowed_by}"))
    described: dict[str, Any] = {
        "id": good.id if good else None,
        "title": good.title if good else None,
        "file": state.file,
        "status": "refused" if failure is not None and failure.outside
        else "error" if diagnostics else "ok",
        "serving": good is not None and shadowed_by is None,
        "loaded_at": good.loaded_at.isoformat() if good else None,
        "failed_at": failure.failed_at.isoformat() if failure else None,
        "diagnostics": diagnostics,
    }
    if good is not None and good.versions is not None:
        described["versions"] = [
            {"revision": c.revision, "effective": c.effective.isoformat() if c.effective else None,
             "file": c.ruleset.source.name} for c in good.versions.entries]
    return described


def withheld(diagnostic: dict[str, Any]) -> dict[str, Any]:
    """A diagnostic of a file that declares no ruleset, without the words that may quote it.

    Such a file may be anything put in the directory (a config file with a password, a link to
    a system file): its rule and position are told, not its keys or values. ``pipeline-rules
    lint`` on the server's machine shows the whole message.
    """
    return {**diagnostic, "path": "", "message":
            "the file declares no ruleset id, so the message is not shown remotely; run "
            "`pipeline-rules lint` on the file"}


__all__ = ["Failure", "FileState", "Registry", "Signature", "Snapshot", "Version",
           "build_folder", "build_version", "describe", "scan", "scan_files", "withheld"]
