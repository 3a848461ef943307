"""Bad inputs to the lane machine, its derived ids, its ordering guard and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from contracts.uuid7 import derive_uuid7
from edge.lane import LaneState, replay, step
from edge.lane.actions import (
    Action,
    CloseBarrier,
    EventKind,
    OpenBarrier,
    RecordEvent,
    RecordTransaction,
    RequestPayment,
    ordering_problems,
)
from edge.lane.events import (
    ArmingLoop,
    Event,
    Mode,
    OperatorClose,
    OperatorOpen,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    SafetyLoop,
    SetMode,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, LanePolicy
from edge.lane.records import (
    Fee,
    FeeLine,
    LaneInputError,
    OpenEntry,
    PaymentMethod,
    PaymentStatus,
    Txn,
    TxnKind,
)

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
TXN = UUID(int=5)


def lane(nonce: bytes = b"nonce-for-tests") -> LaneState:
    return LaneState.initial("t1", LaneKind.PARKING_EXIT, LanePolicy(), nonce)


class TestBadInputs:
    """Malformed events and values are refused with an error naming the field."""

    @pytest.mark.parametrize(
        ("build", "message"),
        [
            (
                lambda: PlateRead(TXN, "皖A1", 1.5),
                "PlateRead.confidence: must be within 0..1, got 1.5",
            ),
            (lambda: PlateRead(TXN, " ", 0.9), "PlateRead.text: must not be empty"),
            (
                lambda: PaymentResult(TXN, "k", PaymentOutcome.APPROVED, -1),
                "PaymentResult.amount: must not be negative, got -1",
            ),
            (
                lambda: PaymentResult(TXN, "", PaymentOutcome.ERROR),
                "PaymentResult.key: must not be empty",
            ),
            (lambda: OperatorOpen("", "why"), "OperatorOpen.operator_id: must not be empty"),
            (lambda: OperatorOpen("op", ""), "OperatorOpen.reason: must not be empty"),
            (lambda: OperatorClose("op", " "), "OperatorClose.reason: must not be empty"),
            (lambda: SetMode(Mode.CLOSED, "", "x"), "SetMode.operator_id: must not be empty"),
            (
                lambda: VehicleChecked(TXN, vehicle_class=-1),
                "VehicleChecked.vehicle_class: must not be negative, got -1",
            ),
            (
                lambda: VehicleChecked(TXN, quote=Fee((FeeLine("x", -5),), -5, "CNY", "t", 1)),
                "VehicleChecked.quote.total: must not be negative, got -5",
            ),
            (
                lambda: VehicleChecked(TXN, quote=Fee((FeeLine("x", 400),), 500, "CNY", "t", 1)),
                "VehicleChecked.quote.items: amounts add up to 400, not to the total 500",
            ),
            (
                lambda: VehicleChecked(TXN, quote=Fee((), 0, "yuan", "t", 1)),
                "VehicleChecked.quote.currency: expected an ISO 4217 code, got 'yuan'",
            ),
            (
                lambda: OpenEntry(TXN, datetime(2026, 11, 26, 8, 0), "p", "l"),
                "OpenEntry.at: must be an aware UTC datetime, got 2026-11-26T08:00:00",
            ),
            (
                lambda: LaneState.initial("t1", LaneKind.PARKING_EXIT, LanePolicy(), b"short"),
                "LaneState.nonce: needs at least 8 random bytes, got 5",
            ),
        ],
    )
    def test_malformed_value_names_the_field(self, build: object, message: str) -> None:
        with pytest.raises(LaneInputError) as caught:
            build()  # type: ignore[operator]
        assert str(caught.value) == message

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(LaneInputError, match="now: must be an aware UTC datetime"):
            step(lane(), ArmingLoop(True), datetime(2026, 11, 26, 8, 0))

    def test_now_in_another_zone_is_refused(self) -> None:
        beijing = datetime(2026, 11, 26, 16, 0, tzinfo=timezone(timedelta(hours=8)))
        with pytest.raises(LaneInputError, match=r"now: .*2026-11-26T16:00:00\+08:00"):
            step(lane(), ArmingLoop(True), beijing)

    def test_utc_from_any_zone_object_is_stored_as_utc(self) -> None:
        london_winter = T0.astimezone(ZoneInfo("Europe/London"))
        _, actions = step(lane(), OperatorOpen("op-1", "visitor"), london_winter)
        (event,) = [a for a in actions if isinstance(a, RecordEvent)]
        assert event.at == T0
        assert event.at.tzinfo is UTC

    def test_something_that_is_not_a_lane_event_is_refused(self) -> None:
        with pytest.raises(LaneInputError, match="event: not a lane event: 'open'"):
            step(lane(), "open", T0)  # type: ignore[arg-type]


class TestIds:
    """Transaction ids are UUIDv7, deterministic, unique per start and ordered."""

    def test_layout_is_uuid7_with_the_time_in_milliseconds(self) -> None:
        value = derive_uuid7(b"nonce-for-tests", 5, T0 + timedelta(milliseconds=7))
        assert value.version == 7
        assert value.variant == "specified in RFC 4122"
        assert value.int >> 80 == int(T0.timestamp() * 1000) + 7
        assert (value.int >> 64) & 0xFFF == 5

    def test_same_inputs_same_id_and_other_nonce_other_id(self) -> None:
        assert derive_uuid7(b"nonce-a-1", 1, T0) == derive_uuid7(b"nonce-a-1", 1, T0)
        assert derive_uuid7(b"nonce-a-1", 1, T0) != derive_uuid7(b"nonce-b-1", 1, T0)

    def test_ids_of_one_millisecond_sort_in_creation_order(self) -> None:
        ids = [derive_uuid7(b"nonce-for-tests", n, T0) for n in range(50)]
        assert sorted(ids) == ids


class TestOrderingGuard:
    """The shell's last guard finds moves that no earlier record justifies."""

    def test_open_before_its_record_is_reported(self) -> None:
        txn = Txn(id=TXN, lane_id="t1", kind=TxnKind.EXIT)
        actions: list[Action] = [OpenBarrier(TXN), RecordTransaction(txn, T0)]
        (problem,) = ordering_problems(actions)
        assert problem.startswith("action 0: OpenBarrier(")
        assert "names no record before it" in problem

    def test_close_naming_a_later_event_is_reported(self) -> None:
        event = RecordEvent(TXN, EventKind.OPERATOR_CLOSE, T0, operator_id="op")
        assert ordering_problems([CloseBarrier(TXN), event]) != []
        assert ordering_problems([event, CloseBarrier(TXN)]) == []

    def test_payment_needs_a_pending_record_of_the_same_amount(self) -> None:
        req = RequestPayment(TXN, f"{TXN}:1", 500, "CNY", PaymentMethod.TERMINAL)
        pending = Txn(
            id=TXN,
            lane_id="t1",
            kind=TxnKind.EXIT,
            fee_total=400,
            payment_status=PaymentStatus.REQUESTED,
        )
        (problem,) = ordering_problems([RecordTransaction(pending, T0), req])
        assert "follows no record of that charge" in problem


