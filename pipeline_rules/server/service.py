"""What the endpoints do, as plain functions of a ruleset version and parsed input (no HTTP).

Kept apart from the web layer so the time spent deciding can be measured against the time spent
serving (benchmarks/bench_server.py), and so the answers are the library's, unchanged.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import DealError, Record
from pipeline_rules.evaluate import rebase
from pipeline_rules.evaluate.judge import Runs, judge_records
from pipeline_rules.server.logs import event
from pipeline_rules.server.registry import Version
from pipeline_rules.time.now import parse_now

#: What the library raises on data it did not foresee (a date at the edge of the calendar
#: overflows when shifted to UTC): a bad deal for a check of a move (evaluating makes any
#: failure on one deal its ``bad-record``).
DATA_ERRORS = (ArithmeticError, ValueError, TypeError)

T = TypeVar("T")


@dataclass(frozen=True)
class Evaluation:
    """The findings of a request (JSON-ready, in input order) and their count per code."""

    findings: list[dict[str, Any]]
    summary: dict[str, int]


def evaluation_time(text: str | None, version: Version) -> datetime:
    """The request's ``now`` (no offset: the ruleset's zone), or the current time; raise
    :class:`~pipeline_rules.time.now.NowError` for a time the command line would refuse."""
    return parse_now(text, version.compiled.zone, "/now")


def evaluate(version: Version, items: Sequence[tuple[str, object]], now: datetime,
             lang: str, between: Callable[[], None] | None = None) -> Evaluation:
    """Evaluate ``(origin, deal data)`` items as ``pipeline-rules evaluate`` does a file.

    A bad item becomes a ``bad-record`` finding whose ``record`` is its origin (a JSON pointer
    into the request body), and a repeated deal id is a bad record too, as on the command line;
    so is a deal the library fails on, which is logged as the library's bug. ``between`` is
    called before each deal: it may raise to stop the evaluation (the request was answered or
    its client left).
    """
    findings: list[dict[str, Any]] = []
    codes: Counter[str] = Counter()
    records = (Record(origin, data) for origin, data in _paced(items, between))
    for judged in judge_records(version.judge, records, Runs(now, lang)):
        if judged.error is not None:
            _log_failure(version, judged.origin, judged.error)
        for finding in judged.findings:
            findings.append(finding.to_dict())
            codes[finding.code] += 1
    return Evaluation(findings, dict(codes))


def _paced(items: Iterable[T], between: Callable[[], None] | None) -> Iterator[T]:
    for item in items:
        if between is not None:
            between()
        yield item


def _log_failure(version: Version, origin: str, err: Exception) -> None:
    frame = traceback.extract_tb(err.__traceback__)[-1]
    # The error's message may quote the deal; the log gets only its type and where it arose.
    event("deal-not-evaluated", logging.ERROR, ruleset=version.id, record=origin,
          error=type(err).__name__, at=f"{frame.filename}:{frame.lineno}")


def check_transition(version: Version, data: object, to: str, lang: str) -> dict[str, Any]:
    """The decision on moving a deal (JSON-shaped) to ``to``; raise DealError for a bad deal."""
    # A move made now is judged by the version in force now.
    in_force = version.in_force(datetime.now(UTC))
    try:
        deal = parse_deal(data, in_force.compiled.zone)
        decision = in_force.machine.check(deal, to)
    except DealError:
        raise
    except DATA_ERRORS as err:
        frame = traceback.extract_tb(err.__traceback__)[-1]
        event("deal-not-judged", logging.ERROR, ruleset=version.id,
              error=type(err).__name__, at=f"{frame.filename}:{frame.lineno}")
        raise DealError(f"cannot be read ({err})") from None
    answer = {"ruleset": version.id, **decision.to_dict(lang)}
    if in_force.compiled.revision is not None:
        answer["version"] = in_force.compiled.revision
    return answer


def rebase_deal(version: Version, data: dict[str, Any], now: datetime,
                lang: str) -> dict[str, Any]:
    """The answer of a re-basing: the deal re-based at ``now`` onto the version then in force,
    and its findings; raise DealError for a bad deal."""
    try:
        rebased = rebase(version.evaluator, data, now, lang)
    except DealError:
        raise
    except DATA_ERRORS as err:
        frame = traceback.extract_tb(err.__traceback__)[-1]
        event("deal-not-rebased", logging.ERROR, ruleset=version.id,
              error=type(err).__name__, at=f"{frame.filename}:{frame.lineno}")
        raise DealError(f"cannot be read ({err})") from None
    findings = [finding.to_dict() for finding in rebased.findings]
    return {"ruleset": version.id, "version": rebased.version,
            "effective": rebased.effective.isoformat() if rebased.effective else None,
            "deal": rebased.deal, "findings": findings,
            "summary": dict(Counter(finding["code"] for finding in findings))}


__all__ = ["DealError", "Evaluation", "check_transition", "evaluate", "evaluation_time",
           "rebase_deal"]
