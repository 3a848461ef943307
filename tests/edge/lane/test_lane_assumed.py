"""A passage a restart assumed passed: flagged so, found in the records, corrected by the return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts.records.transaction import FeeItem, Transaction
from contracts.uuid7 import uuid7
from edge.lane import LaneState, step
from edge.lane.actions import Action, Capture, RaiseAlarm, RecordEvent, RecordTransaction
from edge.lane.assumed import assumed_passages
from edge.lane.credits import Credit, credit_item
from edge.lane.events import (
    ArmingLoop,
    Correction,
    PlateRead,
    Restarted,
    SafetyLoop,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, LanePolicy
from edge.lane.records import Fee, FeeLine, LaneInputError, OpenEntry, Txn, TxnKind, TxnStatus
from edge.lane.restart import settled

LANE = "riverside-exit"
PLATE = "皖A12345"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ENTRY = OpenEntry(UUID(int=42), T0 - timedelta(hours=2), "riverside", "riverside-entry")
WINDOW = timedelta(minutes=10)
ID = [uuid7(T0) for _ in range(3)]


def exit_record(
    txn_id: int,
    *,
    status: str = "passed",
    assumed: bool = True,
    paid: int = 1500,
    credit_of: int | None = None,
    began: datetime = T0,
) -> Transaction:
    """A riverside exit of PLATE matched to ENTRY; ``credit_of``: it deducted that one's 1500."""
    items = [FeeItem(label="parking", amount=paid + (1500 if credit_of else 0))]
    if credit_of is not None:
        credit = Credit(ID[credit_of], PLATE, 1500, "CNY", T0)
        line = credit_item(credit, 1500)
        items.append(FeeItem(label=line.label, amount=line.amount))
    return Transaction.build(
        id=ID[txn_id],
        lane_id=LANE,
        kind="exit",
        status=status,
        recorded_at=began + timedelta(seconds=30),
        plate_text=PLATE,
        entry_time=ENTRY.at,
        exit_time=began,
        entry_plaza=ENTRY.plaza_id,
        entry_txn_id=ENTRY.txn_id,
        currency="CNY",
        fee_items=tuple(items),
        fee_total=paid,
        payment_method="terminal",
        payment_status="approved" if paid else "none",
        flags=("passage_assumed",) if assumed else (),
    )


class TestTheRestartSaysSo:
    """A passage recorded passed without being seen is flagged ``passage_assumed``; a seen one not."""

    def test_authorised_and_the_loops_clear_is_an_assumed_passage(self) -> None:
        txn = Txn(UUID(int=1), LANE, TxnKind.EXIT, status=TxnStatus.AUTHORISED, exit_time=T0)
        assert "passage_assumed" in settled(txn, went=True).flags
        assert "passage_assumed" not in settled(txn, went=False).flags

    def test_a_resumed_passage_seen_leaving_is_not(self) -> None:
        txn = Txn(UUID(int=1), LANE, TxnKind.EXIT, status=TxnStatus.AUTHORISED, exit_time=T0)
        state = LaneState.initial(LANE, LaneKind.PARKING_EXIT, LanePolicy(), bytes(16))
        state, _ = step(state, Restarted((txn,), False, True), T0)
        _, actions = step(state, SafetyLoop(False), T0 + timedelta(seconds=2))
        (passed,) = [a.txn for a in actions if isinstance(a, RecordTransaction)]
        assert passed.status is TxnStatus.PASSED
        assert "passage_assumed" not in passed.flags


