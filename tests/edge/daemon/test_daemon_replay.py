"""The lane's event log replayed into a fresh machine gives the records the daemon stored.

The end-to-end scenarios replay theirs (``tests/fleet/test_daemon_e2e.py``); here a
daemon on fakes shows that the comparison finds a record the machine did not
decide and a field that differs.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from event_log import PickledStepLog, check_replay, machines
from prometheus_client import CollectorRegistry

from edge.daemon.recording import Recorder, txn_of
from edge.lane.events import PlateRead, Stopping
from edge.metrics import LaneMetrics
from edge.store import Store
from fleet.testing import FakeLane, exit_lane, held, one_vehicle, run

LANE = "riverside-exit"


def logged_lane(tmp_path: Path, log: PickledStepLog, policy: str = "") -> FakeLane:
    lane = exit_lane(tmp_path, policy=policy)
    return FakeLane(lane.files, gateway=lane.gateway, devices=lane.devices, step_log=log)


def paid_passage(tmp_path: Path) -> Path:
    """A paid passage through a daemon on fakes; its event log."""
    path = tmp_path / "events.pickle"
    with PickledStepLog(path) as log:
        run(logged_lane(tmp_path, log), one_vehicle)
    return path


class TestReplay:
    """Replaying the event log reproduces every record field by field, and says where not."""

    def test_a_paid_passage_replays_to_its_records(self, tmp_path: Path) -> None:
        check = check_replay(tmp_path / "site.db", LANE, paid_passage(tmp_path))
        # pending payment, authorised, passed; the machine's lane events too
        assert (check.machines, check.txns, check.refunds) == (1, 3, 0)
        assert check.events >= 1
        assert check.shell_events >= 1  # lane_started, passage_timings, lane_stopped

    def test_a_vehicle_still_there_at_the_stop_is_settled_by_the_machine(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "events.pickle"
        with PickledStepLog(path) as log:
            lane = logged_lane(tmp_path, log, policy="plate_read_timeout_s = 0.3")
            lane.plates.clear()  # no plate read: denied, help called
            run(lane, held)  # the daemon stops with the vehicle still there
        (txn,) = lane.latest()
        assert (txn.status, "interrupted" in txn.flags) == ("voided", True)
        assert isinstance(machines(path)[0].steps[-1][1], Stopping)
        check = check_replay(tmp_path / "site.db", LANE, path)
        assert check.txns == len(lane.records())

    def test_a_record_no_machine_decided_is_named(self, tmp_path: Path) -> None:
        log = paid_passage(tmp_path)
        with Store.open(tmp_path / "site.db") as store:
            last = store.transactions(LANE, 1, 100)[-1]
            metrics = LaneMetrics(CollectorRegistry(), lane_kind="parking_exit")
            recorder = Recorder(store, LANE, metrics)
            recorder.transaction(replace(txn_of(last), plate_text="皖B00000"), datetime.now(UTC))
        with pytest.raises(AssertionError, match="was stored but no machine recorded it"):
            check_replay(tmp_path / "site.db", LANE, log)

    def test_a_field_that_differs_is_named(self, tmp_path: Path) -> None:
        log = paid_passage(tmp_path)
        (machine,) = machines(log)
        tampered = tmp_path / "tampered.pickle"
        with tampered.open("wb") as out:
            pickle.dump(("begin", machine.start), out)
            for now, event in machine.steps:
                fed = replace(event, confidence=0.5) if isinstance(event, PlateRead) else event
                pickle.dump(("step", now, fed), out)
        with pytest.raises(AssertionError, match=r"plate_confidence: replayed 0\.5"):
            check_replay(tmp_path / "site.db", LANE, tampered)
