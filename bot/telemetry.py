"""What a process tells Prometheus at `/metrics`: one registry, built once at start.

Counters are bumped where the thing happens (a Web API call in the Slack gateway, a ping
claimed by the scheduler); what the database knows (the outbox backlog, open escalations) is
read when Prometheus scrapes, so every process kind reports the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.kinds import OPEN
from storage.db import Database

log = logging.getLogger(__name__)


class _FromDatabase(Collector):
    """The outbox backlog and open escalations, read at scrape time."""

    def __init__(self, db: Database, clock: Callable[[], datetime], severities: list[str]):
        self.db = db
        self.clock = clock
        self.severities = severities

    def collect(self) -> Iterator[Any]:
        pending = GaugeMetricFamily(
            "escbot_outbox_pending", "Slack side effects recorded and not yet done"
        )
        oldest = GaugeMetricFamily(
            "escbot_outbox_oldest_pending_seconds",
            "Age of the oldest Slack side effect not yet done (0 when none)",
        )
        open_ = GaugeMetricFamily(
            "escbot_escalations_open", "Escalations not resolved, by severity", labels=["severity"]
        )
        try:
            with self.db.uow() as uow:
                count, first = uow.repos.outbox.backlog()
                by_severity = uow.repos.escalations.open_by_severity(OPEN)
        except Exception as exc:  # a scrape during an outage reports what it can
            log.warning("metrics: the database did not answer: %s", exc)
            return
        pending.add_metric([], count or 0)
        age = (self.clock() - first).total_seconds() if first is not None else 0.0
        oldest.add_metric([], max(age, 0.0))
        for severity in dict.fromkeys([*self.severities, *by_severity]):
            open_.add_metric([severity], by_severity.get(severity, 0))
        yield pending
        yield oldest
        yield open_


class Telemetry:
    """The process's Prometheus registry and the counters the product bumps."""

    def __init__(
        self,
        db: Database | None = None,
        clock: Callable[[], datetime] | None = None,
        severities: list[str] | None = None,
    ):
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.slack_calls = Counter(
            "escbot_slack_calls",
            "Web API calls by method and outcome (ok, ratelimited, error, unreachable)",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.pings = Counter(
            "escbot_pings",
            "Pings claimed by kind and outcome (sent, skipped, empty, taken)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.last_pass = Gauge(
            "escbot_scheduler_last_pass_timestamp_seconds",
            "When this process's scheduler last finished a pass (0: it runs none)",
            registry=self.registry,
        )
        if db is not None and clock is not None:
            self.registry.register(_FromDatabase(db, clock, severities or []))

    def slack_call(self, method: str, outcome: str) -> None:
        """Count one Web API call's outcome."""
        self.slack_calls.labels(method, outcome).inc()

    def pinged(self, keys: list[str], outcome: str) -> None:
        """Count claimed pings by their kind (the first part of the key)."""
        for key in keys:
            self.pings.labels(key.partition(":")[0], outcome).inc()

    def render(self) -> bytes:
        """Return the exposition text of every metric."""
        return bytes(generate_latest(self.registry))
