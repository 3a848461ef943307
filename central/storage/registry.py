"""The lane registry and the latest telemetry: upserts, one row per lane (and per day).

What a state message changes. An online state is the lane speaking: everything it
says is taken. An offline state is usually the broker's will, set when the lane
connected and carrying nothing else, so it changes ``online`` (and when it
flipped) but keeps the last known mode, versions, tariffs and backlog rather
than blanking them. Messages are taken in arrival order: the will's ``at`` is
when the lane's connection began (the will is set then), not when the lane
vanished, which is when central received it (``online_changed_at``).

Telemetry is proof of life: it moves ``last_seen`` and, unless older than the
telemetry held, the backlog (registering, as online, a lane that has not stated
itself yet), but only a state message changes ``online``. A telemetry or day
total older than the one held (QoS 0 may reorder) is ignored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, func, select

from central.storage.engine import upsert
from central.storage.schema import day_totals, lane_telemetry, lanes
from contracts.mqtt.payloads import LaneState, Telemetry

_KEPT_WHEN_NULL = ("mode", "barrier", "software_version", "config_version")
_TAKEN_WHEN_ONLINE = ("tariffs", "backlog_txn", "backlog_event")


def note_state(connection: Connection, state: LaneState, received_at: datetime) -> None:
    insert = upsert(connection, lanes)
    new = insert.excluded
    statement = insert.values(
        lane_id=state.lane_id,
        plaza_id=state.plaza_id,
        online=state.online,
        online_changed_at=received_at,
        last_seen=received_at if state.online else None,
        state_at=state.at,
        mode=state.mode,
        barrier=state.barrier,
        software_version=state.software_version,
        config_version=state.config_version,
        tariffs=dict(state.tariffs),
        backlog_txn=state.backlog.txn,
        backlog_event=state.backlog.event,
        updated_at=received_at,
    ).on_conflict_do_update(
        index_elements=[lanes.c.lane_id],
        set_={
            "plaza_id": new.plaza_id,
            "online": new.online,
            "online_changed_at": case(
                (lanes.c.online == new.online, lanes.c.online_changed_at),
                else_=new.online_changed_at,
            ),
            "last_seen": func.coalesce(new.last_seen, lanes.c.last_seen),
            "state_at": new.state_at,
            "updated_at": new.updated_at,
            **{name: func.coalesce(new[name], lanes.c[name]) for name in _KEPT_WHEN_NULL},
            **{
                name: case((new.online, new[name]), else_=lanes.c[name])
                for name in _TAKEN_WHEN_ONLINE
            },
        },
    )
    connection.execute(statement)


def note_telemetry(connection: Connection, telemetry: Telemetry, received_at: datetime) -> None:
    lane = {"lane_id": telemetry.lane_id, "plaza_id": telemetry.plaza_id}
    insert = upsert(connection, lane_telemetry)
    columns = {
        "at": telemetry.at,
        "received_at": received_at,
        "uptime_s": telemetry.uptime_s,
        "read_rate": telemetry.read_rate,
        "backlog_txn": telemetry.backlog.txn,
        "backlog_event": telemetry.backlog.event,
        "faults": list(telemetry.faults),
        "versions": dict(telemetry.versions),
    }
    newest = connection.execute(
        insert.values(**lane, **columns)
        .on_conflict_do_update(
            index_elements=[lane_telemetry.c.lane_id],
            set_={name: insert.excluded[name] for name in ("plaza_id", *columns)},
            where=insert.excluded.at >= lane_telemetry.c.at,
        )
        .returning(lane_telemetry.c.lane_id)
    ).first()
    if telemetry.totals:
        totals = upsert(connection, day_totals)
        changing = ("plaza_id", "transactions", "revenue", "currency", "reported_at", "received_at")
        connection.execute(
            totals.on_conflict_do_update(
                index_elements=[day_totals.c.lane_id, day_totals.c.day],
                set_={name: totals.excluded[name] for name in changing},
                where=totals.excluded.reported_at >= day_totals.c.reported_at,
            ),
            [
                {
                    **lane,
                    "day": total.day,
                    "transactions": total.transactions,
                    "revenue": total.revenue,
                    "currency": total.currency,
                    "reported_at": telemetry.at,
                    "received_at": received_at,
                }
                for total in telemetry.totals
            ],
        )
    seen = upsert(connection, lanes)
    connection.execute(
        seen.values(
            **lane,
            online=True,
            online_changed_at=received_at,
            last_seen=received_at,
            tariffs={},
            backlog_txn=telemetry.backlog.txn,
            backlog_event=telemetry.backlog.event,
            updated_at=received_at,
        ).on_conflict_do_update(
            index_elements=[lanes.c.lane_id],
            set_={
                name: seen.excluded[name]
                for name in ("last_seen", "updated_at")
                + (("backlog_txn", "backlog_event") if newest is not None else ())
            },
            where=lanes.c.last_seen.is_(None) | (lanes.c.last_seen <= seen.excluded.last_seen),
        )
    )


def site_lanes(connection: Connection, plaza_id: str) -> list[str]:
    """The lanes of ``plaza_id`` that central has heard from (state or telemetry), by id."""
    rows = connection.execute(
        select(lanes.c.lane_id).where(lanes.c.plaza_id == plaza_id).order_by(lanes.c.lane_id)
    )
    return [row[0] for row in rows]
