"""The lane state machine: ``step(state, event, now) -> (state, actions)``.

See the package docstring (:mod:`edge.lane`) for the rules it keeps and the
vocabulary it speaks. Each step works on a private copy (:class:`_Step`) that
replaces the frozen state as it goes and collects actions; the barrier is
settled last, so the decision to close is taken once, on the final loop state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import get_args
from uuid import UUID

from contracts.uuid7 import derive_uuid7
from edge.lane.abandoned import closes_order, paid_after_voided, refund_due
from edge.lane.actions import (
    Action,
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
    WatchPlateOrders,
)
from edge.lane.events import (
    ArmingLoop,
    BarrierDown,
    BarrierFault,
    BarrierUp,
    Correction,
    Event,
    EvidenceKept,
    HelpPressed,
    LookupFailed,
    Mode,
    OperatorClose,
    OperatorOpen,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    PlateTyped,
    PlateUnreadable,
    Restarted,
    SafetyLoop,
    SetMode,
    Stopping,
    Timer,
    TimerExpired,
    TurnAway,
    VehicleChecked,
)
from edge.lane.policy import UnreadablePlate, UnreadCause
from edge.lane.records import (
    Authorisation,
    CentralLookup,
    Flag,
    LaneInputError,
    Listing,
    PaymentMethod,
    PaymentStatus,
    Txn,
    TxnKind,
    TxnStatus,
    require_utc,
    txn_kind_for,
)
from edge.lane.restart import settled, to_resume
from edge.lane.state import Command, Grant, KnownPosition, LaneState, Passage, Payment, Phase

_EVENT_TYPES = frozenset(get_args(Event))


def step(state: LaneState, event: Event, now: datetime) -> tuple[LaneState, tuple[Action, ...]]:
    """Apply one event at ``now`` (aware UTC); return the new state and the actions, in order."""
    now = require_utc("now", now)
    if type(event) not in _EVENT_TYPES:
        raise LaneInputError(f"event: not a lane event: {event!r}")
    run = _Step(state, now)
    run.handle(event)
    run.settle_barrier()
    return run.s, tuple(run.actions)


def replay(
    state: LaneState, log: Iterable[tuple[datetime, Event]]
) -> tuple[LaneState, list[tuple[Action, ...]]]:
    """Feed a recorded event log through the machine: the final state and each step's actions."""
    decisions = []
    for now, event in log:
        state, actions = step(state, event, now)
        decisions.append(actions)
    return state, decisions


def paid(txn: Txn, e: PaymentResult) -> Txn:
    """``txn`` with the approved payment ``e``: its reference, and its method when ``e`` names one."""
    return replace(
        txn,
        payment_status=PaymentStatus.APPROVED,
        gateway_ref=e.gateway_ref,
        payment_method=e.method or txn.payment_method,
    )


def postpaid(txn: Txn) -> Txn:
    """``txn`` let through by the post-pay rule: nothing taken, flagged to be billed by plate."""
    return replace(
        txn,
        payment_status=PaymentStatus.NONE,
        payment_method=None,
        flags=txn.flagged(Flag.POSTPAY),
    )


