"""QR payments through a gateway: one order per transaction, every order brought to an end.

``pay`` creates the order (id derived from the transaction id, so a retry finds
the same order), shows the prompt, then waits for a verified callback or for
a query to say the order is paid or declined, querying on the configured
schedule. When the payment window ends, or the daemon cancels (the vehicle
backed out, the lane stops), the order is closed; the close's answer is the
last word (``paid`` if the payment came first). A cancel that comes before
``pay`` has created the order is remembered, and no order is created. An order the lane has given up on (closed, declined, or left
unresolved because the gateway was down) and that is nevertheless paid later
is refunded, and the refund reported as an event for the daemon to record.

Thread model: ``pay`` blocks (the daemon runs it with ``asyncio.to_thread``);
callbacks arrive on the receiver's threads through ``on_notice``. One
condition variable guards every order's state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, repeat

from contracts.gateway.protocol import Notice, Order, OrderStatus, Refund
from edge.payments.config import Method
from edge.payments.gateway import GatewayClient, GatewayDownError, GatewayError, GatewayRefusedError
from edge.payments.ids import order_id_for, refund_id_for
from edge.payments.outcome import (
    AlarmKind,
    Charged,
    Declined,
    EventSink,
    LatePaymentRefunded,
    MethodResult,
    NoticeVerdict,
    PaymentAlarm,
    PaymentRequest,
    Unavailable,
)
from plumbing import log

logger = log.get(__name__)


class _State(StrEnum):
    OPEN = "open"
    PAID = "paid"
    DECLINED = "declined"
    CLOSED = "closed"
    UNRESOLVED = "unresolved"


@dataclass
class _Track:
    txn_id: str
    order_id: str
    amount: int
    currency: str
    state: _State = _State.OPEN
    gateway_ref: str = ""
    cancelled: bool = False
    refund_due: bool = False
    refunding: bool = False
    refunded: bool = False


@dataclass(frozen=True)
class QrPrompt:
    """What the display shows: the amount and the QR code's content."""

    txn_id: str
    order_id: str
    qr_url: str
    amount: int
    currency: str


