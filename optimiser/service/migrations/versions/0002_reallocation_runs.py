"""Overnight re-allocation runs that a manager signs off.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "realloc_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("register_version", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(150), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("decided_by", sa.String(150), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("approved_chains", sa.Text, nullable=True),
    )


def downgrade() -> None:
    """Back to 0001 (the service never runs this; an operator may, with a backup: the
    runs go with the table)."""
    op.drop_table("realloc_runs")
