"""Central's first schema: records of both streams, acks, lane registry, telemetry, alarms.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-04 21:03:02.341996
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "kind", sa.String(length=40), nullable=False, comment="chain_broken, lane_offline, ..."
        ),
        sa.Column("plaza_id", sa.String(length=32), nullable=True),
        sa.Column(
            "lane_id",
            sa.String(length=32),
            nullable=True,
            comment="Null for an alarm of a plaza or the network.",
        ),
        sa.Column(
            "subject",
            sa.String(length=100),
            nullable=False,
            comment="What within the lane it is about (txn:42); one unresolved alarm per subject.",
        ),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "changed_by", sa.String(length=64), nullable=False, comment="central, or a user id."
        ),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_alarms_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(
        op.f("ix_alarms_lane_id_kind_subject"),
        "alarms",
        ["lane_id", "kind", "subject"],
        unique=False,
    )
    op.create_index(op.f("ix_alarms_state_kind"), "alarms", ["state", "kind"], unique=False)
    op.create_table(
        "day_totals",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="Plaza-local day."),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column("transactions", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False, comment="Minor units of currency."),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="The telemetry's time.",
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lane_id", "day", name=op.f("pk_day_totals")),
    )
    op.create_table(
        "lane_events",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("lane_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("txn_id", sa.Uuid(), nullable=True),
        sa.Column("operator_id", sa.String(length=128), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "canonical", sa.Text(), nullable=False, comment="The sealed record's canonical JSON."
        ),
        sa.PrimaryKeyConstraint("lane_id", "lane_seq", name=op.f("pk_lane_events")),
    )
    op.create_index(op.f("ix_lane_events_kind_time"), "lane_events", ["kind", "time"], unique=False)
    op.create_index(op.f("ix_lane_events_time"), "lane_events", ["time"], unique=False)
    op.create_table(
        "lane_telemetry",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uptime_s", sa.Float(), nullable=False),
        sa.Column("read_rate", sa.Float(), nullable=True),
        sa.Column("backlog_txn", sa.BigInteger(), nullable=False),
        sa.Column("backlog_event", sa.BigInteger(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("lane_id", name=op.f("pk_lane_telemetry")),
    )
    op.create_table(
        "lanes",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("online_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "state_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The lane's own time of its last state.",
        ),
        sa.Column("mode", sa.String(length=40), nullable=True),
        sa.Column("barrier", sa.String(length=40), nullable=True),
        sa.Column("software_version", sa.String(length=40), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("tariffs", sa.JSON(), nullable=False, comment="Tariff id to version in force."),
        sa.Column("backlog_txn", sa.BigInteger(), nullable=False),
        sa.Column("backlog_event", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lane_id", name=op.f("pk_lanes")),
    )
    op.create_table(
        "stream_acks",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column(
            "acked_seq",
            sa.BigInteger(),
            nullable=False,
            comment="Highest contiguous lane_seq held.",
        ),
        sa.Column("held_max", sa.BigInteger(), nullable=False, comment="Highest lane_seq held."),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("stream IN ('txn', 'event')", name=op.f("ck_stream_acks_stream")),
        sa.CheckConstraint("held_max >= acked_seq", name=op.f("ck_stream_acks_held_max")),
        sa.PrimaryKeyConstraint("lane_id", "stream", name=op.f("pk_stream_acks")),
    )
    op.create_table(
        "transactions",
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("lane_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column(
            "txn_id", sa.Uuid(), nullable=False, comment="Transaction id; versions share it."
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("authorisation", sa.String(length=24), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plate_text", sa.String(length=20), nullable=True),
        sa.Column("plate_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("plate_confidence", sa.Float(), nullable=True),
        sa.Column("vehicle_class", sa.Integer(), nullable=True),
        sa.Column("listing", sa.String(length=16), nullable=True),
        sa.Column("entry_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_plaza", sa.String(length=32), nullable=True),
        sa.Column("tariff_id", sa.String(length=64), nullable=True),
        sa.Column("tariff_version", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("fee_total", sa.BigInteger(), nullable=True, comment="Minor units of currency."),
        sa.Column("payment_method", sa.String(length=16), nullable=True),
        sa.Column("payment_status", sa.String(length=16), nullable=False),
        sa.Column("gateway_ref", sa.String(length=128), nullable=True),
        sa.Column("operator_id", sa.String(length=128), nullable=True),
        sa.Column(
            "references_id",
            sa.Uuid(),
            nullable=True,
            comment="The original of a refund or correction.",
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "canonical", sa.Text(), nullable=False, comment="The sealed record's canonical JSON."
        ),
        sa.PrimaryKeyConstraint("lane_id", "lane_seq", name=op.f("pk_transactions")),
    )
    op.create_index(
        op.f("ix_transactions_plate_text"), "transactions", ["plate_text"], unique=False
    )
    op.create_index(
        op.f("ix_transactions_plaza_id_recorded_at"),
        "transactions",
        ["plaza_id", "recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_recorded_at"), "transactions", ["recorded_at"], unique=False
    )
    op.create_index(op.f("ix_transactions_txn_id"), "transactions", ["txn_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transactions_txn_id"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_recorded_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_plaza_id_recorded_at"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_plate_text"), table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("stream_acks")
    op.drop_table("lanes")
    op.drop_table("lane_telemetry")
    op.drop_index(op.f("ix_lane_events_time"), table_name="lane_events")
    op.drop_index(op.f("ix_lane_events_kind_time"), table_name="lane_events")
    op.drop_table("lane_events")
    op.drop_table("day_totals")
    op.drop_index(op.f("ix_alarms_state_kind"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_lane_id_kind_subject"), table_name="alarms")
    op.drop_table("alarms")
