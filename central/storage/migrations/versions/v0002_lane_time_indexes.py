"""Indexes by lane and time: reconciliation reads one lane's day, the event rules one
lane's recent events of some kinds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 22:32:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_transactions_lane_id_recorded_at"),
        "transactions",
        ["lane_id", "recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_lane_events_lane_id_kind_time"),
        "lane_events",
        ["lane_id", "kind", "time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_lane_events_lane_id_kind_time"), table_name="lane_events")
    op.drop_index(op.f("ix_transactions_lane_id_recorded_at"), table_name="transactions")
