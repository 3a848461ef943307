"""The console's users, its sessions, and the append-only audit log.

The audit log refuses UPDATE and DELETE in the database itself: a trigger on
both SQLite and PostgreSQL, so that not even a connection bypassing
central.console.audit can rewrite history without dropping the trigger first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_REFUSED = "audit_log is append-only"
_PG_FUNCTION = f"""
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{_REFUSED}';
END;
$$ LANGUAGE plpgsql
"""


def _when(name: str, *, nullable: bool = True, comment: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, comment=comment)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column(
            "password_hash",
            sa.String(length=200),
            nullable=False,
            comment="Argon2id, PHC string form.",
        ),
        _when("created_at", nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column(
            "failed_logins",
            sa.Integer(),
            nullable=False,
            comment="Failures since failures_since.",
        ),
        _when("failures_since", comment="The first failure of the current lockout period."),
        _when("locked_until", comment="Logins are refused until then."),
        sa.Column(
            "totp_secret",
            sa.String(length=64),
            nullable=True,
            comment="Base32 TOTP secret; null: no second factor.",
        ),
        sa.CheckConstraint(
            "role IN ('administrator', 'supervisor', 'operator', 'auditor', 'technician')",
            name=op.f("ck_users_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _when("at", nullable=False),
        sa.Column(
            "actor", sa.String(length=64), nullable=False, comment="A user name, or central."
        ),
        sa.Column(
            "action",
            sa.String(length=64),
            nullable=False,
            comment="user.add, alarm.acknowledge, ...",
        ),
        sa.Column(
            "target",
            sa.String(length=200),
            nullable=False,
            comment="What it acted on (alarm:42).",
        ),
        sa.Column(
            "before",
            sa.JSON(),
            nullable=True,
            comment="The target before the action; null when it is new.",
        ),
        sa.Column(
            "after",
            sa.JSON(),
            nullable=True,
            comment="The target after the action; null when it is gone.",
        ),
        sa.Column("reason", sa.Text(), nullable=True, comment="The reason the form asked for."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_target_at"), "audit_log", ["target", "at"])
    op.create_table(
        "console_sessions",
        sa.Column(
            "token_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the cookie."
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("last_seen", nullable=False, comment="Idle timeout counts from here."),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("console_sessions")
    op.drop_table("audit_log")
    op.drop_table("users")
