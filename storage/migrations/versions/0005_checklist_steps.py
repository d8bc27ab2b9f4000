"""checklist_steps: an escalation's playbook checklist, fixed at creation

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("escalation_id", sa.Integer(), sa.ForeignKey("escalations.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("signoff", sa.String(40), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(20), nullable=True),
        sa.Column("done_signoff", sa.Integer(), nullable=True),
        sa.UniqueConstraint("escalation_id", "step_id"),
    )
    op.create_index("ix_checklist_steps_escalation_id", "checklist_steps", ["escalation_id"])


def downgrade() -> None:
    op.drop_index("ix_checklist_steps_escalation_id", table_name="checklist_steps")
    op.drop_table("checklist_steps")
