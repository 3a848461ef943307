"""The entry lookup contract: its two topics, its payloads, and the plate key both sides use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.mqtt.payloads import (
    EntryLookup,
    EntryLookupReply,
    PayloadError,
    StoredEntry,
    parse_payload,
)
from contracts.mqtt.topics import SPECS, LaneTopic, lane_topic, parse_lane_topic
from contracts.plates import plate_key

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LANE = {"plaza_id": "south", "lane_id": "south-exit"}


def reply(**changes: object) -> bytes:
    body = EntryLookupReply(
        **LANE,
        request_id=uuid4(),
        plate="皖A12345",
        entry=StoredEntry(
            txn_id=uuid4(),
            plaza_id="north",
            lane_id="north-entry",
            entry_time=AT,
            vehicle_class=1,
        ),
        answered_at=AT,
    ).model_dump(mode="json")
    body.update(changes)
    return json.dumps(body).encode()


class TestTopics:
    """The request goes up from the lane, the answer down to it; neither is retained."""

    def test_directions_qos_and_retain(self) -> None:
        ask, answer = SPECS[LaneTopic.LOOKUP], SPECS[LaneTopic.LOOKUP_REPLY]
        assert (ask.direction, ask.qos, ask.retain) == ("edge_to_central", 1, False)
        assert (answer.direction, answer.qos, answer.retain) == ("central_to_edge", 1, False)

    def test_the_reply_topic_is_the_lanes_own(self) -> None:
        topic = lane_topic("south", "south-exit", LaneTopic.LOOKUP_REPLY)
        assert topic == "lanewarden/v1/south/south-exit/lookup/reply"
        assert parse_lane_topic(topic).kind is LaneTopic.LOOKUP_REPLY
        assert parse_lane_topic(topic[: -len("/reply")]).kind is LaneTopic.LOOKUP


class TestPayloads:
    """Requests and replies are read strictly, and only from the lane's own topic."""

    def test_a_request_round_trips(self) -> None:
        asked = EntryLookup(
            **LANE, request_id=uuid4(), plate="皖A12345", network_id="g60", asked_at=AT
        )
        assert parse_payload(EntryLookup, asked.to_bytes(), **LANE) == asked

    def test_a_reply_with_no_entry(self) -> None:
        parsed = parse_payload(EntryLookupReply, reply(entry=None), **LANE)
        assert parsed.entry is None

    @pytest.mark.parametrize(
        ("raw", "reason", "says"),
        [
            (reply(lane_id="south-exit-2"), "wrong_lane", "lane_id"),
            (reply(entry={"txn_id": "x"}), "schema", "entry"),
            (reply(request_id=12), "schema", "request_id"),
            (reply(plate=""), "schema", "plate"),
            (reply(kind="entry_lookup"), "kind", "kind"),
            (b"[1]", "schema", "not a JSON object"),
        ],
    )
    def test_bad_replies_are_refused_saying_why(self, raw: bytes, reason: str, says: str) -> None:
        with pytest.raises(PayloadError, match=says) as caught:
            parse_payload(EntryLookupReply, raw, **LANE)
        assert caught.value.reason == reason


class TestPlateKey:
    """One key for a plate wherever it is matched."""

    def test_separators_and_case_do_not_count(self) -> None:
        assert plate_key("皖a·123-45") == plate_key("皖A12345") == "皖A12345"

    def test_a_plate_of_separators_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no characters besides separators"):
            plate_key(" -·")
