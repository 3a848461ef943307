"""Kills at every step of a paid exit: what a restart makes of it comes from the records alone.

The test plays a paying exit lane the way the daemon runs it, minus the I/O: the
machine's actions are carried out one at a time (a kill can fall between any
two), the store is the list of recorded versions, the gateway keeps its orders
through kills, the loops and the barrier are physical and stay as they are. A
kill throws away everything else (the machine's state, the events on their way,
the rest of the step); the restart does what the daemon's start does: it reads
the latest versions, settles unanswered payments at the gateway (closing the
order; paid if the customer paid first), refunds what the records say is due
(:func:`edge.lane.credits.refunds_due`), and hands the machine one
``Restarted`` event with the loops as found. Credits come from the records
(:func:`edge.lane.credits.credits`) at every lookup. The vehicle may back out
and come back while its order is open; the order is closed when it backs out
(a close may not reach the gateway: an outage), and money paid for it anyway
is refunded.

After the vehicle has driven out, whatever the kills: it paid the fee once (paid
orders less refunded ones), its passage is recorded ``passed`` with its plate
and its entry is closed, every paid order is recorded as paid, every refund
is recorded against the payment it returns, nothing went through
unauthorised, and no barrier closed on an occupied safety loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import hypothesis.strategies as st
import pytest
from hypothesis import event, given, settings

from contracts.records.transaction import Transaction
from contracts.records.vocab import FINAL_STATUSES, TxnStatus
from edge.daemon.recording import refund_of, transaction_of, txn_of
from edge.lane import LaneState, step
from edge.lane.actions import (
    Action,
    Capture,
    CaptureReason,
    CloseBarrier,
    ClosePayment,
    LookUpVehicle,
    OpenBarrier,
    RecordTransaction,
    RefundPayment,
    RequestPayment,
    ordering_problems,
)
from edge.lane.assumed import assumed_passages
from edge.lane.credits import credit_window, credits, deduct, refunds_due
from edge.lane.events import (
    ArmingLoop,
    BarrierDown,
    BarrierUp,
    Event,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    Restarted,
    SafetyLoop,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, LanePolicy
from edge.lane.records import (
    Fee,
    FeeLine,
    Flag,
    LaneInputError,
    Listing,
    OpenEntry,
    Txn,
    TxnKind,
)
from edge.lane.restart import settled
from edge.lane.state import KnownPosition, Phase

LANE = "riverside-exit"
PLATE = "皖A12345"
FEE = 1500
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ENTRY = OpenEntry(UUID(int=42), T0 - timedelta(hours=2), "riverside", "riverside-entry")
POLICY = LanePolicy()
WINDOW = credit_window(POLICY.pass_timeout_s)
MAX_MOVES = 400


@dataclass
class World:
    """What a kill does not touch: loops, barrier, the gateway's orders, the store."""

    arming: bool = False
    safety: bool = False
    barrier_up: bool = False
    orders: dict[UUID, str] = field(default_factory=dict)  # pending, paid, closed or refunded
    amounts: dict[UUID, int] = field(default_factory=dict)
    keys: dict[UUID, str] = field(default_factory=dict)
    versions: list[Transaction] = field(default_factory=list)
    entry_open: bool = True
    gone: bool = False  # the vehicle drove out
    backed_out: int = 0
    closed_on_vehicle: int = 0
    backed_out_open: int = 0  # of those, with an order open
    outages: int = 0  # closes that did not reach the gateway (at most two an example)
    close_fails: bool = False  # the next close does not reach the gateway
    corrections: int = 0  # lookups that corrected a passage a restart had assumed

    def latest(self) -> dict[UUID, Transaction]:
        return {version.id: version for version in self.versions}


