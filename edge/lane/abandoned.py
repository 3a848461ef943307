"""A vehicle that backs out with its payment unanswered: its order is closed, late money refunded.

At a paying exit the driver is shown a QR code and pays on the phone; the
gateway keeps that order open until it is paid or closed. A vehicle that backs
out while it is open leaves an order someone can still pay, and the vehicle
that comes back gets a new one: paying both charged it twice (issue 14). So:

- **Closed at once.** When the vehicle backs out (the passage is voided) with
  its payment still requested, the machine records the voided passage, payment
  still ``requested``, and asks the shell to close the order
  (:class:`~edge.lane.actions.ClosePayment`). The record is what a restart
  reads: a voided passage whose payment is requested has an order to close,
  and every start closes it until it is closed.
- **The close's answer.** Declined: the order is closed, nothing was taken;
  the record says so. Approved: the customer paid before the close took
  effect (or paid an order the close could not reach); the money is refunded.
  Error: the gateway could not be reached; the passage keeps waiting for an
  answer (a payment that still comes is refunded) and its record keeps the
  payment requested, so that a start closes the order.
- **Refunded, not credited.** Money that arrives for an order the lane has
  closed is given back (:class:`~edge.lane.actions.RefundPayment`, the record
  flagged ``refund_due`` first), not kept as a credit for the plate's next
  passage (:mod:`edge.lane.credits`). On an unattended lane nobody is there to
  sort a credit out by hand: a credit helps only if the same plate comes back
  to this lane within the credit window and is read the same way, otherwise it
  lapses into ``refund_review`` and waits for a person; and it races the
  vehicle's return, since the payment can land after the new passage was
  priced and asked for, which is the double charge itself. A refund goes back
  to whoever paid, whatever the vehicle does next, with no one at the lane;
  its id derives from the order, so retries and restarts refund once; and it
  is the rule the payment side already keeps for money that lands after an
  order was closed at the end of its window.

A credit stays the rule where the payment was known to be taken when the
passage was voided: a vehicle that backs out after paying (its driver saw the
fee taken and will likely come straight back), or a restart voiding a paid
passage it could not resume (:mod:`edge.lane.restart`). The line is the order
of facts in the records: paid, then voided, is a credit; voided, then paid, is
a refund. Prepaid account debits are answered at once and never left open;
they keep the credit rule.
"""

from __future__ import annotations

from dataclasses import replace

from edge.lane.records import Flag, PaymentMethod, PaymentStatus, Txn, TxnStatus


def closes_order(txn: Txn) -> bool:
    """Whether ``txn``, as just recorded, leaves an order to close: backed out, payment open."""
    return (
        txn.status is TxnStatus.VOIDED
        and txn.payment_status is PaymentStatus.REQUESTED
        and txn.payment_method is PaymentMethod.TERMINAL
    )


def paid_after_voided(txn: Txn) -> bool:
    """Whether a payment found for a passage already voided when it was asked is to be refunded.

    At a start, a final passage among those left open had its payment
    unanswered when it was voided; approved now, it was paid after the void.
    """
    return (
        txn.status is TxnStatus.VOIDED
        and txn.payment_status is PaymentStatus.APPROVED
        and txn.payment_method is PaymentMethod.TERMINAL
    )


def refund_due(txn: Txn, gateway_ref: str | None) -> Txn:
    """The version recorded before the refund: paid late, to be given back."""
    return replace(
        txn,
        payment_status=PaymentStatus.APPROVED,
        gateway_ref=gateway_ref or txn.gateway_ref,
        flags=txn.flagged(Flag.LATE_PAYMENT, Flag.REFUND_DUE),
    )
