"""Stage-entry and end actions: what entering a stage, winning or losing makes happen.

A stage's ``on_enter`` (and ``end.on_won`` / ``end.on_lost`` for a deal that reached a won or
lost stage) lists actions, each emitted once per entry, due at the entry:

* ``create-task`` — a task for the owner, due a set time after the entry (on the ruleset's
  calendar for business time);
* ``assign`` — a fixed person, or a member of a team chosen round-robin: by a hash of the deal's
  id and the entry instant (SHA-256, not Python's per-process ``hash``), so the same deal
  entering at the same moment gets the same owner in every run, process and ``--jobs`` setting,
  and entries spread evenly over the members; or least-loaded: the member with the smallest
  load in the lookup file's load column (as the CRM counted at the export, so the same for
  every deal of a run), ties settled the round-robin way — not counts of the run's deals,
  which a run of a slice, read once in batches, cannot know (docs/evaluate.md says why);
* ``notify`` — roles resolved as every routed alert (:mod:`.routing`).

Each is keyed by the ruleset, the rule (``on_enter.<stage>.<i>``, ``end.on_won.<i>``), the
deal, the action and the entry instant. An entry is acted on only while it is recent: within
``routing.entry_window`` of ``now``, by default 1 day or the time since the previous scheduled
run when that is longer (a weekend without runs loses nothing); the CRM delivers each key once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.plans import EntryPlan
from pipeline_rules.evaluate.routing import notify
from pipeline_rules.evaluate.wake import TICK, Wake, bisect
from pipeline_rules.time.schedules import NoRunError
from pipeline_rules.time.working import shift


def stage_start(deal: Deal) -> datetime | None:
    """The deal's last entry into its current stage."""
    for entry in reversed(deal.history):
        if entry.stage == deal.stage:
            return entry.at
    return None


def pick(members: tuple[str, ...], deal: str, entered: datetime) -> str:
    """The team member a round-robin assignment gives this entry (the same in every run)."""
    text = f"{deal}\x1f{entered.astimezone(UTC).isoformat()}"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return members[int.from_bytes(digest[:8], "big") % len(members)]


def least_loaded(members: tuple[str, ...], loads: Mapping[str, float], deal: str,
                 entered: datetime) -> str:
    """The member with the smallest load (a member the lookup file does not list counts as
    0); among equals, the one round-robin would pick among them."""
    lowest = min(loads.get(m, 0.0) for m in members)
    return pick(tuple(m for m in members if loads.get(m, 0.0) == lowest), deal, entered)


def check_entry(deal: Deal, run: Run) -> Iterator[Finding]:
    """The actions of the deal's latest entry into its stage, while that entry is recent."""
    plans = run.plans.entries.get(deal.stage or "")
    if not plans:
        return
    entered = stage_start(deal)
    if entered is None or entered > run.now or entered < run.entry_cutoff():
        return
    for plan in plans:
        yield from _act(deal, run, plan, entered)


def next_change(deal: Deal, run: Run) -> Wake | None:
    """When this deal's entry actions next change by time alone: an entry recorded ahead of
    ``now`` is reached, or the entry window closes on the current entry (both exact)."""
    if not run.plans.entries.get(deal.stage or ""):
        return None
    entered = stage_start(deal)
    if entered is None:
        return None
    if entered > run.now:
        return Wake(entered)
    if entered < run.entry_cutoff():
        return None  # the window has closed, and it never opens again
    leaves = _window_closes(run, entered)
    return Wake(leaves) if leaves is not None else None


def _window_closes(run: Run, entered: datetime) -> datetime | None:
    """The first instant whose entry cutoff lies past ``entered`` (None: none ahead)."""
    def gone(t: datetime) -> bool:
        return run.entry_cutoff_at(t) > entered

    window = run.entry_window()
    if window is not None:
        calendar, duration = window
        guess = shift(calendar, entered, duration) + TICK
    else:
        guess = entered + timedelta(days=1) + TICK
        schedule = run.compiled.schedule
        if schedule is not None:
            try:
                guess = max(guess, schedule.next_run(entered) + TICK)
            except NoRunError:
                return None  # no scheduled run after the entry: the window never closes
    return _first(gone, run.now, guess)


def _first(holds: Callable[[datetime], bool], low: datetime, guess: datetime
           ) -> datetime | None:
    """The first instant after ``low`` at which ``holds`` (false at ``low``, and true from
    some instant on) is true: ``guess`` when it is that instant, else by bisection (a business
    window has no closed inverse on every calendar); None when it is not true within about a
    century."""
    if guess > low + TICK and holds(guess) and not holds(guess - TICK):
        return guess
    high, step = max(guess, low + TICK), timedelta(hours=1)
    for _ in range(20):  # up to about a century ahead
        if holds(high):
            break
        high, step = high + step, step * 2
    else:
        return None
    return bisect(holds, low, high)


def _act(deal: Deal, run: Run, plan: EntryPlan, entered: datetime) -> Iterator[Finding]:
    entry = plan.action
    args = {"stage": deal.stage, "entered": run.time(entered)}
    if entry.kind == "create_task":
        due = entered if plan.due is None else shift(plan.calendar, entered, plan.due)
        yield run.action("create-task", plan.rule, deal.id, deal.stage, entered,
                         "finding.create-task",
                         {**args, "title": entry.title, "task_due": run.time(due)},
                         "owner", entry.channel, title=entry.title, task_due=run.iso(due),
                         recipient=deal.owner, entered=run.iso(entered))
    elif entry.kind == "assign":
        members = plan.members
        if entry.team is not None and members:
            least = entry.strategy == "least-loaded"
            person = least_loaded(members, run.compiled.directory.loads, deal.id, entered) \
                if least else pick(members, deal.id, entered)
            yield run.action("assign", plan.rule, deal.id, deal.stage, entered,
                             "finding.assign-least" if least else "finding.assign-team",
                             {**args, "assignee": person, "team": entry.team.name},
                             person, entry.channel, assignee=person, team=entry.team.name,
                             strategy=entry.strategy, entered=run.iso(entered))
        elif entry.assignee is not None:
            yield run.action("assign", plan.rule, deal.id, deal.stage, entered,
                             "finding.assign", {**args, "assignee": entry.assignee},
                             entry.assignee, entry.channel, assignee=entry.assignee,
                             entered=run.iso(entered))
    else:
        yield from notify(run, deal, (r.name for r in entry.roles), code="stage-entry",
                          rule=plan.rule, due=entered, channel=entry.channel,
                          entered=run.iso(entered))
