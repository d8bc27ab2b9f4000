"""What a user's App Home shows: who is on call now, my next shifts, my open escalations."""

from __future__ import annotations

from datetime import timedelta

from bot.kinds import OPEN
from bot.results import Home, OnCallNow
from bot.services import Services
from bot.usecases.lifecycle import involves, visible_escalations
from schedules import rotation as engine

SHIFTS_AHEAD = timedelta(days=14)
MAX_SHIFTS = 10


def home_data(svc: Services, user: str) -> Home:
    """Collect the App Home of `user` (restricted escalations only for their insiders)."""
    now = svc.clock()
    home = Home(user, now)
    with svc.db.uow() as uow:
        repo = uow.repos.overrides
        for rotation_id, rotation in svc.oncall.rotations.items():
            shift = svc.oncall.now(repo, rotation_id, now)
            home.oncall.append(
                OnCallNow(rotation_id, shift.user if shift else None, shift.end if shift else None)
            )
            overrides = svc.oncall.overrides(repo, rotation_id, now, now + SHIFTS_AHEAD)
            home.shifts.extend(
                s
                for s in engine.shifts(rotation, now, now + SHIFTS_AHEAD, overrides)
                if s.user == user
            )
        home.shifts.sort(key=lambda s: (s.start, s.rotation))
        del home.shifts[MAX_SHIFTS:]
        home.escalations = [
            esc
            for esc in visible_escalations(svc, uow, user, statuses=OPEN)
            if involves(esc, user)
        ]
    return home
