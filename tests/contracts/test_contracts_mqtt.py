"""The MQTT contract: topic tree and payloads (contracts.mqtt)."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from paths import REPO

from contracts.mqtt.payloads import (
    MAX_BATCH,
    Ack,
    ConfigBundle,
    EventBatch,
    LaneState,
    PayloadError,
    Telemetry,
    TxnBatch,
    parse_payload,
)
from contracts.mqtt.topics import (
    NETWORK_CONFIG_TOPIC,
    SPECS,
    LaneTopic,
    TopicError,
    lane_filter,
    lane_subtree,
    lane_topic,
    parse_lane_topic,
    plaza_config_topic,
    shared,
)
from contracts.tariff import Tariff
from contracts.testing import event_chain, transaction_chain

CONFIG = REPO / "config"

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def batch(count: int = 3, lane: str = "exit-1", **overrides: Any) -> dict[str, Any]:
    records = [json.loads(r.to_json()) for r in transaction_chain(lane, count)]
    body = {
        "kind": "txn_batch",
        "schema_version": 1,
        "plaza_id": "riverside",
        "lane_id": lane,
        "sent_at": "2026-12-04T09:00:00.000000Z",
        "records": records,
    }
    body.update(overrides)
    return body


def tampered() -> dict[str, Any]:
    """A batch whose second record's fee was changed after it was sealed."""
    body = batch()
    body["records"][1]["fee_total"] = 1
    body["records"][1]["fee_items"][0]["amount"] = 1
    return body


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


class TestTopics:
    def test_every_lane_topic_round_trips(self) -> None:
        for kind in LaneTopic:
            topic = lane_topic("riverside", "exit-1", kind)
            assert topic.startswith("lanewarden/v1/riverside/exit-1/")
            address = parse_lane_topic(topic)
            assert (address.plaza_id, address.lane_id, address.kind) == (
                "riverside",
                "exit-1",
                kind,
            )

    def test_qos_and_retain_follow_the_architecture(self) -> None:
        assert SPECS[LaneTopic.STATE].retain
        assert SPECS[LaneTopic.TELEMETRY].qos == 0
        assert all(spec.qos == 1 for kind, spec in SPECS.items() if kind != LaneTopic.TELEMETRY)
        assert not any(spec.retain for kind, spec in SPECS.items() if kind != LaneTopic.STATE)

    def test_config_topics(self) -> None:
        assert plaza_config_topic("riverside") == "lanewarden/v1/riverside/config"
        assert NETWORK_CONFIG_TOPIC == "lanewarden/v1/config"

    def test_filters(self) -> None:
        assert lane_filter(LaneTopic.TXN) == "lanewarden/v1/+/+/txn"
        assert lane_filter(LaneTopic.CMD, "riverside", "exit-1") == lane_topic(
            "riverside", "exit-1", LaneTopic.CMD
        )
        assert shared("ingest", lane_filter(LaneTopic.TXN)) == "$share/ingest/lanewarden/v1/+/+/txn"
        assert lane_subtree("riverside", "exit-1") == "lanewarden/v1/riverside/exit-1/#"

    @pytest.mark.parametrize(
        ("plaza", "lane"),
        [("River", "exit-1"), ("riverside", "exit/1"), ("riverside", "+"), ("", "a")],
    )
    def test_ids_that_cannot_be_a_level_are_refused(self, plaza: str, lane: str) -> None:
        with pytest.raises(TopicError, match="is not a plaza or lane id"):
            lane_topic(plaza, lane, LaneTopic.TXN)

    @pytest.mark.parametrize(
        "topic",
        [
            "lanewarden/v1/riverside/exit-1/bogus",
            "lanewarden/v2/riverside/exit-1/txn",
            "lanewarden/v1/riverside/txn",
            "lanewarden/v1/riverside/exit-1/txn/extra",
            "lanewarden/v1/River/exit-1/txn",
        ],
    )
    def test_foreign_topics_are_refused(self, topic: str) -> None:
        with pytest.raises(TopicError):
            parse_lane_topic(topic)


