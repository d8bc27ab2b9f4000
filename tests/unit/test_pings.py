"""When each ping falls due: pure planning over rows and the example config, no database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot import blocks, kinds, text
from bot.config import TeamConfig
from bot.pings import plan as pings
from bot.rotations import OnCall

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # a Wednesday


def services(config: TeamConfig) -> Any:
    """What the planners use of the services: the config and the on-call engine."""
    return SimpleNamespace(config=config, oncall=OnCall(config))


def esc(
    config: TeamConfig,
    number: int = 1,
    severity: str = "SEV1",
    *,
    created: datetime = T0,
    status: str = "open",
    acknowledged_at: datetime | None = None,
    last_update_at: datetime | None = None,
    owner: str = "U0ANA00001",
) -> SimpleNamespace:
    return SimpleNamespace(
        id=number,
        severity=severity,
        status=status,
        owner=owner,
        created_at=created,
        ack_deadline=created + config.severity(severity).ack_within,
        acknowledged_at=acknowledged_at,
        last_update_at=last_update_at,
    )


def snapshot(now: datetime, escalations=(), signoffs=(), overrides=None) -> pings.Snapshot:
    """The rows the repository would return for these escalations and sign-offs."""
    s = pings.seconds
    return pings.Snapshot(
        now,
        [
            (e.id, e.severity, s(e.last_update_at or e.created_at))
            for e in escalations
            if e.status in kinds.OPEN
        ],
        [
            (e.id, e.severity, s(e.created_at), s(e.ack_deadline))
            for e in escalations
            if e.status in kinds.PAGEABLE and e.acknowledged_at is None
        ],
        [(o.id, o.escalation_id, s(o.requested_at)) for o in signoffs],
        overrides or {},
    )


def plan(finder, config, now, known=None, **rows) -> pings.Found:
    return finder(services(config), snapshot(now, **rows), known or pings.Known(), now)


def split(found: pings.Found) -> tuple[list[str], list[str]]:
    sent = [d.key for d in found.dues if d.send]
    skipped = sorted(d.key for d in found.dues if not d.send)
    return sent, skipped


# -- pages: SEV1 acks within 5m; three steps, repeated once: six pages ------------------------


@pytest.mark.parametrize(
    ("minutes", "send", "stale", "next_in"),
    [
        # Nothing claimed yet (the bot down since creation): every step that fell due is sent,
        # the same step of a later round superseding an unsent one of an earlier round.
        (0, ["page:1:0:0"], [], 5),
        (4, ["page:1:0:0"], [], 5),
        (5, ["page:1:0:0", "page:1:0:1"], [], 10),
        (12, ["page:1:0:0", "page:1:0:1", "page:1:0:2"], [], 15),
        (15, ["page:1:0:1", "page:1:0:2", "page:1:1:0"], ["page:1:0:0"], 20),  # wraps round
        (
            25,
            ["page:1:1:0", "page:1:1:1", "page:1:1:2"],
            ["page:1:0:0", "page:1:0:1", "page:1:0:2"],
            None,
        ),
        (  # days later, still unacknowledged: the pages are not stale
            60 * 24 * 3,
            ["page:1:1:0", "page:1:1:1", "page:1:1:2"],
            ["page:1:0:0", "page:1:0:1", "page:1:0:2"],
            None,
        ),
    ],
)
def test_pages_walk_the_policy_then_repeat(config, minutes, send, stale, next_in):
    now = T0 + timedelta(minutes=minutes)
    found = plan(pings.due_pages, config, now, escalations=[esc(config)])
    sent, skipped = split(found)
    assert (sorted(sent), skipped) == (send, stale)
    assert found.next_at == (T0 + timedelta(minutes=next_in) if next_in is not None else None)


def test_pages_use_the_severity_ack_window(config):
    # SEV3 acks within 1h: the second step is due an hour after creation, not five minutes.
    row = esc(config, severity="SEV3")
    assert split(plan(pings.due_pages, config, T0 + timedelta(minutes=59), escalations=[row]))[
        0
    ] == ["page:1:0:0"]
    assert split(plan(pings.due_pages, config, T0 + timedelta(hours=1), escalations=[row]))[0] == [
        "page:1:0:1",
        "page:1:0:0",
    ]


@pytest.mark.parametrize(
    "row",
    [
        {"status": "acknowledged", "acknowledged_at": T0 + timedelta(minutes=2)},
        {"status": "resolved"},
        {"status": "open", "acknowledged_at": T0 + timedelta(minutes=2)},
    ],
)
def test_acknowledgement_stops_paging(config, row):
    found = plan(
        pings.due_pages, config, T0 + timedelta(minutes=7), escalations=[esc(config, **row)]
    )
    assert found.dues == [] and found.next_at is None


def test_reopened_unacknowledged_escalation_pages(config):
    row = esc(config, status="reopened")
    assert split(plan(pings.due_pages, config, T0, escalations=[row]))[0] == ["page:1:0:0"]


def test_pages_already_claimed_are_not_offered_again(config):
    known = pings.Known()
    known.add("page:1:0:0", pings.seconds(T0))
    known.add("page:1:0:1", pings.seconds(T0 + timedelta(minutes=5)))
    found = plan(
        pings.due_pages, config, T0 + timedelta(minutes=12), known, escalations=[esc(config)]
    )
    assert split(found) == (["page:1:0:2"], [])
    known.add("page:1:0:2", pings.seconds(T0 + timedelta(minutes=10)))
    found = plan(
        pings.due_pages, config, T0 + timedelta(minutes=13), known, escalations=[esc(config)]
    )
    assert found.dues == [] and found.next_at == T0 + timedelta(minutes=15)


def test_an_escalation_created_in_the_future_is_paged_at_creation(config):
    found = plan(pings.due_pages, config, T0 - timedelta(minutes=1), escalations=[esc(config)])
    assert found.dues == [] and found.next_at == T0


# -- update reminders: SEV2 every 2h without a status update ----------------------------------


def test_update_reminder_due_every_update_every(config):
    row = esc(config, severity="SEV2")
    early = plan(
        pings.due_update_reminders, config, T0 + timedelta(hours=1, minutes=59), escalations=[row]
    )
    assert early.dues == [] and early.next_at == T0 + timedelta(hours=2)
    due = plan(pings.due_update_reminders, config, T0 + timedelta(hours=2), escalations=[row])
    assert split(due) == (["update_reminder:1:20260304T190000Z"], [])
    assert due.next_at == T0 + timedelta(hours=4)
    assert due.dues[0].due_at == T0 + timedelta(hours=2)
    # once claimed, the same moment is not offered again
    known = pings.Known()
    known.remember(due.dues, {due.dues[0].key})
    again = plan(
        pings.due_update_reminders, config, T0 + timedelta(hours=3), known, escalations=[row]
    )
    assert again.dues == [] and again.next_at == T0 + timedelta(hours=4)


def test_update_reminder_counts_from_the_last_update(config):
    row = esc(config, severity="SEV2", last_update_at=T0 + timedelta(hours=3))
    found = plan(pings.due_update_reminders, config, T0 + timedelta(hours=4), escalations=[row])
    assert found.dues == [] and found.next_at == T0 + timedelta(hours=5)


def test_update_reminders_missed_while_down_send_the_latest_once(config):
    row = esc(config, severity="SEV2")
    now = T0 + timedelta(hours=7)
    assert split(plan(pings.due_update_reminders, config, now, escalations=[row])) == (
        ["update_reminder:1:20260304T230000Z"],
        ["update_reminder:1:20260304T190000Z", "update_reminder:1:20260304T210000Z"],
    )
    # What the ledger already holds bounds the stale ones recorded.
    known = pings.Known()
    known.add("update_reminder:1:20260304T190000Z", pings.seconds(T0 + timedelta(hours=2)))
    assert split(plan(pings.due_update_reminders, config, now, known, escalations=[row])) == (
        ["update_reminder:1:20260304T230000Z"],
        ["update_reminder:1:20260304T210000Z"],
    )


def test_acknowledged_escalations_still_get_update_reminders(config):
    row = esc(config, severity="SEV1", status="acknowledged", acknowledged_at=T0)
    found = plan(pings.due_update_reminders, config, T0 + timedelta(minutes=30), escalations=[row])
    assert split(found) == (["update_reminder:1:20260304T173000Z"], [])


# -- sign-off reminders: every 30m while pending ----------------------------------------------


def test_signoff_reminders_every_signoff_remind_every(config):
    signoff = SimpleNamespace(id=7, escalation_id=1, requested_at=T0)
    found = plan(
        pings.due_signoff_reminders, config, T0 + timedelta(minutes=29), signoffs=[signoff]
    )
    assert found.dues == [] and found.next_at == T0 + timedelta(minutes=30)
    found = plan(
        pings.due_signoff_reminders, config, T0 + timedelta(minutes=61), signoffs=[signoff]
    )
    assert split(found) == (
        ["signoff_reminder:7:20260304T180000Z"],
        ["signoff_reminder:7:20260304T173000Z"],
    )
    assert found.next_at == T0 + timedelta(minutes=90)


# -- rotations: the example's primary hands off daily at 09:00 America/Los_Angeles ------------


def simulate(config, start, end, step=timedelta(minutes=5)):
    """Run every finder on a clock stepping through [start, end); return each ping claimed."""
    svc = services(config)
    known = pings.Known()
    ledger: dict[str, tuple[datetime, datetime, bool]] = {}
    now = start
    while now < end:
        snap = snapshot(now)
        dues = []
        for finder in (pings.due_rotation_pings, pings.due_gap_warning, pings.due_digest):
            dues.extend(finder(svc, snap, known, now).dues)
        for due in dues:
            if due.key not in ledger:
                ledger[due.key] = (due.due_at, now, due.send)
        known.remember(dues, set(ledger))
        now += step
    return ledger


def test_dst_week_handoffs_stay_at_nine_local(config):
    # 2026-03-08: Los Angeles springs forward from PST (UTC-8) to PDT (UTC-7).
    start = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    ledger = simulate(config, start, datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    weekday_handoffs = {
        key: (due, sent_at)
        for key, (due, sent_at, send) in ledger.items()
        if key.startswith("handoff:primary:") and send and due >= start
    }
    expected = {
        "handoff:primary:20260305T170000Z": datetime(
            2026, 3, 5, 17, 0, tzinfo=UTC
        ),  # Thu 09:00 PST
        "handoff:primary:20260306T170000Z": datetime(
            2026, 3, 6, 17, 0, tzinfo=UTC
        ),  # Fri 09:00 PST
        "handoff:primary:20260309T160000Z": datetime(
            2026, 3, 9, 16, 0, tzinfo=UTC
        ),  # Mon 09:00 PDT
        "handoff:primary:20260310T160000Z": datetime(
            2026, 3, 10, 16, 0, tzinfo=UTC
        ),  # Tue 09:00 PDT
    }
    for key, instant in expected.items():
        due, sent_at = weekday_handoffs[key]
        assert due == instant and sent_at == instant  # claimed on the pass at the due moment
        local = instant.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
        assert local.time() == time(9, 0)
    # The reminder before each goes 15 minutes ahead, to whoever comes on.
    reminders = {k: v for k, v in ledger.items() if k.startswith("shift_start:primary:")}
    monday = [k for k in reminders if k.endswith(":20260309T160000Z")]
    assert len(monday) == 1
    assert reminders[monday[0]][0] == datetime(2026, 3, 9, 15, 45, tzinfo=UTC)


def test_rotation_pings_missed_while_down(config):
    # Dan covered 10:00-12:00 UTC, then Chi again; back up at 13:00 UTC: the handoff to Dan and
    # his reminder are stale (his cover is over), the handoff back to Chi is still relevant.
    cover = pings.engine.Override(
        "U0DAN00001",
        datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
        id=1,
    )
    now = datetime(2026, 3, 6, 13, 0, tzinfo=UTC)
    snap = snapshot(now, overrides={"primary": [cover]})
    found = pings.due_rotation_pings(services(config), snap, pings.Known(), now)
    primary = {d.key: d.send for d in found.dues if ":primary:" in d.key}
    assert primary == {
        "shift_start:primary:U0CHI00001:20260305T170000Z": False,  # Thursday, cut short by Dan
        "handoff:primary:20260305T170000Z": False,
        "shift_start:primary:U0DAN00001:20260306T100000Z": False,
        "handoff:primary:20260306T100000Z": False,
        "shift_start:primary:U0CHI00001:20260306T120000Z": True,
        "handoff:primary:20260306T120000Z": True,
    }


def test_overrides_hand_off_too(config):
    now = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    override = pings.engine.Override("U0DAN00001", now, now + timedelta(hours=2), id=1)
    snap = snapshot(now, overrides={"primary": [override]})
    found = pings.due_rotation_pings(services(config), snap, pings.Known(), now)
    keys = {d.key for d in found.dues if d.send}
    assert "handoff:primary:20260305T200000Z" in keys
    assert "shift_start:primary:U0DAN00001:20260305T200000Z" in keys
    handoff = next(d for d in found.dues if d.key == "handoff:primary:20260305T200000Z")
    assert (handoff.data["outgoing"], handoff.data["incoming"]) == ("U0CHI00001", "U0DAN00001")
    assert found.next_at == now + timedelta(hours=2) - config.team.remind_before


# -- daily and weekly, 09:00 team time --------------------------------------------------------


def la_team(config: TeamConfig) -> TeamConfig:
    return config.model_copy(
        update={"team": config.team.model_copy(update={"timezone": "America/Los_Angeles"})}
    )


def test_gap_check_daily_at_nine_team_time_across_dst(config):
    ledger = simulate(
        la_team(config),
        datetime(2026, 3, 6, 12, 0, tzinfo=UTC),  # 04:00 PST: the 5th's check is stale
        datetime(2026, 3, 10, 0, 0, tzinfo=UTC),
    )
    assert ledger["gaps:2026-03-05"][2] is False
    gaps = {k: v[0] for k, v in ledger.items() if k.startswith("gaps:") and v[2]}
    assert gaps == {
        "gaps:2026-03-06": datetime(2026, 3, 6, 17, 0, tzinfo=UTC),
        "gaps:2026-03-07": datetime(2026, 3, 7, 17, 0, tzinfo=UTC),
        "gaps:2026-03-08": datetime(2026, 3, 8, 16, 0, tzinfo=UTC),
        "gaps:2026-03-09": datetime(2026, 3, 9, 16, 0, tzinfo=UTC),
    }


def test_digest_monday_nine_team_time_relevant_that_day(config):
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert split(plan(pings.due_digest, config, monday - timedelta(minutes=1)))[0] == []
    assert plan(pings.due_digest, config, monday - timedelta(minutes=1)).next_at == monday
    assert split(plan(pings.due_digest, config, monday))[0] == ["digest:2026-W11"]
    # Back up on Tuesday: Monday's digest is stale.
    tuesday = split(plan(pings.due_digest, config, monday + timedelta(days=1)))
    assert tuesday == ([], ["digest:2026-W11"])


# -- what a pass remembers --------------------------------------------------------------------


def test_known_caches_keys_and_the_newest_moment_of_each_series(config):
    known = pings.Known()
    known.add("page:1:0:0", 100)
    known.add("update_reminder:1:19700101T000320Z", 200)
    known.add("update_reminder:1:19700101T000140Z", 100)
    known.add("signoff_reminder:7:19700101T000320Z", 200)
    assert known.claimed == {"page:1:0:0": 100}
    assert known.last == {("update_reminder", 1): 200, ("signoff_reminder", 7): 200}
    # escalation 1 is no longer open and sign-off 7 no longer pending: forgotten
    known.prune(snapshot(T0), keep_s=150)
    assert known.claimed == {} and known.last == {}


# -- rendering --------------------------------------------------------------------------------


def test_local_when_renders_in_the_given_zone():
    instant = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert text.local_when(instant, "America/Los_Angeles") == "Mon 9 Mar 09:00 PDT"
    assert text.local_when(instant, "Asia/Singapore") == "Tue 10 Mar 00:00 +08"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (270, "4m 30s"), (3900, "1h 5m"), (183600, "2d 3h")]
)
def test_span(seconds, text):
    assert blocks.span(seconds) == text


def test_restricted_escalations_are_never_named_in_direct_messages(config):
    row: Any = SimpleNamespace(
        id=4,
        ref="ESC-4",
        severity="SEV1",
        title="Secret thing",
        restricted=True,
        channel_id="G1",
        status="open",
    )
    text, _ = blocks.page_dm(row, 0, 0)
    assert "Secret" not in text and "ESC-4" in text
    text, out = blocks.handoff_brief("primary", "U0ANA00001", [row])
    assert "Secret" not in str(out)
    assert out[1]["accessory"]["action_id"] == blocks.Action.TAKE_OWNERSHIP
    assert out[1]["accessory"]["value"] == "4"


# -- deadlines: due 60 min after creation, reminded 15 min ahead --------------------------------


@pytest.mark.parametrize(
    ("minutes", "send", "stale", "next_in"),
    [
        (0, [], [], 45),
        (44, [], [], 45),
        (45, ["deadline_reminder:7"], [], 60),
        (59, ["deadline_reminder:7"], [], 60),
        # found after the deadline (the bot was down): the reminder is moot, the breach is not
        (60, ["deadline_breach:7"], ["deadline_reminder:7"], None),
        (60 * 24 * 3, ["deadline_breach:7"], ["deadline_reminder:7"], None),
    ],
)
def test_deadlines_remind_ahead_and_breach_once_due(config, minutes, send, stale, next_in):
    now = T0 + timedelta(minutes=minutes)
    snap = snapshot(now)
    snap.deadlines = [(7, 1, pings.seconds(T0 + timedelta(hours=1)), pings.seconds(T0) + 45 * 60)]
    found = pings.due_deadlines(services(config), snap, pings.Known(), now)
    assert split(found) == (send, stale)
    assert found.next_at == (None if next_in is None else T0 + timedelta(minutes=next_in))


def test_deadlines_claimed_or_without_a_reminder_are_not_offered_again(config):
    now = T0 + timedelta(hours=2)
    known = pings.Known()
    known.add("deadline_breach:7", pings.seconds(T0 + timedelta(hours=1)))
    snap = snapshot(now)
    due = pings.seconds(T0 + timedelta(hours=1))
    snap.deadlines = [(7, 1, due, None), (8, 2, due, None)]
    found = pings.due_deadlines(services(config), snap, known, now)
    assert split(found) == (["deadline_breach:8"], [])
