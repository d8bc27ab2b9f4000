"""The request repository: processed request keys, claimed once, with their results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    ProcessedRequest,
)


class RequestRepository:
    """Keys of Slack requests already handled (retries and double clicks)."""

    def __init__(self, session: Session):
        self.session = session

    def claim(self, key: str, kind: str, now: datetime, **result: Any) -> bool:
        """Record the request key; return False when it was seen before."""
        try:
            with self.session.begin_nested():
                self.session.add(
                    ProcessedRequest(key=key, kind=kind, created_at=now, result=result)
                )
        except IntegrityError:
            return False
        return True

    def get(self, key: str) -> ProcessedRequest | None:
        """Return the processed request, or None."""
        return self.session.get(ProcessedRequest, key)
