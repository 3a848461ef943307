"""Reconciliation on SQLite and PostgreSQL: lane day totals against central's count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from central_db import BACKENDS, central_db_url

from central.alarms.reconcile import KIND, Reconciler
from central.alarms.watch import AlarmSweep
from central.config import CentralConfig
from central.storage import CentralStore
from central.storage.engine import writer
from contracts.mqtt.payloads import DayTotal, Telemetry
from contracts.reconcile import day_totals
from contracts.records.sealed import TransactionRecord
from contracts.testing import batch, paid_exit, refund, seal, voided

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 3)
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
GRACE = timedelta(minutes=2)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CentralStore]:
    with central_db_url(request.param, tmp_path) as url, CentralStore.open(url) as opened:
        yield opened


def records() -> list[TransactionRecord]:
    paid = paid_exit("e1", T0, fee=800)
    return seal(
        [
            paid,
            voided("e1", T0 + timedelta(minutes=5)),
            refund(paid, 300, T0 + timedelta(minutes=10)),
            paid_exit(
                "e1", T0 - timedelta(hours=9), fee=50
            ),  # 01:00 in Shanghai, 17:00 UTC the day before
        ]
    )


def report(store: CentralStore, at: datetime, *totals: DayTotal) -> None:
    store.note_telemetry(
        Telemetry(plaza_id="east", lane_id="e1", at=at, uptime_s=1.0, totals=totals), at
    )


def sweep(store: CentralStore, reconciler: Reconciler, now: datetime) -> None:
    with writer(store.engine).begin() as connection:
        reconciler.sweep(connection, now)


def mismatches(store: CentralStore) -> list[tuple[str, dict[str, object]]]:
    return [(a.state, a.detail) for a in store.alarms() if a.kind == KIND]


class TestReconcile:
    """A lasting difference is an alarm with both figures, resolved when they agree."""

    def test_agreement_raises_nothing(self, store: CentralStore) -> None:
        sealed = records()
        store.store_batch("east", batch("east", sealed), T0)
        lane_totals = day_totals(sealed, SHANGHAI)  # the lane's own count, by the same rule
        assert [(t.day, t.transactions, t.revenue) for t in lane_totals] == [(DAY, 3, 550)]
        now = T0 + timedelta(minutes=20)
        report(store, now, *lane_totals)
        reconciler = Reconciler(lambda _: SHANGHAI, GRACE)
        sweep(store, reconciler, now)
        sweep(store, reconciler, now + GRACE * 2)
        assert mismatches(store) == []

    def test_wrong_zone_is_a_difference(self, store: CentralStore) -> None:
        sealed = records()
        store.store_batch("east", batch("east", sealed), T0)
        now = T0 + timedelta(minutes=20)
        report(store, now, *day_totals(sealed, SHANGHAI))
        reconciler = Reconciler(lambda _: ZoneInfo("UTC"), GRACE)
        sweep(store, reconciler, now)
        sweep(store, reconciler, now + GRACE)
        [(_, detail)] = mismatches(store)
        assert (detail["day"], detail["lane_revenue"], detail["central_revenue"]) == (
            "2026-12-03",
            550,
            500,
        )

    def test_missing_record_raised_after_grace_and_resolved(self, store: CentralStore) -> None:
        sealed = records()
        store.store_batch("east", batch("east", sealed[:1]), T0)  # the rest in flight
        now = T0 + timedelta(minutes=20)
        report(store, now, DayTotal(day=DAY, transactions=3, revenue=550, currency="USD"))
        reconciler = Reconciler(lambda _: SHANGHAI, GRACE)
        sweep(store, reconciler, now)
        sweep(store, reconciler, now + GRACE - timedelta(seconds=1))
        assert mismatches(store) == []  # within the grace: records in flight
        sweep(store, reconciler, now + GRACE)
        [(state, detail)] = mismatches(store)
        assert state == "open"
        assert (
            detail["lane_transactions"],
            detail["lane_revenue"],
            detail["central_transactions"],
            detail["central_revenue"],
        ) == (3, 550, 1, 800)
        store.store_batch("east", batch("east", sealed[1:]), now + GRACE)
        sweep(store, reconciler, now + GRACE * 2)
        [alarm] = [a for a in store.alarms() if a.kind == KIND]
        assert (alarm.state, alarm.changed_by) == ("resolved", "central")

    def test_a_restarted_central_does_not_wait_a_new_grace(self, store: CentralStore) -> None:
        sealed = records()
        store.store_batch("east", batch("east", sealed[:1]), T0)
        now = T0 + timedelta(minutes=20)
        report(store, now, DayTotal(day=DAY, transactions=3, revenue=550, currency="USD"))
        sweep(store, Reconciler(lambda _: SHANGHAI, GRACE), now)  # the first process
        restarted = Reconciler(lambda _: SHANGHAI, GRACE)
        sweep(store, restarted, now + GRACE - timedelta(seconds=1))
        assert mismatches(store) == []
        sweep(store, restarted, now + GRACE)
        [(state, detail)] = mismatches(store)
        assert (state, detail["since"]) == ("open", now.isoformat())
        store.store_batch("east", batch("east", sealed[1:]), now + GRACE)
        sweep(store, Reconciler(lambda _: SHANGHAI, GRACE), now + GRACE * 2)
        assert [state for state, _ in mismatches(store)] == ["resolved"]
        report(store, now + GRACE * 3, DayTotal(day=DAY, transactions=4, revenue=600))
        sweep(store, Reconciler(lambda _: SHANGHAI, GRACE), now + GRACE * 3)
        sweep(store, Reconciler(lambda _: SHANGHAI, GRACE), now + GRACE * 4 - timedelta(seconds=1))
        assert [state for state, _ in mismatches(store)] == ["resolved"]  # a new difference

    def test_records_after_the_report_are_not_counted(self, store: CentralStore) -> None:
        sealed = records()
        store.store_batch("east", batch("east", sealed), T0)
        # The lane reported before it recorded the refund (T0 + 10 min).
        at = T0 + timedelta(minutes=7)
        report(store, at, DayTotal(day=DAY, transactions=3, revenue=850, currency="USD"))
        reconciler = Reconciler(lambda _: SHANGHAI, GRACE)
        sweep(store, reconciler, at)
        sweep(store, reconciler, at + GRACE * 3)
        assert mismatches(store) == []


class TestThroughTheSweep:
    """central run's sweep reconciles with the plaza zones and grace of the config."""

    def test_raised_and_resolved(self, store: CentralStore) -> None:
        config = CentralConfig.model_validate(
            {
                "kind": "central",
                "plazas": {"east": {"timezone": "Asia/Shanghai"}},
                "reconcile": {"grace_s": 60},
            }
        )
        sweep = AlarmSweep(store, config)
        sealed = records()
        store.store_batch("east", batch("east", sealed[:2]), T0)
        now = T0 + timedelta(minutes=20)
        report(store, now, *day_totals(sealed, SHANGHAI))
        sweep.run(now)
        sweep.run(now + timedelta(seconds=60))
        [(state, detail)] = mismatches(store)
        assert (state, detail["lane_revenue"], detail["central_revenue"]) == ("open", 550, 800)
        store.store_batch("east", batch("east", sealed[2:]), now)
        sweep.run(now + timedelta(seconds=61))
        assert [s for s, _ in mismatches(store)] == ["resolved"]
