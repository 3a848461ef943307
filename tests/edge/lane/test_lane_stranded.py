"""The lane machine's help path for a vehicle whose plate was not read (policy offer_help)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from edge.lane.actions import (
    Alarm,
    EventKind,
    LookUpVehicle,
    Message,
    OpenBarrier,
    RaiseAlarm,
    RecordEvent,
    RequestPayment,
    ShowMessage,
    StartTimer,
    WatchPlateOrders,
)
from edge.lane.events import (
    ArmingLoop,
    HelpPressed,
    OperatorOpen,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    PlateTyped,
    PlateUnreadable,
    Timer,
    TimerExpired,
    TurnAway,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, UnreadablePlate
from edge.lane.records import Authorisation, Flag, PaymentStatus, TxnStatus
from edge.lane.state import Phase
from edge.lane.testing import Lane, alarms, entry_record, of, quote, txns


def stranded(**policy: Any) -> tuple[Lane, UUID]:
    lane = Lane(unreadable_plate=UnreadablePlate.OFFER_HELP, help_wait_s=120.0, **policy)
    txn_id = lane.arrive()
    lane.feed(PlateUnreadable(txn_id))
    return lane, txn_id


class TestStranding:
    """An unread plate keeps the barrier down, tells the driver what to do and calls help."""

    def test_driver_is_told_to_pay_by_plate_and_an_assistance_alarm_is_raised(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.OFFER_HELP, help_wait_s=120.0)
        txn_id = lane.arrive()
        actions = lane.feed(PlateUnreadable(txn_id))
        assert alarms(actions) == [Alarm.ASSISTANCE]
        assert ShowMessage(Message.TYPE_PLATE) in actions
        assert WatchPlateOrders(txn_id) in actions
        (timer,) = [a for a in of(actions, StartTimer) if a.timer is Timer.HELP]
        assert timer.seconds == 120.0
        assert of(actions, OpenBarrier) == []
        (waiting,) = txns(actions)  # recorded undecided, so a restart resolves it
        assert (waiting.status, waiting.flags) == (TxnStatus.ARRIVED, (Flag.UNREADABLE_PLATE,))
        assert lane.state.passage is not None
        assert lane.state.passage.phase is Phase.STRANDED

    def test_plate_timeout_strands_too(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.OFFER_HELP)
        lane.arrive()
        assert alarms(lane.expire(Timer.PLATE)) == [Alarm.ASSISTANCE]

    def test_nobody_helping_within_the_wait_denies_and_calls_again(self) -> None:
        lane, _ = stranded()
        actions = lane.expire(Timer.HELP)
        (txn,) = txns(actions)
        assert (txn.status, txn.flags) == (TxnStatus.DENIED, (Flag.UNREADABLE_PLATE,))
        assert alarms(actions) == [Alarm.UNREADABLE_PLATE]
        assert ShowMessage(Message.HELP_CALLED) in actions

    def test_backing_out_while_stranded_voids_without_charge(self) -> None:
        lane, _ = stranded()
        actions = lane.feed(ArmingLoop(False))
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status) == (TxnStatus.VOIDED, PaymentStatus.NONE)
        assert lane.state.timer_token(Timer.HELP) is None

    def test_a_late_camera_read_does_not_end_the_wait(self) -> None:
        lane, txn_id = stranded()
        actions = lane.feed(PlateRead(txn_id, "皖A12345", 0.9))
        assert of(actions, LookUpVehicle) == []
        assert lane.state.passage is not None
        assert lane.state.passage.phase is Phase.STRANDED


class TestPayByPlate:
    """A typed plate is looked up and charged as a read one: one vehicle, one charge."""

    def test_driver_typed_plate_is_looked_up_charged_and_opens_once_paid(self) -> None:
        lane, txn_id = stranded()
        typed = lane.feed(PlateTyped(txn_id, "皖A12345"))
        (lookup,) = of(typed, LookUpVehicle)
        assert (lookup.txn_id, lookup.plate) == (txn_id, "皖A12345")
        assert lane.state.timer_token(Timer.HELP) is None
        checked = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500)))
        (request,) = of(checked, RequestPayment)
        assert (request.amount, request.key) == (500, f"{txn_id}:1")
        paid = lane.feed(PaymentResult(txn_id, request.key, PaymentOutcome.APPROVED, 500, "gw"))
        (txn,) = txns(paid)
        assert txn.plate_text == "皖A12345"
        assert txn.plate_confidence is None
        assert set(txn.flags) == {Flag.UNREADABLE_PLATE, Flag.PLATE_TYPED}
        assert txn.entry_txn_id == entry_record().txn_id
        assert (txn.authorisation, txn.operator_id) == (Authorisation.PAID, None)
        assert of(paid, OpenBarrier) == [OpenBarrier(txn_id)]

    def test_a_second_typed_plate_is_ignored(self) -> None:
        lane, txn_id = stranded()
        lane.feed(PlateTyped(txn_id, "皖A12345"))
        assert lane.feed(PlateTyped(txn_id, "皖B99999")) == ()

    def test_a_plate_typed_for_another_vehicle_is_ignored(self) -> None:
        lane, _ = stranded()
        other = UUID(int=7)
        assert lane.feed(PlateTyped(other, "皖A12345")) == ()
        assert lane.state.passage is not None
        assert lane.state.passage.phase is Phase.STRANDED

    def test_operator_typed_plate_is_recorded_with_who_and_why(self) -> None:
        lane, txn_id = stranded()
        actions = lane.feed(PlateTyped(txn_id, "皖A12345", "op-3", "read it on the camera"))
        (event,) = of(actions, RecordEvent)
        assert (event.kind, event.operator_id, event.txn_id) == (
            EventKind.OPERATOR_PLATE,
            "op-3",
            txn_id,
        )
        assert len(of(actions, LookUpVehicle)) == 1
        checked = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500)))
        (pending,) = txns(checked)
        assert (pending.operator_id, pending.operator_reason) == ("op-3", "read it on the camera")

    def test_operator_can_type_the_plate_of_a_denied_vehicle(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.DENY_AND_CALL)
        txn_id = lane.arrive()
        lane.feed(PlateUnreadable(txn_id))
        actions = lane.feed(PlateTyped(txn_id, "皖A12345", "op-3", "intercom"))
        assert len(of(actions, LookUpVehicle)) == 1

    def test_entry_lane_admits_on_the_typed_plate(self) -> None:
        lane = Lane(LaneKind.PARKING_ENTRY, unreadable_plate=UnreadablePlate.OFFER_HELP)
        txn_id = lane.arrive()
        lane.feed(PlateUnreadable(txn_id))
        lane.feed(PlateTyped(txn_id, "皖A12345"))
        actions = lane.feed(VehicleChecked(txn_id))
        (txn,) = txns(actions)
        assert (txn.authorisation, txn.plate_text) == (Authorisation.RULE, "皖A12345")
        assert of(actions, OpenBarrier) == [OpenBarrier(txn_id)]


class TestOperatorHelp:
    """An operator opens for the stranded vehicle or turns it away; both are recorded first."""

    def test_operator_open_records_then_opens(self) -> None:
        lane, _ = stranded()
        actions = lane.feed(OperatorOpen("op-1", "driver showed a ticket"))
        kinds = [type(a).__name__ for a in actions]
        assert kinds.index("RecordEvent") < kinds.index("OpenBarrier")
        (txn,) = txns(actions)
        assert (txn.authorisation, txn.operator_id) == (Authorisation.OPERATOR, "op-1")
        assert lane.state.timer_token(Timer.HELP) is None

    def test_turn_away_records_denies_and_asks_to_reverse(self) -> None:
        lane, txn_id = stranded()
        actions = lane.feed(TurnAway("op-1", "no entry found, no ticket"))
        (event,) = of(actions, RecordEvent)
        assert (event.kind, event.txn_id, event.operator_id) == (
            EventKind.OPERATOR_TURN_AWAY,
            txn_id,
            "op-1",
        )
        (txn,) = txns(actions)
        assert (txn.status, txn.operator_reason) == (TxnStatus.DENIED, "no entry found, no ticket")
        assert ShowMessage(Message.TURNED_AWAY) in actions
        assert of(actions, OpenBarrier) == []
        assert lane.state.timer_token(Timer.HELP) is None
        gone = lane.feed(ArmingLoop(False))
        assert txns(gone)[0].status is TxnStatus.VOIDED

    def test_turn_away_leaves_an_authorised_vehicle_alone(self) -> None:
        lane = Lane()
        lane.paid()
        assert lane.feed(TurnAway("op-1", "mistake")) == ()


class TestHelpButton:
    """The driver presses help: an assistance alarm; a stranded car's wait starts again."""

    def test_stranded_car_waits_again_for_the_operator(self) -> None:
        lane, txn_id = stranded()
        before = lane.state.timer_token(Timer.HELP)
        actions = lane.feed(HelpPressed())
        assert alarms(actions) == [Alarm.ASSISTANCE]
        (alarm,) = of(actions, RaiseAlarm)
        assert (alarm.txn_id, alarm.detail) == (txn_id, "the driver pressed the help button")
        assert ShowMessage(Message.HELP_CALLED) in actions
        after = lane.state.timer_token(Timer.HELP)
        assert after is not None
        assert after != before
        assert lane.feed(TimerExpired(Timer.HELP, before)) == ()  # the old wait is void
        assert of(actions, OpenBarrier) == []

    def test_help_with_no_vehicle_is_still_an_alarm(self) -> None:
        lane = Lane()
        actions = lane.feed(HelpPressed())
        (alarm,) = of(actions, RaiseAlarm)
        assert (alarm.alarm, alarm.txn_id) == (Alarm.ASSISTANCE, None)
