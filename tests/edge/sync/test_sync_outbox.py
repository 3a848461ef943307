"""The outbox against a real broker and a fake central: order, acks, resends, outages."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker, MqttBroker
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from contracts.mqtt.topics import LaneTopic
from contracts.reconcile import day_totals
from edge.store import Store
from edge.store.head import head_file, load_head_file
from edge.sync import SyncService
from edge.sync.metrics import register
from edge.sync.testing import LANE, acked, central, facts, fill, running, sync_config, until
from plumbing.broker import BrokerConfig


def service(broker: MqttBroker, store: Path, **overrides: object) -> SyncService:
    return SyncService(sync_config(broker.host, broker.port, **overrides), facts(), store)


class TestDelivery:
    """Records reach central in lane_seq order, and central's ack is kept durably."""

    def test_published_in_order_and_ack_persisted(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=230, events=40)
        with (
            central(mqtt_broker.host, mqtt_broker.port) as fake,
            running(service(mqtt_broker, store)) as sync,
        ):
            until(lambda: acked(store) == (230, 40), "every record acked")
            fill(store, txns=7)  # written while connected: published promptly
            until(lambda: acked(store) == (237, 40), "the new records acked", 5.0)
        batches = fake.batches("txn")
        assert batches[0] == (1, 50)
        firsts = [first for first, _ in batches]
        assert firsts == sorted(firsts)
        assert all(last - first < 50 for first, last in batches)
        assert sorted(fake.got.records["txn"]) == list(range(1, 238))
        assert sorted(fake.got.records["event"]) == list(range(1, 41))
        assert sync.counters.bad_acks == {}
        heads = {(h.stream): h.acked_seq for h in load_head_file(head_file(store)) or []}
        assert heads == {"txn": 237, "event": 40}

    def test_restart_resumes_from_acked_seq(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=120)
        with central(mqtt_broker.host, mqtt_broker.port), running(service(mqtt_broker, store)):
            until(lambda: acked(store)[0] == 120, "the first run acked")
        fill(store, txns=30)
        with (
            central(mqtt_broker.host, mqtt_broker.port, stored_before={"txn": 120}) as fake,
            running(service(mqtt_broker, store)),
        ):
            until(lambda: acked(store)[0] == 150, "the second run acked")
        assert fake.batches("txn")[0][0] == 121
        assert sorted(fake.got.records["txn"]) == list(range(121, 151))


