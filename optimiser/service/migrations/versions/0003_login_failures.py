"""Failed sign-ins kept in the database, so every worker process throttles alike.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("login_failures_key", "login_failures", ["key", "at"])


def downgrade() -> None:
    """Back to 0002 (the service never runs this; an operator may, with a backup: the
    throttle's counts go with the table)."""
    op.drop_index("login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")
