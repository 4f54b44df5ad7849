"""What the studio's routes share: the ruleset directory and its catalog, each file's text as
saved and as drafted in the editor, the deals and mapping files given, and the limits.

The context is built once per studio process. Its :class:`Workspace` is the one mutable part:
the editor's drafts and the texts read from disk change while the studio runs, so they sit
behind a lock in an object owned by the run, not in a frozen value.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from pipeline_rules import i18n
from pipeline_rules.ruleset.catalog import (
    YAML_SUFFIXES,
    Catalog,
    CatalogError,
    RulesetText,
    compile_text,
    load_directory,
    ruleset_files,
    version_folders,
)
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.server.compute import ComputePool, Token
from pipeline_rules.server.errors import ApiError

T = TypeVar("T")

#: The largest ruleset text the editor may send (lint, diagram, save).
DEFAULT_MAX_TEXT = 1024 * 1024


@dataclass(frozen=True)
class StudioLimits:
    """What one studio request may carry and take."""

    #: Bytes of one ruleset text (413 past it).
    max_text: int = DEFAULT_MAX_TEXT
    #: Bytes of a deals file (a clear message past it, the first part still shown).
    max_deals_bytes: int = 64 * 1024 * 1024
    #: Deals read from a deals file.
    max_deals: int = 100_000
    #: Seconds one computation may take, waiting included.
    time_budget: float = 30.0
    #: Threads computing off the event loop, and the requests that may wait for them.
    compute_threads: int = 2
    compute_queue: int = 16


def digest(data: bytes) -> str:
    """The SHA-256 of a file's bytes, as hex: how the studio tells that a file changed."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileText:
    """One ruleset file: its name inside the directory, its text as last read from (or
    written to) disk with that text's digest, and the editor's draft when one was sent."""

    name: str
    saved: str
    digest: str
    draft: str | None = None

    @property
    def current(self) -> str:
        """The text the editor shows: the draft, or the saved text when there is none."""
        return self.saved if self.draft is None else self.draft


class Workspace:
    """The files of the directory as the studio knows them, and the catalog compiled from
    what is saved (rebuilt after a save); safe to use from the compute threads."""

    def __init__(self, directory: Path, lang: str = i18n.DEFAULT) -> None:
        self.directory = directory
        self.lang = lang
        self._lock = threading.Lock()
        #: Held while a file is compared with disk and written: two saves of the studio never
        #: interleave between the comparison and the rename.
        self.writing = threading.Lock()
        self._files: dict[str, FileText] = {}
        self._catalog: Catalog | None = None
        self._catalog_error: str | None = None

    def names(self) -> list[str]:
        """The ruleset files of the directory (a versions folder's as ``folder/file``), in
        name order; raise :class:`CatalogError` if the directory cannot be read."""
        try:
            top = [entry.name for entry in ruleset_files(self.directory)]
            nested = [f"{folder}/{entry.name}" for folder in version_folders(self.directory)
                      for entry in ruleset_files(self.directory / folder)]
        except FileNotFoundError:
            raise CatalogError(f"{self.directory}: no such directory") from None
        except NotADirectoryError:
            raise CatalogError(f"{self.directory}: not a directory") from None
        except OSError as err:
            raise CatalogError(f"{self.directory}: {err.strerror or err}") from None
        return top + nested

    def path(self, name: str) -> Path:
        """The file ``name`` inside the directory; a 404 for any other name (no way out of
        the directory, hidden files or non-YAML files)."""
        parts = name.split("/")
        if (not name or len(parts) > 2 or any(p in ("", ".", "..") or p.startswith(".")
                                               for p in parts)
                or not name.endswith(YAML_SUFFIXES) or "\\" in name):
            raise ApiError(404, "unknown-file", i18n.render(
                "studio.editor.unknown-file", {"name": name, "directory": self.directory},
                self.lang))
        return self.directory.joinpath(*parts)

    def read(self, name: str) -> FileText:
        """The file as on disk now (its draft dropped), remembered as its saved text."""
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ApiError(404, "unknown-file", i18n.render(
                "studio.editor.no-file", {"name": name, "directory": self.directory},
                self.lang)) from None
        except OSError as err:
            raise ApiError(409, "unreadable-file", f"{name}: {err.strerror or err}") from None
        try:
            text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        except UnicodeDecodeError as err:
            raise ApiError(409, "unreadable-file", i18n.render(
                "studio.editor.not-utf8", {"name": name, "byte": err.start + 1},
                self.lang)) from None
        found = FileText(name, text, digest(data))
        with self._lock:
            self._files[name] = found
        return found

    def get(self, name: str) -> FileText:
        """The file as the studio knows it (read from disk the first time)."""
        with self._lock:
            found = self._files.get(name)
        return found if found is not None else self.read(name)

    def draft(self, name: str, text: str) -> FileText:
        """Remember the editor's text of ``name``."""
        current = self.get(name)
        updated = replace(current, draft=None if text == current.saved else text)
        with self._lock:
            self._files[name] = updated
        return updated

    def saved(self, name: str, text: str, data_digest: str) -> FileText:
        """Record that ``text`` (whose bytes have ``data_digest``) is now on disk."""
        found = FileText(name, text, data_digest)
        with self._lock:
            self._files[name] = found
            self._catalog = None
        return found

    def catalog(self) -> Catalog:
        """The catalog of the directory as saved; raise :class:`CatalogError` if the
        directory cannot be read (loaded once, again after each save)."""
        with self._lock:
            if self._catalog is not None:
                return self._catalog
        found = load_directory(self.directory, self.lang)
        with self._lock:
            self._catalog = found
        return found

    def forget_catalog(self) -> None:
        """Load the catalog again when it is next asked for (a file changed on disk)."""
        with self._lock:
            self._catalog = None


def compile_named(name: str, text: str, lang: str = i18n.DEFAULT) -> CompiledRuleset:
    """A ruleset text compiled as the catalog compiles a file; raise ``RulesetError`` with
    its diagnostics when it cannot be used."""
    return compile_text(RulesetText(name, text.encode("utf-8")), lang)


@dataclass(frozen=True)
class StudioContext:
    """What every studio route is given."""

    #: The ruleset directory being edited.
    directory: Path
    workspace: Workspace
    limits: StudioLimits = field(default_factory=StudioLimits)
    #: The deals file (JSON Lines, or CSV with ``mapping``) given on the command line.
    deals: Path | None = None
    mapping: Path | None = None
    lang: str = i18n.DEFAULT
    compute: ComputePool = field(default_factory=lambda: ComputePool(2, 16))

    async def run(self, fn: Callable[[Token], T]) -> T:
        """``fn`` on a compute thread within the time budget (503 when busy, 504 past the
        budget)."""
        return await self.compute.run(fn, self.limits.time_budget)

    def compiled(self, name: str, draft: bool = True) -> CompiledRuleset:
        """The file ``name`` compiled from its draft (or, ``draft=False``, its saved text);
        raise ``RulesetError`` when that text cannot be used."""
        found = self.workspace.get(name)
        return compile_named(name, found.current if draft else found.saved, self.lang)


__all__ = ["DEFAULT_MAX_TEXT", "FileText", "StudioContext", "StudioLimits", "Workspace",
           "compile_named", "digest"]
