"""Central's tables, defined once for SQLite and PostgreSQL (SQLAlchemy Core).

Records are kept twice over: as columns that reports and the console search
(times, plate, kind, status, money, tariff) and as the canonical JSON the lane
sealed, from which the record and its hash can always be rebuilt exactly. A
record is keyed by ``(lane_id, lane_seq)`` in its stream's table, which is what
makes storing idempotent. ``stream_acks`` holds, per lane and stream, the
highest contiguous ``lane_seq`` stored and the highest held, so that an ack and
a gap are known without scanning the records.

The migration in ``migrations/versions`` creates exactly these tables; a test
compares the two with Alembic's ``compare_metadata``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

from central.console.roles import ROLES

SITE_ID = 32
"""Length of lane and plaza ids (contracts.ids.SITE_ID_PATTERN)."""
HASH = 64
ALARM_STATES = ("open", "acknowledged", "resolved")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _when(name: str, *, nullable: bool = True, comment: str | None = None) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable, comment=comment)


def _record_key() -> list[Column[Any]]:
    """The key of a stream's record, and its plaza."""
    return [
        Column("lane_id", String(SITE_ID), primary_key=True),
        Column("lane_seq", BigInteger, primary_key=True, autoincrement=False),
        Column("plaza_id", String(SITE_ID), nullable=False),
    ]


def _seal() -> list[Column[Any]]:
    """The chain, when central took the record, and the record itself."""
    return [
        Column("prev_hash", String(HASH), nullable=False),
        Column("hash", String(HASH), nullable=False),
        Column("record_version", Integer, nullable=False),
        _when("received_at", nullable=False),
        Column("canonical", Text, nullable=False, comment="The sealed record's canonical JSON."),
    ]


transactions = Table(
    "transactions",
    metadata,
    *_record_key(),
    Column("txn_id", Uuid, nullable=False, comment="Transaction id; versions share it."),
    Column("kind", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("authorisation", String(24)),
    _when("recorded_at", nullable=False),
    Column("plate_text", String(20)),
    Column("plate_key", String(20), comment="contracts.plates.plate_key of plate_text."),
    Column("plate_pseudonym", String(HASH)),
    Column("plate_confidence", Float),
    Column("vehicle_class", Integer),
    Column("listing", String(16)),
    _when("entry_time"),
    _when("exit_time"),
    Column("entry_plaza", String(SITE_ID)),
    Column("entry_txn_id", Uuid, comment="The entry an exit was matched to."),
    Column("tariff_id", String(64)),
    Column("tariff_version", Integer),
    Column("currency", String(3)),
    Column("fee_total", BigInteger, comment="Minor units of currency."),
    Column("payment_method", String(16)),
    Column("payment_status", String(16), nullable=False),
    Column("gateway_ref", String(128)),
    Column("operator_id", String(128)),
    Column("references_id", Uuid, comment="The original of a refund or correction."),
    *_seal(),
    Index(None, "recorded_at"),
    Index(None, "plaza_id", "recorded_at"),
    Index(None, "lane_id", "recorded_at"),
    Index(None, "plate_text"),
    Index(None, "txn_id"),
    Index(None, "plate_key", "kind", "status"),
    Index(None, "entry_txn_id"),
)

lane_events = Table(
    "lane_events",
    metadata,
    *_record_key(),
    Column("event_id", Uuid, nullable=False),
    _when("time", nullable=False),
    Column("kind", String(40), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("txn_id", Uuid),
    Column("operator_id", String(128)),
    *_seal(),
    Index(None, "time"),
    Index(None, "kind", "time"),
    Index(None, "lane_id", "kind", "time"),
)

stream_acks = Table(
    "stream_acks",
    metadata,
    Column("lane_id", String(SITE_ID), primary_key=True),
    Column("stream", String(8), primary_key=True),
    Column("plaza_id", String(SITE_ID), nullable=False),
    Column("acked_seq", BigInteger, nullable=False, comment="Highest contiguous lane_seq held."),
    Column("held_max", BigInteger, nullable=False, comment="Highest lane_seq held."),
    _when("updated_at", nullable=False),
    CheckConstraint("stream IN ('txn', 'event')", name="stream"),
    CheckConstraint("held_max >= acked_seq", name="held_max"),
)

lanes = Table(
    "lanes",
    metadata,
    Column("lane_id", String(SITE_ID), primary_key=True),
    Column("plaza_id", String(SITE_ID), nullable=False),
    Column("online", Boolean, nullable=False),
    _when("online_changed_at", nullable=False),
    _when("last_seen"),
    _when("state_at", comment="The lane's own time of its last state."),
    Column("mode", String(40)),
    Column("barrier", String(40)),
    Column("software_version", String(40)),
    Column("config_version", Integer),
    Column("tariffs", JSON, nullable=False, comment="Tariff id to version in force."),
    Column("backlog_txn", BigInteger, nullable=False),
    Column("backlog_event", BigInteger, nullable=False),
    _when("updated_at", nullable=False),
)

lane_telemetry = Table(
    "lane_telemetry",
    metadata,
    Column("lane_id", String(SITE_ID), primary_key=True),
    Column("plaza_id", String(SITE_ID), nullable=False),
    _when("at", nullable=False),
    _when("received_at", nullable=False),
    Column("uptime_s", Float, nullable=False),
    Column("read_rate", Float),
    Column("backlog_txn", BigInteger, nullable=False),
    Column("backlog_event", BigInteger, nullable=False),
    Column("faults", JSON, nullable=False),
    Column("versions", JSON, nullable=False),
)

day_totals = Table(
    "day_totals",
    metadata,
    Column("lane_id", String(SITE_ID), primary_key=True),
    Column("day", Date, primary_key=True, comment="Plaza-local day."),
    Column("plaza_id", String(SITE_ID), nullable=False),
    Column("transactions", BigInteger, nullable=False),
    Column("revenue", BigInteger, nullable=False, comment="Minor units of currency."),
    Column("currency", String(3)),
    _when("reported_at", nullable=False, comment="The telemetry's time."),
    _when("received_at", nullable=False),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False, comment="chain_broken, lane_offline, ..."),
    Column("plaza_id", String(SITE_ID)),
    Column("lane_id", String(SITE_ID), comment="Null for an alarm of a plaza or the network."),
    Column(
        "subject",
        String(100),
        nullable=False,
        comment="What within the lane it is about (txn:42); one unresolved alarm per subject.",
    ),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    _when("opened_at", nullable=False),
    _when("changed_at", nullable=False),
    Column("changed_by", String(64), nullable=False, comment="central, or a user id."),
    Column("detail", JSON, nullable=False),
    CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="state"),
    Index(None, "state", "kind"),
    Index(None, "lane_id", "kind", "subject"),
)

