"""Who may see and do what: the one authorization decision of the product.

Every surface — slash command, button, form submission, handoff brief, App Home, lists,
stats, export, reminders — asks `Policy` before it shows or changes an escalation; none has
a shortcut of its own. The rules:

- An escalation that is not restricted is seen by everyone. A restricted one is seen only
  by the people in its channel (reporter, owner, whoever was invited and not refused) and
  from inside its channel; everyone else is told it does not exist or is restricted, the
  same words as for an ID that does not exist, so a refusal leaks nothing.
- **Responders** may acknowledge, resolve, reopen, change severity, assign and take
  ownership, assign roles (`/esc role`), and escalate a page at once: `team.members`, the
  members of every rotation's layers, the members of every group an escalation-policy step
  notifies (a Slack user group's members as Slack lists them), and whoever the bot paged
  for that escalation — so a page can always be acted on.
- Anyone who can see an escalation may post updates, log decisions, invite, ask for a
  sign-off, add follow-ups and messages to its timeline, tick checklist steps, post the
  review (in its own channel only), link it to another they can see and flag it graphic;
  a sign-off is answered only by members of its group.
- Only `team.members` may resolve while a required checklist step is open (`--force`).
- A responder, like anyone, acts on a restricted escalation only while in its channel: who
  leaves it (or is removed) is an outsider from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.config import TeamConfig, split_target
from bot.errors import NotPermitted, UserError
from bot.text import escape
from storage.models import Escalation


class Act(StrEnum):
    """Everything a person can do to an escalation."""

    SEE = "see"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    SEVERITY = "change severity"
    ASSIGN = "change the owner"
    TAKE = "take ownership"
    ESCALATE_NOW = "escalate"
    UPDATE = "post updates"
    DECISION = "log decisions"
    INVITE = "invite people"
    SIGNOFF_REQUEST = "ask for sign-off"
    SIGNOFF_ANSWER = "answer sign-offs"
    FOLLOWUP = "add follow-ups"
    TICK = "tick checklist steps"
    FORCE_RESOLVE = "resolve with required steps open"
    REVIEW = "post the review"
    FLAG = "flag content"
    LINK = "link escalations"
    CAPTURE = "add messages to the timeline"
    DUPLICATE = "mark duplicates"
    ASSIGN_ROLE = "assign roles"


RESPONDER_ACTS = frozenset(
    {
        Act.ACKNOWLEDGE,
        Act.RESOLVE,
        Act.REOPEN,
        Act.SEVERITY,
        Act.ASSIGN,
        Act.TAKE,
        Act.ESCALATE_NOW,
        Act.DUPLICATE,  # it resolves the escalation
        Act.ASSIGN_ROLE,  # as changing the owner is
    }
)


def hidden(number: int | None) -> UserError:
    """Return the refusal for an escalation the actor may not see (or that does not exist)."""
    if number is None:
        return UserError(
            "This is not an escalation channel. Run it in one, or name one: `/esc ESC-12 status`."
        )
    return UserError(f"ESC-{number} does not exist, or it is restricted to its channel.")


def insiders(esc: Escalation) -> set[str]:
    """Return who is in the escalation's channel as far as the bot knows: its participants
    that were not refused and have not left (Slack's member_left_channel), and the reporter
    and owner unless they left."""
    left = {p.user_id for p in esc.participants if p.left_at is not None}
    people = {p.user_id for p in esc.participants if not p.invite_error and p.user_id not in left}
    people.update(u for u in (esc.reporter, esc.owner) if u and u not in left)
    return people


def paged(esc: Escalation) -> set[str]:
    """Return the people the bot paged for this escalation (participants it added on call)."""
    return {p.user_id for p in esc.participants if p.role == "oncall"}


@dataclass(frozen=True)
class Roster:
    """The people the config names as responders, and the Slack user groups whose members are."""

    team: frozenset[str]
    users: frozenset[str]
    usergroups: tuple[str, ...]

    @classmethod
    def of(cls, config: TeamConfig) -> Roster:
        """Collect team members, rotation members and what escalation-policy steps notify."""
        users = set(config.team.members)
        for rotation in config.rotations.values():
            for layer in rotation.layers:
                users.update(layer.members)
        usergroups: list[str] = []
        for step in config.escalation_policy.steps:
            for spec in step.notify:
                kind, name = split_target(spec)
                if kind == "user":
                    users.add(name)
                elif kind == "group" and name in config.stakeholders:
                    group = config.stakeholders[name]
                    if group.members is not None:
                        users.update(group.members)
                    elif group.usergroup is not None:
                        usergroups.append(group.usergroup)
                    # a rotation-backed group's people are rotation members, counted above
        return cls(frozenset(config.team.members), frozenset(users), tuple(usergroups))


class Policy:
    """Answer, for an actor, an action and an escalation, whether it is allowed."""

    def __init__(
        self,
        config: TeamConfig,
        usergroup_members: Callable[[str], Iterable[str]] = lambda _: (),
    ) -> None:
        self.config = config
        self.roster = Roster.of(config)
        self._usergroup_members = usergroup_members

    # -- who is who ---------------------------------------------------------------------------

    def is_team_member(self, user: str) -> bool:
        """Return True for `team.members`."""
        return user in self.roster.team

    def is_responder(self, user: str, esc: Escalation | None = None) -> bool:
        """Return True for a responder (of this escalation, when given: its paged people too)."""
        if user in self.roster.users:
            return True
        if esc is not None and user in paged(esc):
            return True
        return any(user in self._usergroup_members(g) for g in self.roster.usergroups)

    def in_group(self, group: str, user: str, on_call: str | None = None) -> bool:
        """Return True when the user belongs to the stakeholder group right now.

        A rotation-backed group is whoever is on call for it now (`on_call`, overrides applied).
        """
        stakeholder = self.config.stakeholders.get(group)
        if stakeholder is None:
            return False
        if stakeholder.members is not None:
            return user in stakeholder.members
        if stakeholder.usergroup is not None:
            return user in self._usergroup_members(stakeholder.usergroup)
        return on_call is not None and user == on_call

    # -- the decision -------------------------------------------------------------------------

    def can_see(self, esc: Escalation, user: str, channel_id: str | None = None) -> bool:
        """Return True unless the escalation is restricted and the user is outside its channel."""
        if not esc.restricted:
            return True
        return (channel_id is not None and channel_id == esc.channel_id) or user in insiders(esc)

    def allows(
        self, actor: str, act: Act, esc: Escalation, channel_id: str | None = None, **given: Any
    ) -> bool:
        """Return True when the actor may do `act` to the escalation (see `check`)."""
        try:
            self.check(actor, act, esc, channel_id, **given)
        except UserError:
            return False
        return True

    def check(
        self,
        actor: str,
        act: Act,
        esc: Escalation,
        channel_id: str | None = None,
        *,
        group: str | None = None,
        on_call: str | None = None,
        number: int | None = None,
    ) -> None:
        """Raise UserError (NotPermitted for a role) unless the actor may do `act`.

        Visibility is decided first, so someone outside a restricted escalation learns
        nothing of it, not even which role it would take.
        """
        if not self.can_see(esc, actor, channel_id):
            raise hidden(number if number is not None else esc.id)
        if act in RESPONDER_ACTS and not self.is_responder(actor, esc):
            raise NotPermitted(
                f":no_entry: Only responders of {escape(self.config.team.name)} "
                f"(its members, on-call rotations and escalation-policy groups) can {act.value}."
                " Nothing changed."
            )
        if act is Act.FORCE_RESOLVE and not self.is_team_member(actor):
            raise NotPermitted(
                f":no_entry: Only members of {escape(self.config.team.name)} can {act.value}."
                " Nothing changed."
            )
        if act is Act.REVIEW and (channel_id is None or channel_id != esc.channel_id):
            raise UserError(
                f"Post the review of ESC-{esc.id} in its own channel: `/esc review` there."
            )
        if act is Act.SIGNOFF_ANSWER and not (group and self.in_group(group, actor, on_call)):
            known = self.config.stakeholders.get(group or "")
            name = escape(known.name if known else group or "that group")
            raise NotPermitted(f":no_entry: Only {name} can answer this sign-off. Nothing changed.")

    def visible(self, escalations: Iterable[Escalation], viewer: str) -> list[Escalation]:
        """Return the escalations the viewer may see, in the order given."""
        return [esc for esc in escalations if self.can_see(esc, viewer)]

    def unactionable(self) -> list[str]:
        """Return who an escalation-policy step can page but who could not act on the page.

        With responders defined as they are, this is always empty; `escbot config check`
        runs it so that a change to either side cannot silently strand a paged person.
        """
        stranded: list[str] = []
        for step in self.config.escalation_policy.steps:
            for spec in step.notify:
                for user in self._static_targets(spec):
                    line = f"{spec} can page {user}, who could not acknowledge the page"
                    if not self.is_responder(user) and line not in stranded:
                        stranded.append(line)
        return stranded

    def _static_targets(self, spec: str) -> list[str]:
        """Return everyone the config lets a notify spec page (overrides aside)."""
        kind, name = split_target(spec)
        if kind == "user":
            return [name]
        rotation = name
        if kind == "group":
            group = self.config.stakeholders.get(name)
            if group is None:
                return []
            if group.members is not None:
                return list(group.members)
            if group.usergroup is not None:
                return list(self._usergroup_members(group.usergroup))
            rotation = group.rotation or ""
        found = self.config.rotations.get(rotation)
        return [m for layer in found.layers for m in layer.members] if found else []

    def may_override(self, actor: str, rotation_id: str) -> bool:
        """Return True for team members and the rotation's own members."""
        rotation = self.config.rotations.get(rotation_id)
        members = {m for layer in rotation.layers for m in layer.members} if rotation else set()
        return self.is_team_member(actor) or actor in members

    def may_cancel_override(self, actor: str, created_by: str) -> bool:
        """Return True for the override's author and team members."""
        return actor == created_by or self.is_team_member(actor)