class _Step:
    """One step in progress: the state so far, the actions so far, and why a close would happen."""

    def __init__(self, state: LaneState, now: datetime) -> None:
        self.s = state
        self.now = now
        self.actions: list[Action] = []
        self.close_because: UUID | None = None
        self.opened = False

    # -- dispatch ---------------------------------------------------------

    def handle(self, event: Event) -> None:
        match event:
            case Restarted():
                self.restarted(event)
            case Stopping(open=open_txns, arming=arming):
                for txn in open_txns:
                    self.record(settled(txn, went=not arming))
            case ArmingLoop(occupied=occupied):
                self.arming(occupied)
            case SafetyLoop(occupied=occupied):
                self.safety(occupied)
            case PlateRead():
                self.plate_read(event)
            case PlateUnreadable(txn_id=txn_id, cause=cause):
                p = self.s.passage
                if p is not None and p.txn.id == txn_id and p.phase is Phase.READING:
                    self.unreadable(p, cause)
            case EvidenceKept():
                self.evidence_kept(event)
            case PlateTyped():
                self.plate_typed(event)
            case VehicleChecked():
                self.vehicle_checked(event)
            case LookupFailed(txn_id=txn_id, reason=reason):
                p = self.s.passage
                if p is not None and p.txn.id == txn_id and p.phase is Phase.CHECKING:
                    self.lookup_failed(p, reason)
            case PaymentResult():
                self.payment_result(event)
            case BarrierUp():
                self.barrier_up()
            case BarrierDown():
                self.barrier_down()
            case BarrierFault(reason=reason):
                self.barrier_fault(reason)
            case OperatorOpen():
                self.operator_open(event)
            case OperatorClose():
                self.operator_close(event)
            case SetMode():
                self.set_mode(event)
            case TurnAway():
                self.turn_away(event)
            case HelpPressed():
                self.help_pressed()
            case TimerExpired():
                self.timer_expired(event)

    # -- plumbing ---------------------------------------------------------

    def new_id(self) -> UUID:
        value = derive_uuid7(self.s.nonce, self.s.counter, self.now)
        self.s = replace(self.s, counter=self.s.counter + 1)
        return value

    def record(self, txn: Txn) -> None:
        self.actions.append(RecordTransaction(txn, self.now))

    def lane_event(
        self,
        kind: EventKind,
        *,
        txn_id: UUID | None = None,
        operator_id: str | None = None,
        reason: str = "",
    ) -> UUID:
        event_id = self.new_id()
        self.actions.append(RecordEvent(event_id, kind, self.now, txn_id, operator_id, reason))
        return event_id

    def alarm(self, alarm: Alarm, txn_id: UUID | None = None, detail: str = "") -> UUID:
        alarm_id = self.new_id()
        self.actions.append(RaiseAlarm(alarm_id, alarm, self.now, txn_id, detail))
        return alarm_id

    def show(
        self, message: Message, amount: int | None = None, currency: str | None = None
    ) -> None:
        self.actions.append(ShowMessage(message, amount, currency))

    def start_timer(self, timer: Timer, seconds: float) -> None:
        token = self.s.counter
        others = tuple(entry for entry in self.s.timers if entry[0] is not timer)
        self.s = replace(self.s, counter=token + 1, timers=(*others, (timer, token)))
        self.actions.append(StartTimer(timer, token, seconds))

    def cancel_timer(self, timer: Timer) -> None:
        token = self.s.timer_token(timer)
        if token is not None:
            self.s = replace(self.s, timers=tuple(e for e in self.s.timers if e[0] is not timer))
            self.actions.append(CancelTimer(timer, token))

    def cancel_waits(self) -> None:
        """Stop the timers of the vehicle in front of the barrier (decided or gone)."""
        for timer in (Timer.PLATE, Timer.PAYMENT, Timer.HELP):
            self.cancel_timer(timer)

    def open_barrier(self, because: UUID) -> None:
        self.actions.append(OpenBarrier(because))
        self.s = replace(self.s, command=Command.OPEN, opened_since_down=True, reclose=False)
        self.opened = True

    def set_passage(self, p: Passage | None) -> None:
        self.s = replace(self.s, passage=p)

    def needs_open(self) -> bool:
        p = self.s.passage
        return (
            self.s.mode is Mode.FREE_PASSAGE
            or self.s.grant is not None
            or (p is not None and p.authorised)
        )

    def settle_barrier(self) -> None:
        """Close when nothing authorised holds the barrier open and the safety loop is clear."""
        s = self.s
        if s.safety or self.needs_open():
            return
        if s.command is Command.CLOSED and not s.reclose:
            return
        because = self.close_because or self.lane_event(
            EventKind.BARRIER_CLOSE, reason="nothing authorised holds the barrier open"
        )
        self.actions.append(CloseBarrier(because))
        self.s = replace(self.s, command=Command.CLOSED, reclose=False)

    # -- passages -----------------------------------------------------------

    def new_passage(self) -> Passage:
        """A transaction for the vehicle on the arming loop, and its evidence."""
        kind = txn_kind_for(self.s.kind)
        txn = Txn(
            id=self.new_id(),
            lane_id=self.s.lane_id,
            kind=kind,
            entry_time=self.now if kind is TxnKind.ENTRY else None,
            exit_time=self.now if kind is not TxnKind.ENTRY else None,
        )
        self.actions.append(Capture(txn.id, CaptureReason.ARRIVAL))
        return Passage(txn=txn, phase=Phase.READING, arrived_at=self.now)

    def authorise(self, p: Passage, how: Authorisation, grant: Grant | None = None) -> None:
        """Record the authorisation, then open (the record comes first, always)."""
        txn = replace(
            p.txn,
            status=TxnStatus.AUTHORISED,
            authorisation=how,
            operator_id=grant.operator_id if grant else p.txn.operator_id,
            operator_reason=grant.reason if grant else p.txn.operator_reason,
        )
        phase = Phase.AUTHORISED
        if self.s.barrier is KnownPosition.FAULT:
            txn = replace(txn, status=TxnStatus.BLOCKED, flags=txn.flagged(Flag.BARRIER_FAULT))
            phase = Phase.BLOCKED
        p = replace(p, txn=txn, phase=phase)
        self.set_passage(p)
        self.cancel_waits()
        self.record(txn)
        if phase is Phase.BLOCKED:
            self.tell_blocked(p)
        else:
            self.show(Message.PROCEED)
        self.open_barrier(txn.id)

    def tell_blocked(self, p: Passage) -> None:
        if p.txn.payment_status is PaymentStatus.APPROVED:
            self.alarm(Alarm.PAID_BARRIER_FAULT, p.txn.id, "paid; the barrier is in fault")
            self.show(Message.PAID_BARRIER_FAULT)
        else:
            self.show(Message.BARRIER_FAULT)

    def deny(self, p: Passage, alarm: Alarm, *flags: Flag, detail: str = "") -> None:
        txn = replace(p.txn, status=TxnStatus.DENIED, flags=p.txn.flagged(*flags))
        self.set_passage(replace(p, txn=txn, phase=Phase.HELP))
        self.cancel_waits()
        self.record(txn)
        self.alarm(alarm, txn.id, detail)
        self.show(Message.HELP_CALLED)

    def finish(self, p: Passage, status: TxnStatus, *flags: Flag) -> Txn:
        """Record a vehicle's last status; keep its payment if one is still unanswered.

        A vehicle that backed out with its payment open has its order closed
        (:mod:`edge.lane.abandoned`).
        """
        txn = replace(p.txn, status=status, flags=p.txn.flagged(*flags))
        self.record(txn)
        self.close_because = txn.id
        if txn.payment_status is PaymentStatus.REQUESTED:
            self.s = replace(self.s, outstanding=(*self.s.outstanding, replace(p, txn=txn)))
            if closes_order(txn) and p.payment is not None:
                self.actions.append(ClosePayment(txn.id, p.payment.key))
        return txn

    # -- loops --------------------------------------------------------------

    def arming(self, occupied: bool) -> None:
        if occupied == self.s.arming:
            return
        self.s = replace(self.s, arming=occupied)
        if occupied:
            self.start_timer(Timer.ARMING_STUCK, self.s.policy.loop_stuck_s)
            self.arrival()
        else:
            self.cancel_timer(Timer.ARMING_STUCK)
            self.arming_cleared()

    def arrival(self) -> None:
        s = self.s
        if s.passage is not None:
            return
        if s.grant is not None and s.mode is not Mode.MAINTENANCE:
            self.s = replace(self.s, grant=None)
            self.cancel_timer(Timer.GRANT)
            self.authorise(self.new_passage(), Authorisation.OPERATOR, s.grant)
        elif s.mode is Mode.FREE_PASSAGE:
            p = self.new_passage()
            p = replace(p, txn=replace(p.txn, flags=p.txn.flagged(Flag.FREE_PASSAGE)))
            self.authorise(p, Authorisation.FREE_PASSAGE)
        elif s.mode is Mode.NORMAL:
            self.set_passage(self.new_passage())
            self.start_timer(Timer.PLATE, s.policy.plate_read_timeout_s)
        else:
            self.show(Message.LANE_CLOSED)

    def arming_cleared(self) -> None:
        """The vehicle left the arming loop: forward onto the safety loop, or backwards."""
        p = self.s.passage
        if p is None:
            return
        self.set_passage(None)
        self.cancel_waits()
        if p.on_safety or (self.s.safety and p.authorised):
            self.s = replace(self.s, leaving=(*self.s.leaving, p))
        elif self.s.safety:
            barrier_open = self.s.barrier is KnownPosition.UP or self.s.command is Command.OPEN
            flag, alarm, evidence, detail = (
                (
                    Flag.TAILGATE,
                    Alarm.TAILGATE,
                    CaptureReason.TAILGATE,
                    "followed an authorised vehicle",
                )
                if barrier_open
                else (
                    Flag.BARRIER_FORCED,
                    Alarm.BARRIER_FORCED,
                    CaptureReason.BARRIER_FORCED,
                    "passed a closed barrier",
                )
            )
            txn = self.finish(p, TxnStatus.UNAUTHORISED, flag)
            self.alarm(alarm, txn.id, detail)
            self.actions.append(Capture(txn.id, evidence))
        elif p.txn.payment_status is PaymentStatus.APPROVED:
            txn = self.finish(p, TxnStatus.VOIDED, Flag.REFUND_REVIEW)
            self.alarm(Alarm.PAID_BACKED_OUT, txn.id, "paid, then backed out")
        else:
            self.finish(p, TxnStatus.VOIDED)

    def safety(self, occupied: bool) -> None:
        if occupied == self.s.safety:
            return
        self.s = replace(self.s, safety=occupied)
        p = self.s.passage
        if occupied:
            self.start_timer(Timer.SAFETY_STUCK, self.s.policy.loop_stuck_s)
            if p is not None and p.authorised and not p.on_safety:
                self.set_passage(replace(p, on_safety=True))
            return
        self.cancel_timer(Timer.SAFETY_STUCK)
        if self.s.leaving:
            for gone in self.s.leaving:
                missing = (Flag.UNREADABLE_PLATE,) if gone.txn.plate_text is None else ()
                self.finish(gone, TxnStatus.PASSED, *missing)
            self.s = replace(self.s, leaving=())
        elif p is not None and p.on_safety:
            self.set_passage(replace(p, on_safety=False))  # it stepped back onto the arming loop

    def restarted(self, e: Restarted) -> None:
        """Take the loops as found and settle what the last run left open (edge.lane.restart)."""
        self.s = replace(self.s, arming=e.arming, safety=e.safety)
        if e.arming:
            self.start_timer(Timer.ARMING_STUCK, self.s.policy.loop_stuck_s)
        if e.safety:
            self.start_timer(Timer.SAFETY_STUCK, self.s.policy.loop_stuck_s)
        resumed = to_resume(e.open, vehicle_present=e.arming or e.safety)
        for txn in e.open:
            if resumed is not None and txn.id == resumed.id:
                self.resume(txn, on_arming=e.arming)
            elif paid_after_voided(txn):
                self.refund(txn, txn.gateway_ref, txn.fee_total or 0)
            else:
                self.record(settled(txn, went=True))
        if e.arming and self.s.passage is None:
            self.arrival()

    def resume(self, txn: Txn, *, on_arming: bool) -> None:
        """The passage stays authorised for the vehicle on the loops: recorded, then opened."""
        how = txn.authorisation or Authorisation.PAID
        self.authorise(Passage(txn=txn, phase=Phase.CHECKING, arrived_at=self.now), how)
        p = self.s.passage
        assert p is not None
        if on_arming:
            self.set_passage(replace(p, on_safety=self.s.safety))
        else:  # past the arming loop, on the safety loop: it passes when that clears
            self.set_passage(None)
            self.s = replace(self.s, leaving=(*self.s.leaving, p))

    # -- plate and lookup -------------------------------------------------

    def plate_read(self, e: PlateRead) -> None:
        """The plate of the vehicle (in front of the barrier or leaving); its images for the record.

        A plate already known (typed meanwhile) stays; the images of the read go on
        the record all the same.
        """

        def with_read(v: Passage) -> Passage:
            txn = replace(v.txn, evidence_image_ids=e.evidence or v.txn.evidence_image_ids)
            if txn.plate_text is None:
                txn = replace(txn, plate_text=e.text, plate_confidence=e.confidence)
            return replace(v, txn=txn)

        p = self.s.passage
        if p is not None and p.txn.id == e.txn_id:
            first = p.txn.plate_text is None
            p = with_read(p)
            if first and p.phase is Phase.READING:
                p = replace(p, phase=Phase.CHECKING)
                self.cancel_timer(Timer.PLATE)
                self.actions.append(LookUpVehicle(p.txn.id, e.text, p.arrived_at))
            self.set_passage(p)
            return
        leaving = tuple(with_read(v) if v.txn.id == e.txn_id else v for v in self.s.leaving)
        self.s = replace(self.s, leaving=leaving)

    def evidence_kept(self, e: EvidenceKept) -> None:
        """Images of a vehicle whose plate was given up on: on its versions from now on."""

        def kept(v: Passage) -> Passage:
            if v.txn.id != e.txn_id:
                return v
            return replace(v, txn=replace(v.txn, evidence_image_ids=e.images))

        p = self.s.passage
        self.s = replace(
            self.s,
            passage=None if p is None else kept(p),
            leaving=tuple(kept(v) for v in self.s.leaving),
            outstanding=tuple(kept(v) for v in self.s.outstanding),
        )

    def unreadable(self, p: Passage, cause: UnreadCause | None = None) -> None:
        """No plate: the lane's rule, or its outcome for the fault that kept it from being read."""
        p = replace(p, txn=replace(p.txn, flags=p.txn.flagged(Flag.UNREADABLE_PLATE)))
        policy = self.s.policy
        rule = (
            policy.unreadable_plate
            if cause is None
            else UnreadablePlate(policy.degraded_reads.outcome(cause).value)
        )
        if rule is UnreadablePlate.ADMIT_FOR_REVIEW:
            self.authorise(p, Authorisation.RULE)
        elif rule is UnreadablePlate.OFFER_HELP:
            self.strand(p)
        else:
            self.deny(p, Alarm.UNREADABLE_PLATE)

    def strand(self, p: Passage) -> None:
        """No plate: the barrier stays down while the driver is shown the ways out.

        The driver can pay by plate (scan the QR code, type the plate) or wait for
        the operator the assistance alarm calls; after ``help_wait_s`` with
        neither, the vehicle is denied as under ``deny_and_call``. The waiting
        passage is recorded, so that a restart meanwhile finds and resolves it.
        """
        self.set_passage(replace(p, phase=Phase.STRANDED))
        self.cancel_timer(Timer.PLATE)
        self.record(p.txn)
        wait = self.s.policy.help_wait_s
        self.alarm(Alarm.ASSISTANCE, p.txn.id, f"plate not read; the driver waits up to {wait:g} s")
        self.show(Message.TYPE_PLATE)
        self.actions.append(WatchPlateOrders(p.txn.id))
        self.start_timer(Timer.HELP, wait)

    def plate_typed(self, e: PlateTyped) -> None:
        """A typed plate for the unread vehicle: look it up as if it had been read."""
        p = self.s.passage
        waiting = p is not None and p.phase in (Phase.STRANDED, Phase.HELP)
        if p is None or p.txn.id != e.txn_id or not waiting or p.txn.plate_text is not None:
            return
        txn = replace(
            p.txn, plate_text=e.plate, plate_confidence=None, flags=p.txn.flagged(Flag.PLATE_TYPED)
        )
        if e.operator_id is not None:
            self.lane_event(
                EventKind.OPERATOR_PLATE,
                txn_id=txn.id,
                operator_id=e.operator_id,
                reason=f"{e.reason} (plate {e.plate})",
            )
            txn = replace(txn, operator_id=e.operator_id, operator_reason=e.reason)
        self.cancel_timer(Timer.HELP)
        self.set_passage(replace(p, txn=txn, phase=Phase.CHECKING))
        self.actions.append(LookUpVehicle(txn.id, e.plate, p.arrived_at))

    def vehicle_checked(self, e: VehicleChecked) -> None:
        p = self.s.passage
        if p is None or p.txn.id != e.txn_id or p.phase is not Phase.CHECKING:
            return
        txn = replace(p.txn, listing=e.listing, vehicle_class=e.vehicle_class)
        p = replace(p, txn=txn)
        if e.listing is Listing.BLACKLIST:
            self.deny(p, Alarm.BLACKLISTED, Flag.BLACKLISTED)
            return
        if not self.s.kind.charges:
            if e.open_entry is not None and self.s.policy.anti_passback:
                first = e.open_entry
                detail = f"open entry {first.txn_id} at {first.plaza_id}/{first.lane_id}"
                self.deny(p, Alarm.ANTI_PASSBACK, Flag.ANTI_PASSBACK, detail=detail)
            else:
                self.authorise(p, Authorisation.RULE)
            return
        quote = e.quote
        if quote is None:
            self.lookup_failed(p, "no fee quote for a lane where vehicles pay")
            return
        txn = replace(
            txn,
            tariff_id=quote.tariff_id,
            tariff_version=quote.version,
            fee_items=quote.items,
            fee_total=quote.total,
            currency=quote.currency,
        )
        if txn.kind is TxnKind.EXIT:
            if e.correction is not None:
                txn = self.corrected(txn, e.correction)
            entry = e.open_entry
            if entry is None:
                txn = replace(txn, flags=txn.flagged(Flag.UNMATCHED_EXIT))
                if e.central is CentralLookup.UNANSWERED:
                    txn = replace(txn, flags=txn.flagged(Flag.ENTRY_LOOKUP_UNANSWERED))
            else:
                txn = replace(
                    txn, entry_time=entry.at, entry_plaza=entry.plaza_id, entry_txn_id=entry.txn_id
                )
        if e.listing in (Listing.WHITELIST, Listing.PERMIT):
            self.authorise(
                replace(p, txn=replace(txn, fee_items=(), fee_total=0)), Authorisation.RULE
            )
        elif quote.total == 0:
            self.authorise(replace(p, txn=txn), Authorisation.RULE)
        elif self.s.barrier is KnownPosition.FAULT:
            # The barrier cannot let the vehicle through: take no money for it.
            detail = "the barrier is in fault: not charged"
            self.deny(replace(p, txn=txn), Alarm.BARRIER_FAULT, Flag.BARRIER_FAULT, detail=detail)
        else:
            prepaid = e.listing is Listing.PREPAID
            method = PaymentMethod.ACCOUNT if prepaid else PaymentMethod.TERMINAL
            account = (e.account or txn.plate_text) if prepaid else None
            self.charge(replace(p, txn=txn), quote.total, quote.currency, method, account)

    def corrected(self, txn: Txn, c: Correction) -> Txn:
        """This exit takes a passage a restart assumed passed (:mod:`edge.lane.assumed`): said so."""
        self.lane_event(
            EventKind.PASSAGE_CORRECTED,
            txn_id=c.txn_id,
            reason=f"plate {c.plate} came back: it had not passed; passage {txn.id} takes "
            "its entry and what it paid",
        )
        if not c.same_plate:
            self.alarm(
                Alarm.PASSAGE_CORRECTION_REVIEW,
                txn.id,
                f"read {txn.plate_text}, assumed passage {c.txn_id} recorded {c.plate}: "
                "its credit may be another vehicle's",
            )
        return replace(txn, flags=txn.flagged(Flag.PASSAGE_CORRECTED))

    def lookup_failed(self, p: Passage, reason: str) -> None:
        if self.s.policy.fail_open:
            self.alarm(Alarm.LOOKUP_FAILED, p.txn.id, f"{reason}; admitted by fail-open")
            p = replace(p, txn=replace(p.txn, flags=p.txn.flagged(Flag.FAIL_OPEN)))
            self.authorise(p, Authorisation.FAIL_OPEN)
        else:
            self.deny(p, Alarm.LOOKUP_FAILED, detail=reason)

    # -- payment --------------------------------------------------------------

    def charge(
        self, p: Passage, amount: int, currency: str, method: PaymentMethod, account: str | None
    ) -> None:
        payment = Payment(
            key=f"{p.txn.id}:1",
            amount=amount,
            currency=currency,
            method=method,
            account=account,
            attempt=1,
            tries=0,
        )
        self.show(Message.PLEASE_PAY, amount, currency)
        self.request(replace(p, txn=replace(p.txn, payment_method=method)), payment)

    def request(self, p: Passage, payment: Payment) -> None:
        """Record the pending charge, then ask for it (one more try under ``payment.key``)."""
        payment = replace(payment, tries=payment.tries + 1)
        txn = replace(
            p.txn, status=TxnStatus.PENDING_PAYMENT, payment_status=PaymentStatus.REQUESTED
        )
        self.set_passage(replace(p, txn=txn, phase=Phase.PAYING, payment=payment))
        self.record(txn)
        self.actions.append(
            RequestPayment(
                txn.id,
                payment.key,
                payment.amount,
                payment.currency,
                payment.method,
                payment.account,
                txn.plate_text,
            )
        )
        self.start_timer(Timer.PAYMENT, self.s.policy.payment_timeout_s)

    def payment_result(self, e: PaymentResult) -> None:
        def awaited(v: Passage) -> Payment | None:
            """The payment of ``v`` that ``e`` answers, when ``v`` is still waiting for it."""
            match = (
                v.txn.id == e.txn_id
                and v.payment is not None
                and v.payment.key == e.key
                and v.txn.payment_status is PaymentStatus.REQUESTED
            )
            return v.payment if match else None

        p = self.s.passage
        payment = awaited(p) if p is not None else None
        if p is not None and payment is not None and p.phase in (Phase.PAYING, Phase.HELP):
            self.settle_payment(p, payment, e)
        elif p is not None and payment is not None:
            self.set_passage(self.late_payment(p, e))
        elif any(awaited(v) for v in self.s.leaving):
            leaving = tuple(self.late_payment(v, e) if awaited(v) else v for v in self.s.leaving)
            self.s = replace(self.s, leaving=leaving)
        elif any(awaited(v) for v in self.s.outstanding):
            waiting = []
            for v in self.s.outstanding:
                if not awaited(v):
                    waiting.append(v)
                elif closes_order(v.txn):
                    if self.abandoned_answer(v, e):
                        waiting.append(v)
                else:
                    self.late_payment(v, e)
            self.s = replace(self.s, outstanding=tuple(waiting))

    def settle_payment(self, p: Passage, payment: Payment, e: PaymentResult) -> None:
        """The answer for the vehicle in front of the barrier, paying or waiting for help."""
        paying = p.phase is Phase.PAYING
        tries_left = paying and payment.tries < self.s.policy.payment_attempts
        if e.outcome is PaymentOutcome.APPROVED:
            self.cancel_timer(Timer.PAYMENT)
            txn = paid(p.txn, e)
            if e.amount != payment.amount:
                txn = replace(txn, flags=txn.flagged(Flag.PAYMENT_MISMATCH))
                detail = f"approved {e.amount}, asked {payment.amount}"
                self.deny(replace(p, txn=txn), Alarm.PAYMENT_MISMATCH, detail=detail)
            else:
                self.authorise(replace(p, txn=txn), Authorisation.PAID)
        elif e.outcome is PaymentOutcome.POSTPAY:
            # Let through by the lane's post-pay rule, to be billed by plate: nothing
            # was taken (no payment, no method), the fee stands.
            self.cancel_timer(Timer.PAYMENT)
            self.authorise(replace(p, txn=postpaid(p.txn)), Authorisation.RULE)
        elif e.outcome is PaymentOutcome.DECLINED:
            txn = replace(p.txn, payment_status=PaymentStatus.DECLINED)
            if tries_left:
                attempt = payment.attempt + 1
                retry = replace(payment, key=f"{txn.id}:{attempt}", attempt=attempt)
                self.show(Message.PAYMENT_DECLINED)
                self.request(replace(p, txn=txn), retry)
            elif paying:
                self.deny(replace(p, txn=txn), Alarm.PAYMENT_FAILED, detail=e.reason or "declined")
            else:
                self.set_passage(replace(p, txn=txn))
        elif tries_left:
            self.request(p, payment)  # unknown outcome: ask again under the same key
        else:
            txn = replace(p.txn, payment_status=PaymentStatus.FAILED)
            if not paying:
                self.set_passage(replace(p, txn=txn))
            elif self.s.policy.fail_open:
                self.alarm(Alarm.PAYMENT_FAILED, txn.id, f"{e.reason}; admitted by fail-open")
                txn = replace(txn, flags=txn.flagged(Flag.FAIL_OPEN))
                self.authorise(replace(p, txn=txn), Authorisation.FAIL_OPEN)
            else:
                self.deny(replace(p, txn=txn), Alarm.PAYMENT_FAILED, detail=e.reason or "error")

    def late_payment(self, v: Passage, e: PaymentResult) -> Passage:
        """An answer for a vehicle already admitted otherwise or gone: money taken is recorded.

        A post-pay answer took nothing: the passage is recorded to be billed by plate.
        """
        if e.outcome is PaymentOutcome.POSTPAY:
            txn = postpaid(v.txn)
            self.record(txn)
            return replace(v, txn=txn)
        if e.outcome is not PaymentOutcome.APPROVED:
            status = (
                PaymentStatus.DECLINED
                if e.outcome is PaymentOutcome.DECLINED
                else PaymentStatus.FAILED
            )
            return replace(v, txn=replace(v.txn, payment_status=status))
        txn = replace(paid(v.txn, e), flags=v.txn.flagged(Flag.LATE_PAYMENT))
        self.record(txn)
        self.alarm(Alarm.LATE_PAYMENT, txn.id, f"{e.amount} taken after the vehicle was admitted")
        return replace(v, txn=txn)

    def abandoned_answer(self, v: Passage, e: PaymentResult) -> bool:
        """The answer for a backed-out vehicle's closed order; True while it is still awaited.

        Declined (or post-pay: nothing taken, and the vehicle left, so there is
        nothing to bill): closed, nothing taken (recorded, so no start closes it
        again). Approved: paid before the close took effect: refunded. Error: the
        close did not reach the gateway; the record keeps the payment requested.
        """
        if e.outcome is PaymentOutcome.ERROR:
            return True
        if e.outcome in (PaymentOutcome.DECLINED, PaymentOutcome.POSTPAY):
            self.record(replace(v.txn, payment_status=PaymentStatus.DECLINED))
        else:
            self.refund(paid(v.txn, e), e.gateway_ref, e.amount)
        return False

    def refund(self, txn: Txn, gateway_ref: str | None, amount: int) -> None:
        """Money taken for a passage voided before it was paid: recorded as due, then given back."""
        due = refund_due(txn, gateway_ref)
        self.record(due)
        self.alarm(
            Alarm.LATE_PAYMENT, txn.id, f"{amount} taken after the vehicle backed out; refunded"
        )
        if amount > 0 and due.currency is not None:
            self.actions.append(RefundPayment(txn.id, amount, due.currency, due.gateway_ref))

    # -- barrier --------------------------------------------------------------

    def barrier_up(self) -> None:
        was = self.s.barrier
        self.s = replace(self.s, barrier=KnownPosition.UP)
        if was is KnownPosition.FAULT:
            self.recovered()
            if self.s.command is Command.CLOSED:
                self.s = replace(self.s, reclose=True)
        elif (
            was is KnownPosition.DOWN
            and self.s.command is Command.CLOSED
            and not self.s.opened_since_down
            and self.s.mode is not Mode.MAINTENANCE
        ):
            self.close_because = self.alarm(
                Alarm.BARRIER_FORCED, detail="the barrier rose without an open command"
            )
            self.s = replace(self.s, reclose=True)
        elif was is KnownPosition.UP and self.s.command is Command.CLOSED:
            # Told to close, it went back up before reaching down: the controller
            # reversed on an obstacle (a vehicle under the arm). Close again once safe.
            self.s = replace(self.s, reclose=True)

    def barrier_down(self) -> None:
        was = self.s.barrier
        self.s = replace(self.s, barrier=KnownPosition.DOWN, opened_since_down=False)
        if was is KnownPosition.FAULT:
            self.recovered()
        if self.s.command is not Command.OPEN or self.opened:
            return
        if not self.needs_open():
            self.s = replace(self.s, command=Command.CLOSED)
        elif self.s.mode is not Mode.MAINTENANCE:
            self.reopen()

    def reopen(self) -> None:
        """The barrier is down while something authorised holds it open: raise it again."""
        p = self.s.passage
        if p is not None and p.authorised:
            self.record(p.txn)
            self.open_barrier(p.txn.id)
        else:
            self.open_barrier(
                self.lane_event(EventKind.BARRIER_REOPEN, reason="the barrier fell while held open")
            )

    def recovered(self) -> None:
        self.lane_event(EventKind.BARRIER_RECOVERED)
        p = self.s.passage
        if p is not None and p.phase is Phase.BLOCKED:
            txn = replace(p.txn, status=TxnStatus.AUTHORISED)
            self.set_passage(replace(p, txn=txn, phase=Phase.AUTHORISED))
            self.record(txn)
            self.show(Message.PROCEED)
            self.open_barrier(txn.id)

    def barrier_fault(self, reason: str) -> None:
        if self.s.barrier is KnownPosition.FAULT:
            return
        self.s = replace(self.s, barrier=KnownPosition.FAULT)
        self.alarm(Alarm.BARRIER_FAULT, detail=reason)
        p = self.s.passage
        if p is not None and p.phase is Phase.AUTHORISED:
            txn = replace(p.txn, status=TxnStatus.BLOCKED, flags=p.txn.flagged(Flag.BARRIER_FAULT))
            p = replace(p, txn=txn, phase=Phase.BLOCKED)
            self.set_passage(p)
            self.record(txn)
            self.tell_blocked(p)

    # -- operator and timers ------------------------------------------------

    def operator_open(self, e: OperatorOpen) -> None:
        grant = Grant(e.operator_id, e.reason)
        p = self.s.passage
        event_id = self.lane_event(
            EventKind.OPERATOR_OPEN,
            txn_id=p.txn.id if p else None,
            operator_id=e.operator_id,
            reason=e.reason,
        )
        if p is not None and not p.authorised:
            self.authorise(p, Authorisation.OPERATOR, grant)
        elif p is not None:
            self.open_barrier(event_id)
        elif self.s.arming and self.s.mode is not Mode.MAINTENANCE:
            self.authorise(self.new_passage(), Authorisation.OPERATOR, grant)
        else:
            self.s = replace(self.s, grant=grant)
            if self.s.mode is not Mode.MAINTENANCE:
                self.start_timer(Timer.GRANT, self.s.policy.pass_timeout_s)
            self.open_barrier(event_id)

    def help_pressed(self) -> None:
        """The driver asks for a person: an assistance alarm; a stranded car waits for them."""
        p = self.s.passage
        if p is not None and p.phase is Phase.STRANDED:
            # Someone is coming: the wait starts again rather than ending in a refusal.
            self.start_timer(Timer.HELP, self.s.policy.help_wait_s)
        self.alarm(
            Alarm.ASSISTANCE,
            p.txn.id if p is not None else None,
            "the driver pressed the help button",
        )
        self.show(Message.HELP_CALLED)

    def turn_away(self, e: TurnAway) -> None:
        """An operator refuses the vehicle that is not authorised: recorded, the driver told."""
        p = self.s.passage
        if p is None or p.authorised:
            return
        self.lane_event(
            EventKind.OPERATOR_TURN_AWAY,
            txn_id=p.txn.id,
            operator_id=e.operator_id,
            reason=e.reason,
        )
        txn = replace(
            p.txn, status=TxnStatus.DENIED, operator_id=e.operator_id, operator_reason=e.reason
        )
        self.set_passage(replace(p, txn=txn, phase=Phase.HELP))
        self.cancel_waits()
        self.record(txn)
        self.show(Message.TURNED_AWAY)

    def operator_close(self, e: OperatorClose) -> None:
        p = self.s.passage
        self.close_because = self.lane_event(
            EventKind.OPERATOR_CLOSE,
            txn_id=p.txn.id if p else None,
            operator_id=e.operator_id,
            reason=e.reason,
        )
        self.cancel_timer(Timer.GRANT)
        mode = Mode.NORMAL if self.s.mode is Mode.FREE_PASSAGE else self.s.mode
        self.s = replace(self.s, grant=None, reclose=True, mode=mode)
        if p is not None and p.authorised:
            txn = replace(
                p.txn, status=TxnStatus.DENIED, operator_id=e.operator_id, operator_reason=e.reason
            )
            self.set_passage(replace(p, txn=txn, phase=Phase.HELP))
            self.record(txn)

    def set_mode(self, e: SetMode) -> None:
        old = self.s.mode
        event_id = self.close_because = self.lane_event(
            EventKind.MODE_CHANGED,
            operator_id=e.operator_id,
            reason=f"{old.value} -> {e.mode.value}: {e.reason}",
        )
        self.cancel_timer(Timer.GRANT)
        self.s = replace(self.s, grant=None, mode=e.mode)
        p = self.s.passage
        if e.mode is Mode.FREE_PASSAGE:
            if p is not None and not p.authorised:
                p = replace(p, txn=replace(p.txn, flags=p.txn.flagged(Flag.FREE_PASSAGE)))
                self.authorise(p, Authorisation.FREE_PASSAGE)
            else:
                self.open_barrier(event_id)
        elif e.mode is Mode.NORMAL and self.s.arming and p is None:
            self.arrival()

    def timer_expired(self, e: TimerExpired) -> None:
        if self.s.timer_token(e.timer) != e.token:
            return  # cancelled or restarted since: a stale expiry
        self.s = replace(self.s, timers=tuple(t for t in self.s.timers if t[0] is not e.timer))
        p = self.s.passage
        match e.timer:
            case Timer.PLATE:
                if p is not None and p.phase is Phase.READING:
                    self.unreadable(p)
            case Timer.HELP:
                if p is not None and p.phase is Phase.STRANDED:
                    wait = self.s.policy.help_wait_s
                    detail = f"no typed plate or operator within {wait:g} s"
                    self.deny(p, Alarm.UNREADABLE_PLATE, detail=detail)
            case Timer.PAYMENT:
                if p is not None and p.phase is Phase.PAYING:
                    self.set_passage(replace(p, phase=Phase.HELP))
                    self.alarm(Alarm.PAYMENT_TIMEOUT, p.txn.id, "no payment result in time")
                    self.show(Message.HELP_CALLED)
            case Timer.GRANT:
                grant = self.s.grant
                if grant is not None:
                    self.s = replace(self.s, grant=None)
                    self.close_because = self.lane_event(
                        EventKind.GRANT_EXPIRED,
                        operator_id=grant.operator_id,
                        reason="no vehicle came through",
                    )
            case Timer.ARMING_STUCK | Timer.SAFETY_STUCK:
                if self.s.mode is not Mode.MAINTENANCE:
                    loop = "arming" if e.timer is Timer.ARMING_STUCK else "safety"
                    seconds = self.s.policy.loop_stuck_s
                    self.alarm(Alarm.LOOP_STUCK, detail=f"{loop} loop occupied for {seconds:g} s")