class Lane:
    """One exit lane whose daemon can be killed between any two actions."""

    def __init__(self) -> None:
        self.world = World()
        self.now = T0
        self.kills = 0
        self.start()

    # -- the daemon's start --------------------------------------------------------------------

    def start(self) -> None:
        """What the daemon's start does: payments settled at the gateway, then ``Restarted``."""
        world = self.world
        self.pending: deque[Event] = deque()
        open_txns = []
        for stored in world.latest().values():
            if stored.status in FINAL_STATUSES and stored.payment_status != "requested":
                continue
            record = stored
            if stored.payment_status == "requested":
                paid = world.orders.get(stored.id) == "paid"
                if not paid:
                    world.orders[stored.id] = "closed"
                record = stored.model_copy(
                    update={"payment_status": "approved" if paid else "declined"}
                )
            txn = txn_of(record)  # type: ignore[arg-type]  # a stored version
            open_txns.append(replace(txn, flags=txn.flagged(Flag.INTERRUPTED)))
        for due in refunds_due(world.latest().values()):
            self.refund(due.id)
        barrier = KnownPosition.UP if world.barrier_up else KnownPosition.DOWN
        nonce = self.kills.to_bytes(16, "big")
        self.state = LaneState.initial(LANE, LaneKind.PARKING_EXIT, POLICY, nonce, barrier=barrier)
        self.feed(Restarted(tuple(open_txns), world.arming, world.safety))

    def kill(self) -> None:
        self.kills += 1
        self.start()

    # -- the shell ----------------------------------------------------------------------------

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def feed(self, event: Event) -> None:
        self.state, actions = step(self.state, event, self.tick())
        assert ordering_problems(actions) == []
        self.actions: deque[Action] = deque(actions)

    def deliver(self) -> None:
        self.feed(self.pending.popleft())

    def act(self) -> None:
        """Carry out the next action of the step (the daemon may die after it)."""
        world = self.world
        match self.actions.popleft():
            case RecordTransaction(txn=txn, at=at):
                world.versions.append(transaction_of(txn, at))
                if txn.status is TxnStatus.PASSED and txn.kind is TxnKind.EXIT and txn.plate_text:
                    world.entry_open = False
            case Capture(txn_id=txn_id, reason=CaptureReason.ARRIVAL):
                self.pending.append(PlateRead(txn_id, PLATE, 0.99))
            case LookUpVehicle(txn_id=txn_id, plate=plate, at=at):
                self.pending.append(self.lookup(txn_id, plate, at))
            case RequestPayment(txn_id=txn_id, key=key, amount=amount):
                world.keys[txn_id], world.amounts[txn_id] = key, amount
                if world.orders.setdefault(txn_id, "pending") == "paid":
                    self.pending.append(self.paid(txn_id))
            case ClosePayment(txn_id=txn_id, key=key):
                self.pending.append(self.close(txn_id, key))
            case RefundPayment(txn_id=txn_id):
                self.refund(txn_id)
            case OpenBarrier():
                world.barrier_up = True
                self.pending.append(BarrierUp())
            case CloseBarrier():
                world.closed_on_vehicle += world.safety
                world.barrier_up = False
                self.pending.append(BarrierDown())
            case _:
                pass  # messages, timers (they never run out here), events and alarms

    def lookup(self, txn_id: UUID, plate: str, at: datetime) -> VehicleChecked:
        """The daemon's lookup with one plate (matched exactly); the fee does not grow."""
        fee = Fee((FeeLine("parking", FEE),), FEE, "CNY", "riverside-parking", 1)
        latest = self.world.latest().values()
        owed = [c for c in credits(latest, WINDOW, holder=txn_id) if c.plate == plate]
        entry = ENTRY if self.world.entry_open else None
        correction = None
        back = [a for a in assumed_passages(latest, WINDOW, holder=txn_id) if a.plate == plate]
        if entry is None and back and at <= back[-1].until:
            entry = back[-1].entry(ENTRY.lane_id)
            owed += [credit] if (credit := back[-1].credit()) else []
            correction = back[-1].correction(same_plate=True)
            self.world.corrections += 1
        fee = deduct(fee, [c for c in owed if at <= c.until])
        return VehicleChecked(txn_id, Listing.NONE, entry, fee, 1, correction=correction)

    def close(self, txn_id: UUID, key: str) -> PaymentResult:
        """The gateway's answer to a close: paid if the customer came first, else closed."""
        world = self.world
        if world.close_fails:
            world.close_fails = False
            return PaymentResult(txn_id, key, PaymentOutcome.ERROR, reason="gateway unreachable")
        if world.orders.get(txn_id) == "paid":
            return self.paid(txn_id)
        world.orders[txn_id] = "closed"
        return PaymentResult(txn_id, key, PaymentOutcome.DECLINED, reason="closed")

    def refund(self, txn_id: UUID) -> None:
        """Refund a paid order at the gateway (once, whatever the tries) and record it."""
        world = self.world
        assert world.orders[txn_id] in ("paid", "refunded"), f"refunding unpaid order {txn_id}"
        world.orders[txn_id] = "refunded"
        original = world.latest()[txn_id]
        amount = world.amounts[txn_id]
        world.versions.append(refund_of(original, amount, original.gateway_ref, self.tick()))

    def paid(self, txn_id: UUID) -> PaymentResult:
        amount = self.world.amounts[txn_id]
        return PaymentResult(
            txn_id, self.world.keys[txn_id], PaymentOutcome.APPROVED, amount, f"REF{txn_id.hex[:8]}"
        )

    # -- the customer and the vehicle ------------------------------------------------------

    def pay(self) -> None:
        """The customer pays the open order; the gateway calls back twice."""
        txn_id = next(t for t, s in self.world.orders.items() if s == "pending")
        self.world.orders[txn_id] = "paid"
        self.pending.extend([self.paid(txn_id), self.paid(txn_id)])

    def move(self, loops: tuple[bool, bool]) -> None:
        world = self.world
        arming, safety = loops
        if arming != world.arming:
            world.arming = arming
            self.pending.append(ArmingLoop(arming))
        if safety != world.safety:
            world.safety = safety
            self.pending.append(SafetyLoop(safety))

    def moves(self) -> dict[str, tuple[bool, bool]]:
        """Where the vehicle can go from here."""
        w = self.world
        if w.gone:
            return {}
        if not w.arming and not w.safety:
            return {"arrive": (True, False)}
        options = {}
        if w.arming and not w.safety and self.waved_on():
            options["onto_safety"] = (True, True)
        if w.arming and w.safety:
            options["off_arming"] = (False, True)
        if not w.arming and w.safety:
            options["off_safety"] = (False, False)
        if w.arming and not w.safety and w.backed_out < 2:
            options["back_out"] = (False, False)
        return options

    def waved_on(self) -> bool:
        """Whether the barrier is up for the vehicle: a passage authorised, the lane caught up.

        A driver who backed out and comes back while the barrier is still up
        (the lane has decided to close it and not done so yet) would drive
        under a closing arm: the lane cannot tell that from a tailgater.
        """
        if not self.world.barrier_up or self.actions:
            return False
        if any(isinstance(e, ArmingLoop | SafetyLoop) for e in self.pending):
            return False
        return any(r.status == "authorised" for r in self.world.latest().values())

    def unheard_back_out(self) -> bool:
        """The vehicle backed off its authorised passage and the lane has not recorded it yet.

        A restart now finds an authorised passage with the loops clear, which it
        cannot tell from a vehicle that drove through (:mod:`edge.lane.assumed`).
        """
        w = self.world
        if w.arming or w.safety or w.gone:
            return False
        return any(r.status == "authorised" for r in w.latest().values())

    def choices(self) -> list[str]:
        """Everything that can happen next, the kill included."""
        options = ["act"] if self.actions else ["deliver"] if self.pending else []
        if "pending" in self.world.orders.values():
            options.append("pay")
            if self.world.outages < 2 and not self.world.close_fails:
                options.append("outage")
        return options + sorted(self.moves()) + ["kill"]

    def do(self, choice: str) -> None:
        if choice == "act":
            self.act()
        elif choice == "deliver":
            self.deliver()
        elif choice == "pay":
            self.pay()
        elif choice == "kill":
            self.kill()
        elif choice == "outage":
            self.world.outages += 1
            self.world.close_fails = True
        else:
            self.move(self.moves()[choice])
            if choice == "back_out":
                self.world.backed_out += 1
                self.world.backed_out_open += "pending" in self.world.orders.values()
            if choice == "off_safety":
                self.world.gone = True

    def progress(self) -> str | None:
        """The next thing that moves the vehicle on, no kill: None when there is nothing left."""
        if self.actions:
            return "act"
        if self.pending:
            return "deliver"
        if "pending" in self.world.orders.values():
            return "pay"
        moves = [
            m for m in ("arrive", "onto_safety", "off_arming", "off_safety") if m in self.moves()
        ]
        return moves[0] if moves else None

    def finish(self) -> None:
        """Let the lane and the vehicle go on without kills until the vehicle is out."""
        for _ in range(MAX_MOVES):
            choice = self.progress()
            if choice is None:
                return
            self.do(choice)
        raise AssertionError("the vehicle is stuck at the lane")

    # -- the checks ------------------------------------------------------------------------------

    def check(self) -> None:
        world = self.world
        assert world.gone, "the vehicle did not drive out"
        latest = world.latest()
        paid = [t for t, s in world.orders.items() if s == "paid"]
        assert sum(world.amounts[t] for t in paid) == FEE, "charged other than once"
        refunded = [t for t, s in world.orders.items() if s == "refunded"]
        for txn_id in paid + refunded:
            assert latest[txn_id].payment_status == "approved", f"paid order {txn_id} not recorded"
        refunds = [r for r in latest.values() if r.references is not None]
        assert sorted(r.references for r in refunds) == sorted(refunded), "refunds not recorded"
        assert refunds_due(latest.values()) == [], "a refund is left undone"
        latest = {t: r for t, r in latest.items() if r.references is None}
        statuses = [r.status for r in latest.values()]
        # A passage a restart assumed passed and a later one took (corrected) did not happen.
        untaken = {a.txn_id for a in assumed_passages(latest.values(), WINDOW)}
        passed_records = [r for r in latest.values() if r.status == "passed"]
        happened = [
            r for r in passed_records if "passage_assumed" not in r.flags or r.id in untaken
        ]
        assert len(happened) == 1, "not exactly one passage that happened"
        (passed,) = happened
        assert passed.plate_text == PLATE
        assert not world.entry_open, "the vehicle's entry stays open"
        assert "unauthorised" not in statuses
        assert all(s in FINAL_STATUSES for s in statuses), "a passage is left open"
        assert credits(latest.values(), WINDOW) == [], "a payment is left over as a credit"
        assert world.closed_on_vehicle == 0


