"""deadlines: an escalation's clocks from the matching `deadlines:`, fixed at creation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("escalation_id", sa.Integer(), sa.ForeignKey("escalations.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("escalation_id", "position"),
    )
    op.create_index("ix_deadlines_escalation_id", "deadlines", ["escalation_id"])


def downgrade() -> None:
    op.drop_index("ix_deadlines_escalation_id", table_name="deadlines")
    op.drop_table("deadlines")
