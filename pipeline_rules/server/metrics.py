"""Prometheus metrics of one server process: requests and latency per endpoint and status,
findings per ruleset and code, decisions, and ruleset reloads.

Each app gets its own collector registry, so several apps in one process (tests) do not share
counts; with ``--workers N`` each worker counts its own requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

#: Latency buckets in seconds: fine below 10 ms, where check-transition answers.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
           5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Delivery delay buckets in seconds: from the scheduler's one-second round to retries backing
#: off for an hour.
DELAY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)


class Metrics:
    """The counters and histograms the server updates, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("endpoint", "method", "status")
        self.requests = Counter("pipeline_rules_http_requests", "HTTP requests answered.",
                                labels, registry=self.registry)
        self.latency = Histogram("pipeline_rules_http_request_duration_seconds",
                                 "Time from receiving a request to the end of its response.",
                                 labels, buckets=BUCKETS, registry=self.registry)
        self.findings = Counter("pipeline_rules_findings", "Findings returned by /v1/evaluate.",
                                ("ruleset", "code"), registry=self.registry)
        self.deals = Counter("pipeline_rules_deals_evaluated", "Deals evaluated.", ("ruleset",),
                             registry=self.registry)
        self.decisions = Counter("pipeline_rules_transition_checks",
                                 "Decisions returned by /v1/check-transition.",
                                 ("ruleset", "allowed"), registry=self.registry)
        self.reloads = Counter("pipeline_rules_ruleset_reloads",
                               "Ruleset file events seen by the reloader.", ("event",),
                               registry=self.registry)
        self.delivery_delay = Histogram(
            "pipeline_rules_runtime_delivery_delay_seconds",
            "Time from a delivery being queued (its alert falling due, or being resolved) to "
            "its sink taking it, retries included.", ("event",), buckets=DELAY_BUCKETS,
            registry=self.registry)

    def watch_compute(self, running: Callable[[], float], held: Callable[[], float]) -> None:
        """Publish the compute threads' load, read when scraped."""
        Gauge("pipeline_rules_compute_running", "Requests computing on a thread now.",
              registry=self.registry).set_function(running)
        Gauge("pipeline_rules_compute_held", "Requests computing or waiting for a thread.",
              registry=self.registry).set_function(held)

    def request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (endpoint, method, str(status))
        self.requests.labels(*key).inc()
        self.latency.labels(*key).observe(seconds)

    def evaluated(self, ruleset: str, deals: int, codes: Mapping[str, int]) -> None:
        """Count one evaluation's deals and findings."""
        self.deals.labels(ruleset).inc(deals)
        for code, count in codes.items():
            self.findings.labels(ruleset, code).inc(count)

    def delivered(self, event: str, seconds: float) -> None:
        """Count one delivery the sink took, ``seconds`` after it was queued."""
        self.delivery_delay.labels(event).observe(seconds)

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return _generate_latest(self.registry)
