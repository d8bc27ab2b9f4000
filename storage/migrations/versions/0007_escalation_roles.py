"""escalation_roles: who holds each configured role on an escalation

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 03:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_roles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("escalation_id", sa.Integer(), sa.ForeignKey("escalations.id"), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(20), nullable=False),
        sa.Column("assigned_by", sa.String(20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("escalation_id", "role"),
    )
    op.create_index("ix_escalation_roles_escalation_id", "escalation_roles", ["escalation_id"])


def downgrade() -> None:
    op.drop_index("ix_escalation_roles_escalation_id", table_name="escalation_roles")
    op.drop_table("escalation_roles")
