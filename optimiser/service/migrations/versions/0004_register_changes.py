"""The register's change log: what each version changed, so a worker's warm matcher can
follow the register by applying the changes instead of rebuilding from every row.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_changes",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Back to 0003 (the service never runs this; an operator may, with a backup: workers
    then rebuild their matcher on every change, as before)."""
    op.drop_table("register_changes")
