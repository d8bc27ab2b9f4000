"""Slack deliveries already handled: a retried event is recognised by its stable ID."""

from __future__ import annotations

from bot.services import Services


def first_delivery(svc: Services, key: str, kind: str) -> bool:
    """Record a delivery's stable key; return False when it was handled before."""
    with svc.db.uow() as uow:
        first = uow.repos.requests.claim(key, kind, svc.clock())
        uow.commit()
    return first
