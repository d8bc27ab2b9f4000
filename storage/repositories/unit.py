""":class:`Repositories`, every repository sharing one session (one unit of work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.repositories.decisions import DecisionRepository
from storage.repositories.escalations import EscalationRepository
from storage.repositories.ledger import LedgerRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.overrides import OverrideRepository
from storage.repositories.pings import PingRepository
from storage.repositories.requests import RequestRepository


class Repositories:
    """Every repository, sharing one session (one unit of work)."""

    def __init__(self, session: Session):
        self.session = session
        self.escalations = EscalationRepository(session)
        self.decisions = DecisionRepository(session)
        self.overrides = OverrideRepository(session)
        self.ledger = LedgerRepository(session)
        self.outbox = OutboxRepository(session)
        self.requests = RequestRepository(session)
        self.pings = PingRepository(session)
