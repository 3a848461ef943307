"""The lane's safety rules under random event sequences (Hypothesis rule-based state machine).

The test plays every device, the shell's lookups and an idempotent payment
gateway, and keeps its own account of what happened. After every step it
checks, from that account and not from the machine's state: no barrier opening
without an authorisation the events justify, no close on an occupied safety
loop, one transaction per vehicle and at most one charge per transaction, every
charge and every barrier move recorded before it is carried out. At the end the
whole event log is replayed and must give the same actions and state.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge.lane import LaneState, replay, step
from edge.lane.actions import (
    Action,
    Capture,
    CloseBarrier,
    EventKind,
    OpenBarrier,
    RecordEvent,
    RecordTransaction,
    RefundPayment,
    RequestPayment,
    StartTimer,
    ordering_problems,
)
from edge.lane.events import (
    ArmingLoop,
    BarrierDown,
    BarrierFault,
    BarrierUp,
    Event,
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
    SafetyLoop,
    SetMode,
    Timer,
    TimerExpired,
    TurnAway,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, LanePolicy, UnreadablePlate
from edge.lane.records import (
    FINAL_STATUSES,
    Authorisation,
    Fee,
    FeeLine,
    Flag,
    Listing,
    OpenEntry,
    PaymentStatus,
    Txn,
    TxnStatus,
)
from edge.lane.state import Phase

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
OPERATORS = ("op-1", "op-2")
WAITING = (Phase.READING, Phase.CHECKING, Phase.PAYING)

policies = st.builds(
    LanePolicy,
    unreadable_plate=st.sampled_from(UnreadablePlate),
    anti_passback=st.booleans(),
    fail_open=st.booleans(),
    payment_attempts=st.integers(1, 3),
)


def justified_by_rule(kind: LaneKind, policy: LanePolicy, check: VehicleChecked) -> bool:
    """Whether a lookup answer admits a vehicle without payment, by the lane's rules."""
    if check.listing is Listing.BLACKLIST:
        return False
    if not kind.charges:
        return check.open_entry is None or not policy.anti_passback
    if check.quote is None:
        return False
    return check.listing in (Listing.WHITELIST, Listing.PERMIT) or check.quote.total == 0


class LaneRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.kind = LaneKind.PARKING_EXIT
        self.policy = LanePolicy()
        self.initial = LaneState.initial("t1", self.kind, self.policy, b"hypothesis-nonce")
        self.state = self.initial
        self.now = T0
        self.log: list[tuple[datetime, Event]] = []
        self.decisions: list[tuple[Action, ...]] = []
        # what the test knows, independently of the machine's state
        self.arming = False
        self.safety = False
        self.mode = Mode.NORMAL
        self.arrivals = 0
        self.operator_opens = 0
        self.txns: list[UUID] = []
        self.checks: dict[UUID, list[VehicleChecked]] = defaultdict(list)
        self.unreadable: set[UUID] = set()
        self.requests: list[RequestPayment] = []
        self.gateway: dict[str, PaymentOutcome] = {}  # sticky answers per key
        self.charged: dict[UUID, set[str]] = defaultdict(set)
        self.postpaid: set[UUID] = set()  # the chain let them through to be billed by plate
        self.keys: dict[UUID, list[str]] = defaultdict(list)
        self.final: dict[UUID, tuple[TxnStatus, PaymentStatus]] = {}
        self.refunded: set[UUID] = set()
        self.operator_admitted: set[UUID] = set()
        self.free_admitted: set[UUID] = set()
        self.timers: list[StartTimer] = []
        self.plate_timers: dict[int, UUID] = {}  # token -> the vehicle it waits for

    @initialize(kind=st.sampled_from(LaneKind), policy=policies)
    def start(self, kind: LaneKind, policy: LanePolicy) -> None:
        self.kind, self.policy = kind, policy
        self.initial = LaneState.initial("t1", kind, policy, b"hypothesis-nonce")
        self.state = self.initial

    # -- feeding and checking --------------------------------------------

    def feed(self, event: Event, seconds: float = 0.5) -> None:
        self.now += timedelta(seconds=seconds)
        before = self.state
        self.state, actions = step(before, event, self.now)
        self.log.append((self.now, event))
        self.decisions.append(actions)
        assert ordering_problems(actions) == []
        new_txns = {a.txn_id for a in actions if isinstance(a, Capture)} - set(self.txns)
        assert len(new_txns) <= 1, "one event started two transactions"
        self.txns.extend(new_txns)
        for action in actions:
            if isinstance(action, StartTimer) and action.timer is Timer.PLATE:
                self.plate_timers[action.token] = new_txns.pop()
        assert len(self.txns) <= self.arrivals + self.operator_opens
        for index, action in enumerate(actions):
            match action:
                case CloseBarrier():
                    assert not self.safety, "closed on an occupied safety loop"
                case OpenBarrier(because=because):
                    self.check_open(because, actions[:index], event, before)
                case RequestPayment():
                    self.check_request(action)
                case RecordTransaction(txn=txn):
                    self.check_record(txn)
                case RefundPayment():
                    self.check_refund(action)
                case StartTimer():
                    self.timers.append(action)

    def check_open(
        self, because: UUID, earlier: tuple[Action, ...], event: Event, before: LaneState
    ) -> None:
        record = next(
            a
            for a in reversed(earlier)
            if (isinstance(a, RecordTransaction) and a.txn.id == because)
            or (isinstance(a, RecordEvent) and a.id == because)
        )
        if isinstance(record, RecordEvent):
            allowed = {
                EventKind.OPERATOR_OPEN: isinstance(event, OperatorOpen),
                EventKind.MODE_CHANGED: isinstance(event, SetMode)
                and event.mode is Mode.FREE_PASSAGE,
                EventKind.BARRIER_REOPEN: before.grant is not None
                or before.mode is Mode.FREE_PASSAGE,
            }
            assert allowed.get(record.kind, False), f"opened on {record}"
            return
        txn = record.txn
        assert txn.status in (TxnStatus.AUTHORISED, TxnStatus.BLOCKED), txn
        match txn.authorisation:
            case Authorisation.PAID:
                assert self.charged[txn.id], f"opened as paid without a charge: {txn}"
            case Authorisation.RULE:
                by_lookup = any(
                    justified_by_rule(self.kind, self.policy, c) for c in self.checks[txn.id]
                )
                by_policy = (
                    self.policy.unreadable_plate is UnreadablePlate.ADMIT_FOR_REVIEW
                    and Flag.UNREADABLE_PLATE in txn.flags
                    and txn.id in self.unreadable
                )
                by_postpay = Flag.POSTPAY in txn.flags and txn.id in self.postpaid
                assert by_lookup or by_policy or by_postpay, (
                    f"admitted by rule without a rule: {txn}"
                )
            case Authorisation.OPERATOR:
                assert txn.operator_id in OPERATORS
                assert txn.operator_reason
                self.operator_admitted.add(txn.id)
                assert len(self.operator_admitted) <= self.operator_opens
            case Authorisation.FAIL_OPEN:
                assert self.policy.fail_open
            case Authorisation.FREE_PASSAGE:
                # admitted while in free passage; re-opened later for the same vehicle
                assert self.mode is Mode.FREE_PASSAGE or txn.id in self.free_admitted
                self.free_admitted.add(txn.id)
            case None:
                raise AssertionError(f"opened without authorisation: {txn}")

    def check_request(self, req: RequestPayment) -> None:
        assert not self.charged[req.txn_id], "asked again after a charge"
        keys = self.keys[req.txn_id]
        if req.key not in keys:
            assert all(self.gateway.get(k) is PaymentOutcome.DECLINED for k in keys), (
                "new key while an earlier one could still be charged"
            )
            keys.append(req.key)
        assert req.key == f"{req.txn_id}:{len(keys)}"
        self.requests.append(req)

    def check_record(self, txn: Txn) -> None:
        final = self.final.get(txn.id)
        if final is not None:
            status, payment = final
            assert txn.status is status, f"{txn.id} was {status}, now {txn.status}"
            # recorded again only with the answer to its payment, once
            assert payment is PaymentStatus.REQUESTED, "a finished transaction recorded again"
            assert txn.payment_status is not PaymentStatus.REQUESTED
            assert (
                Flag.LATE_PAYMENT in txn.flags or txn.payment_status is not PaymentStatus.APPROVED
            )
        if txn.status in FINAL_STATUSES:
            self.final[txn.id] = (txn.status, txn.payment_status)

    def check_refund(self, refund: RefundPayment) -> None:
        assert self.charged[refund.txn_id], f"refunded without a charge: {refund}"
        assert refund.txn_id not in self.refunded, "refunded twice"
        self.refunded.add(refund.txn_id)

    @invariant()
    def one_charge_per_transaction(self) -> None:
        assert all(len(keys) <= 1 for keys in self.charged.values())

    @invariant()
    def vehicles_where_the_loops_say(self) -> None:
        assert self.state.passage is None or self.state.arming
        assert not self.state.leaving or self.state.safety

    def teardown(self) -> None:
        final, decisions = replay(self.initial, self.log)
        assert decisions == self.decisions
        assert final == self.state

    # -- rules ----------------------------------------------------------------
    # Few rules, so that Hypothesis spends its steps on vehicles: disruptions
    # (operators, barrier reports, stray answers) are one rule each.

    @rule(occupied=st.booleans())
    def arming_loop(self, occupied: bool) -> None:
        if occupied and not self.arming:
            self.arrivals += 1
        self.arming = occupied
        self.feed(ArmingLoop(occupied))

    @rule(occupied=st.booleans())
    def safety_loop(self, occupied: bool) -> None:
        self.safety = occupied
        self.feed(SafetyLoop(occupied))

    @rule(report=st.sampled_from([BarrierUp(), BarrierDown(), BarrierFault("arm broken")]))
    def barrier(self, report: BarrierUp | BarrierDown | BarrierFault) -> None:
        self.feed(report)

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data(), latest=st.booleans(), seconds=st.floats(0.1, 400))
    def a_timer_fires(self, data: st.DataObject, latest: bool, seconds: float) -> None:
        """The newest timer, or any earlier one (often stale by now)."""
        started = self.timers[-1] if latest else data.draw(st.sampled_from(self.timers))
        if started.timer is Timer.PLATE:
            self.unreadable.add(self.plate_timers[started.token])
        self.feed(TimerExpired(started.timer, started.token), seconds)

    @rule(data=st.data())
    def a_vehicle_is_served(self, data: st.DataObject) -> None:
        """A vehicle on the arming loop gets the answers it waits for (plate, lookup, payment)."""
        if not self.arming:
            self.arming_loop(True)
        for _ in range(data.draw(st.integers(0, 4))):
            passage = self.state.passage
            if passage is None or passage.phase not in WAITING:
                return
            txn_id, knob = passage.txn.id, data.draw(st.integers(0, 9))
            if passage.phase is Phase.READING and knob:
                self.feed(PlateRead(txn_id, "皖B54321", 0.9))
            elif passage.phase is Phase.READING:
                self.unreadable.add(txn_id)
                self.feed(PlateUnreadable(txn_id))
            elif passage.phase is Phase.CHECKING and knob:
                listing = data.draw(st.sampled_from([Listing.NONE] * 4 + list(Listing)))
                total = data.draw(st.sampled_from([None, 0, 500, 500, 500, 500]))
                self.check(txn_id, listing, data.draw(st.booleans()), total)
            elif passage.phase is Phase.CHECKING:
                self.feed(LookupFailed(txn_id, "store busy"))
            elif passage.payment is not None:
                outcome = data.draw(
                    st.sampled_from([PaymentOutcome.APPROVED] * 3 + list(PaymentOutcome))
                )
                self.answer(passage.payment.key, outcome, exact=knob > 0)

    @rule(moves=st.integers(1, 3))
    def the_vehicle_drives_on(self, moves: int) -> None:
        """Onto the safety loop, off the arming loop, off the safety loop: the first few."""
        for event in (SafetyLoop(True), ArmingLoop(False), SafetyLoop(False))[:moves]:
            if isinstance(event, SafetyLoop):
                self.safety = event.occupied
            else:
                self.arming = event.occupied
            self.feed(event)

    @rule(
        data=st.data(),
        kind=st.sampled_from(["read", "unreadable", "checked", "failed"]),
        listing=st.sampled_from(Listing),
    )
    def a_stray_answer_arrives(self, data: st.DataObject, kind: str, listing: Listing) -> None:
        """A late, early or misdirected answer from the reader or the shell."""
        txn_id = data.draw(st.sampled_from([*self.txns, UUID(int=7)]))
        if kind == "read":
            self.feed(PlateRead(txn_id, "皖C00000", 0.5))
        elif kind == "unreadable":
            self.unreadable.add(txn_id)
            self.feed(PlateUnreadable(txn_id))
        elif kind == "checked":
            self.check(txn_id, listing, has_entry=False, total=0)
        else:
            self.feed(LookupFailed(txn_id, "store busy"))

    def check(self, txn_id: UUID, listing: Listing, has_entry: bool, total: int | None) -> None:
        entry = OpenEntry(UUID(int=1), T0 - timedelta(hours=1), "p", "e1") if has_entry else None
        fee = None if total is None else Fee((FeeLine("fee", total),), total, "CNY", "t", 1)
        check = VehicleChecked(txn_id, listing, entry, fee, account="acct")
        self.checks[txn_id].append(check)
        self.feed(check)

    @precondition(lambda self: bool(self.requests))
    @rule(data=st.data(), outcome=st.sampled_from(PaymentOutcome), exact=st.booleans())
    def the_gateway_answers_any_request(
        self, data: st.DataObject, outcome: PaymentOutcome, exact: bool
    ) -> None:
        """Duplicates, retries and answers for vehicles long gone."""
        req = data.draw(st.sampled_from(self.requests))
        self.answer(req.key, outcome, exact=exact)

    def answer(self, key: str, outcome: PaymentOutcome, *, exact: bool) -> None:
        """Answer as an idempotent gateway: a key's definite answer sticks, errors may repeat."""
        req = next(r for r in self.requests if r.key == key)
        outcome = self.gateway.get(key, outcome)
        if outcome is not PaymentOutcome.ERROR:
            self.gateway[key] = outcome
        if outcome is PaymentOutcome.APPROVED:
            self.charged[req.txn_id].add(key)
        if outcome is PaymentOutcome.POSTPAY:
            self.postpaid.add(req.txn_id)
        amount = req.amount if exact else req.amount + 1
        self.feed(PaymentResult(req.txn_id, key, outcome, amount, "gw"))

    @rule()
    def the_driver_presses_help(self) -> None:
        self.feed(HelpPressed())

    @rule(data=st.data(), by_operator=st.booleans())
    def a_plate_is_typed(self, data: st.DataObject, by_operator: bool) -> None:
        """The driver (pay by plate) or an operator types a plate, for this vehicle or a stray one."""
        passage = self.state.passage
        ids = [*self.txns, UUID(int=7)]
        if passage is not None:
            ids.append(passage.txn.id)
        txn_id = data.draw(st.sampled_from(ids))
        who = data.draw(st.sampled_from(OPERATORS)) if by_operator else None
        self.feed(PlateTyped(txn_id, "皖D11111", who, "read on the camera" if who else ""))

    @rule(
        command=st.sampled_from(["open", "close", "mode", "turn_away"]),
        mode=st.sampled_from([Mode.NORMAL, Mode.NORMAL, *Mode]),
        who=st.sampled_from(OPERATORS),
    )
    def an_operator_acts(self, command: str, mode: Mode, who: str) -> None:
        if command == "open":
            self.operator_opens += 1
            self.feed(OperatorOpen(who, "driver asked for help"))
        elif command == "close":
            if self.mode is Mode.FREE_PASSAGE:
                self.mode = Mode.NORMAL
            self.feed(OperatorClose(who, "suspicious"))
        elif command == "turn_away":
            self.feed(TurnAway(who, "no entry found"))
        else:
            self.mode = mode
            if mode is Mode.NORMAL and self.arming:
                self.arrivals += 1  # a vehicle left waiting is served now
            self.feed(SetMode(mode, who, "shift change"))


LaneRules.TestCase.settings = settings(max_examples=250, stateful_step_count=40, deadline=None)
TestLaneRules = LaneRules.TestCase
