"""Remote entry lookups: each transaction's plate key and matched entry, indexed.

A highway exit asks central for a plate's open entry (contracts.records.entries):
the latest passed entry of the plate key, unless a passed exit names it or has the
same plate key. ``plate_key`` and ``entry_txn_id`` make both questions index reads.
Rows stored before this revision get both from their plate text and canonical JSON,
in chunks of lane and lane_seq order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 01:05:00
"""

from __future__ import annotations

import json
from uuid import UUID

import sqlalchemy as sa
from alembic import op

from contracts.plates import plate_key

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHUNK = 5000

_rows = sa.table(
    "transactions",
    sa.column("lane_id", sa.String),
    sa.column("lane_seq", sa.BigInteger),
    sa.column("kind", sa.String),
    sa.column("plate_text", sa.String),
    sa.column("plate_key", sa.String),
    sa.column("entry_txn_id", sa.Uuid),
    sa.column("canonical", sa.Text),
)


def upgrade() -> None:
    op.add_column(
        "transactions",
        sa.Column(
            "plate_key",
            sa.String(length=20),
            nullable=True,
            comment="contracts.plates.plate_key of plate_text.",
        ),
    )
    op.add_column(
        "transactions",
        sa.Column(
            "entry_txn_id", sa.Uuid(), nullable=True, comment="The entry an exit was matched to."
        ),
    )
    _backfill()
    op.create_index(
        op.f("ix_transactions_plate_key_kind_status"),
        "transactions",
        ["plate_key", "kind", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_entry_txn_id"), "transactions", ["entry_txn_id"], unique=False
    )


def _backfill() -> None:
    connection = op.get_bind()
    after: tuple[str, int] = ("", -1)
    while True:
        chunk = connection.execute(
            sa.select(_rows.c.lane_id, _rows.c.lane_seq, _rows.c.plate_text, _rows.c.canonical)
            .where(
                _rows.c.kind.in_(("entry", "exit")),
                sa.tuple_(_rows.c.lane_id, _rows.c.lane_seq) > sa.tuple_(*after),
            )
            .order_by(_rows.c.lane_id, _rows.c.lane_seq)
            .limit(CHUNK)
        ).all()
        if not chunk:
            return
        updates = []
        for lane_id, lane_seq, plate_text, canonical in chunk:
            entry = json.loads(canonical).get("entry_txn_id")
            updates.append(
                {
                    "k_lane": lane_id,
                    "k_seq": lane_seq,
                    "plate_key": plate_key(plate_text) if plate_text else None,
                    "entry_txn_id": UUID(entry) if entry else None,
                }
            )
        connection.execute(
            sa.update(_rows)
            .where(
                _rows.c.lane_id == sa.bindparam("k_lane"),
                _rows.c.lane_seq == sa.bindparam("k_seq"),
            )
            .values(plate_key=sa.bindparam("plate_key"), entry_txn_id=sa.bindparam("entry_txn_id")),
            updates,
        )
        after = (chunk[-1][0], chunk[-1][1])


def downgrade() -> None:
    op.drop_index(op.f("ix_transactions_entry_txn_id"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_plate_key_kind_status"), table_name="transactions")
    op.drop_column("transactions", "entry_txn_id")
    op.drop_column("transactions", "plate_key")
