"""App Home end to end: on call now, my next shifts, my open escalations."""

from __future__ import annotations

from tests.support.escalations import flatten, raise_esc, raise_form
from tests.support.people import ONCALL, REPORTER, SALES
from tests.support.world import World


def _open_home(world: World, user: str, tab: str = "home") -> str:
    reply = world.driver.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": tab}
    )
    assert reply.status == 200
    world.settle()
    view = world.emulator.home_views.get(user)
    return flatten(view) if view else ""


def test_home_shows_oncall_shifts_and_my_escalations(world: World):
    raise_esc(world)
    home = _open_home(world, ONCALL)
    with world.db.uow() as uow:
        services = world.bot.services
        now = world.clock()
        primary = services.oncall.user_at(uow.repos.overrides, "primary", now)
        secondary = services.oncall.user_at(uow.repos.overrides, "secondary", now)
    assert primary == ONCALL
    assert f"*primary*: <@{primary}>" in home and f"*secondary*: <@{secondary}>" in home
    shifts = home.split("My next shifts", 1)[1].split("My open escalations", 1)[0]
    assert shifts.count("*primary*:") >= 4  # a daily rotation of three over 14 days
    assert "*secondary*" not in shifts
    mine = home.split("My open escalations", 1)[1]
    assert "ESC-1" in mine and "Counterfeit ads wave" in mine


def test_home_hides_restricted_escalations_from_outsiders(world: World):
    raise_esc(world)  # SALES is routed into this one
    raise_form(world, REPORTER, "Leak of VIP private data", category="vip", flags=("restricted",))
    outsider = _open_home(world, SALES)
    assert "ESC-1" in outsider
    assert "ESC-2" not in outsider and "Leak of VIP" not in outsider
    insider = _open_home(world, REPORTER)
    assert "ESC-1" in insider and "ESC-2" in insider and "Leak of VIP" in insider
    assert "No shifts in the next 14 days" in _open_home(world, "U0LEG00001")


def test_messages_tab_publishes_nothing(world: World):
    assert _open_home(world, SALES, tab="messages") == ""
    assert world.emulator.calls_of("views.publish") == []
