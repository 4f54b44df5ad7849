"""An example pipeline-rules plugin: one of each kind (check, condition, action)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.extensions import PluginContext
from pipeline_rules.evaluate.findings import Finding

BIG = 1_000_000


def big_deals_need_a_manager(deal: Deal, context: PluginContext) -> Iterator[Finding]:
    """Open deals of 1,000,000 or more must have a manager to escalate to."""
    amount = deal.fields.get("amount")
    if context.is_open() and isinstance(amount, int | float) and amount >= BIG \
            and not deal.manager:
        message = (f"deal of {amount:,} has no manager to escalate to" if context.lang != "ru"
                   else f"у сделки на {amount:,} нет руководителя для эскалации")
        yield context.violation("big-deal-unassigned", message, severity="error",
                                amount=amount)


def amounts_are_numbers(deal: Deal, context: PluginContext) -> Iterator[Finding]:
    """Amounts must be numbers; this one raises on text, as a careless plugin would."""
    amount = deal.fields.get("amount")
    if amount is not None:
        float(amount)  # ValueError on "a lot": the evaluator reports it as a plugin-error
    return iter(())


def divisible_by(value: object, argument: object) -> bool:
    """Condition operator: the field is a whole multiple of the argument."""
    if not isinstance(value, int | float) or not isinstance(argument, int | float) or not argument:
        return False
    return value % argument == 0


def slack_message(finding: Finding, deal: Deal, context: PluginContext) -> Mapping[str, Any]:
    """A Slack message payload for an action sent on the `slack` channel."""
    who = {"manager": deal.manager, "owner": deal.owner}.get(finding.notify or "")
    mention = f"<@{who}> " if who else ""
    return {"text": f"{mention}{finding.message}",
            "blocks": [{"type": "section",
                        "text": {"type": "mrkdwn",
                                 "text": f"*{finding.code}* on deal `{deal.id}` "
                                         f"({deal.stage}): {finding.message}"}}]}
