"""``lanewarden central run`` as systemd runs it: a subprocess, READY, SIGTERM, SIGKILL."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest
from central_db import BACKENDS, central_db_url
from mqtt_broker import MosquittoBroker
from sqlalchemy import func, select

from central.commands.run import EXIT_CONFIG
from central.storage import CentralStore
from central.storage.schema import transactions
from central.testing import Central, SimLane, write_config
from plumbing.testing import wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]
PLAZA = "riverside"


class TestCentralRun:
    """It reports READY, serves metrics, and stops cleanly on SIGTERM."""

    def test_starts_and_stops_cleanly(
        self, tmp_path: Path, mosquitto: MosquittoBroker, centrals: list[Central]
    ) -> None:
        sock_path = str(tmp_path / "notify.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(sock_path)
            notify.settimeout(30)
            url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
            config, port = write_config(tmp_path, "c", mosquitto.port, url, 2)
            central = Central(config, port, {"NOTIFY_SOCKET": sock_path})
            centrals.append(central)
            assert notify.recv(256).startswith(b"READY=1\nSTATUS=central up: 2 workers")
            central.wait_connected(2)
            lane = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 5)
            impostor = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 5)
            try:
                lane.send_all(5)
                wait_until(lambda: lane.done, "the ack", 10, poll_s=0.05)
                impostor.send_all(5)  # other records under the same lane_seq: conflicts
                wait_until(
                    lambda: (
                        central.metric("lanewarden_central_alarms_open", kind="seq_conflict") == 5
                    ),
                    "five open conflict alarms",
                    20,
                    poll_s=0.05,
                )
            finally:
                lane.close()
                impostor.close()
            central.proc.send_signal(signal.SIGTERM)
            assert central.proc.wait(20) == 0, central.output()
        out = central.output()
        assert '"event": "central_stopped"' in out
        assert "Traceback" not in out

    def test_bad_config_exits_78_naming_the_key(
        self, tmp_path: Path, centrals: list[Central]
    ) -> None:
        path = tmp_path / "bad.toml"
        path.write_text('kind = "central"\n[ingest]\nworkers = "two"\n')
        central = Central(path)
        centrals.append(central)
        assert central.proc.wait(30) == EXIT_CONFIG
        assert f"{path}: ingest.workers: Input should be a valid integer" in central.output()


def count_records(url: str) -> int:
    store = CentralStore.open(url)
    try:
        with store.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(transactions)).scalar())
    finally:
        store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_worker_loses_nothing_once_the_lane_resends(
    backend: str, tmp_path: Path, mosquitto: MosquittoBroker, centrals: list[Central]
) -> None:
    """Two processes share the load; one is SIGKILLed mid-stream; lanes resend past their ack."""
    with central_db_url(backend, tmp_path) as url:
        CentralStore.open(url).close()  # migrate once, before two processes race to
        for name in ("a", "b"):
            centrals.append(Central(*write_config(tmp_path, name, mosquitto.port, url, 1)))
        for central in centrals:
            central.wait_connected(1)
        lanes = [SimLane(mosquitto.host, mosquitto.port, PLAZA, f"exit-{n}", 300) for n in range(3)]
        try:
            for first in range(1, 301, 10):
                if first == 101:
                    centrals[0].proc.send_signal(signal.SIGKILL)
                for lane in lanes:
                    lane.send(first, 10)
            assert centrals[0].proc.wait(10) == -signal.SIGKILL
            for _ in range(10):  # the lane's outbox: resend from the ack until it covers all
                if all(lane.done for lane in lanes):
                    break
                quiet_since, seen = time.monotonic(), [lane.acks for lane in lanes]
                while time.monotonic() - quiet_since < 1.0:
                    time.sleep(0.1)
                    now = [lane.acks for lane in lanes]
                    if now != seen:
                        quiet_since, seen = time.monotonic(), now
                for lane in lanes:
                    if not lane.done:
                        lane.resend_unacked(10)
            assert [lane.acked for lane in lanes] == [300, 300, 300]
        finally:
            for lane in lanes:
                lane.close()
        assert centrals[1].proc.poll() is None
        stored = centrals[1].metric("lanewarden_central_records_stored_total")
        assert (stored or 0) > 0, "the surviving process stored nothing"
        assert count_records(url) == 900