def undisturbed_moves() -> int:
    lane = Lane()
    moves = 0
    while lane.progress() is not None:
        lane.do(lane.progress() or "")
        moves += 1
    lane.check()
    return moves


MOVES = undisturbed_moves()


class TestKillAtEveryStep:
    """A kill after any step of a paid exit, or two kills in a row, still charges once."""

    @pytest.mark.parametrize("at", range(MOVES))
    def test_one_kill(self, at: int) -> None:
        lane = Lane()
        for _ in range(at):
            lane.do(lane.progress() or "kill")
        lane.kill()
        lane.finish()
        lane.check()

    @pytest.mark.parametrize("at", range(MOVES))
    @pytest.mark.parametrize("then", [0, 1, 2])
    def test_a_second_kill_soon_after(self, at: int, then: int) -> None:
        lane = Lane()
        for _ in range(at):
            lane.do(lane.progress() or "kill")
        lane.kill()
        for _ in range(then):  # the restart's own steps, then killed again
            lane.do(lane.progress() or "kill")
        lane.kill()
        lane.finish()
        lane.check()


def walk(data: st.DataObject, *, back_out_with_an_order_only: bool = False) -> Lane:
    """A random walk of the lane and its vehicle, then the lane left to finish; checked."""
    lane = Lane()
    kills = data.draw(st.integers(0, 6), label="kills")  # few kills: deeper into passages
    for _ in range(data.draw(st.integers(0, 80), label="moves")):
        choices = lane.choices()
        guessing = lane.unheard_back_out()  # a kill here, past the budget too: TestUnheardBackOut
        if lane.kills >= kills and not guessing:
            choices.remove("kill")
        if back_out_with_an_order_only and "pending" not in lane.world.orders.values():
            choices = [c for c in choices if c != "back_out"]
        if not choices:
            break
        # the lane's own work three times as likely: the walk gets past the payment request;
        # where a restart must guess, a kill as likely as all else
        work = [c for c in choices if c in ("act", "deliver")]
        guess = ["kill"] * len(choices) if guessing else []
        lane.do(data.draw(st.sampled_from(choices + 2 * work + guess)))
    lane.finish()
    lane.check()
    world = lane.world
    event(f"backed out with an order open: {min(world.backed_out_open, 1)}")
    event(f"outage: {min(world.outages, 1)}")
    event(f"refunded: {min(list(world.orders.values()).count('refunded'), 1)}")
    event(f"corrected an assumed passage: {min(world.corrections, 1)}")
    return lane


