"""Running a ruleset's plugins inside an evaluation, each one fenced off from the others.

Check plugins add findings for a deal; action plugins add details to the actions sent on their
channel. A plugin that raises becomes one ``plugin-error`` finding against it (rule = the
plugin's name) and the evaluation goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import ACTION, Finding, action, violation
from pipeline_rules.evaluate.wake import Wake, earliest


class PluginContext:
    """What a check plugin sees besides the deal, and how it makes findings."""

    def __init__(self, run: Run, plugin: str, deal: Deal) -> None:
        self._run = run
        self._deal = deal
        self.plugin = plugin

    @property
    def now(self) -> datetime:
        """The evaluation time (UTC)."""
        return self._run.now

    @property
    def ruleset(self) -> Any:
        """The compiled ruleset (its ``ruleset`` model, ``zone``, ``graph``, calendars...)."""
        return self._run.compiled

    @property
    def ruleset_id(self) -> str:
        """The id of the ruleset being evaluated."""
        return self._run.ruleset_id

    @property
    def lang(self) -> str:
        """The language messages should be in (``en`` or ``ru``)."""
        return self._run.lang

    def is_open(self) -> bool:
        """Whether the deal is neither won nor lost."""
        return self._deal.stage not in self._run.compiled.graph.terminal

    def violation(self, code: str, message: str, severity: str = "warning",
                  at: datetime | None = None, **details: Any) -> Finding:
        """A violation of this plugin about the deal (dated now unless ``at`` is given)."""
        finding = violation(self._run.ruleset_id, "plugin-error", self.plugin, self._deal.id,
                            self._deal.stage, self._run.local(at or self._run.now), message,
                            **details)
        return dataclasses.replace(finding, code=code, severity=severity)

    def action(self, code: str, message: str, due: datetime, notify: str | None = None,
               channel: str | None = None, **details: Any) -> Finding:
        """An action of this plugin about the deal, keyed like every action."""
        return action(self._run.ruleset_id, code, self.plugin, self._deal.id, self._deal.stage,
                      self._run.local(due), message, notify, channel, **details)


def _failure(run: Run, plugin: str, deal: Deal, err: Exception) -> Finding:
    return run.violation("plugin-error", plugin, deal.id, deal.stage, run.now,
                         {"plugin": plugin, "error": f"{type(err).__name__}: {err}"},
                         error=type(err).__name__)


def run_checks(deal: Deal, run: Run) -> Iterator[Finding]:
    """Findings of the ruleset's check plugins for one deal."""
    for name, check in run.compiled.plugins.checks.items():
        context = PluginContext(run, name, deal)
        try:
            found = list(check(deal, context))
            if not all(isinstance(f, Finding) for f in found):
                raise TypeError("a check plugin must yield Finding objects "
                                "(made with context.violation / context.action)")
        except Exception as err:
            yield _failure(run, name, deal, err)
            continue
        yield from found


def plugin_change(deal: Deal, run: Run, recheck: timedelta) -> Wake | None:
    """When the check plugins' findings may next change: what a plugin's ``next_change(deal,
    context)`` answers (exact), else ``recheck`` from now (a safe bound only if the plugin's
    findings hold that long; a plugin cannot be seen into)."""
    candidates = []
    for name, check in run.compiled.plugins.checks.items():
        answer = getattr(check, "next_change", None)
        if answer is None:
            candidates.append(Wake(run.now + recheck, exact=False))
            continue
        try:
            at = answer(deal, PluginContext(run, name, deal))
        except Exception:  # a failing plugin is reported by its check; look again soon
            candidates.append(Wake(run.now + recheck, exact=False))
            continue
        if isinstance(at, datetime) and at.tzinfo is not None:
            candidates.append(Wake(max(at, run.now + timedelta(microseconds=1))))
    return earliest(candidates)


def enrich(findings: list[Finding], deal: Deal, run: Run) -> list[Finding]:
    """Actions on a plugin's channel, with the details the plugin adds under its name."""
    enrichers = run.compiled.plugins.actions
    if not enrichers:
        return findings
    result: list[Finding] = []
    for finding in findings:
        enricher = enrichers.get(finding.channel or "") if finding.kind == ACTION else None
        if enricher is None:
            result.append(finding)
            continue
        name = finding.channel or ""
        try:
            extra = dict(enricher(finding, deal, PluginContext(run, name, deal)))
        except Exception as err:
            result += [finding, _failure(run, name, deal, err)]
            continue
        result.append(dataclasses.replace(finding, details={**finding.details, name: extra}))
    return result
