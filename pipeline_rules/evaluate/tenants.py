"""Many regulations at once: a directory of rulesets, loaded once, each deal judged by the one
it names.

A CRM vendor evaluates the deals of thousands of client companies in one run; each deal names
its company's ruleset by id in its ``ruleset`` key (or in ``fields.ruleset``, which is where a
CSV mapping puts a column; the key's name can be changed). Every ``*.yaml``/``*.yml`` file at
the top of the directory is read, checked and compiled once, and its evaluator serves every deal
that names it. A file that cannot be used does not stop the others: deals naming it become
``bad-record`` findings that quote its first diagnostic, as do deals naming no known ruleset.

:class:`Tenants` pickles as the texts of its files, not as compiled objects (the state machine
inside an evaluator does not pickle), so a worker process rebuilds it once from the same bytes
and judges every deal exactly as the parent would.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.findings import Finding, violation
from pipeline_rules.lint import lint_file
from pipeline_rules.lint.engine import YAML_SUFFIXES
from pipeline_rules.ruleset.catalog import RulesetError, load_ruleset_source
from pipeline_rules.ruleset.compiled import CompileError, compile_ruleset
from pipeline_rules.ruleset.loader import decode, load_document
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import nearest

#: The record key (and, failing that, the deal field) that names a deal's ruleset.
RULESET_KEY = "ruleset"

class TenantsError(ValueError):
    """A ruleset directory that cannot be read at all (missing, empty, not a directory)."""


@dataclass(frozen=True)
class RulesetText:
    """One ruleset file as read: its name for messages and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Broken:
    """A ruleset file that cannot be used, and why: its first diagnostic."""

    file: str
    reason: str


