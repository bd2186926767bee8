"""The first schema: users, sessions, the register, referrals, decisions, approvals, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64

# The audit trail is append-only in the database itself, not only in the code.
SQLITE_GUARDS = [
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
]
SQLITE_UNGUARDS = ["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"]
PG_UNGUARDS = ["DROP TRIGGER audit_no_change ON audit_events", "DROP FUNCTION audit_append_only()"]
TABLES = ("users", "sessions", "register_meta", "children", "placements", "exclusions",
          "register_files", "referrals", "decisions", "approvals", "audit_events")
PG_GUARDS = [
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False, server_default=""),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    meta = op.create_table(
        "register_meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=False),
        sa.Column("child_columns", sa.Text, nullable=False),
        sa.Column("placement_columns", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"id": 1, "version": 0, "audit_seq": 0, "audit_hash": GENESIS,
                           "child_columns": "[]", "placement_columns": "[]"}])
    op.create_table(
        "children",
        sa.Column("child_id", sa.String(200), primary_key=True),
        sa.Column("row_no", sa.Integer, nullable=False),
        sa.Column("sibling_group", sa.String(200), nullable=False, server_default=""),
        sa.Column("current_placement", sa.String(200), nullable=False, server_default=""),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("children_group", "children", ["sibling_group"])
    op.create_table(
        "placements",
        sa.Column("placement_id", sa.String(200), primary_key=True),
        sa.Column("row_no", sa.Integer, nullable=False),
        sa.Column("vacancies", sa.Integer, nullable=False),
        sa.Column("on_hold_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "exclusions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_id", sa.String(200), nullable=False),
        sa.Column("placement_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "register_files",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("child_id", sa.String(200), nullable=True),
        sa.Column("sibling_group", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(150), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("referral_id", sa.String(32), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("placement_id", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("user", sa.String(150), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("referral_id", sa.String(32), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("placement_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_by", sa.String(150), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("decided_by", sa.String(150), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("user", sa.String(150), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    guards = PG_GUARDS if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARDS
    for sql in guards:
        op.execute(sql)


def downgrade() -> None:
    """Back to an empty database (the service never runs this; an operator may, with a
    backup: the register and the audit trail go with it)."""
    pg = op.get_bind().dialect.name == "postgresql"
    for sql in PG_UNGUARDS if pg else SQLITE_UNGUARDS:
        op.execute(sql)
    op.drop_index("children_group", table_name="children")
    for name in reversed(TABLES):
        op.drop_table(name)
