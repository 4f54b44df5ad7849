"""Judging one record: the ruleset that judges it, its findings, and what becomes of a record
that cannot be judged.

The rulesets of a run are a :class:`~pipeline_rules.ruleset.catalog.Catalog`. A catalog of one
file judges every record, whatever ruleset it names. A directory's judges each record by the
ruleset it names in its ``ruleset`` key (or in ``fields.ruleset``, which is where a CSV mapping
puts a column; the key's name can be changed): a CRM vendor evaluates the deals of thousands of
client companies in one run.

A record no ruleset can judge — unreadable, naming no ruleset, an unknown one or one whose file
cannot be used — becomes one ``bad-record`` finding saying why, and the run goes on. So does a
record on which evaluation fails unexpectedly (a bug, or a plugin check that raises): its
``bad-record`` names the error, on the command line and in the HTTP service alike.

A :class:`Judge` crosses to worker processes as its compiled rulesets and evaluators, which
pickle as plain data (:meth:`Judge.__reduce__`): no worker checks or compiles a ruleset again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from pipeline_rules import i18n
from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.context import Run, RunShare
from pipeline_rules.evaluate.findings import Finding, bad_record
from pipeline_rules.evaluate.idset import DealIds
from pipeline_rules.evaluate.wake import Wake
from pipeline_rules.ruleset.catalog import Catalog, Unusable
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import nearest
from pipeline_rules.time.schedules import SEARCH_YEARS, NoRunError

#: The record key (and, failing that, the deal field) that names a deal's ruleset.
RULESET_KEY = "ruleset"


class Judged(NamedTuple):
    """One record judged: where it came from, the ruleset and the deal id it was judged under
    (the deal id is None for a bad record; both are None when no ruleset could judge it), its
    findings, and the unexpected error that made it a bad record, if one did."""

    origin: str
    ruleset: str | None
    deal: str | None
    findings: list[Finding]
    error: Exception | None = None


class Runs:
    """The run context of each ruleset at one ``now``, in one language, made when the ruleset
    is first needed (a run looks up the next scheduled evaluation: too dear to repeat per
    deal)."""

    def __init__(self, now: datetime, lang: str = i18n.DEFAULT,
                 share: RunShare | None = None) -> None:
        self.now = now
        self.lang = lang
        self._runs: dict[str, Run] = {}
        #: What the runs of other instants share with these (see ``Run.start``).
        self.share = share

    def of(self, evaluator: Evaluator) -> Run:
        """The run context of ``evaluator``."""
        found = self._runs.get(evaluator.compiled.id)
        if found is None:
            found = self._runs[evaluator.compiled.id] = evaluator.run(self.now, self.lang,
                                                                      self.share)
        return found


@dataclass(frozen=True, eq=False)
class Judge:
    """The rulesets of a run, an evaluator for each, and how a record names its ruleset."""

    catalog: Catalog
    horizon: timedelta = timedelta(0)
    key: str = RULESET_KEY
    evaluators: Mapping[str, Evaluator] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, catalog: Catalog, horizon: timedelta = timedelta(0),
           key: str = RULESET_KEY) -> Judge:
        """The judge of a catalog's rulesets (reminders ``horizon`` ahead without a
        schedule)."""
        evaluators = {rid: Evaluator(compiled, catalog.lang, horizon, catalog.versions.get(rid))
                      for rid, compiled in catalog.rulesets.items()}
        return cls(catalog, horizon, key, evaluators)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # What crosses to a worker process (a pool's or Dask's): the compiled rulesets and
        # their evaluators, which pickle as plain data (the state machine rebuilds itself from
        # its compiled ruleset), so no worker checks or compiles a ruleset again.
        return (Judge, (self.catalog, self.horizon, self.key, dict(self.evaluators)))

    def _recipe(self) -> tuple[Any, ...]:
        catalog = self.catalog
        return (catalog.texts, catalog.lang, catalog.single, catalog.path, self.horizon,
                self.key)

    def __eq__(self, other: object) -> bool:
        # Judges built from the same texts and settings judge alike.
        return isinstance(other, Judge) and self._recipe() == other._recipe()

    def __hash__(self) -> int:
        return hash(self._recipe())

    @property
    def sole(self) -> Evaluator | None:
        """The evaluator of a one-file catalog, which judges every record."""
        if not self.catalog.single:
            return None
        return next(iter(self.evaluators.values()), None)

    def fingerprint(self, lang: str | None = None) -> str:
        """A digest of everything that decides the findings besides the deals and ``now``:
        the ruleset texts, the run's language (by default the catalog's), the horizon and
        how records name rulesets."""
        return self.catalog.fingerprint((lang or self.catalog.lang,
                                         self.horizon.total_seconds(), self.key,
                                         self.catalog.single))

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

    def evaluator_for(self, data: object, lang: str = i18n.DEFAULT) -> Evaluator | str:
        """The evaluator for a deal record, or the reason (in ``lang``) there is none."""
        catalog = self.catalog
        if catalog.single:
            for evaluator in self.evaluators.values():
                return evaluator
            return catalog.problems[0].reason if catalog.problems else "unusable ruleset"
        name = self.name_of(data)
        if name is None:
            if not isinstance(data, Mapping):
                return _reason(lang, "not-object", type=type(data).__name__)
            return _reason(lang, "unnamed", key=self.key)
        found = self.evaluators.get(name)
        if found is not None:
            return found
        broken = catalog.broken.get(name)
        if broken is not None:
            return _reason(lang, "broken", ruleset=name, reason=broken.reason)
        close = nearest(name, self.evaluators)
        hint = _reason(lang, "hint", name=close) if close else ""
        if catalog.unread:  # the ruleset may be in a file too broken to tell its id
            hint += _reason(lang, "unread", reason=catalog.unread[0].reason)
        return _reason(lang, "unknown", ruleset=name, directory=catalog.path or "the run",
                       hint=hint)

    def judge(self, record: Record, runs: Runs) -> Judged:
        """One record judged by its ruleset (duplicates are the caller's to find)."""
        return self._judge(record, runs, False)[0]

    def judge_live(self, record: Record, runs: Runs) -> tuple[Judged, Wake | None]:
        """:meth:`judge`, and when the findings of a judged deal next change by time alone
        (None for a bad record, or a deal whose findings never change by time)."""
        return self._judge(record, runs, True)

    def _judge(self, record: Record, runs: Runs, live: bool) -> tuple[Judged, Wake | None]:
        if record.error is not None and not self.catalog.single:
            # Unreadable: nothing names a ruleset, so no ruleset's evaluator can speak for it.
            return Judged(record.origin, None, None, [self.unjudged(
                runs, record.origin, record.deal, None,
                record.said(runs.lang) or record.error)]), None
        evaluator = self.evaluator_for(record.data, runs.lang)
        if isinstance(evaluator, str):
            return Judged(record.origin, None, None, [self.unjudged(
                runs, record.origin, record.deal, self.name_of(record.data), evaluator,
                self.pointer(record.data))]), None
        run = runs.of(evaluator)
        wake = None
        try:
            if live:
                deal, found, wake = evaluator.outcome_and_change(record, run)
            else:
                deal, found = evaluator.outcome(record, run)
        except Exception as err:  # one record's failure must not end the run
            return failed(evaluator, run, record, err), None
        return Judged(record.origin, evaluator.compiled.id, deal, found), wake

    def duplicate(self, runs: Runs, ruleset: str, origin: str, deal: str) -> Finding:
        """The ``bad-record`` of a record whose deal came earlier under the same ruleset."""
        evaluator = self.evaluators[ruleset]
        return evaluator.duplicate(runs.of(evaluator), Record(origin), deal)

    def unjudged(self, runs: Runs, origin: str, deal: str | None, ruleset: str | None,
                 reason: str, path: str = "") -> Finding:
        """The ``bad-record`` finding for a record no ruleset can judge (stamped with the
        ruleset it named, if any, and dated at the run's ``now`` as given)."""
        return bad_record(ruleset or "", runs.now, origin, deal, reason, runs.lang, path)


def judge_records(judge: Judge, records: Iterable[Record], runs: Runs) -> Iterator[Judged]:
    """Every record judged in order, a (ruleset, deal id) seen before as a ``bad-record``: the
    stream's rules one record at a time, for callers that want findings, not JSON."""
    seen = DealIds()
    for record in records:
        judged = judge.judge(record, runs)
        ruleset, deal = judged.ruleset, judged.deal
        if deal is not None and ruleset is not None and not seen.first(ruleset, deal):
            judged = Judged(judged.origin, None, None,
                            [judge.duplicate(runs, ruleset, judged.origin, deal)])
        yield judged


def failed(evaluator: Evaluator, run: Run, record: Record, err: Exception) -> Judged:
    """The ``bad-record`` of a record whose evaluation raised ``err``, naming the error."""
    deal = record.deal if record.deal is not None else _deal_id(record.data)
    reason = i18n.render("bad-record.failed", {"error": err}, run.lang)
    finding = evaluator.bad_record(run, record.origin, deal, reason)
    return Judged(record.origin, evaluator.compiled.id, None, [finding], err)


def schedule_problem(compiled: CompiledRuleset, now: datetime,
                     lang: str = i18n.DEFAULT) -> str | None:
    """Why ``compiled`` cannot be evaluated at ``now`` — its schedule has no run after it
    within the years searched — or None when it can."""
    schedule = compiled.schedule
    if schedule is None:
        return None
    try:
        schedule.next_run(now)
    except NoRunError:
        return i18n.render("schedule.no-run", {
            "ruleset": compiled.id, "now": now.isoformat(), "expr": schedule.expr,
            "years": SEARCH_YEARS}, lang)
    return None


def runnable(catalog: Catalog, now: datetime) -> Catalog:
    """``catalog`` less the rulesets that cannot be evaluated at ``now`` (see
    :func:`schedule_problem`): each becomes an unusable file, with why, so a record naming it
    is a bad record and the others are judged as usual."""
    refused = {rid: reason for rid, compiled in catalog.rulesets.items()
               if (reason := schedule_problem(compiled, now, catalog.lang)) is not None}
    if not refused:
        return catalog
    broken = dict(catalog.broken)
    problems = list(catalog.problems)
    for rid, reason in refused.items():
        file = catalog.files[rid]
        failure = Unusable(file, f"{file}: {reason}")
        problems.append(failure)
        for name in (rid, Path(file).stem):
            broken.setdefault(name, failure)
    return replace(catalog, rulesets={k: v for k, v in catalog.rulesets.items()
                                      if k not in refused},
                   files={k: v for k, v in catalog.files.items() if k not in refused},
                   broken=broken, problems=tuple(problems))


def _deal_id(data: object) -> str | None:
    ident = data.get("id") if isinstance(data, Mapping) else None
    return str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else None


def _reason(lang: str, kind: str, **args: object) -> str:
    return i18n.render(f"tenant.{kind}", args, lang)


__all__ = ["RULESET_KEY", "Judge", "Judged", "Runs", "failed", "judge_records", "runnable",
           "schedule_problem"]
