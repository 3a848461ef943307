"""The transaction record and lane event contracts (contracts.records)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.canonical import canonical_json
from contracts.records.lane_event import LaneEvent
from contracts.records.model import RecordError
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, TransactionRecord
from contracts.records.transaction import Transaction
from contracts.time import utc_text
from contracts.uuid7 import uuid7

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TXN_ID = uuid7(T0)


def exit_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": TXN_ID,
        "lane_id": "riverside-exit",
        "kind": "exit",
        "status": "passed",
        "authorisation": "paid",
        "recorded_at": T0 + timedelta(hours=2),
        "plate_text": "京A·12345",
        "plate_confidence": 0.93,
        "vehicle_class": 1,
        "listing": "none",
        "entry_time": T0,
        "exit_time": T0 + timedelta(hours=2),
        "tariff_id": "riverside-parking",
        "tariff_version": 2,
        "currency": "CNY",
        "fee_items": [{"label": "first hour", "amount": 500}, {"label": "next", "amount": 300}],
        "fee_total": 800,
        "payment_method": "terminal",
        "payment_status": "approved",
        "gateway_ref": "gw-1",
        "evidence_image_ids": ["img-1"],
        "flags": ["review_b", "review_a", "review_b"],
    }
    fields.update(overrides)
    return fields


def sealed(**overrides: Any) -> TransactionRecord:
    record, _ = TransactionRecord.seal(
        Transaction.build(**exit_fields(**overrides)), 1, GENESIS_HASH
    )
    return record


class TestUuid7:
    """Record ids are UUIDv7 whose time part is the creation time."""

    def test_version_and_variant(self) -> None:
        value = uuid7()
        assert value.version == 7
        assert value.variant == "specified in RFC 4122"

    def test_time_part_orders_ids(self) -> None:
        earlier, later = uuid7(T0), uuid7(T0 + timedelta(milliseconds=1))
        assert earlier.int >> 80 == int(T0.timestamp() * 1000)
        assert earlier < later


class TestCanonicalForm:
    """The canonical JSON is fixed: sorted keys, UTC text times, sorted flags."""

    def test_times_are_utc_fixed_width(self) -> None:
        beijing = timezone(timedelta(hours=8))
        assert utc_text(datetime(2026, 11, 20, 16, 0, tzinfo=beijing)) == (
            "2026-11-20T08:00:00.000000Z"
        )

    def test_record_normalises_times_and_flags(self) -> None:
        beijing = timezone(timedelta(hours=8))
        record = sealed(recorded_at=datetime(2026, 11, 20, 18, 0, tzinfo=beijing))
        body = record.canonical()
        assert body["recorded_at"] == "2026-11-20T10:00:00.000000Z"
        assert body["flags"] == ["review_a", "review_b"]

    def test_json_is_compact_and_sorted(self) -> None:
        text = sealed().to_json()
        assert ": " not in text
        assert list(json.loads(text)) == sorted(json.loads(text))

    def test_non_finite_numbers_are_refused(self) -> None:
        with pytest.raises(ValueError, match="Out of range float"):
            canonical_json({"x": float("nan")})


class TestHash:
    """The hash covers every field, the previous hash included."""

    def test_hash_is_deterministic(self) -> None:
        record = sealed()
        assert TransactionRecord.from_json(record.to_json()).computed_hash() == record.hash

    def test_plate_commitment_is_salted(self) -> None:
        first, second = sealed(), sealed()
        assert first.plate_nonce != second.plate_nonce
        assert first.hash != second.hash

    def test_prev_hash_changes_hash(self) -> None:
        txn = Transaction.build(**exit_fields())
        first, _ = TransactionRecord.seal(txn, 1, GENESIS_HASH)
        other, _ = TransactionRecord.seal(txn, 1, "a" * 64)
        assert first.hash != other.hash

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("plate_text", "京A12346"),
            ("fee_total", 801),
            ("lane_seq", 2),
            ("gateway_ref", "gw-2"),
            ("recorded_at", "2026-11-20T10:00:00.000001Z"),
        ],
    )
    def test_any_changed_field_fails_the_hash_check(self, field: str, value: object) -> None:
        body = sealed().canonical()
        body[field] = value
        if field == "fee_total":
            body["fee_items"] = [{"label": "all", "amount": 801}]
        with pytest.raises(RecordError, match="hash: does not match"):
            TransactionRecord.from_json(canonical_json(body))

    def test_content_is_sealed_only_as_its_own_record(self) -> None:
        event = LaneEvent.build(
            lane_id="riverside-exit", time=T0, kind="tailgate", severity="alarm"
        )
        with pytest.raises(TypeError, match="a LaneEvent cannot be sealed as a TransactionRecord"):
            TransactionRecord.seal(event, 1, GENESIS_HASH)

    def test_seal_returns_the_canonical_values_of_the_record(self) -> None:
        record, body = TransactionRecord.seal(Transaction.build(**exit_fields()), 3, "b" * 64)
        assert body == record.canonical()
        assert record.computed_hash() == record.hash == body["hash"]


class TestRoundTrip:
    """A record survives JSON as central receives it."""

    def test_transaction_round_trip(self) -> None:
        record = sealed()
        assert TransactionRecord.from_json(record.to_json()) == record

    def test_event_round_trip(self) -> None:
        event = LaneEvent.build(
            lane_id="riverside-exit",
            time=T0,
            kind="loop_stuck",
            severity="alarm",
            detail={"loop": "arming", "seconds": 301},
        )
        record, _ = LaneEventRecord.seal(event, 4, "c" * 64)
        parsed = LaneEventRecord.from_json(record.to_json().encode())
        assert parsed == record
        assert parsed.lane_seq == 4


class TestValidation:
    """Every invalid field is named in the error."""

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({"lane_id": "Lane 1"}, "lane_id: String should match pattern"),
            ({"recorded_at": datetime(2026, 1, 1)}, "recorded_at: Input should have timezone"),
            ({"fee_total": 900}, "fee_total: must equal the sum of fee_items (800), got 900"),
            ({"currency": None}, "currency: required when fee_total is given"),
            ({"tariff_version": None}, "tariff_version: tariff_id and tariff_version go together"),
            ({"plate_text": None}, "plate_confidence: given without plate_text"),
            ({"kind": "refund"}, "kind: Input should be 'entry', 'exit' or 'passage'"),
            ({"id": uuid4()}, "id: must be a UUIDv7, got version 4"),
            ({"exit_time": T0 - timedelta(seconds=1)}, "exit_time: earlier than entry_time"),
            ({"plate_confidence": 1.5}, "plate_confidence: Input should be less than or equal"),
            ({"flags": ["Bad Flag"]}, "flags.0: String should match pattern"),
            ({"operator_reason": "x"}, "operator_reason: given without operator_id"),
            ({"fee_items": [{"label": "", "amount": 800}]}, "fee_items.0.label: String should"),
        ],
    )
    def test_bad_field_is_named(self, overrides: dict[str, Any], expected: str) -> None:
        with pytest.raises(RecordError) as caught:
            Transaction.build(**exit_fields(**overrides))
        assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems

    def test_negative_total_needs_a_reference(self) -> None:
        refund = {"fee_items": [{"label": "refund", "amount": -800}], "fee_total": -800}
        with pytest.raises(RecordError, match="fee_total: negative only for a refund"):
            Transaction.build(**exit_fields(**refund))
        record = Transaction.build(**exit_fields(**refund, references=uuid7(T0)))
        assert record.fee_total == -800

    def test_unknown_field_is_named(self) -> None:
        with pytest.raises(RecordError, match="colour: Extra inputs are not permitted"):
            Transaction.build(**exit_fields(colour="red"))

    def test_wire_parsing_is_strict_about_types(self) -> None:
        body = sealed().canonical()
        body["vehicle_class"] = "1"
        with pytest.raises(RecordError, match="vehicle_class: Input should be a valid integer"):
            TransactionRecord.from_json(canonical_json(body))

    def test_wire_parsing_names_missing_fields(self) -> None:
        body = sealed().canonical()
        del body["lane_seq"]
        with pytest.raises(RecordError, match="lane_seq: Field required"):
            TransactionRecord.from_json(canonical_json(body))

    def test_bad_json_is_reported(self) -> None:
        with pytest.raises(RecordError, match="invalid transaction record: Invalid JSON"):
            TransactionRecord.from_json(b"{not json")

    def test_bad_hash_format_is_named(self) -> None:
        body = sealed().canonical()
        body["prev_hash"] = "xyz"
        with pytest.raises(RecordError, match="prev_hash: String should match pattern"):
            TransactionRecord.from_json(canonical_json(body))

    def test_references_accepts_any_uuid(self) -> None:
        original = UUID("12345678-1234-4234-8234-123456789012")
        assert sealed(references=original).references == original