class QrPayments:
    """The QR method of the payment chain, plus callbacks, late refunds and corrections.

    ``notify_url`` is sent with each order when the gateway is told the callback
    URL per order; ``max_tracks`` bounds how many finished orders are
    remembered for late payments (the oldest finished ones are forgotten first).
    """

    def __init__(
        self,
        client: GatewayClient,
        *,
        query_schedule_s: Sequence[float],
        events: EventSink,
        notify_url: str | None = None,
        max_tracks: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not query_schedule_s or any(p <= 0 for p in query_schedule_s):
            raise ValueError(f"query_schedule_s: expected positive pauses, got {query_schedule_s}")
        self.client = client
        self.query_schedule_s = tuple(query_schedule_s)
        self.events = events
        self.notify_url = notify_url
        self.max_tracks = max_tracks
        self.monotonic = monotonic
        self._tracks: dict[str, _Track] = {}
        self._cancelled: dict[str, None] = {}  # cancelled before pay created them (ordered)
        self._cond = threading.Condition()

    # -- the daemon's calls --------------------------------------------------------------------

    def pay(
        self,
        request: PaymentRequest,
        window_s: float,
        on_prompt: Callable[[QrPrompt], None] | None = None,
    ) -> MethodResult:
        """Take the payment for ``request``; blocks up to about ``window_s`` plus the close."""
        order_id = order_id_for(request.txn_id)
        with self._cond:
            track = self._tracks.get(order_id)
            if track is None and order_id in self._cancelled:
                del self._cancelled[order_id]
                return Declined(Method.QR, "cancelled before the order was made", cancelled=True)
            if track is not None and track.state is not _State.OPEN:
                return self._result(track, f"order {order_id} already {track.state.value}")
            if track is None:
                track = _Track(request.txn_id, order_id, request.amount, request.currency)
                self._remember(track)
        try:
            order = self.client.create_order(
                order_id,
                request.amount,
                request.currency,
                request.description,
                self.notify_url,
                plate_order_id=request.plate_order_id,
            )
        except GatewayDownError as exc:
            with self._cond:
                if exc.maybe_done:
                    track.state = _State.UNRESOLVED
                else:
                    del self._tracks[order_id]
            return Unavailable(Method.QR, str(exc))
        except GatewayRefusedError as exc:
            self._alarm(AlarmKind.GATEWAY_REFUSED, f"create: {exc}", track)
            with self._cond:
                del self._tracks[order_id]
            return Unavailable(Method.QR, f"gateway refused the order: {exc}")
        with self._cond:
            self._apply(track, order)
            show = track.state is _State.OPEN and not track.cancelled
        if show and on_prompt is not None:
            on_prompt(
                QrPrompt(request.txn_id, order_id, order.qr_url, order.amount, order.currency)
            )
        self._wait(track, window_s)
        return self._finish(track, f"not paid within {window_s:g} s")

    def cancel(self, txn_id: str) -> None:
        """Stop waiting for the payment of ``txn_id`` (the vehicle left); ``pay`` closes the order.

        Before ``pay`` has made the order, the cancel is remembered (the last
        ``max_tracks`` of them) and ``pay`` makes none.
        """
        order_id = order_id_for(txn_id)
        with self._cond:
            track = self._tracks.get(order_id)
            if track is not None:
                track.cancelled = True
                self._cond.notify_all()
                return
            self._cancelled[order_id] = None
            if len(self._cancelled) > self.max_tracks:
                del self._cancelled[next(iter(self._cancelled))]

    def resolve(self, txn_id: str, amount: int, currency: str) -> MethodResult:
        """Bring to an end an order whose ``pay`` was interrupted (daemon restart): close it.

        The answer is ``Charged`` when the customer had paid; otherwise ``Declined``.
        """
        order_id = order_id_for(txn_id)
        with self._cond:
            track = self._tracks.get(order_id)
            if track is None:
                track = _Track(txn_id, order_id, amount, currency)
                self._remember(track)
        return self._finish(track, "interrupted; closed on recovery")

    def refund(self, original_txn_id: str, cause_id: str, amount: int, reason: str) -> Refund:
        """Refund part or all of a paid order (a correction from central).

        ``cause_id`` is the id of the correction; the refund id derives from it, so
        a correction delivered twice refunds once. Raises GatewayError.
        """
        order_id = order_id_for(original_txn_id)
        refund_id = refund_id_for(order_id, cause_id)
        logger.info("refund_requested", order_id=order_id, refund_id=refund_id, amount=amount)
        return self.client.refund(refund_id, order_id, amount, reason)

    def sweep(self) -> None:
        """Retry what the gateway could not do before: close unresolved orders, pay refunds due.

        The daemon calls it on a timer (e.g. every minute) from a worker thread.
        """
        with self._cond:
            unresolved = [t for t in self._tracks.values() if t.state is _State.UNRESOLVED]
            due = [t for t in self._tracks.values() if t.refund_due and not t.refunding]
        for track in unresolved:
            try:
                order: Order | None = self.client.close_order(track.order_id)
            except GatewayRefusedError as exc:
                if exc.status != 404:
                    self._alarm(AlarmKind.ORDER_UNRESOLVED, f"close: {exc}", track)
                    continue
                order = None  # never created: nothing to close
            except GatewayDownError as exc:
                logger.warning("sweep_close_failed", order_id=track.order_id, cause=str(exc))
                continue
            with self._cond:
                track.state = _State.CLOSED
                if order is not None and order.status is OrderStatus.PAID:
                    track.gateway_ref = order.gateway_ref
                    track.refund_due = True
                    due.append(track)
        for track in due:
            self._refund_late(track)

    def unresolved(self) -> list[str]:
        """Order ids whose final state is not known yet (for health reports)."""
        with self._cond:
            return [t.order_id for t in self._tracks.values() if t.state is _State.UNRESOLVED]

    # -- callbacks -------------------------------------------------------------------------------

    def on_notice(self, notice: Notice) -> NoticeVerdict:
        """Apply a verified callback; a payment for an order given up on is refunded."""
        with self._cond:
            track = self._tracks.get(notice.order_id)
            if track is None:
                return NoticeVerdict.UNKNOWN_ORDER
            if notice.amount != track.amount or notice.currency != track.currency:
                return NoticeVerdict.WRONG_AMOUNT
            if notice.status is not OrderStatus.PAID:
                if track.state is _State.OPEN and notice.status is OrderStatus.DECLINED:
                    track.state = _State.DECLINED
                    self._cond.notify_all()
                    return NoticeVerdict.ACCEPTED
                return NoticeVerdict.DUPLICATE
            if track.state is _State.OPEN:
                track.state = _State.PAID
                track.gateway_ref = notice.gateway_ref
                self._cond.notify_all()
                return NoticeVerdict.ACCEPTED
            if track.state is _State.PAID or track.refunded or track.refunding:
                return NoticeVerdict.DUPLICATE
            track.refund_due = True
            track.gateway_ref = notice.gateway_ref
        return self._refund_late(track)

    # -- inside ----------------------------------------------------------------------------------

    def _schedule(self) -> Iterator[float]:
        return chain(self.query_schedule_s, repeat(self.query_schedule_s[-1]))

    def _wait(self, track: _Track, window_s: float) -> None:
        deadline = self.monotonic() + window_s
        pauses = self._schedule()
        next_query = self.monotonic() + next(pauses)
        while True:
            with self._cond:
                if track.state is not _State.OPEN or track.cancelled:
                    return
                now = self.monotonic()
                if now >= deadline:
                    return
                if now < next_query:
                    self._cond.wait(min(deadline, next_query) - now)
                    continue
            try:
                order = self.client.query_order(track.order_id)
            except GatewayError as exc:
                logger.warning("payment_query_failed", order_id=track.order_id, cause=str(exc))
                order = None
            if order is not None:
                with self._cond:
                    self._apply(track, order)
            next_query = self.monotonic() + next(pauses)

    def _finish(self, track: _Track, reason: str) -> MethodResult:
        with self._cond:
            if track.state is not _State.OPEN:
                return self._result(track, reason)
            if track.cancelled:
                reason = "cancelled"
        try:
            order = self.client.close_order(track.order_id)
        except GatewayRefusedError as exc:
            if exc.status == 404:
                with self._cond:
                    track.state = _State.CLOSED
                why = f"{reason}; no such order at the gateway"
                return Declined(Method.QR, why, cancelled=track.cancelled)
            return self._unresolved(track, f"close refused: {exc}")
        except GatewayDownError as exc:
            return self._unresolved(track, f"close failed: {exc}")
        with self._cond:
            self._apply(track, order)
            if track.state is _State.OPEN:  # the gateway kept it open: treat as unresolved
                track.state = _State.UNRESOLVED
            return self._result(track, reason)

    def _unresolved(self, track: _Track, why: str) -> MethodResult:
        with self._cond:
            if track.state is _State.PAID:  # a callback came while we were closing
                return self._result(track, why)
            track.state = _State.UNRESOLVED
        self._alarm(AlarmKind.ORDER_UNRESOLVED, why, track)
        return Unavailable(
            Method.QR, f"order {track.order_id} left unresolved: {why}", track.cancelled
        )

    def _apply(self, track: _Track, order: Order) -> None:
        """Take the gateway's view of the order (under the lock)."""
        if order.order_id != track.order_id or order.amount != track.amount:
            self._alarm(
                AlarmKind.WRONG_AMOUNT,
                f"gateway has {order.order_id} for {order.amount}, lane expects {track.amount}",
                track,
            )
            return
        if track.state is not _State.OPEN:
            return
        if order.status is OrderStatus.PAID:
            track.state, track.gateway_ref = _State.PAID, order.gateway_ref
        elif order.status is OrderStatus.DECLINED:
            track.state = _State.DECLINED
        elif order.status is OrderStatus.CLOSED:
            track.state = _State.CLOSED
        self._cond.notify_all()

    def _result(self, track: _Track, reason: str) -> MethodResult:
        if track.state is _State.PAID:
            return Charged(Method.QR, track.amount, track.gateway_ref, track.order_id)
        if track.state is _State.DECLINED:
            return Declined(Method.QR, "declined by the gateway", track.cancelled)
        if track.state is _State.UNRESOLVED:
            why = f"order {track.order_id} unresolved: {reason}"
            return Unavailable(Method.QR, why, track.cancelled)
        return Declined(Method.QR, reason, track.cancelled)

    def _refund_late(self, track: _Track) -> NoticeVerdict:
        with self._cond:
            if track.refunding or track.refunded:
                return NoticeVerdict.DUPLICATE
            track.refunding = True
        refund_id = refund_id_for(track.order_id, track.txn_id)
        try:
            self.client.refund(
                refund_id, track.order_id, track.amount, "paid after the order was closed"
            )
        except GatewayError as exc:
            with self._cond:
                track.refunding = False
            self._alarm(AlarmKind.REFUND_FAILED, f"late payment, refund {refund_id}: {exc}", track)
            return NoticeVerdict.LATE_REFUND_PENDING
        with self._cond:
            track.refunding, track.refunded, track.refund_due = False, True, False
        logger.warning("late_payment_refunded", order_id=track.order_id, refund_id=refund_id)
        self.events(
            LatePaymentRefunded(
                track.txn_id, track.order_id, refund_id, track.amount, track.gateway_ref
            )
        )
        return NoticeVerdict.LATE_REFUNDED

    def _remember(self, track: _Track) -> None:
        self._tracks[track.order_id] = track
        if len(self._tracks) > self.max_tracks:
            for order_id, old in list(self._tracks.items()):
                if (
                    old.state in (_State.CLOSED, _State.DECLINED, _State.PAID)
                    and not old.refund_due
                ):
                    del self._tracks[order_id]
                    break

    def _alarm(self, kind: AlarmKind, detail: str, track: _Track) -> None:
        logger.error("payment_alarm", kind=kind.value, detail=detail, order_id=track.order_id)
        self.events(PaymentAlarm(kind, detail, track.order_id, track.txn_id))
