"""The rulesets of a run: a ruleset file, or a directory of them, read, checked and compiled
once.

A ruleset is usable when it parses, fits the schema, names only stages, actions and calendars it
declares, and its values parse: compiling runs the rules that block use
(:mod:`pipeline_rules.ruleset.checks`) and refuses the ruleset with their errors. Design advice
(a limbo stage, a parallel fork, a shaky SLA) does not stop it from running — ``pipeline-rules
lint`` is where that is judged.

A :class:`Catalog` holds the usable rulesets by id and the files that cannot be used, and why. A
broken file does not stop the others; the first file by name keeps an id two files declare; a
broken file is known by its name and, when its document can be read, by the id it declares, so
whoever asks for it learns why it cannot be used rather than that it does not exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks import Diagnostic, check_source, unreadable
from pipeline_rules.ruleset.checks.registry import blocking_rules
from pipeline_rules.ruleset.compiled import CompiledRuleset, CompileError, compile_ruleset
from pipeline_rules.ruleset.loader import Document, decode, read_bytes
from pipeline_rules.ruleset.model import Ruleset, build_ruleset
from pipeline_rules.ruleset.problems import DocumentError, Problem, Severity
from pipeline_rules.ruleset.source import Source
from pipeline_rules.ruleset.versions import Versions, folder_problems

#: The names a ruleset file may have.
YAML_SUFFIXES = (".yaml", ".yml")


class RulesetError(ValueError):
    """A ruleset that cannot be used, with the diagnostics that say why (and the id it
    declares, when its document could be read)."""

    def __init__(self, name: str, diagnostics: Sequence[Diagnostic],
                 declared: str | None = None) -> None:
        self.name = name
        self.diagnostics = tuple(diagnostics)
        self.declared = declared
        first = diagnostics[0] if diagnostics else None
        where = f"{first.file}:{first.line}:{first.column}: [{first.rule}] {first.message}" \
            if first else name
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(f"unusable ruleset: {where}{more}")


class CatalogError(ValueError):
    """A ruleset directory that cannot be read at all (missing, empty, not a directory)."""


@dataclass(frozen=True)
class RulesetText:
    """One ruleset file as read: its name for messages and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Unusable:
    """A ruleset file that cannot be used, and why: its first diagnostic, as lint shows it."""

    file: str
    reason: str
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Catalog:
    """The usable rulesets by id (in file-name order), the files that cannot be used, and the
    texts it was compiled from. Build with :func:`load_catalog` or :func:`build_catalog`."""

    texts: tuple[RulesetText, ...]
    rulesets: Mapping[str, CompiledRuleset]
    #: Ruleset id → the file it was compiled from.
    files: Mapping[str, str]
    #: File → the earlier file that has its ruleset's id (the first by name wins).
    shadowed: Mapping[str, str]
    #: A broken file's name (stem) and declared id → why it cannot be used.
    broken: Mapping[str, Unusable]
    #: Every file not used, in name order.
    problems: tuple[Unusable, ...]
    #: Unusable files whose ruleset id could not be read either.
    unread: tuple[Unusable, ...]
    #: A catalog of one file (the ruleset given), not a directory.
    single: bool = False
    #: The file or directory it was read from.
    path: str = ""
    #: The language of the diagnostics.
    lang: str = i18n.DEFAULT
    #: Ruleset id → its versions, for the rulesets kept in versions folders (``rulesets`` holds
    #: the version that takes effect last).
    versions: Mapping[str, Versions] = field(default_factory=dict)

    def only(self) -> CompiledRuleset:
        """The ruleset of a catalog of one file; raise :class:`RulesetError` if it is
        unusable."""
        for compiled in self.rulesets.values():
            return compiled
        problem = self.problems[0] if self.problems else Unusable(self.path, "no ruleset")
        raise RulesetError(problem.file, problem.diagnostics)

    def fingerprint(self, settings: object = None) -> str:
        """A digest of the texts the catalog was compiled from (names included) and of the
        ``settings`` (their ``repr``) that decide, with them, what is done with them."""
        digest = hashlib.sha256()
        for text in self.texts:
            digest.update(f"{len(text.name)}:{text.name}{len(text.data)}:".encode())
            digest.update(text.data)
        if settings is not None:
            digest.update(repr(settings).encode())
        return digest.hexdigest()


# -- one ruleset ------------------------------------------------------------------------------

