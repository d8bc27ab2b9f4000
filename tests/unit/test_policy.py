"""The authorization policy on its own: who is a responder, what each kind may do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import TeamConfig
from bot.errors import NotPermitted, UserError
from bot.policy import RESPONDER_ACTS, Act, Policy, Roster
from storage.models import Escalation, Participant

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
CHANNEL = "C0ESC00001"


def escalation(restricted: bool, people: dict[str, str]) -> Escalation:
    esc = Escalation(
        id=7,
        title="t",
        category="ads",
        policy_area="other",
        severity="SEV2",
        region="global",
        reporter="U0COM00001",
        owner=None,
        status="open",
        restricted=restricted,
        channel_id=CHANNEL,
        created_at=T0,
        ack_deadline=T0,
    )
    esc.participants = [
        Participant(user_id=u, role=role, added_at=T0) for u, role in people.items()
    ]
    return esc


@pytest.mark.parametrize(
    ("user", "responder"),
    [
        ("U0LEAD0001", True),  # team member
        ("U0DAN00001", True),  # weekend layer of primary, not a team member
        ("U0EVE00001", True),  # secondary rotation
        ("U0SAL00001", False),  # a stakeholder
        ("U0LEG00001", False),  # legal: no step pages it
        ("U0NOBODY01", False),
    ],
)
def test_responders_are_team_rotations_and_policy_groups(config: TeamConfig, user, responder):
    assert Policy(config).is_responder(user) is responder


def test_whoever_was_paged_is_a_responder_of_that_escalation(config: TeamConfig):
    policy = Policy(config)
    paged = escalation(False, {"U0LEG00002": "oncall"})  # on call through an override
    assert policy.is_responder("U0LEG00002", paged)
    assert not policy.is_responder("U0LEG00002", escalation(False, {}))
    assert not policy.is_responder("U0LEG00002")


def test_a_user_group_step_makes_its_members_responders(config: TeamConfig):
    data = config.model_dump()
    data["escalation_policy"]["steps"].append({"notify": ["group:public_policy"]})
    grouped = TeamConfig.model_validate(data)
    policy = Policy(grouped, lambda g: ["U0PP000001"] if g == "S0PUBPOL01" else [])
    assert policy.is_responder("U0PP000001")
    assert not Policy(grouped).is_responder("U0PP000001")  # Slack could not say: refused


@pytest.mark.parametrize("restricted", [False, True])
@pytest.mark.parametrize("act", list(Act))
@pytest.mark.parametrize(
    ("user", "inside", "responder"),
    [
        ("U0LEAD0001", False, True),
        ("U0LEAD0001", True, True),
        ("U0SAL00001", True, False),
        ("U0SAL00001", False, False),
    ],
)
def test_every_act_against_the_rules(config, restricted, act, user, inside, responder):
    people = {user: "stakeholder"} if inside else {}
    esc = escalation(restricted, people)
    visible = not restricted or inside
    channel = CHANNEL if inside else None  # who is inside runs it from the channel
    group: str | None = None
    if act is Act.SIGNOFF_ANSWER:
        allowed = visible and user in config.stakeholders["sales"].members
        group = "sales"
    elif act is Act.FORCE_RESOLVE:
        allowed = visible and user in config.team.members
    elif act is Act.REVIEW:
        allowed = visible and channel == CHANNEL
    else:
        allowed = visible and (responder or act not in RESPONDER_ACTS)
    policy = Policy(config)
    assert policy.allows(user, act, esc, channel, group=group) is allowed
    if not allowed:
        with pytest.raises(UserError) as refused:
            policy.check(user, act, esc, channel, group=group)
        if not visible:  # outsiders learn nothing, not even which role it takes
            assert not isinstance(refused.value, NotPermitted)
            assert "does not exist, or it is restricted" in str(refused.value)


def test_from_inside_its_channel_a_restricted_escalation_is_visible(config: TeamConfig):
    esc = escalation(True, {})
    policy = Policy(config)
    assert policy.can_see(esc, "U0LEAD0001", CHANNEL)
    assert not policy.can_see(esc, "U0LEAD0001", "C0OTHER001")
    assert policy.can_see(esc, "U0COM00001")  # the reporter


def test_config_check_finds_who_a_step_could_page_but_not_act(config: TeamConfig):
    policy = Policy(config)
    assert policy.unactionable() == []
    # Were the responders narrower than what the steps page, the check would say so.
    policy.roster = Roster(frozenset(config.team.members), frozenset(config.team.members), ())
    stranded = policy.unactionable()
    assert any("rotation:secondary" in line and "U0EVE00001" in line for line in stranded)
    assert not any("U0LEAD0001" in line for line in stranded)
