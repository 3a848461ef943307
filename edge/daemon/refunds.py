"""Carrying out the refunds the lane decided: once each, through any number of restarts.

The machine records the payment it gives back (flag ``refund_due``) before it
asks for the refund (:class:`~edge.lane.actions.RefundPayment`; why a refund and
not a credit: :mod:`edge.lane.abandoned`). Here the refund is made at the gateway
under an id derived from the order and the transaction, so that a retry, a
restart or the payment side's own late-payment refund of the same order
(:meth:`edge.payments.qr.QrPayments.on_notice`) all refund it once; then a
refund record that references the paid transaction is stored. Until that record
exists the records say the refund is due (:func:`edge.lane.credits.refunds_due`),
and :meth:`Refunds.due` tries again: at every start and at every payment sweep.
A refund still failing is an alarm (``refund_failed``) each time it is tried.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

from edge.daemon.lookup import CreditBook
from edge.daemon.recording import Recorder
from edge.payments.gateway import GatewayError
from edge.payments.qr import QrPayments
from plumbing import log

logger = log.get(__name__)

REASON = "paid after the vehicle backed out and its order was closed"


class Refunds:
    """The lane's refunds; the book (the lane's recent records) says which are due or done."""

    def __init__(self, recorder: Recorder, qr: QrPayments | None, book: CreditBook) -> None:
        self.recorder = recorder
        self.qr = qr
        self.book = book
        self._busy: set[UUID] = set()

    async def refund(self, txn_id: UUID, amount: int, gateway_ref: str | None) -> None:
        """Give back ``amount`` paid for ``txn_id`` and record it, if the records say it is due.

        Not due: refunded already, or nothing was taken (a post-pay passage).
        """
        due = any(record.id == txn_id for record in self.book.refunds_due())
        if txn_id in self._busy or not due:
            return
        self._busy.add(txn_id)
        try:
            await self._refund(txn_id, amount, gateway_ref)
        finally:
            self._busy.discard(txn_id)

    async def _refund(self, txn_id: UUID, amount: int, gateway_ref: str | None) -> None:
        if self.qr is None:
            self._failed(txn_id, amount, "no payment gateway is configured at this lane")
            return
        try:
            await asyncio.to_thread(self.qr.refund, str(txn_id), str(txn_id), amount, REASON)
        except GatewayError as exc:
            self._failed(txn_id, amount, str(exc))
            return
        self.record(txn_id, amount, gateway_ref, datetime.now(UTC))

    async def due(self) -> None:
        """Try every refund the records say is due (at start, at every sweep)."""
        for record in self.book.refunds_due():
            await self.refund(record.id, record.fee_total or 0, record.gateway_ref)

    def record(self, txn_id: UUID, amount: int, gateway_ref: str | None, at: datetime) -> None:
        """Store the refund record of ``txn_id``'s payment, unless one is stored already."""
        if self.book.refunded(txn_id):
            return
        original = self.recorder.store.transaction(txn_id)
        if original is None:
            logger.error("refund_of_unknown_transaction", txn_id=str(txn_id), amount=amount)
            return
        self.recorder.refund(original, amount, gateway_ref or original.gateway_ref, at)
        logger.warning("payment_refunded", txn_id=str(txn_id), amount=amount)

    def _failed(self, txn_id: UUID, amount: int, why: str) -> None:
        self.recorder.event(
            "refund_failed",
            datetime.now(UTC),
            severity="alarm",
            txn_id=txn_id,
            detail={"amount": amount, "cause": why[:300], "retried": "at the next sweep"},
        )
