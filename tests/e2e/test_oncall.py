"""`/oncall` end to end: who is on call, schedules, overrides, gaps, and what they change.

The example config at the fixture's clock (Wed 4 Mar 2026 17:00 UTC = 09:00 in Los Angeles):
primary hands off daily at 09:00 Los Angeles time Ana → Ben → Chi from Mon 5 Jan (so Ben from
now until Thu 09:00, then Chi), and Dan / Eve cover Saturdays and Sundays, handing off weekly
on Saturday 09:00 from 3 Jan; secondary hands off weekly Eve → Ana on Mondays 08:00 Dublin time
from 5 Jan (Eve this week). Sandbox time zones: lead Los Angeles, Ana Dublin, Ben Singapore,
Chi New York, Dan Berlin, Eve São Paulo.
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import Override
from tests.support.escalations import esc, raise_esc
from tests.support.replay import capture, deliver
from tests.support.world import World

LEAD, ANA, BEN, CHI, DAN, EVE = (
    "U0LEAD0001",
    "U0ANA00001",
    "U0BEN00001",
    "U0CHI00001",
    "U0DAN00001",
    "U0EVE00001",
)
SALES = "U0SAL00001"  # neither a team member nor in a rotation


def oncall(world: World, user: str, text: str = "") -> str:
    """Type `/oncall text`; return everything the user was told."""
    return esc(world, user, text, world.config.team.channel, command="/oncall")


def overrides(world: World) -> list[Override]:
    with world.db.uow() as uow:
        return uow.repos.overrides.active()


def test_now_shows_each_rotation_until_when_and_next_in_both_zones(world: World):
    said = oncall(world, LEAD)
    assert (
        f"*primary*: <@{BEN}> until Thu 5 Mar 09:00 PST (Fri 6 Mar 01:00 +08 for <@{BEN}>)"
        f"\n      next: <@{CHI}> from Thu 5 Mar 09:00 PST (Thu 5 Mar 12:00 EST for <@{CHI}>)"
    ) in said
    assert (
        f"*secondary*: <@{EVE}> until Mon 9 Mar 01:00 PDT (Mon 9 Mar 05:00 -03 for <@{EVE}>)"
        f"\n      next: <@{ANA}> from Mon 9 Mar 01:00 PDT (Mon 9 Mar 08:00 GMT for <@{ANA}>)"
    ) in said
    assert "Times in your zone, America/Los_Angeles" in said
    # each reply goes to the asker alone
    assert all(r["payload"]["response_type"] == "ephemeral" for r in world.emulator.responses)
    assert world.emulator.messages(world.config.team.channel) == []


def test_now_for_one_rotation_and_an_unknown_one(world: World):
    said = oncall(world, ANA, "secondary")
    assert f"*secondary*: <@{EVE}> until Mon 9 Mar 08:00 GMT (Mon 9 Mar 05:00 -03" in said
    assert "*primary*" not in said
    refused = oncall(world, ANA, "tertiary")
    assert "Unknown rotation `tertiary`: rotations are `primary`, `secondary`" in refused
    assert "Usage:" in refused


def test_help_and_bad_subcommands_answer_with_usage(world: World):
    assert "/oncall schedule [rotation] [days]" in oncall(world, ANA, "help")
    assert "Days must be between 1 and 90" in oncall(world, ANA, "schedule 91")
    assert "`/oncall` subcommands" in oncall(world, ANA, "primary and more")


def test_schedule_lists_shifts_and_weekends_in_the_askers_zone(world: World):
    said = oncall(world, LEAD, "schedule primary")
    assert "On-call schedule, next 7 days* (your zone, America/Los_Angeles)" in said
    lines = [line for line in said.splitlines() if line.startswith("• ")]
    assert lines[:6] == [
        f"• Wed 4 Mar 09:00 PST → Thu 5 Mar 09:00 PST  <@{BEN}>",
        f"• Thu 5 Mar 09:00 PST → Fri 6 Mar 09:00 PST  <@{CHI}>",
        f"• Fri 6 Mar 09:00 PST → Sat 7 Mar 00:00 PST  <@{ANA}>",
        f"• Sat 7 Mar 00:00 PST → Sat 7 Mar 09:00 PST  <@{DAN}>",
        f"• Sat 7 Mar 09:00 PST → Mon 9 Mar 00:00 PDT  <@{EVE}>",
        f"• Mon 9 Mar 00:00 PDT → Mon 9 Mar 09:00 PDT  <@{CHI}>",
    ]
    assert lines[-1] == f"• Wed 11 Mar 09:00 PDT → Wed 11 Mar 10:00 PDT  <@{CHI}>"
    both = oncall(world, BEN, "schedule 14")
    assert "*primary*" in both and "*secondary*" in both and "next 14 days" in both
    assert f"• Mon 2 Mar 16:00 +08 → Mon 9 Mar 16:00 +08  <@{EVE}>" in both


def test_me_lists_my_shifts_for_four_weeks_in_my_zone(world: World):
    said = oncall(world, BEN, "me")
    lines = [line for line in said.splitlines() if line.startswith("• ")]
    # every third day, less the Saturdays the weekend layer covers (7 and 28 Mar), plus the
    # Monday-morning tail of Sunday 22 Mar's shift
    assert lines == [
        "• *primary*: Thu 5 Mar 01:00 +08 → Fri 6 Mar 01:00 +08 _(now)_",
        "• *primary*: Wed 11 Mar 00:00 +08 → Thu 12 Mar 00:00 +08",
        "• *primary*: Sat 14 Mar 00:00 +08 → Sat 14 Mar 15:00 +08",
        "• *primary*: Tue 17 Mar 00:00 +08 → Wed 18 Mar 00:00 +08",
        "• *primary*: Fri 20 Mar 00:00 +08 → Sat 21 Mar 00:00 +08",
        "• *primary*: Mon 23 Mar 15:00 +08 → Tue 24 Mar 00:00 +08",
        "• *primary*: Thu 26 Mar 00:00 +08 → Fri 27 Mar 00:00 +08",
        "• *primary*: Wed 1 Apr 00:00 +08 → Thu 2 Apr 00:00 +08",
    ]
    assert "Your on-call shifts, next 28 days* (Asia/Singapore)" in said
    assert "No shifts in the next 28 days." in oncall(world, SALES, "me")


def test_override_takes_over_then_is_listed_and_removed(world: World):
    made = oncall(world, CHI, f"override <@{DAN}|dan> now +4h")
    assert (
        f"Override #1: <@{DAN}> covers *primary* from Wed 4 Mar 12:00 EST "
        f"(Wed 4 Mar 18:00 CET for <@{DAN}>) to Wed 4 Mar 16:00 EST "
        f"(Wed 4 Mar 22:00 CET for <@{DAN}>). Instead of <@{BEN}>."
    ) in made
    [row] = overrides(world)
    assert (row.rotation, row.user_id, row.created_by) == ("primary", DAN, CHI)
    assert (row.start, row.end) == (
        datetime(2026, 3, 4, 17, tzinfo=UTC),
        datetime(2026, 3, 4, 21, tzinfo=UTC),
    )
    now = oncall(world, LEAD, "primary")
    assert f"*primary*: <@{DAN}> _(override)_ until Wed 4 Mar 13:00 PST" in now
    assert f"next: <@{BEN}> from Wed 4 Mar 13:00 PST" in now
    listed = oncall(world, LEAD, "overrides")
    assert (
        f"• *#1* *primary*: <@{DAN}> Wed 4 Mar 09:00 PST → Wed 4 Mar 13:00 PST _(now)_ "
        f"— by <@{CHI}>"
    ) in listed
    # Dan is neither its author nor a team member
    refused = oncall(world, DAN, "override remove 1")
    assert f"Only <@{CHI}>, who made override #1, or a team member can remove it." in refused
    assert overrides(world)
    assert "Override #1 removed" in oncall(world, CHI, "override remove #1")
    assert overrides(world) == []
    assert "was already removed" in oncall(world, LEAD, "override remove 1")
    assert "There is no override #9" in oncall(world, LEAD, "override remove 9")
    assert f"*primary*: <@{BEN}> until" in oncall(world, LEAD, "primary")
    assert "None. Add one with" in oncall(world, LEAD, "overrides")


def test_override_times_are_read_in_the_askers_zone(world: World):
    # the lead is in Los Angeles: 18:00 PST on Christmas Eve is 02:00 on Christmas Day in Dublin
    made = oncall(world, LEAD, f"override <@{ANA}> 2026-12-24 18:00 +8h secondary")
    assert (
        f"<@{ANA}> covers *secondary* from Thu 24 Dec 18:00 PST "
        f"(Fri 25 Dec 02:00 GMT for <@{ANA}>) to Fri 25 Dec 02:00 PST "
        f"(Fri 25 Dec 10:00 GMT for <@{ANA}>)."
    ) in made
    # Ana is in Dublin: the same words mean eight hours earlier
    oncall(world, ANA, f"override <@{EVE}> 2026-12-24 18:00 2026-12-24T20:00 secondary")
    first, second = overrides(world)
    assert first.start == datetime(2026, 12, 25, 2, tzinfo=UTC)
    assert first.end == datetime(2026, 12, 25, 10, tzinfo=UTC)
    assert second.start == datetime(2026, 12, 24, 18, tzinfo=UTC)
    assert second.end == datetime(2026, 12, 24, 20, tzinfo=UTC)
    listed = oncall(world, ANA, "overrides secondary")
    assert listed.index("*#2*") < listed.index("*#1*")  # soonest first


def test_override_refusals(world: World):
    assert "must end after it starts" in oncall(
        world, LEAD, f"override <@{DAN}> 2026-03-05 10:00 2026-03-05 09:00"
    )
    assert "would end in the past" in oncall(
        world, LEAD, f"override <@{DAN}> 2026-03-01 10:00 2026-03-02 09:00"
    )
    assert "Unknown rotation `tertiary`" in oncall(
        world, LEAD, f"override <@{DAN}> now +1h tertiary"
    )
    assert "Only team members and members of `primary`" in oncall(
        world, SALES, f"override <@{SALES}> now +1h"
    )
    assert overrides(world) == []
    # a rotation member who is not on the team may arrange cover for it
    assert "Override #1" in oncall(world, EVE, f"override <@{DAN}> now +1h primary")


def test_a_retried_override_is_recorded_once(world: World):
    before = len(world.emulator.responses)
    request = capture(
        world.driver, lambda: world.driver.command(LEAD, "/oncall", f"override <@{DAN}> now +2h")
    )
    for retry in (None, 1, 2):
        assert deliver(world.driver, request, retry_num=retry).status == 200
    world.settle()
    assert len(overrides(world)) == 1
    texts = [r["payload"]["text"] for r in world.emulator.responses[before:]]
    assert len(texts) == 3 and sum("Override #1:" in t for t in texts) == 1
    assert sum("Already recorded — override #1" in t for t in texts) == 2


def test_gaps_before_the_rotations_start_and_an_override_filling_one(world: World):
    world.clock.set(datetime(2026, 1, 1, 17, tzinfo=UTC))  # Thu 1 Jan, 09:00 in Los Angeles
    said = oncall(world, LEAD, "gaps")
    lines = [line for line in said.splitlines() if line.startswith("• ")]
    assert lines == [
        "• *primary*: Thu 1 Jan 09:00 PST → Sat 3 Jan 09:00 PST (2d)",
        "• *secondary*: Thu 1 Jan 09:00 PST → Mon 5 Jan 00:00 PST (3d 15h)",
        "• *primary*: Mon 5 Jan 00:00 PST → Mon 5 Jan 09:00 PST (9h)",
    ]
    assert "Coverage gaps in the next 14 days" in said
    now = oncall(world, LEAD, "primary")
    assert "nobody is on call (gap) until Sat 3 Jan 09:00 PST" in now
    assert f"next: <@{DAN}> from Sat 3 Jan 09:00 PST" in now
    oncall(world, LEAD, f"override <@{ANA}> now 2026-01-03 09:00 primary")
    lines = [line for line in oncall(world, LEAD, "gaps 3").splitlines() if line.startswith("• ")]
    assert lines == ["• *secondary*: Thu 1 Jan 09:00 PST → Sun 4 Jan 09:00 PST (3d)"]
    world.clock.set(datetime(2026, 3, 4, 17, tzinfo=UTC))
    assert "No coverage gaps in the next 14 days." in oncall(world, LEAD, "gaps")


def test_an_override_changes_who_escalate_invites_and_pages(world: World):
    oncall(world, LEAD, f"override <@{DAN}> now +4h primary")
    oncall(world, LEAD, f"override <@{CHI}> now +4h secondary")
    esc1 = raise_esc(world, "Spam wave in comments")  # category other: step 1 only
    [invite] = world.emulator.calls_of("conversations.invite")
    assert set(invite.args["users"].split(",")) == {"U0ANA00001", DAN}
    assert any(p.user_id == DAN and p.role == "oncall" for p in esc1.participants)
    # SEV1 routes the `secondary` stakeholder group, backed by the secondary rotation
    raise_esc(world, "SEV1 Live-streamed attack")
    second = world.emulator.calls_of("conversations.invite")[1]
    invited = set(second.args["users"].split(","))
    assert {DAN, CHI} <= invited and EVE not in invited and BEN not in invited