class TestBatches:
    def test_round_trip_checks_every_hash(self) -> None:
        parsed = parse_payload(TxnBatch, raw(batch()), plaza_id="riverside", lane_id="exit-1")
        assert (parsed.first_seq, parsed.last_seq) == (1, 3)
        again = parse_payload(TxnBatch, parsed.to_bytes())
        assert again == parsed

    def test_parsing_keeps_the_canonical_texts_of_its_records(self) -> None:
        """The text the hash check made is the record's to_json, and only for those records."""
        parsed = parse_payload(TxnBatch, raw(batch()))
        texts = parsed.canonical_texts()
        assert texts == {r.lane_seq: r.to_json() for r in parsed.records}
        built = TxnBatch(
            plaza_id="riverside", lane_id="exit-1", sent_at=NOW, records=parsed.records
        )
        assert built.canonical_texts() == {}
        fewer = parsed.model_copy(update={"records": parsed.records[:2]})
        assert fewer.canonical_texts() == {}

    def test_records_sent_in_another_form_are_stored_in_canonical_form(self) -> None:
        """An offset time or a default left out still verifies; the text kept is canonical."""
        sealed = list(transaction_chain("exit-1", 3))
        body = batch(records=[json.loads(r.to_json()) for r in sealed])
        recorded = datetime.fromisoformat(body["records"][0]["recorded_at"])
        body["records"][0]["recorded_at"] = recorded.astimezone(timezone(timedelta(hours=1)))
        body["records"][0]["recorded_at"] = body["records"][0]["recorded_at"].isoformat()
        del body["records"][1]["plate_pseudonym"]  # not covered by the hash: a default
        parsed = parse_payload(TxnBatch, raw(body))
        texts = parsed.canonical_texts()
        assert texts == {r.lane_seq: r.to_json() for r in parsed.records}
        assert texts == {r.lane_seq: r.to_json() for r in sealed}
        assert '"plate_pseudonym":null' in texts[2]
        assert texts[1] != json.dumps(body["records"][0], sort_keys=True, separators=(",", ":"))

    def test_a_tampered_record_in_another_form_is_named(self) -> None:
        body = tampered()
        del body["records"][1]["plate_pseudonym"]
        with pytest.raises(PayloadError, match=r"records\.1\.hash: does not match"):
            parse_payload(TxnBatch, raw(body))

    def test_event_batch(self) -> None:
        records = [json.loads(r.to_json()) for r in event_chain("exit-1", 2)]
        body = batch(kind="event_batch", records=records)
        assert parse_payload(EventBatch, raw(body)).last_seq == 2

    def test_tampered_record_is_named(self) -> None:
        with pytest.raises(PayloadError, match=r"records\.1\.hash: does not match"):
            parse_payload(TxnBatch, raw(tampered()))

    def test_gap_inside_a_batch_is_refused(self) -> None:
        body = batch()
        del body["records"][1]
        with pytest.raises(PayloadError, match=r"records\.1\.lane_seq: 3 does not follow 1"):
            parse_payload(TxnBatch, raw(body))

    def test_record_of_another_lane_is_refused(self) -> None:
        body = batch(lane="exit-2")
        body["lane_id"] = "exit-1"
        with pytest.raises(PayloadError, match=r"records\.0\.lane_id: 'exit-2'"):
            parse_payload(TxnBatch, raw(body))

    def test_a_lane_cannot_speak_for_another(self) -> None:
        with pytest.raises(PayloadError, match="lane_id: 'exit-1' on the topic of 'exit-2'"):
            parse_payload(TxnBatch, raw(batch()), plaza_id="riverside", lane_id="exit-2")

    def test_empty_and_oversized_batches(self) -> None:
        with pytest.raises(PayloadError, match="records"):
            parse_payload(TxnBatch, raw(batch(records=[])))
        one = batch(1)["records"][0]
        with pytest.raises(PayloadError, match=f"at most {MAX_BATCH}"):
            parse_payload(TxnBatch, raw(batch(records=[one] * (MAX_BATCH + 1))))


