"""A lane daemon with a [sync] section: records out, commands in, state and will, no broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker, MqttBroker
from paths import REPO

from contracts.commands import new_command
from contracts.mqtt.payloads import LaneState
from contracts.mqtt.topics import LaneTopic
from edge.config.lane import load_lane
from edge.daemon.control import send
from edge.daemon.lane_daemon import StartupError
from edge.daemon.syncing import tariff_in_force
from edge.daemon.testing import lane_files
from edge.sync.testing import PLAZA, FakeCentral, acked, central, fill, sync_section, until
from fleet.testing import FakeLane, run

LANE = "riverside-exit"


def synced_lane(tmp_path: Path, broker: MqttBroker) -> FakeLane:
    return FakeLane(load_lane(lane_files(tmp_path, extra=sync_section(broker))))


def command(kind: str, *, command_id: str, now: datetime | None = None, **fields: Any) -> bytes:
    issued = now or datetime.now(UTC)
    made = new_command(kind, operator_id="sup-3", reason="from the console", now=issued, **fields)
    return made.model_copy(update={"command_id": command_id}).model_dump_json().encode()


class TestDaemonSync:
    """A lane with [sync] sends its records, reports its state and obeys central, once."""

    def test_records_state_and_commands(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        lane = synced_lane(tmp_path, mqtt_broker)
        store = Path(lane.files.lane.store)

        async def scenario(lane: FakeLane) -> None:
            await lane.settle(lambda: fake.held("event") >= 1, "lane_started reached central")
            await lane.settle(
                lambda: any(s.online and s.mode == "normal" for s in fake.got.states),
                "the lane online in normal mode",
            )
            closing = command("set_mode", command_id="cmd-1", mode="closed")
            fake.publish(LaneTopic.CMD, closing)
            fake.publish(LaneTopic.CMD, closing)
            stale = command(
                "set_mode",
                command_id="cmd-2",
                mode="normal",
                now=datetime.now(UTC) - timedelta(hours=1),
            )
            fake.publish(LaneTopic.CMD, stale)
            await lane.settle(lambda: len(fake.got.results) >= 3, "three answers")
            await lane.settle(
                lambda: any(s.mode == "closed" for s in fake.got.states), "the closed state"
            )
            await lane.settle(lambda: bool(fake.got.telemetry), "telemetry")
            fake.ack("txn", 5)  # the lane has no transaction: its store lost them, or central lies
            await lane.settle(
                lambda: bool(lane.events("store_behind_central")), "the lost-tail alarm"
            )
            sent = lane.daemon.registry.get_sample_value("lanewarden_sync_records_sent_total")
            assert sent is not None
            assert sent >= 1

        with central(mqtt_broker.host, mqtt_broker.port) as fake:
            run(lane, scenario)
            until(lambda: bool(fake.got.states) and not fake.got.states[-1].online, "offline")
        by_id: dict[str | None, list[Any]] = {}
        for result in fake.got.results:
            by_id.setdefault(result.command_id, []).append(result)
        first, again = by_id["cmd-1"]
        assert first.ok
        assert first == again  # the repeat got the first answer
        (expired,) = by_id["cmd-2"]
        assert not expired.ok
        assert "expired" in (expired.error or "")
        recorded = lane.events("operator_command")
        assert [e.detail["command_id"] for e in recorded] == ["cmd-1"]
        assert recorded[0].detail["operator_id"] == "sup-3"
        telemetry = fake.got.telemetry[-1]
        assert telemetry.backlog.txn == 0
        assert telemetry.uptime_s > 0
        last = fake.got.states[-1]
        assert (last.online, last.lane_id, last.plaza_id) == (False, LANE, PLAZA)
        assert last.tariffs == {"riverside-parking": 2}  # version 2 since 2026-07-01
        assert acked(store)[1] >= 1
        (behind,) = lane.events("store_behind_central")
        assert behind.severity == "alarm"
        assert behind.detail == {"stream": "txn", "central_acked_seq": 5, "store_last_seq": 0}

    def test_offline_lane_works_and_drains(
        self, private_broker: MosquittoBroker | AmqttBroker, tmp_path: Path
    ) -> None:
        private_broker.stop()
        lane = synced_lane(tmp_path, private_broker)
        store = Path(lane.files.lane.store)

        async def scenario(lane: FakeLane) -> None:
            assert lane.daemon.sync is not None
            assert not lane.daemon.sync.online
            await lane.settle(lambda: bool(lane.events("lane_started")), "lane_started")
            # The lane works offline: an operator closes it through the control socket.
            closing = new_command(
                "set_mode",
                operator_id="op-1",
                reason="offline",
                now=datetime.now(UTC),
                mode="closed",
            )
            (result,) = await send(lane.files.lane.control_socket(), [closing])
            assert result.ok
            assert result.lane["mode"] == "closed"
            await asyncio.sleep(1.0)
            assert acked(store) == (0, 0)
            private_broker.start()
            with central(private_broker.host, private_broker.port) as fake:
                last = len(lane.events())
                await lane.settle(lambda: fake.held("event") >= last, "the backlog drained", 30.0)
                kinds = [fake.got.records["event"][seq].kind for seq in range(1, last + 1)]
                assert "operator_command" in kinds
                await lane.settle(
                    lambda: any(s.online and s.mode == "closed" for s in fake.got.states),
                    "the closed lane online",
                )

        started = time.monotonic()
        run(lane, scenario)
        assert time.monotonic() - started < 60
        assert acked(store)[1] >= 1


class TestWill:
    """A lane process killed outright is marked offline by the broker's will."""

    def test_sigkill(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=3, lane_id=LANE)
        with (
            central(mqtt_broker.host, mqtt_broker.port) as fake,
            lane_process(mqtt_broker, store) as child,
        ):

            def online() -> bool:
                assert child.poll() is None, "the child died"
                return any(s.online for s in fake.got.states)

            until(online, "the child online", 30.0)
            until(lambda: fake.held("txn") == 3, "the child's records")
            will = killed(child, fake)
        assert will.mode is None  # the will knows nothing but that the lane is gone
        assert will.lane_id == LANE

    def test_the_will_says_when_the_lane_went_online_not_when_it_started(
        self, private_broker: MosquittoBroker | AmqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=2, lane_id=LANE)
        private_broker.stop()
        with lane_process(private_broker, store, stdout=subprocess.PIPE) as child:
            assert child.stdout is not None
            lines = iter(child.stdout.readline, b"")
            assert any(line.strip() == b"started" for line in lines)  # sync started, no broker
            time.sleep(2.0)
            broker_up = datetime.now(UTC)
            private_broker.start()
            with central(private_broker.host, private_broker.port) as fake:
                until(lambda: fake.held("txn") == 2, "the lane's records", 30.0)
                will = killed(child, fake)
        assert will.mode is None
        assert will.at >= broker_up  # the connection's start, not the process's (2 s earlier)