@dataclass(frozen=True)
class Tenants:
    """The rulesets of one run by id, the files that could not be used, and how deals name
    theirs. Build with :func:`load_directory`, :func:`load_file` or :func:`build`."""

    texts: tuple[RulesetText, ...]
    lang: str = i18n.DEFAULT
    horizon: timedelta = timedelta(0)
    key: str = RULESET_KEY
    single: bool = False
    directory: str = ""
    evaluators: Mapping[str, Evaluator] = field(default_factory=dict, compare=False, repr=False)
    broken: Mapping[str, Broken] = field(default_factory=dict, compare=False, repr=False)
    problems: tuple[Broken, ...] = field(default=(), compare=False, repr=False)
    #: Unusable files whose ruleset id could not be read either.
    unread: tuple[Broken, ...] = field(default=(), compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Evaluators hold state machines that do not pickle; the texts rebuild them exactly.
        return (build, (self.texts, self.lang, self.horizon, self.key, self.single,
                        self.directory))

    def name_of(self, data: object) -> str | None:
        """The ruleset a deal record names: its key, else its field of that name."""
        if not isinstance(data, Mapping):
            return None
        value = data.get(self.key)
        if value is None:
            fields = data.get("fields")
            value = fields.get(self.key) if isinstance(fields, Mapping) else None
        if value is None or value == "" or isinstance(value, bool):
            return None
        return str(value) if isinstance(value, str | int) else None

    def pointer(self, data: object) -> str:
        """Where a deal record names (or should name) its ruleset, as a JSON pointer."""
        if not isinstance(data, Mapping):
            return ""
        if data.get(self.key) is None and isinstance(data.get("fields"), Mapping) \
                and data["fields"].get(self.key) is not None:
            return join("", "fields", self.key)
        return join("", self.key)

    def evaluator_for(self, data: object) -> Evaluator | str:
        """The evaluator for a deal record, or the reason (in the run's language) there is
        none."""
        if self.single:
            for evaluator in self.evaluators.values():
                return evaluator
            return self.problems[0].reason if self.problems else "unusable ruleset"
        name = self.name_of(data)
        if name is None:
            if not isinstance(data, Mapping):
                return self._reason("not-object", type=type(data).__name__)
            return self._reason("unnamed", key=self.key)
        found = self.evaluators.get(name)
        if found is not None:
            return found
        broken = self.broken.get(name)
        if broken is not None:
            return self._reason("broken", ruleset=name, reason=broken.reason)
        close = nearest(name, self.evaluators)
        hint = self._reason("hint", name=close) if close else ""
        if self.unread:  # the ruleset may be in a file too broken to tell its id
            hint += self._reason("unread", reason=self.unread[0].reason)
        return self._reason("unknown", ruleset=name, directory=self.directory or "the run",
                            hint=hint)

    def fingerprint(self) -> str:
        """A digest of everything that decides the findings besides the deals and ``now``:
        the ruleset texts, the language, the horizon and how deals name their ruleset."""
        digest = hashlib.sha256()
        for text in self.texts:
            digest.update(f"{len(text.name)}:{text.name}{len(text.data)}:".encode())
            digest.update(text.data)
        digest.update(repr((self.lang, self.horizon.total_seconds(), self.key,
                            self.single)).encode())
        return digest.hexdigest()

    def bad_record(self, now: datetime, origin: str, deal: str | None, ruleset: str | None,
                   reason: str, path: str = "") -> Finding:
        """The ``bad-record`` finding for a deal no ruleset can judge (stamped with the
        ruleset it named, if any)."""
        message = i18n.render("finding.bad-record", {"record": origin, "reason": reason},
                              self.lang)
        return violation(ruleset or "", "bad-record", None, deal, None, now, message,
                         record=origin, **({"path": path} if path else {}))

    def _reason(self, kind: str, **args: object) -> str:
        return i18n.render(f"tenant.{kind}", args, self.lang)


def _first_diagnostic(text: RulesetText, err: RulesetError | None, lang: str) -> str:
    diagnostics = err.diagnostics if err is not None else tuple(
        lint_file("-", lang=lang, stdin=io.BytesIO(text.data)))
    if not diagnostics:
        return str(err) if err is not None else "unusable ruleset"
    first = diagnostics[0]
    return f"{text.name}:{first.line}:{first.column}: [{first.rule}] {first.message}"


def _declared_id(text: RulesetText) -> str | None:
    """The id a broken file declares, when it can be read at all (so deals naming it learn
    why it is broken, not that it does not exist)."""
    try:
        data = load_document(decode(text.data, text.name)).data
    except DocumentError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def build(texts: tuple[RulesetText, ...], lang: str = i18n.DEFAULT,
          horizon: timedelta = timedelta(0), key: str = RULESET_KEY, single: bool = False,
          directory: str = "") -> Tenants:
    """Compile every ruleset text once; the files that cannot be used are kept with why."""
    evaluators: dict[str, Evaluator] = {}
    served_from: dict[str, str] = {}
    broken: dict[str, Broken] = {}
    problems: list[Broken] = []
    unread: list[Broken] = []
    for text in texts:
        try:
            compiled = compile_ruleset(load_ruleset_source(decode(text.data, text.name), lang))
        except DocumentError:  # not UTF-8 or too big: lint explains it with a position
            failure = Broken(text.name, _first_diagnostic(text, None, lang))
        except RulesetError as err:
            failure = Broken(text.name, _first_diagnostic(text, err, lang))
        except CompileError as err:  # pragma: no cover - lint's value rules catch these first
            failure = Broken(text.name, f"{text.name}: {err}")
        else:
            if compiled.id in evaluators:
                # The first file by name keeps the id, as the HTTP service does.
                problems.append(Broken(text.name, f"ruleset id '{compiled.id}' is already "
                                                  f"defined in {served_from[compiled.id]}"))
                continue
            evaluators[compiled.id] = Evaluator(compiled, lang, horizon)
            served_from[compiled.id] = text.name
            continue
        problems.append(failure)
        declared = _declared_id(text)
        if declared is None:
            unread.append(failure)
        for name in (Path(text.name).stem, declared):
            if name and name not in broken:
                broken[name] = failure
    for name in list(broken):
        if name in evaluators:  # a good file serves that name: it wins
            del broken[name]
    return Tenants(texts, lang, horizon, key, single, directory, evaluators, broken,
                   tuple(problems), tuple(unread))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise TenantsError(f"{path}: {err.strerror or err}") from None


def load_directory(path: str | Path, lang: str = i18n.DEFAULT,
                   horizon: timedelta = timedelta(0), key: str = RULESET_KEY) -> Tenants:
    """Every ruleset file at the top of a directory (hidden files skipped, as the HTTP service
    does), in name order."""
    root = Path(path)
    try:
        with os.scandir(root) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith(".")
                           and e.name.endswith(YAML_SUFFIXES) and e.is_file())
    except FileNotFoundError:
        raise TenantsError(f"{path}: no such directory") from None
    except NotADirectoryError:
        raise TenantsError(f"{path}: not a directory") from None
    except OSError as err:
        raise TenantsError(f"{path}: {err.strerror or err}") from None
    if not names:
        raise TenantsError(f"{path}: directory holds no .yaml or .yml file")
    texts = tuple(RulesetText(str(root / name), _read(root / name)) for name in names)
    return build(texts, lang, horizon, key, single=False, directory=str(path))


def load_file(path: str | Path, lang: str = i18n.DEFAULT,
              horizon: timedelta = timedelta(0)) -> Tenants:
    """One ruleset that judges every deal, whatever ruleset the deal names."""
    return build((RulesetText(str(path), _read(Path(path))),), lang, horizon, single=True,
                 directory=str(path))


__all__ = ["RULESET_KEY", "Broken", "RulesetText", "Tenants", "TenantsError", "build",
           "load_directory", "load_file"]
