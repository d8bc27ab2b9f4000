"""Seed an emulated workspace with the people, channels and user groups a config names."""

from __future__ import annotations

from bot.config import TeamConfig
from bot.sandbox.emulator import Emulator

# Sandbox people live around the world, so time-zone handling is visible in every reply.
ZONES = [
    "America/Los_Angeles",
    "Europe/Dublin",
    "Asia/Singapore",
    "America/New_York",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Australia/Sydney",
]
USERGROUP_SIZE = 3


def config_users(config: TeamConfig) -> list[str]:
    """Return every user ID the config names, in first-seen order."""
    users: dict[str, None] = dict.fromkeys(config.team.members)
    for rotation in config.rotations.values():
        for layer in rotation.layers:
            users.update(dict.fromkeys(layer.members))
    for group in config.stakeholders.values():
        users.update(dict.fromkeys(group.members or []))
    for step in config.escalation_policy.steps:
        users.update(dict.fromkeys(t[5:] for t in step.notify if t.startswith("user:")))
    return list(users)


def handle_of(user_id: str) -> str:
    """Derive a readable handle from a sandbox ID: U0ANA00001 → ana."""
    core = user_id[2:].rstrip("0123456789") or user_id
    number = int(user_id[len(core) + 2 :] or 0)
    return core.lower() + (str(number) if number > 1 else "")


def usergroup_members(usergroup_id: str) -> list[str]:
    """Return the made-up members of a user group: U<group core><n>."""
    core = usergroup_id[2:7].upper()
    return [f"U0{core}{n:0{9 - len(core)}d}" for n in range(1, USERGROUP_SIZE + 1)]


def seed(emulator: Emulator, config: TeamConfig) -> dict[str, str]:
    """Add the config's users, team channels and user groups; return handle → user ID."""
    handles: dict[str, str] = {}
    everyone = config_users(config)
    groups = {g.usergroup: name for name, g in config.stakeholders.items() if g.usergroup}
    for usergroup in groups:
        everyone.extend(u for u in usergroup_members(usergroup) if u not in everyone)
    for i, user in enumerate(everyone):
        handle = handle_of(user)
        if handle in handles:
            handle = f"{handle}{i}"
        handles[handle] = user
        emulator.add_user(
            user,
            handle,
            tz=ZONES[i % len(ZONES)],
            email=f"{handle}@example.com",
            real_name=handle.capitalize(),
        )
    for usergroup, name in groups.items():
        emulator.add_usergroup(usergroup, name.replace("_", "-"), usergroup_members(usergroup))
    emulator.add_channel(config.team.channel, "escalations-team", members=config.team.members)
    emulator.add_channel(config.team.feed_channel, "escalations-feed", members=everyone)
    if config.team.updates_channel:
        emulator.add_channel(config.team.updates_channel, "escalations-updates", members=everyone)
    return handles