@contextmanager
def lane_process(
    broker: MqttBroker, store: Path, stdout: int = subprocess.DEVNULL
) -> Iterator[subprocess.Popen[bytes]]:
    """A lane's sync in a process of its own (so that SIGKILL leaves no last word)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, broker.host, str(broker.port), str(store)],
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"},
        stdout=stdout,
        start_new_session=True,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()


def killed(child: subprocess.Popen[bytes], fake: FakeCentral) -> LaneState:
    """SIGKILL the lane's process; the state the broker's will then says."""
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    until(lambda: not fake.got.states[-1].online, "the will", 20.0)
    return fake.got.states[-1]


CHILD = """
import sys, time
from edge.sync.testing import facts, sync_config
from edge.sync import SyncService
host, port, store = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from pathlib import Path
SyncService(sync_config(host, port), facts(), Path(store)).start()
print("started", flush=True)
while True:
    time.sleep(1)
"""


class TestTariffInForce:
    """The state names the tariff version in force now, not the newest listed."""

    def test_versions_by_date(self, tmp_path: Path) -> None:
        tariff = load_lane(lane_files(tmp_path)).tariff
        shanghai_june = datetime(2026, 6, 30, 15, 59, tzinfo=UTC)  # 23:59 local
        assert tariff_in_force(tariff, shanghai_june) == (("riverside-parking", 1),)
        assert tariff_in_force(tariff, shanghai_june + timedelta(minutes=1)) == (
            ("riverside-parking", 2),
        )
        assert tariff_in_force(tariff, datetime(2025, 1, 1, tzinfo=UTC)) == ()
        assert tariff_in_force(None, shanghai_june) == ()


class TestStartFailures:
    """A sync section that cannot be used fails the start, naming the setting."""

    def test_unreadable_password_file(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        missing = tmp_path / "no-such-password"
        section = sync_section(mqtt_broker, username="riverside-exit", password_file=str(missing))
        lane = FakeLane(load_lane(lane_files(tmp_path, extra=section)))
        with pytest.raises(StartupError, match=r"sync\.broker\.password_file: cannot read"):
            asyncio.run(lane.start())
        assert lane.daemon.sync is None

    def test_unloadable_ca_file(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        bad_ca = tmp_path / "ca.pem"
        bad_ca.write_text("not a certificate\n")
        section = sync_section(mqtt_broker) + f'[sync.broker.tls]\nca_file = "{bad_ca}"\n'
        lane = FakeLane(load_lane(lane_files(tmp_path, extra=section)))
        with pytest.raises(StartupError, match=r"sync\.broker\.tls: cannot load .*ca\.pem"):
            asyncio.run(lane.start())
