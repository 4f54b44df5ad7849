"""Plugins: checks, condition operators and action enrichers from installed packages.

A package extends pipeline-rules through entry points in three groups:

* ``pipeline_rules.checks`` — ``check(deal, context) -> Iterable[Finding]``: more findings per
  deal; ``context`` is a :class:`CheckContext` with the time, the ruleset and finding builders;
* ``pipeline_rules.conditions`` — ``operator(value, argument) -> bool``: a new operator for
  ``when``/``unless`` maps, named by the entry point (``{amount: {divisible_by: 1000}}``);
  ``value`` is the deal field (None when missing);
* ``pipeline_rules.actions`` — ``enrich(finding, deal, context) -> Mapping``: extra details for
  every action whose ``channel`` is the entry point's name (a Slack payload, a mail body...);
* ``pipeline_rules.sinks`` — ``make(argument) -> sink``: where the live runtime delivers alerts
  (``--sink plugin:NAME[:ARGUMENT]``); the sink's ``send(payload)`` raises when it could not.

A ruleset enables the first three by entry-point name (``plugins: [big-deals, divisible_by]``);
nothing else is loaded, and nothing is ever imported because a YAML file named a module path.
A plugin that raises does not stop an evaluation: a check or enricher becomes a
``plugin-error`` finding against the plugin, a condition counts as not met.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipeline_rules.deals.model import Deal
    from pipeline_rules.evaluate.findings import Finding

CHECKS = "pipeline_rules.checks"
CONDITIONS = "pipeline_rules.conditions"
ACTIONS = "pipeline_rules.actions"
GROUPS = (CHECKS, CONDITIONS, ACTIONS)
#: Sinks are chosen on the command line, not by a ruleset, so they are not in GROUPS.
SINKS = "pipeline_rules.sinks"


class PluginError(ValueError):
    """A plugin named by a ruleset that is not installed, or that cannot be loaded."""


class CheckContext(Protocol):
    """What a check plugin sees besides the deal."""

    @property
    def now(self) -> datetime:
        """The evaluation time."""
        ...

    @property
    def ruleset_id(self) -> str:
        """The id of the ruleset being evaluated."""
        ...

    def violation(self, code: str, rule: str | None, deal: str | None, stage: str | None,
                  at: datetime, message_args: dict[str, Any], template: str | None = None,
                  **details: Any) -> Finding:
        """Build a violation (message from a catalog key, or ``template`` as the text)."""
        ...


CheckPlugin = Callable[["Deal", Any], Iterable["Finding"]]
ConditionPlugin = Callable[[object, object], bool]
ActionPlugin = Callable[["Finding", "Deal", Any], Mapping[str, Any]]


@dataclass(frozen=True)
class Plugins:
    """The plugins a ruleset enabled, loaded: name -> callable, per group."""

    checks: Mapping[str, CheckPlugin] = field(default_factory=dict)
    conditions: Mapping[str, ConditionPlugin] = field(default_factory=dict)
    actions: Mapping[str, ActionPlugin] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        """Every loaded plugin's name."""
        return frozenset(self.checks) | frozenset(self.conditions) | frozenset(self.actions)


NO_PLUGINS = Plugins()


def installed(group: str) -> dict[str, EntryPoint]:
    """The entry points installed in one group, by name."""
    return {ep.name: ep for ep in entry_points(group=group)}


def installed_names() -> frozenset[str]:
    """Names of every installed plugin, in any group."""
    return frozenset(name for group in GROUPS for name in installed(group))


def load_sink_factory(name: str) -> Callable[[str], Any]:
    """The factory of the sink plugin ``name``; raise :class:`PluginError` if it is missing."""
    available = installed(SINKS)
    if not name:
        raise PluginError(f"--sink plugin: needs the plugin's name, as in plugin:NAME "
                          f"(installed: {', '.join(sorted(available)) or 'none'})")
    if name not in available:
        raise PluginError(f"sink plugin '{name}' is not installed (installed: "
                          f"{', '.join(sorted(available)) or 'none'})")
    try:
        factory: Callable[[str], Any] = available[name].load()
    except Exception as err:  # a broken package must not take the command down
        raise PluginError(f"plugin '{name}' ({SINKS}) failed to load: "
                          f"{type(err).__name__}: {err}") from err
    return factory


def load_plugins(names: Sequence[str]) -> Plugins:
    """Load the entry points a ruleset enabled; raise :class:`PluginError` for a missing one."""
    if not names:
        return NO_PLUGINS
    found: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
    for group in GROUPS:
        available = installed(group)
        for name in names:
            if name in available:
                try:
                    found[group][name] = available[name].load()
                except Exception as err:  # a broken package must not take the loader down
                    raise PluginError(f"plugin '{name}' ({group}) failed to load: "
                                      f"{type(err).__name__}: {err}") from err
    loaded = {name for group in found.values() for name in group}
    missing = [n for n in names if n not in loaded]
    if missing:
        raise PluginError(f"plugin '{missing[0]}' is not installed (installed: "
                          f"{', '.join(sorted(installed_names())) or 'none'})")
    return Plugins(found[CHECKS], found[CONDITIONS], found[ACTIONS])
