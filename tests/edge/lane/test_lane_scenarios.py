"""Scenarios of the lane state machine: every lane kind, mode and detection, step by step."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from edge.lane import LaneState, step
from edge.lane.actions import (
    Alarm,
    CancelTimer,
    Capture,
    CaptureReason,
    CloseBarrier,
    ClosePayment,
    EventKind,
    LookUpVehicle,
    Message,
    OpenBarrier,
    RaiseAlarm,
    RecordEvent,
    RecordTransaction,
    RefundPayment,
    RequestPayment,
    ShowMessage,
    StartTimer,
    ordering_problems,
)
from edge.lane.events import (
    ArmingLoop,
    BarrierDown,
    BarrierFault,
    BarrierUp,
    EvidenceKept,
    LookupFailed,
    Mode,
    OperatorClose,
    OperatorOpen,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    PlateUnreadable,
    SafetyLoop,
    SetMode,
    Stopping,
    Timer,
    TimerExpired,
    VehicleChecked,
)
from edge.lane.policy import (
    DegradedReads,
    LaneKind,
    LanePolicy,
    UnreadablePlate,
    UnreadCause,
    UnreadOutcome,
)
from edge.lane.records import (
    Authorisation,
    CentralLookup,
    Flag,
    LaneInputError,
    Listing,
    PaymentMethod,
    PaymentStatus,
    TxnKind,
    TxnStatus,
)
from edge.lane.state import Command, KnownPosition
from edge.lane.testing import T0, Lane, alarms, entry_record, of, quote, txns


class TestLaneKinds:
    """Each lane kind admits, charges and records as its kind requires."""

    @pytest.mark.parametrize("kind", [LaneKind.PARKING_ENTRY, LaneKind.HIGHWAY_ENTRY])
    def test_entry_lanes_admit_by_rule_and_record_the_entry(self, kind: LaneKind) -> None:
        lane = Lane(kind)
        txn_id = lane.arrive()
        (lookup,) = of(lane.read(txn_id), LookUpVehicle)
        assert lookup.plate == "皖A12345"
        actions = lane.feed(VehicleChecked(txn_id))
        (txn,) = txns(actions)
        assert (txn.kind, txn.status, txn.authorisation) == (
            TxnKind.ENTRY,
            TxnStatus.AUTHORISED,
            Authorisation.RULE,
        )
        assert txn.entry_time == T0 + timedelta(seconds=1)
        assert of(actions, RequestPayment) == []
        assert of(actions, OpenBarrier) == [OpenBarrier(txn_id)]
        last = lane.drive_through()
        assert [t.status for t in txns(last)] == [TxnStatus.PASSED]
        assert of(last, CloseBarrier) == [CloseBarrier(txn_id)]

    def test_parking_exit_charges_before_it_opens(self) -> None:
        lane = Lane(LaneKind.PARKING_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500)))
        assert [type(a) for a in actions if not isinstance(a, CancelTimer | StartTimer)] == [
            ShowMessage,
            RecordTransaction,
            RequestPayment,
        ]
        (pending,) = txns(actions)
        assert pending.status is TxnStatus.PENDING_PAYMENT
        assert pending.fee_total == 500
        assert pending.entry_txn_id == UUID(int=42)
        (req,) = of(actions, RequestPayment)
        assert req == RequestPayment(
            txn_id, f"{txn_id}:1", 500, "CNY", PaymentMethod.TERMINAL, plate="皖A12345"
        )
        assert of(actions, OpenBarrier) == []
        paid = lane.feed(PaymentResult(txn_id, req.key, PaymentOutcome.APPROVED, 500, "gw-1"))
        (txn,) = txns(paid)
        assert (txn.status, txn.authorisation, txn.payment_status, txn.gateway_ref) == (
            TxnStatus.AUTHORISED,
            Authorisation.PAID,
            PaymentStatus.APPROVED,
            "gw-1",
        )
        assert paid.index(RecordTransaction(txn, lane.now)) < paid.index(OpenBarrier(txn_id))
        assert [t.status for t in txns(lane.drive_through())] == [TxnStatus.PASSED]

    def test_highway_exit_records_the_entry_plaza(self) -> None:
        lane = Lane(LaneKind.HIGHWAY_EXIT)
        txn_id = lane.paid()
        (passed,) = txns(lane.drive_through())
        assert passed.id == txn_id
        assert (passed.entry_plaza, passed.entry_time, passed.kind) == (
            "north",
            T0 - timedelta(hours=2),
            TxnKind.EXIT,
        )
        assert passed.tariff_id == "riverside"
        assert passed.tariff_version == 3

    def test_open_plaza_charges_the_flat_fee_without_an_entry(self) -> None:
        lane = Lane(LaneKind.OPEN_PLAZA)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, quote=quote(1500), vehicle_class=2))
        (pending,) = txns(actions)
        assert pending.kind is TxnKind.PASSAGE
        assert pending.vehicle_class == 2
        assert Flag.UNMATCHED_EXIT not in pending.flags
        assert of(actions, RequestPayment)[0].amount == 1500

    def test_zero_fee_exit_opens_without_payment(self) -> None:
        lane = Lane(LaneKind.PARKING_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(0)))
        assert of(actions, RequestPayment) == []
        assert txns(actions)[0].authorisation is Authorisation.RULE
        assert of(actions, OpenBarrier) == [OpenBarrier(txn_id)]

    @pytest.mark.parametrize("listing", [Listing.WHITELIST, Listing.PERMIT])
    def test_listed_plates_exit_free(self, listing: Listing) -> None:
        lane = Lane(LaneKind.PARKING_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, listing, entry_record(), quote(800)))
        (txn,) = txns(actions)
        assert (txn.fee_total, txn.listing, txn.authorisation) == (0, listing, Authorisation.RULE)
        assert of(actions, RequestPayment) == []

    def test_prepaid_plate_is_debited_from_its_account(self) -> None:
        lane = Lane(LaneKind.PARKING_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(
            VehicleChecked(txn_id, Listing.PREPAID, entry_record(), quote(800), account="acct-7")
        )
        (req,) = of(actions, RequestPayment)
        assert (req.method, req.account, req.amount) == (PaymentMethod.ACCOUNT, "acct-7", 800)


class TestDetections:
    """Every irregularity is recorded, flagged and alarmed, and never opens the barrier."""

    def test_tailgating_vehicle_is_recorded_as_unauthorised(self) -> None:
        lane = Lane()
        first = lane.paid()
        lane.feed(SafetyLoop(True))
        lane.feed(ArmingLoop(False))  # the paid car is past the arming loop, still under the arm
        second = lane.arrive()
        actions = lane.feed(ArmingLoop(False))  # the follower moves onto the occupied safety loop
        (txn,) = txns(actions)
        assert (txn.id, txn.status, txn.flags) == (second, TxnStatus.UNAUTHORISED, (Flag.TAILGATE,))
        assert alarms(actions) == [Alarm.TAILGATE]
        assert Capture(second, CaptureReason.TAILGATE) in actions
        assert of(actions, CloseBarrier) == []  # safety loop occupied
        last = lane.feed(SafetyLoop(False))
        assert [(t.id, t.status) for t in txns(last)] == [(first, TxnStatus.PASSED)]
        assert of(last, CloseBarrier) == [CloseBarrier(first)]

    def test_vehicle_past_a_closed_barrier_is_barrier_forced(self) -> None:
        lane = Lane()
        txn_id = lane.arrive()
        lane.feed(SafetyLoop(True))
        actions = lane.feed(ArmingLoop(False))
        (txn,) = txns(actions)
        assert (txn.id, txn.status, txn.flags) == (
            txn_id,
            TxnStatus.UNAUTHORISED,
            (Flag.BARRIER_FORCED,),
        )
        assert alarms(actions) == [Alarm.BARRIER_FORCED]

    def test_barrier_rising_by_itself_is_alarmed_and_closed_when_safe(self) -> None:
        lane = Lane()
        lane.feed(SafetyLoop(True))
        actions = lane.feed(BarrierUp())
        assert alarms(actions) == [Alarm.BARRIER_FORCED]
        assert of(actions, CloseBarrier) == []
        actions = lane.feed(SafetyLoop(False))
        (close,) = of(actions, CloseBarrier)
        (event,) = of(actions, RecordEvent)
        assert close.because == event.id
        assert event.kind is EventKind.BARRIER_CLOSE

    def test_barrier_rising_after_our_open_is_not_forced(self) -> None:
        lane = Lane()
        lane.arrive()
        lane.feed(OperatorOpen("op-1", "driver called"))
        lane.feed(ArmingLoop(False))  # backs out before the arm is up: we close again
        assert alarms(lane.feed(BarrierUp())) == []

    def test_close_reversed_on_a_vehicle_is_closed_again_when_safe(self) -> None:
        lane = Lane()
        lane.paid()
        lane.feed(BarrierUp())
        lane.feed(ArmingLoop(False))  # backs out: the lane closes
        assert lane.state.command is Command.CLOSED
        lane.feed(SafetyLoop(True))  # another vehicle noses under the falling arm
        assert of(lane.feed(BarrierUp()), CloseBarrier) == []  # the controller reversed
        (close,) = of(lane.feed(SafetyLoop(False)), CloseBarrier)
        assert close.because is not None

    def test_barrier_fault_is_alarmed_once(self) -> None:
        lane = Lane()
        assert alarms(lane.feed(BarrierFault("arm broken"))) == [Alarm.BARRIER_FAULT]
        assert lane.feed(BarrierFault("arm broken")) == ()
        assert lane.state.barrier is KnownPosition.FAULT

    def test_backing_out_before_paying_voids_without_charge(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.feed(ArmingLoop(False))
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status) == (TxnStatus.VOIDED, PaymentStatus.REQUESTED)
        assert of(actions, RequestPayment) == []
        assert of(actions, OpenBarrier) == []
        assert of(actions, ClosePayment) == [ClosePayment(req.txn_id, req.key)]
        # the closed order is declined: recorded so, nothing more is asked
        declined = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.DECLINED))
        assert [(t.status, t.payment_status) for t in txns(declined)] == [
            (TxnStatus.VOIDED, PaymentStatus.DECLINED)
        ]
        assert txns(declined) == [a.txn for a in declined if isinstance(a, RecordTransaction)]
        assert len(declined) == 1
        assert lane.state.outstanding == ()

    def test_backing_out_after_paying_is_voided_for_refund_review(self) -> None:
        lane = Lane()
        txn_id = lane.paid()
        actions = lane.feed(ArmingLoop(False))
        (txn,) = txns(actions)
        assert (txn.status, txn.flags) == (TxnStatus.VOIDED, (Flag.REFUND_REVIEW,))
        assert alarms(actions) == [Alarm.PAID_BACKED_OUT]
        assert of(actions, CloseBarrier) == [CloseBarrier(txn_id)]

    def test_stepping_back_off_the_safety_loop_then_leaving_is_backing_out(self) -> None:
        lane = Lane()
        lane.paid()
        lane.feed(SafetyLoop(True))
        lane.feed(SafetyLoop(False))
        (txn,) = txns(lane.feed(ArmingLoop(False)))
        assert txn.status is TxnStatus.VOIDED

    @pytest.mark.parametrize(
        ("loop", "timer"),
        [(ArmingLoop, Timer.ARMING_STUCK), (SafetyLoop, Timer.SAFETY_STUCK)],
    )
    def test_loop_stuck_occupied_raises_an_alarm(
        self, loop: type[ArmingLoop | SafetyLoop], timer: Timer
    ) -> None:
        lane = Lane(loop_stuck_s=120)
        started = of(lane.feed(loop(True)), StartTimer)
        assert StartTimer(timer, started[0].token, 120.0) == started[0]
        actions = lane.expire(timer)
        (alarm,) = of(actions, RaiseAlarm)
        assert alarm.alarm is Alarm.LOOP_STUCK
        assert "occupied for 120 s" in alarm.detail

    def test_stale_timer_expiry_is_ignored(self) -> None:
        lane = Lane()
        lane.feed(ArmingLoop(True))
        token = lane.state.timer_token(Timer.ARMING_STUCK)
        assert token is not None
        assert CancelTimer(Timer.ARMING_STUCK, token) in lane.feed(ArmingLoop(False))
        assert lane.feed(TimerExpired(Timer.ARMING_STUCK, token)) == ()

    def test_unreadable_plate_denied_calls_for_help(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.DENY_AND_CALL)
        txn_id = lane.arrive()
        actions = lane.feed(PlateUnreadable(txn_id))
        (txn,) = txns(actions)
        assert (txn.status, txn.flags) == (TxnStatus.DENIED, (Flag.UNREADABLE_PLATE,))
        assert alarms(actions) == [Alarm.UNREADABLE_PLATE]
        assert ShowMessage(Message.HELP_CALLED) in actions
        assert of(actions, OpenBarrier) == []

    def test_plate_timeout_counts_as_unreadable(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.DENY_AND_CALL)
        lane.arrive()
        assert alarms(lane.expire(Timer.PLATE)) == [Alarm.UNREADABLE_PLATE]

    def test_unreadable_plate_admitted_for_review(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.ADMIT_FOR_REVIEW)
        txn_id = lane.arrive()
        actions = lane.feed(PlateUnreadable(txn_id))
        (txn,) = txns(actions)
        assert (txn.authorisation, txn.flags) == (Authorisation.RULE, (Flag.UNREADABLE_PLATE,))
        assert of(actions, OpenBarrier) == [OpenBarrier(txn_id)]

    @pytest.mark.parametrize(
        ("cause", "outcome", "status"),
        [
            (UnreadCause.CAMERA_DARK, UnreadOutcome.ADMIT_FOR_REVIEW, TxnStatus.AUTHORISED),
            (UnreadCause.RECOGNITION_FAILING, UnreadOutcome.DENY_AND_CALL, TxnStatus.DENIED),
        ],
    )
    def test_a_fault_that_kept_the_plate_unread_takes_its_own_outcome(
        self, cause: UnreadCause, outcome: UnreadOutcome, status: TxnStatus
    ) -> None:
        reads = DegradedReads.model_validate({cause.value: outcome})
        lane = Lane(unreadable_plate=UnreadablePlate.OFFER_HELP, degraded_reads=reads)
        txn_id = lane.arrive()
        (txn,) = txns(lane.feed(PlateUnreadable(txn_id, cause)))
        assert (txn.status, txn.flags) == (status, (Flag.UNREADABLE_PLATE,))
        assert lane.state.policy.unreadable_plate is UnreadablePlate.OFFER_HELP

    def test_blacklisted_plate_is_refused_until_an_operator_opens(self) -> None:
        lane = Lane()
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, Listing.BLACKLIST, entry_record(), quote(500)))
        assert alarms(actions) == [Alarm.BLACKLISTED]
        assert txns(actions)[0].flags == (Flag.BLACKLISTED,)
        assert of(actions, OpenBarrier) == []
        assert of(actions, RequestPayment) == []
        opened = lane.feed(OperatorOpen("op-7", "police asked to let it through"))
        (event,) = of(opened, RecordEvent)
        (txn,) = txns(opened)
        assert (txn.authorisation, txn.operator_id, txn.operator_reason) == (
            Authorisation.OPERATOR,
            "op-7",
            "police asked to let it through",
        )
        assert event.kind is EventKind.OPERATOR_OPEN
        assert event.txn_id == txn_id

    def test_anti_passback_refuses_a_second_entry(self) -> None:
        lane = Lane(LaneKind.PARKING_ENTRY)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record()))
        assert alarms(actions) == [Alarm.ANTI_PASSBACK]
        assert "00000000-0000-0000-0000-00000000002a" in of(actions, RaiseAlarm)[0].detail
        assert txns(actions)[0].status is TxnStatus.DENIED

    def test_anti_passback_off_admits_the_second_entry(self) -> None:
        lane = Lane(LaneKind.PARKING_ENTRY, anti_passback=False)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record()))
        assert of(actions, OpenBarrier) == [OpenBarrier(txn_id)]

    @pytest.mark.parametrize("kind", [LaneKind.PARKING_EXIT, LaneKind.HIGHWAY_EXIT])
    def test_exit_without_entry_pays_the_unmatched_fee_and_is_flagged(self, kind: LaneKind) -> None:
        lane = Lane(kind)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, quote=quote(6000)))
        (txn,) = txns(actions)
        assert txn.flags == (Flag.UNMATCHED_EXIT,)
        assert txn.entry_time is None
        assert of(actions, RequestPayment)[0].amount == 6000

    @pytest.mark.parametrize(
        ("said", "flags"),
        [
            (CentralLookup.UNANSWERED, (Flag.ENTRY_LOOKUP_UNANSWERED, Flag.UNMATCHED_EXIT)),
            (CentralLookup.NONE, (Flag.UNMATCHED_EXIT,)),
            (None, (Flag.UNMATCHED_EXIT,)),
        ],
    )
    def test_a_highway_exit_central_did_not_answer_is_flagged_so(
        self, said: CentralLookup | None, flags: tuple[Flag, ...]
    ) -> None:
        lane = Lane(LaneKind.HIGHWAY_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, quote=quote(6000), central=said))
        (txn,) = txns(actions)
        assert txn.flags == flags
        assert of(actions, RequestPayment)[0].amount == 6000

    def test_central_s_entry_prices_the_exit_like_a_local_one(self) -> None:
        lane = Lane(LaneKind.HIGHWAY_EXIT)
        txn_id = lane.arrive()
        lane.read(txn_id)
        entry = entry_record()
        checked = VehicleChecked(
            txn_id, open_entry=entry, quote=quote(2500), central=CentralLookup.FOUND
        )
        (txn,) = txns(lane.feed(checked))
        assert (txn.entry_txn_id, txn.entry_plaza, txn.entry_time) == (
            entry.txn_id,
            entry.plaza_id,
            entry.at,
        )
        assert txn.flags == ()

    def test_found_without_an_entry_is_refused(self) -> None:
        with pytest.raises(LaneInputError, match="central: found, but open_entry is None"):
            VehicleChecked(UUID(int=7), central=CentralLookup.FOUND)

    def test_paid_but_barrier_fault_keeps_the_payment_and_tells_the_driver(self) -> None:
        lane = Lane()
        req = lane.request()
        lane.feed(BarrierFault("no answer from controller"))
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.APPROVED, 500, "g"))
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status, txn.flags) == (
            TxnStatus.BLOCKED,
            PaymentStatus.APPROVED,
            (Flag.BARRIER_FAULT,),
        )
        assert alarms(actions) == [Alarm.PAID_BARRIER_FAULT]
        assert ShowMessage(Message.PAID_BARRIER_FAULT) in actions
        recovered = lane.feed(BarrierDown())
        (again,) = txns(recovered)
        assert again.status is TxnStatus.AUTHORISED
        assert again.payment_status is PaymentStatus.APPROVED
        assert of(recovered, OpenBarrier) == [OpenBarrier(req.txn_id)]
        assert of(recovered, RequestPayment) == []

    def test_barrier_in_fault_takes_no_money(self) -> None:
        lane = Lane()
        lane.feed(BarrierFault("arm broken off"))
        txn_id = lane.arrive()
        lane.read(txn_id)
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500)))
        assert of(actions, RequestPayment) == []
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status) == (TxnStatus.DENIED, PaymentStatus.NONE)
        assert Flag.BARRIER_FAULT in txn.flags
        assert alarms(actions) == [Alarm.BARRIER_FAULT]
        assert of(actions, OpenBarrier) == []

    def test_barrier_fault_after_payment_blocks_the_paid_vehicle(self) -> None:
        lane = Lane()
        txn_id = lane.paid()
        actions = lane.feed(BarrierFault("motor"))
        assert alarms(actions) == [Alarm.BARRIER_FAULT, Alarm.PAID_BARRIER_FAULT]
        assert txns(actions)[0].status is TxnStatus.BLOCKED
        assert of(lane.feed(BarrierUp()), RecordTransaction)[0].txn.id == txn_id


class TestPayments:
    """One vehicle, one charge: keys, retries, declines, timeouts and late answers."""

    def test_decline_asks_again_under_a_new_key(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.DECLINED))
        (again,) = of(actions, RequestPayment)
        assert again.key == f"{req.txn_id}:2"
        assert ShowMessage(Message.PAYMENT_DECLINED) in actions

    def test_error_is_retried_under_the_same_key(self) -> None:
        lane = Lane()
        req = lane.request()
        (again,) = of(
            lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.ERROR)), RequestPayment
        )
        assert again.key == req.key

    def test_exhausted_attempts_call_for_help(self) -> None:
        lane = Lane(payment_attempts=2)
        req = lane.request()
        lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.ERROR))
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.ERROR))
        assert alarms(actions) == [Alarm.PAYMENT_FAILED]
        assert of(actions, OpenBarrier) == []
        assert of(actions, RequestPayment) == []
        assert txns(actions)[0].payment_status is PaymentStatus.FAILED

    def test_exhausted_attempts_with_fail_open_admit_and_record_it(self) -> None:
        lane = Lane(payment_attempts=1, fail_open=True)
        req = lane.request()
        actions = lane.feed(
            PaymentResult(req.txn_id, req.key, PaymentOutcome.ERROR, reason="gw down")
        )
        (txn,) = txns(actions)
        assert (txn.authorisation, txn.flags) == (Authorisation.FAIL_OPEN, (Flag.FAIL_OPEN,))
        assert of(actions, OpenBarrier) == [OpenBarrier(req.txn_id)]

    def test_declines_never_fail_open(self) -> None:
        lane = Lane(payment_attempts=1, fail_open=True)
        req = lane.request()
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.DECLINED))
        assert of(actions, OpenBarrier) == []
        assert alarms(actions) == [Alarm.PAYMENT_FAILED]

    def test_duplicate_and_unknown_answers_change_nothing(self) -> None:
        lane = Lane()
        txn_id = lane.paid()
        assert lane.feed(PaymentResult(txn_id, f"{txn_id}:1", PaymentOutcome.APPROVED, 500)) == ()
        assert lane.feed(PaymentResult(txn_id, "forged", PaymentOutcome.APPROVED, 500)) == ()

    def test_amount_mismatch_is_refused(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.APPROVED, 50))
        assert alarms(actions) == [Alarm.PAYMENT_MISMATCH]
        assert of(actions, OpenBarrier) == []
        assert txns(actions)[0].flags == (Flag.PAYMENT_MISMATCH,)

    def test_timeout_calls_for_help_and_a_late_approval_still_opens(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.expire(Timer.PAYMENT)
        assert alarms(actions) == [Alarm.PAYMENT_TIMEOUT]
        late = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.APPROVED, 500))
        assert txns(late)[0].authorisation is Authorisation.PAID
        assert of(late, OpenBarrier) == [OpenBarrier(req.txn_id)]

    def test_approval_after_backing_out_is_refunded(self) -> None:
        lane = Lane()
        req = lane.request()
        lane.feed(ArmingLoop(False))
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.APPROVED, 500, "g"))
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status, txn.flags) == (
            TxnStatus.VOIDED,
            PaymentStatus.APPROVED,
            (Flag.LATE_PAYMENT, Flag.REFUND_DUE),
        )
        assert alarms(actions) == [Alarm.LATE_PAYMENT]
        assert of(actions, RefundPayment) == [RefundPayment(req.txn_id, 500, "CNY", "g")]
        assert of(actions, OpenBarrier) == []

    def test_postpay_admits_by_rule_with_nothing_taken(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.POSTPAY))
        (txn,) = txns(actions)
        assert (txn.status, txn.authorisation, txn.payment_status, txn.payment_method) == (
            TxnStatus.AUTHORISED,
            Authorisation.RULE,
            PaymentStatus.NONE,
            None,
        )
        assert (txn.flags, txn.fee_total) == ((Flag.POSTPAY,), 500)
        assert of(actions, OpenBarrier) == [OpenBarrier(req.txn_id)]
        assert Timer.PAYMENT not in dict(lane.state.timers)
        # Nothing was paid: backing out now is no refund case.
        (voided,) = txns(lane.feed(ArmingLoop(False)))
        assert (voided.status, voided.flags) == (TxnStatus.VOIDED, (Flag.POSTPAY,))

    def test_postpay_after_backing_out_closes_with_nothing_taken_or_refunded(self) -> None:
        lane = Lane()
        req = lane.request()
        lane.feed(ArmingLoop(False))
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.POSTPAY))
        (txn,) = txns(actions)
        assert (txn.status, txn.payment_status) == (TxnStatus.VOIDED, PaymentStatus.DECLINED)
        assert of(actions, RefundPayment) == []
        assert lane.state.outstanding == ()

    def test_late_postpay_records_the_passage_to_be_billed(self) -> None:
        lane = Lane()
        req = lane.request()
        lane.expire(Timer.PAYMENT)
        lane.feed(OperatorOpen("op-1", "driver paid cash"))
        actions = lane.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.POSTPAY))
        (txn,) = txns(actions)
        assert (txn.authorisation, txn.payment_status, txn.flags) == (
            Authorisation.OPERATOR,
            PaymentStatus.NONE,
            (Flag.POSTPAY,),
        )
        assert alarms(actions) == []

    def test_lookup_failure_calls_for_help_or_fails_open(self) -> None:
        closed, open_ = Lane(), Lane(fail_open=True)
        shut_id, open_id = closed.arrive(), open_.arrive()
        closed.read(shut_id)
        open_.read(open_id)
        shut = closed.feed(LookupFailed(shut_id, "store locked"))
        assert alarms(shut) == [Alarm.LOOKUP_FAILED]
        assert of(shut, OpenBarrier) == []
        opened = open_.feed(LookupFailed(open_id, "store locked"))
        assert txns(opened)[0].authorisation is Authorisation.FAIL_OPEN
        assert len(of(opened, OpenBarrier)) == 1

    def test_charging_lane_without_a_quote_counts_as_failed_lookup(self) -> None:
        lane = Lane()
        txn_id = lane.arrive()
        lane.read(txn_id)
        (alarm,) = of(lane.feed(VehicleChecked(txn_id)), RaiseAlarm)
        assert alarm.alarm is Alarm.LOOKUP_FAILED
        assert "no fee quote" in alarm.detail


class TestModes:
    """Closed, free passage and maintenance modes, and operator commands."""

    def test_closed_lane_turns_vehicles_away_but_an_operator_can_admit_one(self) -> None:
        lane = Lane()
        lane.feed(SetMode(Mode.CLOSED, "op-1", "night"))
        actions = lane.feed(ArmingLoop(True))
        assert actions[-1] == ShowMessage(Message.LANE_CLOSED)
        assert of(actions, Capture) == []
        opened = lane.feed(OperatorOpen("op-1", "ambulance"))
        (txn,) = txns(opened)
        assert txn.authorisation is Authorisation.OPERATOR
        assert len(of(opened, OpenBarrier)) == 1
        assert of(lane.drive_through(), CloseBarrier) == [CloseBarrier(txn.id)]

    def test_free_passage_holds_the_barrier_up_and_records_every_vehicle(self) -> None:
        lane = Lane()
        actions = lane.feed(SetMode(Mode.FREE_PASSAGE, "op-1", "tariff system down"))
        (event,) = of(actions, RecordEvent)
        assert of(actions, OpenBarrier) == [OpenBarrier(event.id)]
        for plate in ("皖A11111", "皖B22222"):
            txn_id = lane.arrive()
            lane.read(txn_id, plate)
            last = lane.drive_through()
            (txn,) = txns(last)
            assert (txn.plate_text, txn.status, txn.authorisation, txn.flags) == (
                plate,
                TxnStatus.PASSED,
                Authorisation.FREE_PASSAGE,
                (Flag.FREE_PASSAGE,),
            )
            assert of(last, CloseBarrier) == []
            assert of(last, RequestPayment) == []
        back = lane.feed(SetMode(Mode.NORMAL, "op-1", "fixed"))
        assert len(of(back, CloseBarrier)) == 1

    def test_free_passage_vehicle_without_a_plate_is_flagged_when_it_passes(self) -> None:
        lane = Lane(LaneKind.HIGHWAY_ENTRY)
        lane.feed(SetMode(Mode.FREE_PASSAGE, "op-1", "storm evacuation"))
        lane.arrive()
        (txn,) = txns(lane.drive_through())
        assert txn.flags == (Flag.FREE_PASSAGE, Flag.UNREADABLE_PLATE)
        assert txn.kind is TxnKind.ENTRY

    def test_free_passage_admits_the_vehicle_being_served(self) -> None:
        lane = Lane()
        req = lane.request()
        actions = lane.feed(SetMode(Mode.FREE_PASSAGE, "op-1", "terminal broken"))
        (txn,) = txns(actions)
        assert txn.authorisation is Authorisation.FREE_PASSAGE
        assert of(actions, OpenBarrier) == [OpenBarrier(req.txn_id)]

    def test_maintenance_serves_nobody_and_tolerates_manual_moves(self) -> None:
        lane = Lane()
        lane.feed(SetMode(Mode.MAINTENANCE, "tech-3", "replace arm"))
        assert of(lane.feed(ArmingLoop(True)), Capture) == []
        assert lane.feed(BarrierUp()) == ()
        assert alarms(lane.expire(Timer.ARMING_STUCK)) == []
        held = lane.feed(OperatorOpen("tech-3", "test the arm"))
        assert len(of(held, OpenBarrier)) == 1
        assert lane.state.timer_token(Timer.GRANT) is None
        lane.feed(ArmingLoop(False))
        back = lane.feed(SetMode(Mode.NORMAL, "tech-3", "done"))
        assert len(of(back, CloseBarrier)) == 1

    def test_normal_mode_serves_the_vehicle_left_waiting(self) -> None:
        lane = Lane()
        lane.feed(SetMode(Mode.CLOSED, "op-1", "night"))
        lane.feed(ArmingLoop(True))
        actions = lane.feed(SetMode(Mode.NORMAL, "op-1", "morning"))
        assert len(of(actions, Capture)) == 1

    def test_operator_open_without_a_vehicle_admits_the_next_one(self) -> None:
        lane = Lane()
        opened = lane.feed(OperatorOpen("op-2", "regular customer, forgot card"))
        (event,) = of(opened, RecordEvent)
        assert of(opened, OpenBarrier) == [OpenBarrier(event.id)]
        txn_id = lane.arrive()
        (txn,) = txns(lane.drive_through())
        assert (txn.id, txn.operator_id, txn.authorisation) == (
            txn_id,
            "op-2",
            Authorisation.OPERATOR,
        )
        assert lane.state.grant is None

    def test_operator_grant_expires_and_the_barrier_closes(self) -> None:
        lane = Lane()
        lane.feed(OperatorOpen("op-2", "expected delivery"))
        actions = lane.expire(Timer.GRANT)
        (event,) = of(actions, RecordEvent)
        assert event.kind is EventKind.GRANT_EXPIRED
        assert of(actions, CloseBarrier) == [CloseBarrier(event.id)]

    def test_operator_close_waits_for_the_safety_loop(self) -> None:
        lane = Lane()
        lane.paid()
        lane.feed(SafetyLoop(True))
        actions = lane.feed(OperatorClose("op-1", "suspicious"))
        assert of(actions, CloseBarrier) == []
        assert txns(actions)[0].status is TxnStatus.DENIED
        closed = lane.feed(SafetyLoop(False))  # it stepped back: the arm may come down now
        assert len(of(closed, CloseBarrier)) == 1

    def test_barrier_left_up_at_start_is_closed_on_the_first_step(self) -> None:
        state = LaneState.initial(
            "t1", LaneKind.PARKING_EXIT, LanePolicy(), b"nonce-for-tests", barrier=KnownPosition.UP
        )
        _, actions = step(state, SafetyLoop(False), T0)
        assert len(of(actions, CloseBarrier)) == 1
        assert ordering_problems(actions) == []


class TestStopping:
    """At a stop the passages still open are settled by the restart rule, nothing resumed."""

    def test_authorised_passes_when_the_arming_loop_is_clear_else_voided(self) -> None:
        lane = Lane()
        txn_id = lane.paid()
        assert lane.state.passage is not None
        authorised = lane.state.passage.txn
        gone = lane.feed(Stopping((authorised,), arming=False))
        (passed,) = txns(gone)
        assert (passed.id, passed.status, passed.flags) == (
            txn_id,
            TxnStatus.PASSED,
            (Flag.PASSAGE_ASSUMED,),
        )
        assert of(gone, OpenBarrier) == of(gone, CloseBarrier) == []
        (voided,) = txns(lane.feed(Stopping((authorised,), arming=True)))
        assert (voided.status, voided.flags) == (TxnStatus.VOIDED, (Flag.REFUND_REVIEW,))

    def test_a_payment_still_requested_is_refused(self) -> None:
        lane = Lane()
        lane.request()
        pending = lane.state.passage
        assert pending is not None
        with pytest.raises(LaneInputError, match="still has its payment requested"):
            Stopping((pending.txn,))


class TestFactsFromTheShell:
    """What the shell learns reaches the record through events, never beside the machine."""

    def test_the_read_images_go_on_every_later_version(self) -> None:
        lane = Lane()
        txn_id = lane.arrive()
        lane.feed(PlateRead(txn_id, "皖A12345", 0.97, ("frame-1", "crop-1")))
        actions = lane.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500)))
        assert [t.evidence_image_ids for t in txns(actions)] == [("frame-1", "crop-1")]

    def test_images_of_a_plate_given_up_on_go_on_later_versions_without_a_record(self) -> None:
        lane = Lane(unreadable_plate=UnreadablePlate.DENY_AND_CALL)
        txn_id = lane.arrive()
        (denied,) = txns(lane.expire(Timer.PLATE))
        assert denied.evidence_image_ids == ()
        assert lane.feed(EvidenceKept(txn_id, ("frame-9",))) == ()
        (voided,) = txns(lane.feed(ArmingLoop(False)))
        assert (voided.status, voided.evidence_image_ids) == (TxnStatus.VOIDED, ("frame-9",))

    def test_the_settling_method_replaces_the_requested_one(self) -> None:
        lane = Lane()
        req = lane.request()
        assert req.method is PaymentMethod.TERMINAL
        approved = PaymentResult(
            req.txn_id,
            req.key,
            PaymentOutcome.APPROVED,
            500,
            "acct:1",
            method=PaymentMethod.ACCOUNT,
        )
        (txn,) = txns(lane.feed(approved))
        assert (txn.payment_method, txn.gateway_ref) == (PaymentMethod.ACCOUNT, "acct:1")
        (passed,) = txns(lane.drive_through())
        assert passed.payment_method is PaymentMethod.ACCOUNT

    def test_an_answer_without_a_method_keeps_the_requested_one(self) -> None:
        lane = Lane()
        txn_id = lane.paid()
        (passed,) = txns(lane.drive_through())
        assert (passed.id, passed.payment_method) == (txn_id, PaymentMethod.TERMINAL)

    def test_an_empty_image_id_is_refused(self) -> None:
        with pytest.raises(LaneInputError, match=r"EvidenceKept\.images"):
            EvidenceKept(UUID(int=1), ("",))
        with pytest.raises(LaneInputError, match=r"PlateRead\.evidence"):
            PlateRead(UUID(int=1), "皖A12345", 0.9, (" ",))
