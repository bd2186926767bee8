"""Capacity plans a commissioner ran on the register (plan-capacity), kept to be read.

Revision ID: 0005
Revises: 0004
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
        "commission_plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("register_version", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(150), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    """Back to 0004 (the service never runs this; an operator may, with a backup: the
    plans kept go with the table)."""
    op.drop_table("commission_plans")