command_results = Table(
    "command_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plaza_id", String(SITE_ID), nullable=False),
    Column("lane_id", String(SITE_ID), nullable=False, comment="The lane that answered."),
    Column(
        "command_id",
        String(64),
        comment="The command answered (its id in the cmd topic); null when the lane could "
        "not read it.",
    ),
    Column("ok", Boolean, nullable=False, comment="Carried out (true) or refused (false)."),
    Column("error", Text, comment="Why the lane refused it, when not ok."),
    Column("lane", JSON, nullable=False, comment="The lane's status after the command."),
    _when("received_at", nullable=False),
    Index(None, "lane_id", "command_id", unique=True),
    Index(None, "received_at"),
)
"""Lanes' answers to commands; a QoS 1 repeat of one answer is kept once."""

alarm_timers = Table(
    "alarm_timers",
    metadata,
    Column("rule", String(40), primary_key=True, comment="gap_unfilled, reconcile_mismatch."),
    Column("lane_id", String(SITE_ID), primary_key=True),
    Column("subject", String(100), primary_key=True, comment="As the alarm's (txn:gap, day:D)."),
    _when("since", nullable=False, comment="When the condition was first seen."),
    Column("mark", BigInteger, comment="What the condition began at (a gap's acked_seq)."),
)
"""How long a time-based condition has lasted, kept so a restarted central goes on counting."""

USER_NAME = 64

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(USER_NAME), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False, comment="Argon2id, PHC string form."),
    _when("created_at", nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False, comment="Failures since failures_since."),
    _when("failures_since", comment="The first failure of the current lockout period."),
    _when("locked_until", comment="Logins are refused until then."),
    Column("totp_secret", String(64), comment="Base32 TOTP secret; null: no second factor."),
    CheckConstraint(f"role IN ({', '.join(repr(role) for role in ROLES)})", name="role"),
)
"""People who log in to the console."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _when("at", nullable=False),
    Column("actor", String(USER_NAME), nullable=False, comment="A user name, or central."),
    Column("action", String(64), nullable=False, comment="user.add, alarm.acknowledge, ..."),
    Column("target", String(200), nullable=False, comment="What it acted on (alarm:42)."),
    Column("before", JSON, comment="The target before the action; null when it is new."),
    Column("after", JSON, comment="The target after the action; null when it is gone."),
    Column("reason", Text, comment="The reason the form asked for."),
    Index(None, "at"),
    Index(None, "target", "at"),
)
"""Every change made through the console; rows are only ever inserted (a trigger refuses
UPDATE and DELETE on both databases)."""

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(HASH), primary_key=True, comment="SHA-256 of the cookie."),
    Column("user_id", Integer, nullable=False),
    _when("created_at", nullable=False),
    _when("last_seen", nullable=False, comment="Idle timeout counts from here."),
    Index(None, "user_id"),
)
"""Logged-in console sessions; the cookie holds the token, the database only its hash."""
