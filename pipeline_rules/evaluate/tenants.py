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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.findings import Finding, violation
from pipeline_rules.ruleset.catalog import (
    Catalog,
    CatalogError,
    RulesetText,
    Unusable,
    build_catalog,
)
from pipeline_rules.ruleset.catalog import (
    load_directory as load_catalog_directory,
)
from pipeline_rules.ruleset.catalog import (
    load_file as load_catalog_file,
)
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import nearest

#: The record key (and, failing that, the deal field) that names a deal's ruleset.
RULESET_KEY = "ruleset"

TenantsError = CatalogError
Broken = Unusable


@dataclass(frozen=True)
class Tenants:
    """The rulesets of one run (a :class:`~pipeline_rules.ruleset.catalog.Catalog`), an
    evaluator for each, and how deals name theirs. Build with :func:`load_directory`,
    :func:`load_file` or :func:`build`."""

    catalog: Catalog = field(compare=False)
    horizon: timedelta = timedelta(0)
    key: str = RULESET_KEY
    evaluators: Mapping[str, Evaluator] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, catalog: Catalog, horizon: timedelta = timedelta(0),
           key: str = RULESET_KEY) -> Tenants:
        """The tenants of a catalog: an evaluator for each of its rulesets."""
        evaluators = {rid: Evaluator(compiled, catalog.lang, horizon)
                      for rid, compiled in catalog.rulesets.items()}
        return cls(catalog, horizon, key, evaluators)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Evaluators hold state machines that do not pickle; the texts rebuild them exactly.
        return (build, (self.texts, self.lang, self.horizon, self.key, self.single,
                        self.directory))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tenants):
            return NotImplemented
        return (self.texts, self.lang, self.horizon, self.key, self.single, self.directory) == \
            (other.texts, other.lang, other.horizon, other.key, other.single, other.directory)

    def __hash__(self) -> int:
        return hash((self.texts, self.lang, self.horizon, self.key, self.single, self.directory))

    @property
    def texts(self) -> tuple[RulesetText, ...]:
        """The ruleset files as read."""
        return self.catalog.texts

    @property
    def lang(self) -> str:
        """The language of the run."""
        return self.catalog.lang

    @property
    def single(self) -> bool:
        """One ruleset judges every deal, whatever it names."""
        return self.catalog.single

    @property
    def directory(self) -> str:
        """The ruleset file or directory."""
        return self.catalog.path

    @property
    def broken(self) -> Mapping[str, Unusable]:
        """Unusable files by name and declared id."""
        return self.catalog.broken

    @property
    def problems(self) -> tuple[Unusable, ...]:
        """Every file not used."""
        return self.catalog.problems

    @property
    def unread(self) -> tuple[Unusable, ...]:
        """Unusable files whose ruleset id could not be read either."""
        return self.catalog.unread

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
        return self.catalog.fingerprint((self.lang, self.horizon.total_seconds(), self.key,
                                         self.single))

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


def build(texts: tuple[RulesetText, ...], lang: str = i18n.DEFAULT,
          horizon: timedelta = timedelta(0), key: str = RULESET_KEY, single: bool = False,
          directory: str = "") -> Tenants:
    """Compile every ruleset text once; the files that cannot be used are kept with why."""
    return Tenants.of(build_catalog(texts, lang, single, directory), horizon, key)


def load_directory(path: str | Path, lang: str = i18n.DEFAULT,
                   horizon: timedelta = timedelta(0), key: str = RULESET_KEY) -> Tenants:
    """Every ruleset file at the top of a directory (hidden files skipped, as the HTTP service
    does), in name order."""
    return Tenants.of(load_catalog_directory(path, lang), horizon, key)


def load_file(path: str | Path, lang: str = i18n.DEFAULT,
              horizon: timedelta = timedelta(0)) -> Tenants:
    """One ruleset that judges every deal, whatever ruleset the deal names."""
    return Tenants.of(load_catalog_file(path, lang), horizon)


__all__ = ["RULESET_KEY", "Broken", "RulesetText", "Tenants", "TenantsError", "build",
           "load_directory", "load_file"]
