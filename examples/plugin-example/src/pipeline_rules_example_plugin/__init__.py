"""An example pipeline-rules plugin: one of each kind (check, condition, action, sink)."""

from __future__ import annotations

import json
import urllib.request
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


class SlackSink:
    """A sink for the live runtime (`--sink plugin:slack:URL`): each delivery becomes a message
    to a Slack incoming webhook; a retraction says the alert no longer holds."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("give the incoming webhook's URL: plugin:slack:https://hooks.slack"
                             ".com/services/...")
        self.url, self.timeout = url, timeout

    def send(self, payload: str) -> None:
        """Post one delivery; raise (the runtime retries later) unless Slack answers 2xx."""
        delivery = json.loads(payload)
        alert = delivery["alert"]
        text = f"*{alert['code']}* on deal `{delivery['deal']}`: {alert.get('message', '')}"
        if delivery["event"] == "retracted":
            text = f"No longer holds: ~{text}~"
        request = urllib.request.Request(
            self.url, json.dumps({"text": text}).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json",
                     "Idempotency-Key": f"{delivery['key']}:{delivery['event']}"})
        # urlopen raises for a non-2xx answer, a refused connection or the timeout.
        with urllib.request.urlopen(request, timeout=self.timeout):
            pass