class TestFoundInTheRecords:
    """What an assumed passage is worth, and when a later passage has taken it."""

    def test_a_lone_assumed_passage_is_worth_what_it_paid(self) -> None:
        (found,) = assumed_passages([exit_record(1)], WINDOW)
        assert (found.txn_id, found.worth, found.until) == (
            ID[1],
            1500,
            T0 + timedelta(seconds=30) + WINDOW,
        )
        assert found.entry(ENTRY.lane_id) == ENTRY

    def test_a_passage_that_took_it_and_was_assumed_too_passes_its_worth_on(self) -> None:
        records = [
            exit_record(1),
            exit_record(2, paid=300, credit_of=1, began=T0 + timedelta(minutes=2)),
        ]
        (found,) = assumed_passages(records, WINDOW)
        assert (found.txn_id, found.worth) == (ID[2], 1800)

    def test_a_voided_taker_gives_it_back_and_the_asking_passage_keeps_it(self) -> None:
        taker = exit_record(
            2, status="voided", assumed=False, paid=0, credit_of=1, began=T0 + timedelta(minutes=2)
        )
        assert [a.txn_id for a in assumed_passages([exit_record(1), taker], WINDOW)] == [ID[1]]
        holding = exit_record(
            2,
            status="authorised",
            assumed=False,
            paid=0,
            credit_of=1,
            began=T0 + timedelta(minutes=2),
        )
        records = [exit_record(1), holding]
        assert assumed_passages(records, WINDOW) == []
        assert len(assumed_passages(records, WINDOW, holder=ID[2])) == 1

    def test_a_later_passage_closing_the_same_entry_takes_it_though_it_paid_nothing(self) -> None:
        free = exit_record(1, paid=0)
        later = exit_record(2, assumed=False, paid=0, began=T0 + timedelta(minutes=1))
        assert assumed_passages([free, later], WINDOW) == []
        assert assumed_passages([free], WINDOW)[0].credit() is None


class TestTheMachineCorrects:
    """The returning vehicle's passage says what it corrects; a confusable plate is alarmed."""

    def checked(self, correction: Correction | None, fee: int = 0) -> tuple[Action, ...]:
        state = LaneState.initial(LANE, LaneKind.PARKING_EXIT, LanePolicy(), bytes(16))
        state, actions = step(state, ArmingLoop(True), T0)
        (capture,) = [a for a in actions if isinstance(a, Capture)]
        state, _ = step(state, PlateRead(capture.txn_id, PLATE, 0.99), T0)
        quote = Fee((FeeLine("parking", fee),), fee, "CNY", "riverside-parking", 1)
        answer = VehicleChecked(
            capture.txn_id, open_entry=ENTRY, quote=quote, vehicle_class=1, correction=correction
        )
        _, actions = step(state, answer, T0 + timedelta(seconds=1))
        return actions

    def test_the_event_names_the_assumed_passage_and_comes_before_the_record(self) -> None:
        actions = self.checked(Correction(UUID(int=1), PLATE))
        kinds = [
            type(a) for a in actions if isinstance(a, RecordEvent | RecordTransaction | RaiseAlarm)
        ]
        assert kinds[:2] == [RecordEvent, RecordTransaction]
        assert RaiseAlarm not in kinds
        (event,) = [
            a for a in actions if isinstance(a, RecordEvent) and a.kind == "passage_corrected"
        ]
        assert event.txn_id == UUID(int=1)
        (record,) = [a.txn for a in actions if isinstance(a, RecordTransaction)]
        assert "passage_corrected" in record.flags
        assert record.entry_txn_id == ENTRY.txn_id

    def test_a_confusable_plate_raises_the_review_alarm(self) -> None:
        actions = self.checked(Correction(UUID(int=1), "皖A1234S", same_plate=False))
        (alarm,) = [a for a in actions if isinstance(a, RaiseAlarm)]
        assert alarm.alarm == "passage_correction_review"
        assert "皖A1234S" in alarm.detail

    def test_no_correction_no_flag(self) -> None:
        actions = self.checked(None)
        (record,) = [a.txn for a in actions if isinstance(a, RecordTransaction)]
        assert "passage_corrected" not in record.flags
        assert not any(
            isinstance(a, RecordEvent) and a.kind == "passage_corrected" for a in actions
        )

    def test_a_passage_correcting_itself_is_refused(self) -> None:
        with pytest.raises(
            LaneInputError, match=r"VehicleChecked\.correction: passage .* cannot correct itself"
        ):
            VehicleChecked(UUID(int=1), correction=Correction(UUID(int=1), PLATE))