class TestReading:
    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            (b"\xff\xfe", "payload: not JSON"),
            (b"{not json", "payload: not JSON"),
            (b"[1, 2]", "payload: not a JSON object but list"),
            (raw(batch(schema_version=2)), "schema_version: this side speaks 1, got 2"),
            (raw({"kind": "txn_batch"}), "schema_version: this side speaks 1, got None"),
            (raw(batch(kind="ack")), "kind: expected 'txn_batch', got 'ack'"),
            (raw(batch(sent_at="yesterday")), "sent_at: "),
            (raw(batch(extra=1)), "extra: Extra inputs are not permitted"),
        ],
    )
    def test_bad_payloads_are_named(self, payload: bytes, expected: str) -> None:
        with pytest.raises(PayloadError) as caught:
            parse_payload(TxnBatch, payload)
        assert expected in str(caught.value)

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (b"\xff\xfe", "not_json"),
            (b"[1, 2]", "schema"),
            (raw(batch(schema_version=2)), "version"),
            (raw(batch(kind="ack")), "kind"),
            (raw(batch(extra=1)), "schema"),
            (raw(batch(lane="exit-2")), "wrong_lane"),
            (raw(tampered()), "hash"),
            (b" " * 101, "too_large"),
        ],
    )
    def test_each_refusal_says_which_check(self, payload: bytes, reason: str) -> None:
        limit = 100 if reason == "too_large" else 10**7
        with pytest.raises(PayloadError) as caught:
            parse_payload(TxnBatch, payload, lane_id="exit-1", limit=limit)
        assert caught.value.reason == reason

    def test_size_is_bounded_before_decoding(self) -> None:
        with pytest.raises(PayloadError, match="payload: 101 bytes, over the limit of 100"):
            parse_payload(Ack, b" " * 101, limit=100)

    def test_strict_types(self) -> None:
        ack = Ack(plaza_id="riverside", lane_id="exit-1", stream="txn", acked_seq=7, at=NOW)
        body = json.loads(ack.to_bytes())
        body["acked_seq"] = "7"
        with pytest.raises(PayloadError, match="acked_seq: Input should be a valid integer"):
            parse_payload(Ack, raw(body))
        assert parse_payload(Ack, ack.to_bytes(), lane_id="exit-1") == ack


class TestOtherPayloads:
    def test_will_is_a_lane_state_with_nothing_known(self) -> None:
        will = LaneState(plaza_id="riverside", lane_id="exit-1", online=False, at=NOW)
        parsed = parse_payload(LaneState, will.to_bytes())
        assert not parsed.online
        assert parsed.mode is None
        assert parsed.backlog.txn == 0

    def test_telemetry_with_totals(self) -> None:
        body = {
            "kind": "telemetry",
            "schema_version": 1,
            "plaza_id": "riverside",
            "lane_id": "exit-1",
            "at": "2026-12-04T09:00:00Z",
            "uptime_s": 12.5,
            "read_rate": 0.97,
            "backlog": {"txn": 3, "event": 0},
            "totals": [{"day": "2026-12-04", "transactions": 2, "revenue": 900, "currency": "CNY"}],
        }
        parsed = parse_payload(Telemetry, raw(body))
        assert parsed.totals[0].revenue == 900
        body["read_rate"] = 1.5
        with pytest.raises(PayloadError, match="read_rate"):
            parse_payload(Telemetry, raw(body))

    def test_network_config_has_no_plaza(self) -> None:
        bundle = ConfigBundle(version=3, issued_at=NOW, permits=())
        parsed = parse_payload(ConfigBundle, bundle.to_bytes())
        assert parsed.plaza_id is None
        assert parsed.whitelist is None
        assert parsed.permits == ()
        with pytest.raises(PayloadError, match="plaza_id: None on the topic of 'riverside'"):
            parse_payload(ConfigBundle, bundle.to_bytes(), plaza_id="riverside")

    def test_bundle_carries_tariffs_as_lanes_load_them(self) -> None:
        tariff = Tariff.model_validate(
            tomllib.loads((CONFIG / "tariffs" / "riverside-parking.toml").read_text())
        )
        bundle = ConfigBundle(plaza_id="riverside", version=4, issued_at=NOW, tariffs=(tariff,))
        parsed = parse_payload(ConfigBundle, bundle.to_bytes(), plaza_id="riverside")
        assert parsed.tariffs == (tariff,)

    def test_a_bad_tariff_is_refused_by_field(self) -> None:
        body = json.loads(
            ConfigBundle(
                plaza_id="riverside",
                version=4,
                issued_at=NOW,
                tariffs=(
                    Tariff.model_validate(
                        tomllib.loads((CONFIG / "tariffs" / "bridge-flat.toml").read_text())
                    ),
                ),
            ).to_bytes()
        )
        body["tariffs"][0]["currency"] = "yuan"
        with pytest.raises(PayloadError, match=r"tariffs\.0\.currency"):
            parse_payload(ConfigBundle, raw(body))
