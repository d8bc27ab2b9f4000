"""Parsing `/esc` and `/decision` text into typed requests; bad input raises UsageError."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from bot.config import USER_ID, TeamConfig
from bot.errors import UsageError
from bot.text import escape, truncate

DECISION_LIMIT = 3000
FOLLOWUP_KINDS = ("tooling_gap", "process", "policy", "product")
LIST_SCOPES = ("open", "mine", "all")
STATS_DAYS_MAX = 366

_REF = re.compile(r"(?i)^(?:ESC-?|#)(\d{1,9})$")
_TOO_BIG = re.compile(r"(?i)^(?:ESC-?|#)\d{10,}$")  # more escalations than there ever are
_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_USERGROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>$")
_SUPERSEDES = re.compile(r"(?i)^supersedes?\s+#?(\d{1,6})\b[\s:,-]*")
_ITEM = re.compile(r"^#?(\d{1,9})$")
_DAYS = re.compile(r"(?i)^(\d{1,3})d$")
_STEP = re.compile(r"^[a-z][a-z0-9_]{0,59}$")

USAGE: dict[str, str] = {
    "ack": "`/esc ack` — acknowledge (responders)",
    "sev": "`/esc sev <SEV1..SEV4>` — change severity (responders)",
    "owner": "`/esc owner <@user>` — hand the escalation to someone (responders)",
    "update": "`/esc update <text>` — post and store a status update",
    "invite": "`/esc invite <@user|group>…` — add people or stakeholder groups",
    "signoff": "`/esc signoff <group> [question]` — ask a group to approve or reject",
    "decision": "`/esc decision [supersedes #N] <text>` — log a decision (same as `/decision`)",
    "followup": (
        "`/esc followup <tooling_gap|process|policy|product> <text> [owner <@user>]` "
        "— or `/esc followup done <id>`"
    ),
    "resolve": (
        "`/esc resolve <summary>` — resolve (responders; no summary: a form); "
        "`/esc resolve --force <reason>` over open required steps (team members)"
    ),
    "reopen": "`/esc reopen` — reopen a resolved escalation (responders)",
    "status": "`/esc status` — where it stands",
    "timeline": "`/esc timeline` — everything that happened",
    "decisions": "`/esc decisions` — the decision log",
    "checklist": "`/esc checklist` — the playbook steps and which are done",
    "done": "`/esc done <step>` — tick a checklist step",
    "role": "`/esc role <role> <@user>` — give someone a role (responders)",
    "roles": "`/esc roles` — the roles and who holds them",
    "review": "`/esc review` — post the review document in this channel",
    "list": "`/esc list [open|mine|all]` — escalations",
    "stats": "`/esc stats [7d|30d|90d]` — trends",
    "duplicate": "`/esc duplicate ESC-n` — this duplicates ESC-n: resolve it, invite its people",
    "link": "`/esc link ESC-n` — record a related escalation, on both",
    "flag": "`/esc flag graphic` — mark it graphic: a content warning from then on",
    "help": "`/esc help` — this list",
}
FLAGS = ("graphic",)
ALIASES = {
    "acknowledge": "ack",
    "severity": "sev",
    "assign": "owner",
    "add": "invite",
    "sign-off": "signoff",
    "follow-up": "followup",
    "log": "timeline",
    "tick": "done",
    "ls": "list",
    "dup": "duplicate",
    "relate": "link",
}
# Subcommands that act on no particular escalation.
GLOBAL = frozenset({"list", "stats", "help"})
NO_ARGS = frozenset(
    {"ack", "reopen", "status", "timeline", "decisions", "checklist", "review", "roles", "help"}
)
DECISION_USAGE = (
    "Usage: `/decision <text>` — or `/decision supersedes #N <text>` to correct entry N, "
    "or `/decision` alone for the form."
)


def help_text() -> str:
    """Return the list of `/esc` subcommands."""
    return (
        "*`/esc` subcommands* (in an escalation channel, or name one: `/esc ESC-12 status`)\n"
        + "\n".join(f"• {line}" for line in USAGE.values())
    )


def usage(sub: str) -> str:
    """Return the usage line of one subcommand."""
    return "Usage: " + USAGE[sub]


class DecisionDraft(BaseModel):
    """A decision as its author gives it, before it is numbered and hashed."""

    text: str = Field(min_length=1, max_length=DECISION_LIMIT)
    rationale: str = Field(default="", max_length=DECISION_LIMIT)
    policy: str = Field(default="", max_length=1000)
    consulted: list[str] = Field(default_factory=list)
    supersedes: int | None = Field(default=None, ge=1)


class EscRequest(BaseModel):
    """One `/esc` invocation: which escalation (if named), the subcommand, its arguments."""

    number: int | None = None
    sub: str
    text: str = ""
    severity: str | None = None
    user: str | None = None
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)
    group: str | None = None
    kind: str | None = None
    item: int | None = None
    scope: str = "open"
    days: int = 7
    decision: DecisionDraft | None = None
    force: bool = False
    step: str | None = None
    role: str | None = None


def parse_user(token: str) -> str | None:
    """Return the user ID of `<@U…>`, `<@U…|name>` or a bare `U…` ID, else None."""
    match = _USER.match(token)
    if match:
        return match.group(1)
    return token if USER_ID.match(token) else None


def parse_ref(token: str) -> int | None:
    """Return n of `ESC-<n>` (or `#<n>`), else None."""
    match = _REF.match(token)
    return int(match.group(1)) if match else None


def parse_decision(text: str) -> DecisionDraft:
    """Parse `[supersedes #N] <text>` into a draft; raise UsageError when empty or too long."""
    text = text.strip()
    supersedes = None
    match = _SUPERSEDES.match(text)
    if match:
        supersedes = int(match.group(1))
        text = text[match.end() :].strip()
        if supersedes < 1:
            raise UsageError("Entries are numbered from 1. " + DECISION_USAGE)
    if not text:
        raise UsageError("A decision needs its text. " + DECISION_USAGE)
    if len(text) > DECISION_LIMIT:
        raise UsageError(f"A decision is at most {DECISION_LIMIT} characters. " + DECISION_USAGE)
    return DecisionDraft(text=text, supersedes=supersedes)


def _severity(word: str, config: TeamConfig) -> str:
    wanted = word.upper()
    if wanted.isdigit():
        wanted = f"SEV{wanted}"
    if wanted not in config.severity_ids:
        raise UsageError(
            f"Unknown severity `{escape(truncate(word, 20))}`: use one of "
            f"{', '.join(config.severity_ids)}. {usage('sev')}"
        )
    return wanted


def _group(word: str, config: TeamConfig, sub: str) -> str:
    name = word.lstrip("@#").lower()
    if name not in config.stakeholders:
        known = ", ".join(f"`{g}`" for g in config.stakeholders) or "none configured"
        raise UsageError(
            f"Unknown group `{escape(truncate(word, 40))}` (groups: {known}). {usage(sub)}"
        )
    return name


def _role(request: EscRequest, words: list[str], config: TeamConfig) -> None:
    known = ", ".join(f"`{r}` ({escape(role.name)})" for r, role in config.roles.items())
    if not config.roles:
        raise UsageError("No roles are configured (`roles:` in the team config).")
    if not words:
        raise UsageError(f"Name a role and who holds it. Roles: {known}. {usage('role')}")
    name = words[0].lower()
    if name not in config.roles:
        raise UsageError(
            f"Unknown role `{escape(truncate(words[0], 40))}`. Roles: {known}. {usage('role')}"
        )
    user = parse_user(words[1]) if len(words) == 2 else None
    if user is None:
        raise UsageError(f"Mention who holds it, like `/esc role {name} @ana`. {usage('role')}")
    request.role, request.user = name, user


def _invite(request: EscRequest, words: list[str], config: TeamConfig) -> None:
    if not words:
        raise UsageError("Name someone to invite. " + usage("invite"))
    for word in words:
        user = parse_user(word)
        usergroup = _USERGROUP.match(word)
        if user:
            request.users.append(user)
        elif usergroup:
            request.usergroups.append(usergroup.group(1))
        else:
            request.groups.append(_group(word, config, "invite"))
    request.users = list(dict.fromkeys(request.users))
    request.groups = list(dict.fromkeys(request.groups))
    request.usergroups = list(dict.fromkeys(request.usergroups))


def _followup(request: EscRequest, words: list[str]) -> None:
    if not words:
        raise UsageError(usage("followup"))
    head = words[0].lower()
    if head in ("done", "close", "complete"):
        match = _ITEM.match(words[1]) if len(words) == 2 else None
        if not match:
            raise UsageError("Say which follow-up: `/esc followup done <id>`.")
        request.kind, request.item = "done", int(match.group(1))
        return
    kind = head.replace("-", "_")
    if kind not in FOLLOWUP_KINDS:
        raise UsageError(
            f"Unknown follow-up kind `{escape(truncate(words[0], 30))}`: use one of "
            f"{', '.join(FOLLOWUP_KINDS)}. {usage('followup')}"
        )
    rest = words[1:]
    owner = None
    if len(rest) >= 2 and rest[0].lower() == "owner" and parse_user(rest[1]):
        owner, rest = parse_user(rest[1]), rest[2:]
    elif len(rest) >= 2 and rest[-2].lower() == "owner" and parse_user(rest[-1]):
        owner, rest = parse_user(rest[-1]), rest[:-2]
    text = " ".join(rest).strip()
    if not text:
        raise UsageError("A follow-up needs a description. " + usage("followup"))
    request.kind, request.user, request.text = kind, owner, truncate(text, 2000)


def _peel(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def parse_esc(text: str, config: TeamConfig) -> EscRequest:
    """Parse `/esc [ESC-n] <subcommand> [arguments]`; raise UsageError on bad input."""
    first, rest = _peel(text)
    number = parse_ref(first) if first else None
    if number is None and first and _TOO_BIG.match(first):
        raise UsageError(f"{escape(truncate(first, 30))} does not exist.")
    if number is None:
        rest = text.strip()
    first, rest = _peel(rest)
    if not first:
        return EscRequest(number=number, sub="help")
    sub = ALIASES.get(first.lower(), first.lower())
    if sub not in USAGE:
        raise UsageError(
            f"Unknown subcommand `{escape(truncate(first, 30))}`. Use one of: "
            + ", ".join(f"`{name}`" for name in USAGE)
            + " — `/esc help` explains each."
        )
    request = EscRequest(number=number, sub=sub)
    args = rest.split()
    if sub in NO_ARGS:
        if args:
            raise UsageError(f"`{sub}` takes no arguments. {usage(sub)}")
    elif sub == "sev":
        if len(args) != 1:
            raise UsageError(usage("sev"))
        request.severity = _severity(args[0], config)
    elif sub == "owner":
        user = parse_user(args[0]) if len(args) == 1 else None
        if user is None:
            raise UsageError("Mention the new owner, like `/esc owner @ana`. " + usage("owner"))
        request.user = user
    elif sub == "update":
        if not rest:
            raise UsageError("An update needs its text. " + usage("update"))
        request.text = truncate(rest, DECISION_LIMIT)
    elif sub == "invite":
        _invite(request, args, config)
    elif sub == "role":
        _role(request, args, config)
    elif sub == "signoff":
        if not args:
            raise UsageError("Name the group to ask. " + usage("signoff"))
        word, question = _peel(rest)
        request.group = _group(word, config, "signoff")
        request.text = truncate(question, 1000)
    elif sub == "decision":
        if rest:
            request.decision = parse_decision(rest)
    elif sub == "followup":
        _followup(request, args)
    elif sub == "resolve":
        if args and args[0].lower() == "--force":
            reason = rest[len(args[0]) :].strip()
            if not reason:
                raise UsageError("Say why you resolve over open steps. " + usage("resolve"))
            request.force = True
            rest = reason
        request.text = truncate(rest, DECISION_LIMIT)
    elif sub == "done":
        step = args[0].lower() if len(args) == 1 else ""
        if not _STEP.match(step):
            raise UsageError("Name one step, like `/esc done notify_user`. " + usage("done"))
        request.step = step
    elif sub == "list":
        if len(args) > 1 or (args and args[0].lower() not in LIST_SCOPES):
            raise UsageError(usage("list"))
        request.scope = args[0].lower() if args else "open"
    elif sub in ("duplicate", "link"):
        other = parse_ref(args[0]) if len(args) == 1 else None
        if other is None:
            raise UsageError(usage(sub))
        request.item = other
    elif sub == "flag":
        if len(args) != 1 or args[0].lower() not in FLAGS:
            raise UsageError(usage("flag"))
        request.kind = args[0].lower()
    elif sub == "stats":
        match = _DAYS.match(args[0]) if len(args) == 1 else None
        if args and (match is None or not 1 <= int(match.group(1)) <= STATS_DAYS_MAX):
            raise UsageError(usage("stats"))
        request.days = int(match.group(1)) if match else 7
    return request
