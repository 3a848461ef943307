"""What the payment services report between vehicles, written down: alarms and late refunds.

The QR service reports from its own threads (a forged callback, a payment after the lane
gave up and refunded it); the daemon hands each report to the loop, and this records it:
an alarm as a lane event, a late refund as a refund record the lane's book then knows.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from edge.daemon.recording import Recorder
from edge.daemon.refunds import Refunds
from edge.payments.outcome import LatePaymentRefunded, PaymentAlarm, PaymentEvent

DETAIL_CHARS = 300
"""A gateway's error text is cut here: the event is for people, the gateway keeps the rest."""


def record_payment_event(
    event: PaymentEvent, recorder: Recorder, refunds: Refunds, now: datetime
) -> None:
    if isinstance(event, PaymentAlarm):
        recorder.event(
            event.kind.value,
            now,
            severity="alarm",
            detail={
                "detail": event.detail[:DETAIL_CHARS],
                "order_id": event.order_id,
                "txn_id": event.txn_id,
            },
        )
    elif isinstance(event, LatePaymentRefunded):
        refunds.record(UUID(event.txn_id), event.amount, event.gateway_ref, now)
        recorder.event(
            "late_payment_refunded",
            now,
            severity="alarm",
            detail={"txn_id": event.txn_id, "refund_id": event.refund_id, "amount": event.amount},
        )