def load_ruleset_source(source: Source, lang: str = i18n.DEFAULT) -> Ruleset:
    """Check a ruleset text for use and build its model, or raise :class:`RulesetError`."""
    checked = check_source(source, blocking_rules().values())
    document = checked.context.document
    diagnostics = checked.diagnostics(lang)
    blocking = [d for d in diagnostics if d.severity is Severity.ERROR]
    if blocking or document is None:
        raise RulesetError(source.name, blocking or diagnostics, _declared_id(document))
    return checked.model or build_ruleset(document)


def compile_source(source: Source, lang: str = i18n.DEFAULT) -> CompiledRuleset:
    """Check and compile a ruleset text, or raise :class:`RulesetError` with the diagnostics of
    the errors that stop its use."""
    ruleset = load_ruleset_source(source, lang)
    try:
        return compile_ruleset(ruleset)
    except CompileError as err:
        # Only when the ruleset's own lint block or a comment silenced a blocking rule.
        diagnostic = Diagnostic("compile", Severity.ERROR, str(err), source.name, 1, 1)
        raise RulesetError(source.name, [diagnostic], ruleset.id or None) from None


def compile_text(text: RulesetText, lang: str = i18n.DEFAULT) -> CompiledRuleset:
    """:func:`compile_source` of a file's bytes (UTF-8, a BOM allowed)."""
    try:
        source = decode(text.data, text.name)
    except DocumentError as err:  # not UTF-8 or too big: said with a position, as lint does
        raise RulesetError(text.name, unreadable(text.name, err, lang=lang)) from None
    return compile_source(source, lang)


def load_ruleset(path: str | Path, lang: str = i18n.DEFAULT) -> Ruleset:
    """Read the ruleset at ``path``, check it for use and build its model; raise
    :class:`RulesetError` if it is unusable (and ``ReadError`` if it cannot be read)."""
    return load_ruleset_source(_source(path, lang), lang)


def compile_path(path: str | Path, lang: str = i18n.DEFAULT) -> CompiledRuleset:
    """Read, check and compile the ruleset at ``path`` (see :func:`load_ruleset`)."""
    return compile_source(_source(path, lang), lang)


def _source(path: str | Path, lang: str) -> Source:
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        return decode(read_bytes(path), name)
    except DocumentError as err:
        raise RulesetError(str(path), unreadable(name, err, lang=lang)) from None


def _declared_id(document: Document | None) -> str | None:
    """The id a document declares, when it can be read at all."""
    data = document.data if document is not None else None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


# -- many rulesets ----------------------------------------------------------------------------

def build_catalog(texts: Iterable[RulesetText], lang: str = i18n.DEFAULT, single: bool = False,
                  path: str = "",
                  folders: Iterable[tuple[str, Sequence[RulesetText]]] = (),
                  refused: Iterable[str] = ()) -> Catalog:
    """Compile every text once, in the order given (file-name order), and every versions
    folder's texts; the files and folders that cannot be used are kept with why. ``refused``
    names links that lead outside the directory: unusable, never read."""
    texts = tuple(texts)
    outcomes = _compile_each(texts, lang)
    refused = tuple(refused)
    if refused:
        # A refused link takes its place in name order, as a file that cannot be used.
        outcomes += [(name, outside_directory(name, lang)) for name in refused]
        outcomes.sort(key=lambda outcome: outcome[0])
    versioned: list[tuple[str, Versions | RulesetError]] = []
    for folder, folder_texts in folders:
        versioned.append((folder, build_versions(folder_texts, folder, lang)))
        texts += tuple(folder_texts)
    return assemble(outcomes, texts, lang, single, path, versioned)


def _compile_each(texts: Iterable[RulesetText],
                  lang: str) -> list[tuple[str, CompiledRuleset | RulesetError]]:
    outcomes: list[tuple[str, CompiledRuleset | RulesetError]] = []
    for text in texts:
        try:
            outcomes.append((text.name, compile_text(text, lang)))
        except RulesetError as err:
            outcomes.append((text.name, err))
    return outcomes


def build_versions(texts: Sequence[RulesetText], folder: str, lang: str = i18n.DEFAULT
                   ) -> Versions | RulesetError:
    """The versions a folder's files declare, or why they cannot be used: any of its files
    unusable, or the files not versions of one ruleset (:func:`folder_problems`)."""
    compiled: list[CompiledRuleset] = []
    errors: list[Diagnostic] = []
    declared: str | None = None
    for text in texts:
        try:
            compiled.append(compile_text(text, lang))
        except RulesetError as err:
            errors.extend(err.diagnostics)
            declared = declared or err.declared
    declared = compiled[0].id if compiled else declared
    errors.extend(folder_problems(compiled, lang))
    if errors or not compiled:
        return RulesetError(folder, errors, declared)
    return Versions.of(compiled, folder)