class TestRandomKills:
    """Kills, payments, duplicate callbacks and a vehicle backing off, in any order."""

    @settings(max_examples=300, deadline=None)
    @given(st.data())
    def test_one_charge_and_a_closed_entry(self, data: st.DataObject) -> None:
        walk(data)

    @settings(max_examples=150, deadline=None)
    @given(st.data())
    def test_backing_out_with_the_order_open(self, data: st.DataObject) -> None:
        """The walk above, the vehicle backing out only while an order is open (issue 14)."""
        walk(data, back_out_with_an_order_only=True)


class TestAbandonedOrder:
    """A vehicle that backs out with its QR order unpaid, comes back and pays, is charged once."""

    def test_the_abandoned_order_is_not_charged_as_well(self) -> None:
        lane = Lane()
        for choice in ["arrive", "deliver", "act", "act", "act", "deliver", "act", "act"]:
            lane.do(choice)
        lane.do("back_out")
        lane.do("arrive")
        lane.finish()
        lane.check()


def back_off_unheard() -> Lane:
    """A paid vehicle backs off under the open barrier, the lane killed before it hears of it."""
    lane = Lane()
    while not lane.world.barrier_up:
        lane.do(lane.progress() or "kill")
    lane.do("back_out")
    lane.kill()
    while lane.actions:  # the restart's own decisions, carried out
        lane.do("act")
    return lane


