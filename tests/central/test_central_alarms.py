"""Central's alarms on SQLite and PostgreSQL: each raised and resolved from stored records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from central_db import BACKENDS, central_db_url
from sqlalchemy import text

from central.alarms.revenue import last_complete_hour, same_hour_weeks_before
from central.alarms.watch import STUCK_REFRESH_S, SWEEP_LOCK, AlarmingStore, AlarmSweep
from central.config import CentralConfig
from central.storage import Alarm, CentralStore
from contracts.mqtt.payloads import LaneState, Telemetry
from contracts.testing import SealedLane, paid_exit, refund

T = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday
CONFIG = CentralConfig.model_validate(
    {
        "kind": "central",
        "alarms": {
            "offline_after_s": 60,
            "gap_after_s": 300,
            "unreadable_plates": {"count": 3, "window_s": 600},
            "payment_failures": {"count": 2, "window_s": 300},
        },
    }
)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CentralStore]:
    with central_db_url(request.param, tmp_path) as url, CentralStore.open(url) as opened:
        yield opened


@pytest.fixture
def alarming(store: CentralStore) -> AlarmingStore:
    return AlarmingStore(store, CONFIG)


@pytest.fixture
def sweep(store: CentralStore) -> AlarmSweep:
    return AlarmSweep(store, CONFIG)


def of(store: CentralStore, kind: str) -> list[Alarm]:
    return [a for a in store.alarms() if a.kind == kind]


def states(store: CentralStore, kind: str) -> list[str]:
    return [a.state for a in of(store, kind)]


class TestIncidents:
    """A tailgate or a forced barrier is one alarm per event, never reopened by a resend."""

    @pytest.mark.parametrize("kind", ["tailgate", "barrier_forced"])
    def test_once_per_event(self, store: CentralStore, alarming: AlarmingStore, kind: str) -> None:
        lane = SealedLane("west", "w1")
        sent = lane.events((kind, T), ("mode_changed", T))
        alarming.store_batch("west", sent, T)
        [alarm] = of(store, kind)
        assert (alarm.lane_id, alarm.subject, alarm.state) == ("w1", "event:1", "open")
        store.change_alarm(alarm.id, "resolved", "sup-anna", T + timedelta(minutes=1))
        alarming.store_batch("west", sent, T + timedelta(minutes=2))  # the lane resent it
        assert states(store, kind) == ["resolved"]
        assert of(store, kind)[0].changed_by == "sup-anna"


class TestChainBroken:
    """A record whose prev_hash is not its predecessor's hash: storage's chain_broken alarm."""

    def test_raised_through_the_alarming_store(
        self, store: CentralStore, alarming: AlarmingStore
    ) -> None:
        lane = SealedLane("west", "w1")
        alarming.store_batch("west", lane.txns(paid_exit("w1", T)), T)
        other = SealedLane("west", "w1")  # a second chain of the same lane: seq 1 again, then 2
        other.txns(paid_exit("w1", T, fee=1))
        alarming.store_batch("west", other.txns(paid_exit("w1", T)), T)
        [alarm] = of(store, "chain_broken")
        assert (alarm.subject, alarm.state) == ("txn:2", "open")


class TestConditions:
    """A barrier fault stands until recovered; a stuck loop until a vehicle passes."""

    def test_barrier_fault_and_recovery(self, store: CentralStore, alarming: AlarmingStore) -> None:
        lane = SealedLane("west", "w1")
        alarming.store_batch("west", lane.events(("barrier_fault", T)), T)
        assert states(store, "barrier_fault") == ["open"]
        alarming.store_batch("west", lane.events(("paid_barrier_fault", T)), T)
        assert states(store, "barrier_fault") == ["open"]
        alarming.store_batch("west", lane.events(("barrier_recovered", T)), T)
        [alarm] = of(store, "barrier_fault")
        assert (alarm.state, alarm.changed_by) == ("resolved", "central")

    def test_loop_stuck_until_a_passage(self, store: CentralStore, alarming: AlarmingStore) -> None:
        lane = SealedLane("west", "w1")
        alarming.store_batch("west", lane.txns(paid_exit("w1", T - timedelta(minutes=5))), T)
        alarming.store_batch("west", lane.events(("loop_stuck", T)), T)
        assert states(store, "loop_stuck") == ["open"]
        alarming.store_batch("west", lane.txns(paid_exit("w1", T - timedelta(minutes=1))), T)
        assert states(store, "loop_stuck") == ["open"]  # recorded before the loop stuck
        alarming.store_batch("west", lane.txns(paid_exit("w1", T + timedelta(minutes=1))), T)
        assert states(store, "loop_stuck") == ["resolved"]

    def test_stuck_loop_opened_by_another_process(self, store: CentralStore) -> None:
        clock = [0.0]
        alarming = AlarmingStore(store, CONFIG, monotonic=lambda: clock[0])
        lane = SealedLane("west", "w1")
        alarming.store_batch("west", lane.txns(paid_exit("w1", T - timedelta(minutes=9))), T)
        store.open_alarm(  # as another central process's rule would
            "loop_stuck",
            plaza_id="west",
            lane_id="w1",
            subject="loops",
            detail={"time": (T - timedelta(minutes=5)).isoformat()},
            at=T,
        )
        clock[0] = STUCK_REFRESH_S - 0.1
        alarming.store_batch("west", lane.txns(paid_exit("w1", T)), T)
        assert states(store, "loop_stuck") == ["open"]  # not read again yet
        clock[0] = STUCK_REFRESH_S
        alarming.store_batch("west", lane.txns(paid_exit("w1", T)), T)
        assert states(store, "loop_stuck") == ["resolved"]


class TestRepeated:
    """N unreadable plates or payment failures in the window; resolved when it holds fewer."""

    def test_unreadable_plates(
        self, store: CentralStore, alarming: AlarmingStore, sweep: AlarmSweep
    ) -> None:
        lane = SealedLane("west", "w1")
        minute = timedelta(minutes=1)
        alarming.store_batch("west", lane.events(("unreadable_plate", T - 20 * minute)), T)
        alarming.store_batch("west", lane.events(("unreadable_plate", T - 2 * minute)), T)
        alarming.store_batch("west", lane.events(("unreadable_plate", T - minute)), T)
        assert of(store, "plates_unreadable") == []  # the first fell out of the window
        alarming.store_batch("west", lane.events(("unreadable_plate", T)), T)
        [alarm] = of(store, "plates_unreadable")
        assert (alarm.state, alarm.detail["events"]) == ("open", 3)
        sweep.run(T + 5 * minute)
        assert states(store, "plates_unreadable") == ["open"]
        sweep.run(T + 9 * minute)  # T - 2 min has left the 10-minute window
        assert states(store, "plates_unreadable") == ["resolved"]

    def test_payment_failures_of_any_failing_kind(
        self, store: CentralStore, alarming: AlarmingStore
    ) -> None:
        lane = SealedLane("west", "w1")
        alarming.store_batch("west", lane.events(("payment_timeout", T), ("late_payment", T)), T)
        assert of(store, "payment_failures") == []
        alarming.store_batch("west", lane.events(("gateway_refused", T)), T)
        assert states(store, "payment_failures") == ["open"]


def state(online: bool, at: datetime) -> LaneState:
    return LaneState(plaza_id="west", lane_id="w1", online=online, at=at)


class TestOffline:
    """Offline said or silent for the configured time is an alarm, resolved when back."""

    def test_said_offline(self, store: CentralStore, sweep: AlarmSweep) -> None:
        store.note_state(state(True, T), T)
        store.note_state(state(False, T), T + timedelta(seconds=10))
        sweep.run(T + timedelta(seconds=50))
        assert of(store, "lane_offline") == []
        sweep.run(T + timedelta(seconds=70))
        [alarm] = of(store, "lane_offline")
        assert alarm.detail["reason"] == "said offline"
        store.note_state(state(True, T), T + timedelta(seconds=80))
        sweep.run(T + timedelta(seconds=90))
        assert states(store, "lane_offline") == ["resolved"]

    def test_silent(self, store: CentralStore, sweep: AlarmSweep) -> None:
        telemetry = Telemetry(plaza_id="west", lane_id="w1", at=T, uptime_s=5.0)
        store.note_telemetry(telemetry, T)
        sweep.run(T + timedelta(seconds=59))
        assert of(store, "lane_offline") == []
        sweep.run(T + timedelta(seconds=61))
        assert [a.detail["reason"] for a in of(store, "lane_offline")] == ["not heard"]
        store.note_telemetry(telemetry, T + timedelta(seconds=62))
        sweep.run(T + timedelta(seconds=63))
        assert states(store, "lane_offline") == ["resolved"]


class TestGap:
    """A gap open past the gap timeout is an alarm, resolved when it is filled."""

    def test_raised_and_resolved(
        self, store: CentralStore, alarming: AlarmingStore, sweep: AlarmSweep
    ) -> None:
        lane = SealedLane("west", "w1")
        first = lane.txns(paid_exit("w1", T), paid_exit("w1", T))
        lost = lane.txns(paid_exit("w1", T))
        beyond = lane.txns(paid_exit("w1", T))
        alarming.store_batch("west", first, T)
        alarming.store_batch("west", beyond, T)
        sweep.run(T)
        sweep.run(T + timedelta(seconds=299))
        assert of(store, "gap_unfilled") == []
        sweep.run(T + timedelta(seconds=300))
        [alarm] = of(store, "gap_unfilled")
        assert (alarm.subject, alarm.detail["from_seq"], alarm.detail["held_max"]) == (
            "txn:gap",
            3,
            4,
        )
        alarming.store_batch("west", lost, T + timedelta(seconds=301))
        sweep.run(T + timedelta(seconds=302))
        assert states(store, "gap_unfilled") == ["resolved"]

    def test_a_restarted_central_goes_on_from_when_the_gap_began(
        self, store: CentralStore, alarming: AlarmingStore
    ) -> None:
        lane = SealedLane("west", "w1")
        first, lost, beyond = (lane.txns(paid_exit("w1", T)) for _ in range(3))
        alarming.store_batch("west", first, T)
        alarming.store_batch("west", beyond, T)
        AlarmSweep(store, CONFIG).run(T)  # seen by the first process, which then stops
        AlarmSweep(store, CONFIG).run(T + timedelta(seconds=299))  # restarted
        assert of(store, "gap_unfilled") == []
        AlarmSweep(store, CONFIG).run(T + timedelta(seconds=300))
        [alarm] = of(store, "gap_unfilled")
        assert alarm.detail["since"] == T.isoformat()
        alarming.store_batch("west", lost, T + timedelta(seconds=301))
        AlarmSweep(store, CONFIG).run(T + timedelta(seconds=302))
        assert states(store, "gap_unfilled") == ["resolved"]

    def test_a_later_gap_of_the_lane_starts_its_own_clock(
        self, store: CentralStore, alarming: AlarmingStore
    ) -> None:
        lane = SealedLane("west", "w1")
        b1, lost1, b3, _lost2, b5 = (lane.txns(paid_exit("w1", T)) for _ in range(5))
        alarming.store_batch("west", b1, T)
        alarming.store_batch("west", b3, T)
        AlarmSweep(store, CONFIG).run(T)
        later = T + timedelta(seconds=200)
        alarming.store_batch("west", lost1, later)  # the first gap filled ...
        alarming.store_batch("west", b5, later)  # ... and a new one beyond it
        AlarmSweep(store, CONFIG).run(later)
        AlarmSweep(store, CONFIG).run(T + timedelta(seconds=400))
        assert of(store, "gap_unfilled") == []  # 200 s old, not 400
        AlarmSweep(store, CONFIG).run(later + timedelta(seconds=300))
        [alarm] = of(store, "gap_unfilled")
        assert (alarm.detail["from_seq"], alarm.detail["since"]) == (4, later.isoformat())


class TestRevenue:
    """The last hour against the median of the same weekday-hour of previous weeks."""

    HOUR = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # judged at T: 09:00-10:00 UTC

    def history(self, alarming: AlarmingStore, lane: SealedLane, weeks: int) -> None:
        for week in range(1, weeks + 1):
            at = self.HOUR - timedelta(weeks=week) + timedelta(minutes=20)
            fee = 1000 if week != 2 else 1200
            alarming.store_batch("west", lane.txns(paid_exit("w1", at, fee=fee)), T)

    def test_unusual_hour_raised_and_late_refund_resolves(
        self, store: CentralStore, alarming: AlarmingStore, sweep: AlarmSweep
    ) -> None:
        store.note_state(state(True, T), T)
        lane = SealedLane("west", "w1")
        self.history(alarming, lane, 4)  # 1000, 1200, 1000, 1000: median 1000
        big = paid_exit("w1", self.HOUR + timedelta(minutes=30), fee=3100)
        alarming.store_batch("west", lane.txns(big), T)
        sweep.run(T + timedelta(minutes=1))
        [alarm] = of(store, "revenue_unusual")
        assert (alarm.lane_id, alarm.subject) == (None, "west:2026-12-03T09:00:00+00:00")
        assert (alarm.detail["revenue"], alarm.detail["median"]) == (3100, 1000.0)
        late = refund(big, 200, self.HOUR + timedelta(minutes=40))  # 2900: within 3 x 1000
        alarming.store_batch("west", lane.txns(late), T)
        sweep.run(T + timedelta(minutes=2))
        assert states(store, "revenue_unusual") == ["resolved"]

    @pytest.mark.parametrize(("weeks", "fee"), [(4, 2900), (4, 340), (2, 10000)])
    def test_usual_or_too_little_history(
        self, store: CentralStore, alarming: AlarmingStore, sweep: AlarmSweep, weeks: int, fee: int
    ) -> None:
        store.note_state(state(True, T), T)
        lane = SealedLane("west", "w1")
        self.history(alarming, lane, weeks)
        now = paid_exit("w1", self.HOUR + timedelta(minutes=30), fee=fee)
        alarming.store_batch("west", lane.txns(now), T)
        sweep.run(T + timedelta(minutes=1))
        assert of(store, "revenue_unusual") == []

    def test_low_hour_is_unusual(
        self, store: CentralStore, alarming: AlarmingStore, sweep: AlarmSweep
    ) -> None:
        store.note_state(state(True, T), T)
        lane = SealedLane("west", "w1")
        self.history(alarming, lane, 3)
        low = paid_exit("w1", self.HOUR + timedelta(minutes=5), fee=300)
        alarming.store_batch("west", lane.txns(low), T)
        sweep.run(T + timedelta(minutes=1))
        assert states(store, "revenue_unusual") == ["open"]

    def test_hours_in_the_plaza_zone_across_a_clock_change(self) -> None:
        paris = ZoneInfo("Europe/Paris")
        now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # 10:30 in Paris, winter time
        start = last_complete_hour(now, paris)
        assert start.isoformat() == "2026-11-02T09:00:00+01:00"
        week_before = same_hour_weeks_before(start, 1, paris)[0]
        assert week_before.isoformat() == "2026-10-26T09:00:00+01:00"
        assert same_hour_weeks_before(start, 2, paris)[1].isoformat() == (
            "2026-10-19T09:00:00+02:00"  # summer time: the same wall-clock hour
        )


class TestSweepTiming:
    """The sweep runs when due on the monotonic clock, one process at a time."""

    def test_one_sweeper_at_a_time(self, store: CentralStore, sweep: AlarmSweep) -> None:
        if store.engine.dialect.name != "postgresql":
            pytest.skip("SQLite's BEGIN IMMEDIATE serialises sweeps already")
        with store.engine.begin() as other:
            other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK})
            assert not sweep.run(T)
        assert sweep.run(T)

    def test_due(self, store: CentralStore) -> None:
        sweep = AlarmSweep(store, CONFIG, clock=lambda: T)
        assert sweep.tick(100.0)
        assert not sweep.tick(100.0 + CONFIG.alarms.sweep_s - 1)
        assert sweep.tick(100.0 + CONFIG.alarms.sweep_s)