def assemble(outcomes: Iterable[tuple[str, CompiledRuleset | RulesetError]],
             texts: tuple[RulesetText, ...] = (), lang: str = i18n.DEFAULT,
             single: bool = False, path: str = "",
             versioned: Iterable[tuple[str, Versions | RulesetError]] = ()) -> Catalog:
    """A catalog of files already compiled (or refused), in file-name order, and of versions
    folders: the first file by name keeps an id two files declare (a plain file before a
    folder)."""
    rulesets: dict[str, CompiledRuleset] = {}
    files: dict[str, str] = {}
    shadowed: dict[str, str] = {}
    broken: dict[str, Unusable] = {}
    problems: list[Unusable] = []
    unread: list[Unusable] = []
    versions: dict[str, Versions] = {}
    for folder, found in versioned:
        if isinstance(found, Versions):
            outcomes = [*outcomes, (folder, found.latest)]
            versions.setdefault(found.id, found)
        else:
            outcomes = [*outcomes, (folder, found)]
    for file, outcome in outcomes:
        if isinstance(outcome, CompiledRuleset):
            holder = files.get(outcome.id)
            if holder is None:
                rulesets[outcome.id] = outcome
                files[outcome.id] = file
            else:
                shadowed[file] = holder
                problems.append(Unusable(file, i18n.Message(
                    "catalog.duplicate-id", {"id": outcome.id, "holder": holder})))
            continue
        failure = Unusable(file, _reason(file, outcome), outcome.diagnostics)
        problems.append(failure)
        if outcome.declared is None:
            unread.append(failure)
        for name in (Path(file).stem, outcome.declared):
            if name and name not in broken:
                broken[name] = failure
    for name in list(broken):
        if name in rulesets:  # a good file serves that name: it wins
            del broken[name]
    versions = {rid: v for rid, v in versions.items() if files.get(rid) == v.folder}
    return Catalog(texts, rulesets, files, shadowed, broken, tuple(problems), tuple(unread),
                   single, path, lang, versions)


def _reason(file: str, err: RulesetError) -> str:
    if not err.diagnostics:
        return str(err)
    first = err.diagnostics[0]
    return f"{file}:{first.line}:{first.column}: [{first.rule}] {first.message}"


@dataclass(frozen=True)
class Listing:
    """The ruleset files at the top of a directory, and the links refused because they lead
    outside it (their contents are never read)."""

    files: tuple[os.DirEntry[str], ...]
    outside: tuple[str, ...] = ()


def list_directory(directory: str | Path) -> Listing:
    """The ruleset files at the top of a directory, in name order. Hidden files are left out:
    editors and atomic writers keep their temporary copies there. A link (to a file or through
    a linked folder) that resolves outside the directory is refused by name: the directory is
    the boundary of what a run or the server reads. OSError if the directory cannot be
    listed."""
    root = os.path.realpath(directory)
    with os.scandir(directory) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    files: list[os.DirEntry[str]] = []
    outside: list[str] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        is_yaml = entry.name.endswith(YAML_SUFFIXES)
        try:
            if entry.is_symlink() and (is_yaml or entry.is_dir()) and _outside(root, entry.path):
                outside.append(entry.name)  # a file, or a versions folder, elsewhere
            elif is_yaml and entry.is_file():
                files.append(entry)
        except OSError:  # removed since the listing
            continue
    return Listing(tuple(files), tuple(outside))


def _outside(root: str, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) != root


def leads_outside(directory: str | Path, name: str) -> bool:
    """Whether the entry ``name`` of a directory resolves to a place outside it."""
    return _outside(os.path.realpath(directory), os.path.join(directory, name))


def ruleset_files(directory: str | Path) -> Iterator[os.DirEntry[str]]:
    """The ruleset files of :func:`list_directory` (links leading outside left out)."""
    yield from list_directory(directory).files


def outside_directory(name: str, lang: str = i18n.DEFAULT) -> RulesetError:
    """The error of a file that is a link leading outside the ruleset directory."""
    err = DocumentError("document-limit", Problem("document-limit.outside", {}))
    return RulesetError(name, unreadable(name, err, lang=lang))