class TestReplay:
    """An event log fed back through the machine gives the same decisions."""

    def log(self) -> list[tuple[datetime, Event]]:
        return [
            (T0, ArmingLoop(True)),
            (T0 + timedelta(seconds=1), SafetyLoop(True)),
            (T0 + timedelta(seconds=2), OperatorOpen("op-1", "visitor")),
            (T0 + timedelta(seconds=3), ArmingLoop(False)),
            (T0 + timedelta(seconds=4), SafetyLoop(False)),
        ]

    def test_same_log_same_actions_and_state(self) -> None:
        first = replay(lane(), self.log())
        second = replay(lane(), self.log())
        assert first == second
        assert any(isinstance(a, OpenBarrier) for a in first[1][2])

    def test_replay_matches_stepping_one_event_at_a_time(self) -> None:
        state = lane()
        stepped = []
        for now, event in self.log():
            state, actions = step(state, event, now)
            stepped.append(actions)
        assert replay(lane(), self.log()) == (state, stepped)

    def test_another_start_derives_other_ids_for_the_same_decisions(self) -> None:
        _, ours = replay(lane(), self.log())
        _, theirs = replay(lane(b"another-nonce"), self.log())
        assert [[type(a) for a in step_] for step_ in ours] == [
            [type(a) for a in step_] for step_ in theirs
        ]
        assert ours != theirs
