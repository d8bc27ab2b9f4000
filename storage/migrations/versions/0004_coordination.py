"""coordination: duplicates and links between escalations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_escalations_duplicate_of", "escalations", ["duplicate_of"], ["id"]
        )
    op.create_table(
        "escalation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.ForeignKeyConstraint(["related_id"], ["escalations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("escalation_id", "related_id"),
    )
    op.create_index(
        "ix_escalation_links_escalation_id", "escalation_links", ["escalation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_escalation_links_escalation_id", table_name="escalation_links")
    op.drop_table("escalation_links")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_escalations_duplicate_of", type_="foreignkey")
        batch_op.drop_column("duplicate_of")