def catalog_of(compiled: CompiledRuleset) -> Catalog:
    """A catalog of one ruleset compiled already (it has no texts to send to other
    processes)."""
    name = compiled.ruleset.source.name
    return assemble([(name, compiled)], single=True, path=name)


def load_directory(path: str | Path, lang: str = i18n.DEFAULT) -> Catalog:
    """Every ruleset file at the top of a directory, each deal to be judged by the one it
    names; raise :class:`CatalogError` if the directory cannot be read or holds none."""
    root = Path(path)
    with _directory_errors(path):
        listing = list_directory(root)
        folders = [(str(root / name), _texts(root / name)) for name in version_folders(root)]
    folders = [(folder, texts) for folder, texts in folders if texts]
    if not listing.files and not listing.outside and not folders:
        raise CatalogError(f"{path}: directory holds no .yaml or .yml file")
    texts = [RulesetText(str(root / entry.name), _read(root / entry.name))
             for entry in listing.files]
    refused = [str(root / name) for name in listing.outside]
    if not folders and not refused and any(declares_revision(t) for t in texts):
        # A folder of versions given itself: one ruleset, judging every deal.
        return build_catalog([], lang, single=True, path=str(path),
                             folders=[(str(path), texts)])
    return build_catalog(texts, lang, single=False, path=str(path), folders=folders,
                         refused=refused)


@contextlib.contextmanager
def _directory_errors(path: str | Path) -> Iterator[None]:
    """Turn a failure to read the directory ``path`` into a :class:`CatalogError` naming it."""
    try:
        yield
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such directory") from None
    except NotADirectoryError:
        raise CatalogError(f"{path}: not a directory") from None
    except OSError as err:
        raise CatalogError(f"{path}: {err.strerror or err}") from None


def version_folders(directory: str | Path) -> list[str]:
    """The sub-directories of a ruleset directory (each a versions folder), in name order;
    hidden ones, and links to folders outside the directory, are left out."""
    with os.scandir(directory) as listing:
        return sorted(e.name for e in listing if not e.name.startswith(".") and e.is_dir()
                      and not (e.is_symlink() and leads_outside(directory, e.name)))


def _texts(folder: Path) -> list[RulesetText]:
    return [RulesetText(str(folder / e.name), _read(folder / e.name))
            for e in ruleset_files(folder)]


def declares_revision(text: RulesetText) -> bool:
    """Whether a file declares a ``revision`` at the top level (read cheaply: a line), as the
    files of a versions folder do."""
    return any(line.startswith(b"revision:") for line in text.data.splitlines())


def load_file(path: str | Path, lang: str = i18n.DEFAULT) -> Catalog:
    """One ruleset file, to judge every deal whatever ruleset the deal names (``ReadError``
    if it cannot be read)."""
    try:
        data = read_bytes(path)
    except DocumentError as err:  # too big to read: refused unread
        refused = RulesetError(str(path), unreadable(str(path), err, lang=lang))
        return assemble([(str(path), refused)], (), lang, single=True, path=str(path))
    return build_catalog([RulesetText(str(path), data)], lang, single=True, path=str(path))


def load_versions(path: str | Path, lang: str = i18n.DEFAULT) -> Versions:
    """The versions of the ruleset kept in the folder ``path``; raise :class:`CatalogError`
    if it cannot be read and :class:`RulesetError` if its versions cannot be used."""
    with _directory_errors(path):
        texts = _texts(Path(path))
    if not texts:
        raise CatalogError(f"{path}: directory holds no .yaml or .yml file")
    found = build_versions(texts, str(path), lang)
    if isinstance(found, RulesetError):
        raise found
    return found


def load_catalog(path: str | Path, lang: str = i18n.DEFAULT) -> Catalog:
    """A directory of rulesets (:func:`load_directory`) or one ruleset file
    (:func:`load_file`)."""
    return load_directory(path, lang) if Path(path).is_dir() else load_file(path, lang)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CatalogError(f"{path}: {err.strerror or err}") from None


__all__ = ["YAML_SUFFIXES", "Catalog", "CatalogError", "Listing", "RulesetError", "RulesetText",
           "Unusable", "assemble", "build_catalog", "build_versions", "catalog_of",
           "compile_path", "compile_source", "compile_text", "declares_revision",
           "leads_outside", "list_directory", "load_catalog", "load_directory", "load_file",
           "load_ruleset", "load_ruleset_source", "load_versions", "outside_directory",
           "ruleset_files", "version_folders"]
