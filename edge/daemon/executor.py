"""The shell around the lane machine: events in, one step at a time, actions out in order.

Everything happens on the event loop's thread. Device drivers, the payment
side and timers hand events over (``loop.call_soon_threadsafe``) to one queue;
:meth:`LaneShell.run` takes them one by one, steps the machine, and carries the
step's actions out in list order before it takes the next event:

- records (``RecordTransaction``, ``RecordEvent``, ``RaiseAlarm``) are committed
  synchronously: the next action (an open barrier, a payment request) starts
  only once the record is on disk. A record that cannot be written stops the
  lane (the exception ends :meth:`run`; systemd restarts it and recovery
  resolves what was open);
- barrier commands run in a thread and are awaited; a refused command comes back
  as ``BarrierFault``;
- work that takes long answers later with an event: the plate read
  (``Capture`` -> ``PlateRead``, frames read until one is accepted; the machine's
  plate timer ends the attempts), the payment chain (``RequestPayment`` ->
  ``PaymentResult``); lookups are answered at once, through the queue, except
  a highway exit's that asks central: a task posts the answer when central
  gives it or the lookup timeout passes;
- timers run on the loop's monotonic clock (``loop.call_later``);
- ``WatchPlateOrders`` shows the gateway's pay-by-plate QR code and watches for
  the plate the driver types there (:mod:`edge.daemon.plate_orders`);
- ``ClosePayment`` withdraws the payment still in progress: its QR order is
  closed and the payment task answers the machine as ever (declined, or
  approved when the customer paid first, or error when the gateway is out of
  reach); ``RefundPayment`` gives money back (:mod:`edge.daemon.refunds`).

Degraded modes are seen here: a dark camera or a failing reader answers the
machine with an unreadable plate naming the fault (``PlateUnreadable(cause=...)``;
the machine applies the lane's outcome for it), records the use and raises an alarm.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from drivers.factory import LaneDrivers
from drivers.interfaces import (
    BarrierMoved,
    CommandResult,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    Frame,
    Loop,
    LoopChanged,
    Position,
)
from edge.config.degraded import DegradedPolicy
from edge.daemon.devices import lane_event_of
from edge.daemon.display_text import lines_for, plate_page_lines, qr_lines
from edge.daemon.lookup import VehicleLookup
from edge.daemon.plate_orders import next_plate_order
from edge.daemon.plates import Image, ReadLateError, Recognition, read_vehicle
from edge.daemon.recording import Recorder
from edge.daemon.refunds import Refunds
from edge.daemon.settling import lane_result, payment_request
from edge.daemon.timings import Mark, PassageTimings
from edge.evidence import Evidence
from edge.lane import LaneState, Txn, step
from edge.lane.actions import (
    Action,
    CancelTimer,
    Capture,
    CaptureReason,
    CloseBarrier,
    ClosePayment,
    LookUpVehicle,
    OpenBarrier,
    RaiseAlarm,
    RecordEvent,
    RecordTransaction,
    RefundPayment,
    RequestPayment,
    ShowMessage,
    StartTimer,
    WatchPlateOrders,
    ordering_problems,
)
from edge.lane.events import (
    BarrierFault,
    Event,
    EvidenceKept,
    PlateRead,
    PlateTyped,
    PlateUnreadable,
    TimerExpired,
)
from edge.lane.policy import UnreadCause
from edge.lane.records import FINAL_STATUSES, PaymentStatus, TxnStatus
from edge.lane.state import Phase
from edge.payments.qr import QrPayments, QrPrompt
from edge.payments.service import Payments
from models.result import PlateResult
from plumbing import log

logger = log.get(__name__)

DECIDED = frozenset({TxnStatus.AUTHORISED, TxnStatus.BLOCKED, TxnStatus.DENIED})


class OrderingError(RuntimeError):
    """The machine asked to move money or the barrier without a record first (a bug)."""


class StepLog(Protocol):
    """Hears what the lane machine is fed: the lane's event log, replayable through
    :func:`edge.lane.replay` (the records of the replay are the lane's)."""

    def begin(self, state: LaneState) -> None:
        """A machine starts from ``state`` (once per shell, before its first step)."""

    def step(self, now: datetime, event: Event) -> None:
        """The machine takes ``event`` at ``now`` (before it is stepped)."""


@dataclass(frozen=True)
class Queued:
    event: Event
    done: asyncio.Future[None] | None = None  # resolved once the step's actions are carried out


class LaneShell:
    def __init__(
        self,
        state: LaneState,
        *,
        recorder: Recorder,
        drivers: LaneDrivers,
        lookup: VehicleLookup,
        plates: Recognition,
        payments: Payments,
        refunds: Refunds,
        degraded: DegradedPolicy,
        evidence: Evidence | None = None,
        capture_frames: int = 2,
        read_pause_s: float = 0.1,
        plate_page: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        step_log: StepLog | None = None,
    ) -> None:
        self.state = state
        self.step_log = step_log
        if step_log is not None:
            step_log.begin(state)
        self.recorder = recorder
        self.drivers = drivers
        self.lookup = lookup
        self.plates = plates
        self.payments = payments
        self.refunds = refunds
        self.degraded = degraded
        self.evidence = evidence
        self.metrics = recorder.metrics
        self.capture_frames = capture_frames
        self.read_pause_s = read_pause_s
        #: The gateway's pay-by-plate page for this lane (the QR code shown to a stranded driver).
        self.plate_page = plate_page
        #: Plate orders the driver typed (id, plate), by transaction: the QR order is started
        #: from one when the machine took its plate (not an operator's typed meanwhile).
        self.plate_orders: dict[UUID, tuple[str, str]] = {}
        self.timings = PassageTimings(clock)
        self.camera_dark: str | None = None
        #: When the arming loop last became occupied (monotonic, at the loop's raw edge).
        self.arrived_at: float | None = None
        self.unreadable_streak = 0
        self.barrier_devices = frozenset({drivers.barrier.name, "io"})
        #: Vehicles recorded gone with their payment unanswered: counted once, when they went.
        self.gone_unpaid: set[UUID] = set()
        self.queue: asyncio.Queue[Queued] = asyncio.Queue()
        self.work: set[asyncio.Task[None]] = set()
        self.paying: dict[UUID, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._loop = asyncio.get_running_loop()

    # -- events in ------------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """Queue an event for the machine (on the loop's thread)."""
        self.queue.put_nowait(Queued(event))

    async def submit(self, event: Event, timeout_s: float) -> None:
        """Queue an event and wait until its step's actions are carried out (operator commands).

        Raises TimeoutError when the lane has not got to it within ``timeout_s``.
        """
        done: asyncio.Future[None] = self._loop.create_future()
        # A failure after the wait gave up is the lane's own (it ends run()): mark it seen here.
        done.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        self.queue.put_nowait(Queued(event, done=done))
        await asyncio.wait_for(asyncio.shield(done), timeout_s)

    def on_device(self, event: DeviceEvent) -> None:
        """A driver's event (on the loop's thread, handed over by the sink)."""
        now = datetime.now(UTC)
        match event:
            case LoopChanged(loop=Loop.ARMING, occupied=True):
                self.timings.loop_on(event.began)
                self.arrived_at = event.began
            case BarrierMoved(position=Position.UP):
                self.timings.barrier_up()
            case DeviceFault(device=device, reason=reason):
                if device == self.drivers.camera.name:
                    self.camera_dark = reason
                self.metrics.fault(device, "reported")
                self.recorder.event(
                    "device_fault",
                    now,
                    severity="alarm",
                    detail={"device": device, "reason": reason},
                )
            case DeviceRecovered(device=device):
                if device == self.drivers.camera.name:
                    self.camera_dark = None
                self.recorder.event("device_recovered", now, detail={"device": device})
        lane_event = lane_event_of(event, self.barrier_devices)
        if lane_event is not None:
            self.post(lane_event)

    # -- the machine ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Step the machine on every queued event, forever (cancel to stop)."""
        while True:
            queued = await self.queue.get()
            try:
                await self.feed(queued)
            except BaseException as exc:
                if queued.done is not None and not queued.done.done():
                    queued.done.set_exception(RuntimeError(f"the lane failed: {exc!r}"))
                raise
            if queued.done is not None and not queued.done.done():
                queued.done.set_result(None)

    async def feed(self, queued: Queued) -> None:
        now = datetime.now(UTC)
        if self.step_log is not None:
            self.step_log.step(now, queued.event)
        self.state, actions = step(self.state, queued.event, now)
        problems = ordering_problems(actions)
        if problems:
            raise OrderingError("; ".join(problems))
        for action in actions:
            await self.execute(action)

    async def execute(self, action: Action) -> None:
        match action:
            case RecordTransaction(txn=txn, at=at):
                self.record(txn, at)
            case RecordEvent():
                self.recorder.machine_event(action)
            case RaiseAlarm():
                self.recorder.alarm(action)
            case Capture(txn_id=txn_id, reason=reason):
                if reason is CaptureReason.ARRIVAL:
                    self.timings.begin(txn_id)
                self.spawn(self.capture(txn_id, reason))
            case LookUpVehicle(txn_id=txn_id, plate=plate, at=at):
                if self.lookup.asks_central(plate):
                    self.spawn(self.ask_central(txn_id, plate, at))
                else:
                    self.post(self.lookup.check(txn_id, plate, at))
            case RequestPayment(txn_id=txn_id):
                task = self.spawn(self.pay(action))
                self.paying[txn_id] = task
                task.add_done_callback(lambda _: self.paying.pop(txn_id, None))
            case ClosePayment(txn_id=txn_id):
                self.close_order(txn_id)
            case RefundPayment(txn_id=txn_id, amount=amount, gateway_ref=gateway_ref):
                self.spawn(self.refunds.refund(txn_id, amount, gateway_ref))
            case OpenBarrier(because=because):
                self.timings.mark(because, Mark.BARRIER_COMMAND)
                latency = self.timings.since_loop_on(because)
                if latency is not None:
                    self.metrics.open_latency(latency)
                if await self.command("open", self.drivers.barrier.open, green=True):
                    self.metrics.barrier_cycle()
            case CloseBarrier():
                await self.command("close", self.drivers.barrier.close, green=False)
            case ShowMessage():
                await self.show(lines_for(action))
            case WatchPlateOrders(txn_id=txn_id):
                qr = self.payments.qr
                if qr is not None and self.plate_page is not None:
                    self.spawn(self.watch_plate_orders(qr, self.plate_page, txn_id))
            case StartTimer(timer=timer, token=token, seconds=seconds):
                self.cancel_timer(timer.value)
                self._timers[timer.value] = self._loop.call_later(
                    seconds, self.post, TimerExpired(timer, token)
                )
            case CancelTimer(timer=timer):
                self.cancel_timer(timer.value)

    async def ask_central(self, txn_id: UUID, plate: str, at: datetime) -> None:
        """A highway exit with no entry of its own: central's answer (or silence) as an event."""
        self.post(await self.lookup.check_with_central(txn_id, plate, at))

    def record(self, txn: Txn, at: datetime) -> None:
        self.recorder.transaction(txn, at)
        if txn.status in FINAL_STATUSES and txn.id not in self.gone_unpaid:
            self.metrics.vehicle(txn.status.value)  # once: a late payment records it again
        if txn.status in DECIDED:
            self.timings.mark(txn.id, Mark.DECISION)
        if txn.status in FINAL_STATUSES:
            figures = self.timings.finish(txn.id)
            if figures is not None:
                self.recorder.event("passage_timings", at, txn_id=txn.id, detail=figures)
            if txn.payment_status is PaymentStatus.REQUESTED:
                self.gone_unpaid.add(txn.id)
            else:
                self.gone_unpaid.discard(txn.id)
                self.plate_orders.pop(txn.id, None)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self.work.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self.work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("lane_work_failed", error=repr(task.exception()))

    def cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all_timers(self) -> None:
        for name in list(self._timers):
            self.cancel_timer(name)

    # -- devices ------------------------------------------------------------------------------

    async def command(self, what: str, move: Callable[[], CommandResult], *, green: bool) -> bool:
        """Move the barrier; a refusal comes back to the machine as a barrier fault."""
        result = await asyncio.to_thread(move)
        logger.info("barrier_command", command=what, ok=result.ok, reason=result.reason)
        if not result.ok:
            self.post(BarrierFault(f"{what} refused: {result.reason}"))
            return False
        light = self.drivers.light
        if light is not None:
            lit = await asyncio.to_thread(light.set_green, green)
            if not lit.ok:
                logger.warning("lane_light_failed", reason=lit.reason)
        return True

    async def show(self, lines: tuple[str, str]) -> None:
        display = self.drivers.display
        if display is None:
            return
        result = await asyncio.to_thread(display.show, lines)
        if not result.ok:
            logger.warning("display_failed", reason=result.reason)

    # -- plates ------------------------------------------------------------------------------

    async def capture(self, txn_id: UUID, reason: CaptureReason) -> None:
        """Read the vehicle's plate from fresh frames until one is accepted.

        The machine's plate timer bounds the attempts: once it gave up (the
        passage is no longer reading) the plate counts as unreadable.
        """
        if reason is not CaptureReason.ARRIVAL:
            frames = await asyncio.to_thread(self.drivers.camera.trigger, self.capture_frames)
            ids = await self.keep(frames[-1].image if frames else None, None)
            # The record came before this capture: the images are named in a lane event.
            self.recorder.event(
                "evidence_saved",
                datetime.now(UTC),
                txn_id=txn_id,
                detail={"reason": reason.value, "images": ",".join(ids)},
            )
            return
        why = "no read"
        last: Image | None = None
        glance = self.glance()
        while self.reading(txn_id):
            glanced = glance is not None
            if glance is not None:
                images, glance = [glance.image], None
            else:
                frames = await asyncio.to_thread(self.drivers.camera.trigger, self.capture_frames)
                if not frames:
                    why = self.camera_dark or "no frames"
                    self.degraded_read(txn_id, UnreadCause.CAMERA_DARK, why)
                    return
                images = [frame.image for frame in frames]
            deadline_s = self.degraded.read_deadline_s
            try:
                read = await read_vehicle(
                    self.plates, images, lambda: self.reading(txn_id), deadline_s
                )
            except ReadLateError:
                last, why = images[-1], f"no answer within the {deadline_s:g} s read deadline"
                self.read_late(txn_id, deadline_s)
                break
            except Exception as exc:  # the reader's libraries raise their own error types
                logger.exception("plate_read_failed", txn_id=str(txn_id))
                self.degraded_read(txn_id, UnreadCause.RECOGNITION_FAILING, repr(exc))
                return
            if read.accepted and read.text:
                await self.plate_read(txn_id, read, images[-1])
                return
            why = read.reason or why
            last = images[-1]
            if not glanced:
                await asyncio.sleep(self.read_pause_s)
        self.metrics.plate_read(ok=False)
        if last is not None:
            self.post(EvidenceKept(txn_id, await self.keep(last, None)))
        self.unreadable(txn_id, why)

    def read_late(self, txn_id: UUID, deadline_s: float) -> None:
        """The reader missed the deadline: the vehicle takes the unreadable-plate path now."""
        waiting = self.reading(txn_id)
        self.recorder.event(
            "plate_read_late",
            datetime.now(UTC),
            severity="warning",
            txn_id=txn_id,
            detail={"deadline_s": deadline_s, "lane_waiting": waiting},
        )
        if waiting:
            self.post(PlateUnreadable(txn_id))

    def glance(self) -> Frame | None:
        """The newest frame, when it was taken with the vehicle already on the arming loop.

        The loop is reported once its debounce has confirmed it; the camera
        has taken frames of the vehicle meanwhile, so the first read need not
        wait for the next one (up to a frame period). Older frames may show the
        lane before the vehicle came and are not used.
        """
        frame = self.drivers.camera.latest()
        if frame is None or self.arrived_at is None or frame.at < self.arrived_at:
            return None
        return frame

    async def plate_read(self, txn_id: UUID, read: PlateResult, frame: Image) -> None:
        """An accepted read: keep the evidence and hand the plate to the machine."""
        self.timings.mark(txn_id, Mark.PLATE_READ)
        self.metrics.plate_read(ok=True)
        evidence = await self.keep(frame, read.crop)
        logger.info(
            "plate_read", txn_id=str(txn_id), text=read.text, confidence=round(read.confidence, 3)
        )
        self.unreadable_streak = 0
        confidence = min(1.0, max(0.0, read.confidence))
        self.post(PlateRead(txn_id, read.text, confidence, evidence))

    async def keep(self, frame: Image | None, crop: Image | None) -> tuple[str, ...]:
        """Save the evidence images of a passage (off the loop); their ids, for the record."""
        if self.evidence is None or (frame is None and crop is None):
            return ()
        result = await asyncio.to_thread(self.evidence.save_passage, datetime.now(UTC), frame, crop)
        return result.image_ids

    def reading(self, txn_id: UUID) -> bool:
        """Whether the machine still waits for the plate of ``txn_id``."""
        p = self.state.passage
        return p is not None and p.txn.id == txn_id and p.phase is Phase.READING

    def unreadable(self, txn_id: UUID, why: str) -> None:
        """The plate timer ran out without a read: count it; a streak is an alarm."""
        logger.info("plate_unreadable", txn_id=str(txn_id), reason=why)
        self.unreadable_streak += 1
        if self.unreadable_streak == self.degraded.unreadable_streak:
            self.recorder.event(
                "recognition_failing",
                datetime.now(UTC),
                severity="alarm",
                txn_id=txn_id,
                detail={"unreadable_in_a_row": self.unreadable_streak, "last_reason": why},
            )

    def degraded_read(self, txn_id: UUID, cause: UnreadCause, why: str) -> None:
        """No plate because part of the lane is degraded: record, alarm, tell the machine why."""
        outcome = self.state.policy.degraded_reads.outcome(cause)
        self.recorder.event(
            "degraded_mode",
            datetime.now(UTC),
            severity="alarm",
            txn_id=txn_id,
            detail={"mode": cause.value, "outcome": outcome.value, "cause": why[:200]},
        )
        self.post(PlateUnreadable(txn_id, cause))

    # -- pay by plate --------------------------------------------------------------------------

    async def watch_plate_orders(self, qr: QrPayments, page: str, txn_id: UUID) -> None:
        """Show the pay-by-plate QR code; hand the plate the driver types to the machine."""
        await self.show(plate_page_lines(page))
        found = await next_plate_order(
            qr.client,
            self.state.lane_id,
            since=time.time(),
            waiting=lambda: self.waiting_for_plate(txn_id),
            pause_s=qr.query_schedule_s[0],
        )
        if found is None:
            return
        logger.info("plate_order_taken", txn_id=str(txn_id), plate_order_id=found.plate_order_id)
        self.plate_orders[txn_id] = (found.plate_order_id, found.plate)
        self.post(PlateTyped(txn_id, found.plate))

    def waiting_for_plate(self, txn_id: UUID) -> bool:
        """Whether the machine still waits for a typed plate for ``txn_id``."""
        p = self.state.passage
        return (
            p is not None
            and p.txn.id == txn_id
            and p.phase is Phase.STRANDED
            and p.txn.plate_text is None
        )

    # -- payments ------------------------------------------------------------------------------

    async def pay(self, action: RequestPayment) -> None:
        plate = action.plate
        typed = self.plate_orders.get(action.txn_id)
        plate_order = typed[0] if typed is not None and typed[1] == plate else None
        request = payment_request(action, plate, datetime.now(UTC), plate_order)
        outcome = await asyncio.to_thread(self.payments.chain.settle, request, self.on_prompt)
        settled = lane_result(action, outcome)
        logger.info(
            "payment_settled",
            txn_id=str(action.txn_id),
            status=outcome.status.value,
            reason=outcome.reason,
        )
        postpay = outcome.status.value == "postpay"
        self.metrics.payment(
            "post_pay" if postpay else outcome.status.value,
            outcome.method.value if outcome.method else "none",
        )
        if outcome.status.value == "paid" and outcome.amount > 0:
            self.metrics.fee(outcome.amount, action.currency)
        if settled.gateway_down:
            self.recorder.event(
                "degraded_mode",
                datetime.now(UTC),
                severity="alarm",
                txn_id=action.txn_id,
                detail={
                    "mode": "gateway_down",
                    "outcome": settled.result.outcome.value,
                    "cause": outcome.reason[:200],
                },
            )
        self.post(settled.result)

    def close_order(self, txn_id: UUID) -> None:
        """The vehicle backed out: withdraw its payment; the payment task closes the order.

        A payment already answered has its answer on the way to the machine.
        """
        qr = self.payments.qr
        if qr is None or txn_id not in self.paying:
            return
        logger.info("payment_withdrawn", txn_id=str(txn_id))
        qr.cancel(str(txn_id))

    def on_prompt(self, prompt: QrPrompt) -> None:
        """The QR code to show (called from the payment thread)."""
        self._loop.call_soon_threadsafe(lambda: self.spawn(self.show(qr_lines(prompt))))

    # -- shutdown ------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No vehicle being served or leaving, no payment in progress."""
        s = self.state
        busy = s.passage is not None and s.passage.phase not in (Phase.HELP, Phase.STRANDED)
        return not busy and not s.leaving and not self.paying and self.queue.empty()
