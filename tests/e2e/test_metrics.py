"""`/metrics` over real HTTP: the named product metrics, with the values the work implies."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from schedules.scheduler import Scheduler
from tests.support.escalations import raise_esc
from tests.support.world import World


def scrape(world: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{world.bot.server.url}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_calls_pings_backlog_and_open_escalations(world: World):
    world.emulator.inject_fault("pins.add", status=429, retry_after=0, count=1)
    raise_esc(world, "SEV1 #election Deepfake of a candidate")
    raise_esc(world, "SEV3 #ads Counterfeit shop")
    svc = world.bot.services
    svc.outbox.submit = lambda key: None  # type: ignore[method-assign]  # leave the pages pending
    Scheduler(svc).run_due()
    got = scrape(world)
    calls = "escbot_slack_calls_total"
    assert got[(calls, (("method", "conversations.create"), ("outcome", "ok")))] == 2
    assert got[(calls, (("method", "pins.add"), ("outcome", "ratelimited")))] == 1
    assert got[("escbot_pings_total", (("kind", "page"), ("outcome", "sent")))] == 2
    assert got[("escbot_escalations_open", (("severity", "SEV1"),))] == 1
    assert got[("escbot_escalations_open", (("severity", "SEV3"),))] == 1
    assert got[("escbot_escalations_open", (("severity", "SEV2"),))] == 0
    assert got[("escbot_outbox_pending", ())] >= 2  # the two pages' DMs, held back above
    assert got[("escbot_outbox_oldest_pending_seconds", ())] >= 0
    assert got[("escbot_scheduler_last_pass_timestamp_seconds", ())] > 0
    assert ("process_cpu_seconds_total", ()) in got