def return_moves() -> int:
    lane = back_off_unheard()
    moves = 0
    while lane.progress() is not None:
        lane.do(lane.progress() or "")
        moves += 1
    lane.check()
    return moves


RETURN_MOVES = return_moves()


class TestUnheardBackOut:
    """A paid vehicle that backs off under the open barrier as the lane dies is charged once."""

    back_off_unheard = staticmethod(back_off_unheard)

    @pytest.mark.parametrize("at", range(RETURN_MOVES))
    @pytest.mark.parametrize("then", [None, 0, 2])
    def test_a_kill_at_any_step_of_the_return(self, at: int, then: int | None) -> None:
        """The return, killed after any of its steps (``then``: and again soon after)."""
        lane = self.back_off_unheard()
        for _ in range(at):
            lane.do(lane.progress() or "kill")
        lane.kill()
        if then is not None:
            for _ in range(then):
                lane.do(lane.progress() or "kill")
            lane.kill()
        lane.finish()
        lane.check()

    def test_the_returning_vehicle_is_not_charged_again(self) -> None:
        lane = self.back_off_unheard()
        (assumed,) = [r for r in lane.world.latest().values() if "passage_assumed" in r.flags]
        assert (assumed.status, assumed.payment_status) == ("passed", "approved")
        assert not lane.world.entry_open, "the restart took it for a passage"
        lane.do("arrive")
        lane.finish()
        lane.check()
        (passed,) = [
            r for r in lane.world.latest().values() if r.id != assumed.id and r.status == "passed"
        ]
        assert passed.entry_txn_id == ENTRY.txn_id, "priced from its real entry"
        assert "passage_corrected" in passed.flags
        assert any(
            f"(txn {assumed.id})" in item.label and item.amount == -FEE for item in passed.fee_items
        )

    def test_a_second_unheard_back_off_passes_the_credit_on(self) -> None:
        """Corrected, then backed off unheard again: the next return is owed both."""
        lane = self.back_off_unheard()
        lane.do("arrive")
        while not lane.world.barrier_up:
            lane.do(lane.progress() or "kill")
        lane.do("back_out")
        lane.kill()
        while lane.actions:
            lane.do("act")
        assumed = [r for r in lane.world.latest().values() if "passage_assumed" in r.flags]
        assert len(assumed) == 2
        lane.do("arrive")
        lane.finish()
        lane.check()


