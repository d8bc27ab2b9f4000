"""escalations: an index on (owner, status) for what a handoff lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_escalations_owner_status", "escalations", ["owner", "status"])


def downgrade() -> None:
    op.drop_index("ix_escalations_owner_status", table_name="escalations")
