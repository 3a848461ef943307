"""How long a gap or a reconciliation difference has lasted, kept across restarts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 01:25:00
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
        "alarm_timers",
        sa.Column(
            "rule",
            sa.String(length=40),
            nullable=False,
            comment="gap_unfilled, reconcile_mismatch.",
        ),
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column(
            "subject",
            sa.String(length=100),
            nullable=False,
            comment="As the alarm's (txn:gap, day:D).",
        ),
        sa.Column(
            "since",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the condition was first seen.",
        ),
        sa.Column(
            "mark",
            sa.BigInteger(),
            nullable=True,
            comment="What the condition began at (a gap's acked_seq).",
        ),
        sa.PrimaryKeyConstraint("rule", "lane_id", "subject", name=op.f("pk_alarm_timers")),
    )


def downgrade() -> None:
    op.drop_table("alarm_timers")
