"""Lanes' answers to commands (``cmd/result``): who answered, which command, when, the outcome.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 01:20:00
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
        "command_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plaza_id", sa.String(length=32), nullable=False),
        sa.Column(
            "lane_id", sa.String(length=32), nullable=False, comment="The lane that answered."
        ),
        sa.Column(
            "command_id",
            sa.String(length=64),
            nullable=True,
            comment="The command answered (its id in the cmd topic); null when the lane could "
            "not read it.",
        ),
        sa.Column(
            "ok", sa.Boolean(), nullable=False, comment="Carried out (true) or refused (false)."
        ),
        sa.Column(
            "error", sa.Text(), nullable=True, comment="Why the lane refused it, when not ok."
        ),
        sa.Column(
            "lane", sa.JSON(), nullable=False, comment="The lane's status after the command."
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_results")),
    )
    op.create_index(
        op.f("ix_command_results_lane_id_command_id"),
        "command_results",
        ["lane_id", "command_id"],
        unique=True,
    )
    op.create_index(
        op.f("ix_command_results_received_at"), "command_results", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_command_results_received_at"), table_name="command_results")
    op.drop_index(op.f("ix_command_results_lane_id_command_id"), table_name="command_results")
    op.drop_table("command_results")
