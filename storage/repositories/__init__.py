"""Repositories: the queries the use cases need, over one session.

One module per repository (escalations, decisions, overrides, ledger, outbox, requests,
pings), ``base`` for the helpers they share and ``unit`` for :class:`Repositories`, which
bundles them over one session; this package re-exports the public names.
"""

from __future__ import annotations

from storage.repositories.base import driver_error, next_value
from storage.repositories.decisions import DecisionRepository
from storage.repositories.escalations import EscalationRepository
from storage.repositories.ledger import FIRST_START, LedgerRepository
from storage.repositories.outbox import NewItem, OutboxInsert, OutboxRepository
from storage.repositories.overrides import OverrideRepository
from storage.repositories.pings import PingRepository, epoch
from storage.repositories.requests import RequestRepository
from storage.repositories.unit import Repositories

__all__ = [
    "FIRST_START",
    "DecisionRepository",
    "EscalationRepository",
    "LedgerRepository",
    "NewItem",
    "OutboxInsert",
    "OutboxRepository",
    "OverrideRepository",
    "PingRepository",
    "Repositories",
    "RequestRepository",
    "driver_error",
    "epoch",
    "next_value",
]