class TestRestartRules:
    """The rule for each kind of passage left open, and bad input refused."""

    def passage(self, status: TxnStatus, payment: str = "none") -> Txn:
        txn = Txn(UUID(int=1), LANE, TxnKind.EXIT, exit_time=T0, plate_text=PLATE)
        return txn_of_status(txn, status, payment)

    def test_authorised_with_a_vehicle_on_the_arming_loop_stays_authorised(self) -> None:
        state, actions = self.restart(self.passage(TxnStatus.AUTHORISED, "approved"), True, False)
        assert state.passage is not None
        assert state.passage.phase is Phase.AUTHORISED
        assert [type(a) for a in actions if isinstance(a, RecordTransaction | OpenBarrier)] == [
            RecordTransaction,
            OpenBarrier,
        ]

    def test_authorised_with_the_vehicle_on_the_safety_loop_is_leaving(self) -> None:
        state, actions = self.restart(self.passage(TxnStatus.AUTHORISED), False, True)
        assert state.passage is None
        assert [p.txn.status for p in state.leaving] == [TxnStatus.AUTHORISED]
        assert not any(isinstance(a, CloseBarrier) for a in actions)

    def test_paid_but_not_yet_authorised_is_authorised_for_the_vehicle(self) -> None:
        pending = self.passage(TxnStatus.PENDING_PAYMENT, "approved")
        state, _ = self.restart(pending, True, False)
        assert state.passage is not None
        assert state.passage.txn.authorisation == "paid"

    def test_authorised_with_the_loops_clear_passed(self) -> None:
        (record,) = self.recorded(self.passage(TxnStatus.AUTHORISED), False, False)
        assert record.status is TxnStatus.PASSED

    def test_unpaid_is_voided_and_paid_voided_is_for_review(self) -> None:
        (unpaid,) = self.recorded(self.passage(TxnStatus.PENDING_PAYMENT, "declined"), True)
        assert unpaid.status is TxnStatus.VOIDED
        assert not unpaid.flags
        paid = settled(self.passage(TxnStatus.PENDING_PAYMENT, "approved"), went=True)
        assert (paid.status, paid.flags) == (TxnStatus.VOIDED, ("refund_review",))

    def test_a_payment_still_requested_is_refused(self) -> None:
        with pytest.raises(LaneInputError, match="still has its payment requested"):
            Restarted((self.passage(TxnStatus.PENDING_PAYMENT, "requested"),))

    def test_a_passage_given_twice_is_refused(self) -> None:
        txn = self.passage(TxnStatus.ARRIVED)
        with pytest.raises(LaneInputError, match="given twice"):
            Restarted((txn, txn))

    def restart(self, txn: Txn, arming: bool, safety: bool) -> tuple[LaneState, tuple[Action, ...]]:
        state = LaneState.initial(LANE, LaneKind.PARKING_EXIT, POLICY, bytes(16))
        return step(state, Restarted((txn,), arming, safety), T0)

    def recorded(self, txn: Txn, arming: bool, safety: bool = False) -> list[Txn]:
        _, actions = self.restart(txn, arming, safety)
        return [a.txn for a in actions if isinstance(a, RecordTransaction) and a.txn.id == txn.id]


def txn_of_status(txn: Txn, status: TxnStatus, payment: str) -> Txn:
    from dataclasses import replace

    from edge.lane.records import Authorisation, PaymentStatus

    authorised = status is TxnStatus.AUTHORISED
    return replace(
        txn,
        status=status,
        payment_status=PaymentStatus(payment),
        authorisation=Authorisation.PAID if authorised else None,
        fee_items=(FeeLine("parking", FEE),),
        fee_total=FEE,
        currency="CNY",
    )
