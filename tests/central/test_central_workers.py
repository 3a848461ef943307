"""Central's ingest workers on a real broker: shared load, refusals, gaps, fall-back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from central.config import CentralConfig
from central.ingest.service import IngestService
from central.storage import CentralStore
from central.testing import SimLane
from contracts.commands import ResendCommand
from contracts.mqtt.topics import LaneTopic
from plumbing.broker import BrokerConfig
from plumbing.testing import wait_until

pytestmark = pytest.mark.services
PLAZA = "riverside"


def central_config(port: int, **ingest: Any) -> CentralConfig:
    return CentralConfig.model_validate(
        {
            "kind": "central",
            "broker": BrokerConfig(port=port).model_dump(),
            "ingest": {"workers": 2, "gap_timeout_s": 0.5, "resend_interval_s": 60, **ingest},
            "metrics": {"port": 0},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    store = CentralStore.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def lanes() -> Iterator[list[SimLane]]:
    made: list[SimLane] = []
    yield made
    for lane in made:
        lane.close()


def started(config: CentralConfig, store: CentralStore) -> IngestService:
    service = IngestService(config, store)
    service.start()
    try:
        wait_until(
            lambda: service.healthy, "the workers to subscribe", 10, tick=service.tick, poll_s=0.05
        )
    except AssertionError:
        service.stop()
        raise
    return service


def value(service: IngestService, name: str, **labels: str) -> float:
    return service.registry.get_sample_value(name, labels) or 0.0


class TestSharedWorkers:
    """Two workers split the lanes' batches; each record is stored once and acked."""

    def test_two_workers_split_the_load(
        self, mosquitto: MosquittoBroker, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        service = started(central_config(mosquitto.port), store)
        try:
            for n in range(4):
                lanes.append(SimLane(mosquitto.host, mosquitto.port, PLAZA, f"exit-{n}", 200))
            for lane in lanes:
                lane.send_all(10)
            wait_until(
                lambda: all(lane.done for lane in lanes),
                "every lane's ack",
                30,
                tick=service.tick,
                poll_s=0.05,
            )
            assert [store.acked_seq(lane.lane_id, "txn") for lane in lanes] == [200] * 4
            assert value(service, "lanewarden_central_records_stored_total", stream="txn") == 800
            assert value(service, "lanewarden_central_records_duplicate_total", stream="txn") == 0
            taken = [worker.taken for worker in service.workers]
            assert sum(taken) == 80
            assert min(taken) > 0, taken
            assert all(lane.acks == 20 for lane in lanes)
        finally:
            service.stop()

    def test_bad_payloads_on_every_topic_are_refused_while_good_ones_flow(
        self, mosquitto: MosquittoBroker, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        service = started(central_config(mosquitto.port), store)
        try:
            lane = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 30)
            other = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-2", 5)
            lanes += [lane, other]
            good = json.loads(lane.batch(1, 1).to_bytes())
            bad = [
                b"\xff{",
                json.dumps({**good, "surprise": 1}).encode(),
                json.dumps({**good, "schema_version": 9}).encode(),
            ]
            huge = b"[" + b" " * (5 * 1024 * 1024) + b"]"
            kinds = [
                LaneTopic.TXN,
                LaneTopic.EVENT,
                LaneTopic.STATE,
                LaneTopic.TELEMETRY,
                LaneTopic.CMD_RESULT,
            ]
            for first in range(1, 31, 10):
                for kind in kinds:
                    for payload in bad if first > 1 else [*bad, huge]:
                        lane.publish(payload, kind)
                lane.publish(other.batch(1, 5).to_bytes())  # exit-2's records on exit-1's topic
                lane.send(first, 10)
            wait_until(
                lambda: lane.done, "the good batches' ack", 30, tick=service.tick, poll_s=0.05
            )
            reasons = ["not_json", "schema", "version", "kind", "too_large", "wrong_lane"]

            def rejected() -> dict[str, float]:
                return {
                    r: value(service, "lanewarden_central_payloads_rejected_total", reason=r)
                    for r in reasons
                }

            wait_until(
                lambda: sum(rejected().values()) == 53,
                "the refusals",
                10,
                tick=service.tick,
                poll_s=0.05,
            )
            # A batch with an unknown key is a schema error on txn, the wrong kind on the
            # other lane topics; cmd/result has no version, so a version there is a key too.
            assert rejected() == {
                "not_json": 15,
                "schema": 9,
                "version": 12,
                "kind": 9,
                "too_large": 5,
                "wrong_lane": 3,
            }
            assert store.acked_seq("exit-1", "txn") == 30
            assert store.acked_seq("exit-2", "txn") == 0
            assert value(service, "lanewarden_central_records_stored_total", stream="txn") == 30
            assert store.acked_seq("exit-1", "event") == 0
        finally:
            service.stop()

    def test_a_gap_that_stays_open_is_asked_for(
        self, mosquitto: MosquittoBroker, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        service = started(central_config(mosquitto.port), store)
        try:
            lane = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 15)
            lanes.append(lane)
            lane.send(1, 5)
            lane.send(11, 5)
            wait_until(lambda: lane.acks == 2, "two acks", 10, tick=service.tick, poll_s=0.05)
            assert lane.acked == 5
            wait_until(
                lambda: not lane.commands.empty(),
                "a resend command",
                10,
                tick=service.tick,
                poll_s=0.05,
            )
            command = lane.commands.get()
            assert isinstance(command, ResendCommand)
            assert (command.stream, command.from_seq, command.operator_id) == ("txn", 6, "central")
            assert "gap in txn from lane_seq 6 (held up to 15)" in command.reason
            assert value(service, "lanewarden_central_gaps_open") == 1
            for _ in range(5):
                service.tick()
            assert lane.commands.empty(), "asked again within the resend interval"
            lane.send(6, 5)
            wait_until(lambda: lane.done, "the ack through 15", 10, tick=service.tick, poll_s=0.05)
            service.tick()
            assert value(service, "lanewarden_central_gaps_open") == 0
            assert value(service, "lanewarden_central_resends_sent_total") == 1
        finally:
            service.stop()

    def test_metrics_are_served(
        self, mosquitto: MosquittoBroker, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        import urllib.request

        service = started(central_config(mosquitto.port), store)
        try:
            lane = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 3)
            lanes.append(lane)
            lane.send_all(3)
            wait_until(lambda: lane.done, "the ack", 10, tick=service.tick, poll_s=0.05)
            assert service.metrics_server is not None
            url = f"http://127.0.0.1:{service.metrics_server.port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            assert 'lanewarden_central_records_stored_total{stream="txn"} 3.0' in text
            assert 'lanewarden_central_lag_seconds{lane_id="exit-1",stream="txn"}' in text
            assert "lanewarden_central_workers_connected 2.0" in text
        finally:
            service.stop()


class FailingStore:
    """The real store, whose first ``failures`` batches fail as a lost database connection."""

    def __init__(self, store: CentralStore, failures: int) -> None:
        self._store = store
        self.failures = failures

    def store_batch(self, plaza_id: str, batch: Any, received_at: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("connection lost"))
        return self._store.store_batch(plaza_id, batch, received_at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class TestDatabaseFailure:
    """A batch the database fails on is not acked; the worker goes on with the next."""

    def test_not_acked_then_taken_on_resend(
        self, mosquitto: MosquittoBroker, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        failing = FailingStore(store, failures=1)
        service = IngestService(central_config(mosquitto.port, workers=1), failing)
        service.start()
        try:
            wait_until(lambda: service.healthy, "the worker", 10, tick=service.tick, poll_s=0.05)
            lane = SimLane(mosquitto.host, mosquitto.port, PLAZA, "exit-1", 10)
            lanes.append(lane)
            with capture_logs() as logs:
                lane.send(1, 5)
                wait_until(
                    lambda: value(service, "lanewarden_central_store_failures_total") == 1,
                    "the failure",
                    10,
                    poll_s=0.05,
                )
            assert lane.acks == 0
            assert [e["event"] for e in logs if e["log_level"] == "error"] == ["message_failed"]
            lane.send(1, 5)
            lane.send(6, 5)
            wait_until(
                lambda: lane.done, "the acks after the resend", 10, tick=service.tick, poll_s=0.05
            )
            assert service.healthy
        finally:
            service.stop()


class TestWithoutSharedSubscriptions:
    """An MQTT 3.1.1 broker gets one plain worker, said in a log line, and ingest works."""

    def test_amqtt_falls_back_to_one_worker(
        self, store: CentralStore, lanes: list[SimLane]
    ) -> None:
        broker = AmqttBroker()
        try:
            with capture_logs() as logs:
                service = started(central_config(broker.port), store)
            try:
                assert len(service.workers) == 1
                assert service.workers[0].group is None
                assert service.protocol == "3.1.1"
                (line,) = [e for e in logs if e["event"] == "shared_subscriptions_unavailable"]
                assert "refused MQTT 5" in line["why"]
                assert line["workers"] == 1
                lane = SimLane(broker.host, broker.port, PLAZA, "exit-1", 20, mqtt5=False)
                lanes.append(lane)
                lane.send_all(5)
                wait_until(lambda: lane.done, "the ack", 20, tick=service.tick, poll_s=0.05)
                assert store.acked_seq("exit-1", "txn") == 20
            finally:
                service.stop()
        finally:
            for lane in lanes:
                lane.close()
            lanes.clear()
            broker.close()

    def test_configured_3_1_1_runs_one_plain_worker(
        self, mosquitto: MosquittoBroker, store: CentralStore
    ) -> None:
        config = central_config(mosquitto.port)
        config = config.model_copy(
            update={"broker": config.broker.model_copy(update={"protocol": "3.1.1"})}
        )
        with capture_logs() as logs:
            service = started(config, store)
        try:
            assert [(w.group, w.protocol) for w in service.workers] == [(None, "3.1.1")]
            assert any(e["event"] == "shared_subscriptions_off" for e in logs)
        finally:
            service.stop()