class TestMqtt5:
    """With ``protocol = "5"`` the lane speaks MQTT 5 (clean start), and delivery is the same."""

    def test_delivery_over_mqtt5(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        if not mqtt_broker.mqtt5:
            pytest.skip("the embedded broker speaks MQTT 3.1.1 only")
        store = tmp_path / "site.db"
        fill(store, txns=60, events=3)
        five = BrokerConfig(host=mqtt_broker.host, port=mqtt_broker.port, protocol="5")
        config = sync_config(mqtt_broker.host, mqtt_broker.port, broker=five)
        with (
            central(mqtt_broker.host, mqtt_broker.port) as fake,
            running(SyncService(config, facts(), store)) as sync,
        ):
            until(lambda: acked(store) == (60, 3), "acked over MQTT 5")
            assert sync.online
        assert sorted(fake.got.records["txn"]) == list(range(1, 61))


class TestAutoProtocol:
    """``protocol = "auto"`` speaks MQTT 5 where the broker does, else falls back to 3.1.1."""

    def test_mqtt5_with_a_broker_that_speaks_it(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        if not mqtt_broker.mqtt5:
            pytest.skip("the embedded broker speaks MQTT 3.1.1 only")
        store = tmp_path / "site.db"
        fill(store, txns=20)
        with (
            central(mqtt_broker.host, mqtt_broker.port),
            running(service(mqtt_broker, store)) as sync,
        ):
            until(lambda: acked(store)[0] == 20, "acked")
            assert sync.config.broker.protocol == "auto"
            assert sync.mqtt_version == "5"

    def test_falls_back_to_3_1_1_when_the_broker_refuses_mqtt5(self, tmp_path: Path) -> None:
        broker = AmqttBroker()  # MQTT 3.1.1 only: refuses an MQTT 5 CONNECT
        try:
            store = tmp_path / "site.db"
            fill(store, txns=30, events=2)
            with (
                central(broker.host, broker.port) as fake,
                capture_logs() as logs,
                running(service(broker, store)) as sync,
            ):
                until(lambda: acked(store) == (30, 2), "acked after the fall-back")
                assert sync.mqtt_version == "3.1.1"
                assert sync.online
            assert sorted(fake.got.records["txn"]) == list(range(1, 31))
            assert [e for e in logs if e["event"] == "sync_mqtt5_refused"]
        finally:
            broker.close()

    def test_protocol_5_keeps_asking_for_mqtt5(self, tmp_path: Path) -> None:
        broker = AmqttBroker()
        try:
            store = tmp_path / "site.db"
            fill(store, txns=3)
            five = BrokerConfig(host=broker.host, port=broker.port, protocol="5", keepalive_s=5)
            config = sync_config(broker.host, broker.port, broker=five)
            with capture_logs() as logs, running(SyncService(config, facts(), store)) as sync:
                unanswered = ("sync_connect_unanswered",)
                until(
                    lambda: sum(e["event"] in unanswered for e in logs) >= 2,
                    "two CONNECTs unanswered",
                    20.0,
                )
                time.sleep(0.5)  # the outbox takes what the link told it
                assert sync.mqtt_version == "5"
                assert not sync.online
            assert not [e for e in logs if e["event"] == "sync_mqtt5_refused"]
            assert acked(store) == (0, 0)
        finally:
            broker.close()


class TestResend:
    """What central has not acked is sent again after the timeout, backing off."""

    def test_unacked_batch_is_resent_after_the_timeout(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=10)
        with (
            central(mqtt_broker.host, mqtt_broker.port, auto_ack=False) as fake,
            running(service(mqtt_broker, store, resend_timeout_s=0.5)) as sync,
        ):
            until(lambda: len(fake.batches("txn")) >= 1, "the first batch")
            sent_at = time.monotonic()
            until(lambda: len(fake.batches("txn")) >= 2, "the resend", 5.0)
            waited = time.monotonic() - sent_at
            assert fake.batches("txn")[:2] == [(1, 10), (1, 10)]
            assert 0.3 < waited < 2.0
            assert sync.counters.timeouts >= 1
            fake.ack("txn", 10)
            until(lambda: acked(store)[0] == 10, "the ack")
            resent = len(fake.batches("txn"))
            time.sleep(1.5)
            assert len(fake.batches("txn")) == resent  # acked: nothing more to send

    def test_resend_command_sends_again_from_its_seq(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=60)
        with (
            central(mqtt_broker.host, mqtt_broker.port) as fake,
            running(service(mqtt_broker, store)),
        ):
            until(lambda: acked(store)[0] == 60, "every record acked")
            before = len(fake.batches("txn"))
            fake.publish(LaneTopic.CMD, resend_command("txn", 41, "r-1"))
            fake.publish(LaneTopic.CMD, resend_command("txn", 41, "r-1"))
            until(lambda: len(fake.got.results) >= 2, "both answers")
            until(lambda: len(fake.batches("txn")) > before, "the resent batch")
            assert fake.batches("txn")[before] == (41, 60)
            assert [r.ok for r in fake.got.results] == [True, True]
            time.sleep(0.5)
            assert len(fake.batches("txn")) == before + 1  # the repeat sent nothing more
            fake.publish(LaneTopic.CMD, resend_command("txn", 99, "r-2"))
            until(lambda: len(fake.got.results) >= 3, "the third answer")
            refused = fake.got.results[2]
            assert not refused.ok
            assert "beyond the last stored, 60" in (refused.error or "")


def resend_command(stream: str, from_seq: int, command_id: str) -> bytes:
    from datetime import UTC, datetime

    from contracts.commands import new_command

    command = new_command(
        "resend",
        operator_id="central",
        reason="gap",
        now=datetime.now(UTC),
        stream=stream,
        from_seq=from_seq,
    )
    return command.model_copy(update={"command_id": command_id}).model_dump_json().encode()


class TestBadAcks:
    """An ack that cannot be true is counted and ignored; nothing is lost."""

    def test_bad_acks_are_ignored(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=20)
        alarms: list[tuple[str, dict[str, object]]] = []
        config = sync_config(mqtt_broker.host, mqtt_broker.port, resend_timeout_s=0.3)
        sync = SyncService(config, facts(), store, alarm=lambda k, d: alarms.append((k, d)))
        with (
            central(mqtt_broker.host, mqtt_broker.port, auto_ack=False) as fake,
            running(sync),
        ):
            until(lambda: len(fake.batches("txn")) >= 1, "the first batch")
            fake.publish(LaneTopic.ACK, b"not json")
            fake.ack("txn", 20, lane_id="riverside-entry")  # another lane's, on this topic
            fake.ack("txn", 21)  # beyond the head
            fake.ack("txn", 25)  # again: one alarm is enough
            until(lambda: sum(sync.counters.bad_acks.values()) == 4, "four refusals")
            assert sync.counters.bad_acks == {"invalid": 2, "beyond_head": 2}
            registry = CollectorRegistry()
            register(registry, sync)
            refused = "lanewarden_sync_acks_refused_total"
            assert registry.get_sample_value(refused, {"reason": "invalid"}) == 2
            assert registry.get_sample_value(refused, {"reason": "beyond_head"}) == 2
            assert registry.get_sample_value("lanewarden_sync_online") == 1
            assert acked(store) == (0, 0)
            until(lambda: len(fake.batches("txn")) >= 2, "the records sent again")
            fake.ack("txn", 20)
            until(lambda: acked(store)[0] == 20, "the good ack")
        assert sorted(fake.got.records["txn"]) == list(range(1, 21))
        assert alarms == [
            (
                "store_behind_central",
                {"stream": "txn", "central_acked_seq": 21, "store_last_seq": 20},
            )
        ]


class TestOutages:
    """Neither a broker that forgot everything nor a lane started without one loses a record."""

    def test_broker_restart_losing_state(
        self, private_broker: MosquittoBroker | AmqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=100, events=10)
        broker = private_broker
        with central(broker.host, broker.port) as fake, running(service(broker, store)):
            until(lambda: acked(store) == (100, 10), "the first records acked")
            broker.stop()
            fill(store, txns=150, events=5)  # the lane keeps working
            time.sleep(0.5)
            broker.start()
            until(lambda: acked(store) == (250, 15), "everything after the restart", 30.0)
        assert sorted(fake.got.records["txn"]) == list(range(1, 251))
        assert sorted(fake.got.records["event"]) == list(range(1, 16))

    def test_offline_lane_drains_when_the_broker_appears(
        self, private_broker: MosquittoBroker | AmqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        broker = private_broker
        broker.stop()
        fill(store, txns=40)
        with running(service(broker, store)) as sync:
            time.sleep(1.0)
            assert not sync.online
            fill(store, txns=40)
            assert acked(store) == (0, 0)
            broker.start()
            with central(broker.host, broker.port) as fake:
                until(lambda: acked(store)[0] == 80, "the backlog drained", 30.0)
                assert sorted(fake.got.records["txn"]) == list(range(1, 81))


class TestBusyStore:
    """A store another writer holds locked fails an ack's write: retried, nothing lost."""

    def test_ack_written_once_the_lock_is_gone(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=10)
        blocker = sqlite3.connect(store, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with (
                central(mqtt_broker.host, mqtt_broker.port),
                running(service(mqtt_broker, store, resend_timeout_s=0.5)) as sync,
            ):
                until(lambda: sync.counters.store_errors >= 1, "the locked write", 30.0)
                blocker.execute("ROLLBACK")
                until(lambda: acked(store)[0] == 10, "the ack, written later", 30.0)
                assert sync.failure is None
        finally:
            blocker.close()


class TestTelemetry:
    """Telemetry carries the backlog and per-day totals that central's own count matches."""

    def test_day_totals_match_what_central_holds(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=12, events=2)
        with (
            central(mqtt_broker.host, mqtt_broker.port) as fake,
            running(service(mqtt_broker, store)),
        ):
            until(lambda: acked(store) == (12, 2), "acked")
            seen = len(fake.got.telemetry)
            until(lambda: len(fake.got.telemetry) > seen + 1, "telemetry after the acks")
        report = fake.got.telemetry[-1]
        assert (report.backlog.txn, report.backlog.event) == (0, 0)
        held = fake.got.records["txn"].values()
        assert report.totals == tuple(day_totals(held, facts().tz))
        assert sum(t.transactions for t in report.totals) == 12
        assert sum(t.revenue for t in report.totals) == sum(100 + i % 5 * 50 for i in range(12))
        assert {t.currency for t in report.totals} == {"USD"}


class TestHeads:
    """The ack is written through the store: streams table and head file move together."""

    def test_store_sees_the_ack(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        store = tmp_path / "site.db"
        fill(store, txns=5)
        with central(mqtt_broker.host, mqtt_broker.port), running(service(mqtt_broker, store)):
            until(lambda: acked(store)[0] == 5, "acked")
        with Store.open(store) as opened:
            assert opened.pending_transactions(LANE) == []
