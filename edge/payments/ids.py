"""Identifiers derived from a transaction id, so that a retry never charges twice.

A transaction id is a UUID (v7 on the lane). The gateway order id is that UUID's
128 bits in base32 behind a prefix: 28 characters from ``[A-Z2-7]``, which every
QR gateway accepts (WeChat Pay allows 32, Alipay 64). The mapping is a bijection,
so two transactions never share an order and an order id gives back its
transaction id (a callback names the order; the lane finds the passage).

A refund id joins the order with the id of what caused the refund (a correction
transaction from central, or the original transaction itself for the refund of a
payment that landed after its order was closed), so the same correction sent
twice refunds once.
"""

from __future__ import annotations

import base64
import re
import uuid

ORDER_PREFIX = "LW"
REFUND_PREFIX = "RF"
_B32 = r"[A-Z2-7]{26}"
_ORDER = re.compile(rf"{ORDER_PREFIX}({_B32})")
_REFUND = re.compile(rf"{REFUND_PREFIX}({_B32})({_B32})")


def _parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{what}: expected a UUID, got {value!r}") from None


def _b32(u: uuid.UUID) -> str:
    return base64.b32encode(u.bytes).decode("ascii").rstrip("=")


def _unb32(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.b32decode(text + "======"))


def order_id_for(txn_id: str) -> str:
    """The gateway order id of a transaction (same input, same id; distinct inputs, distinct ids)."""
    return ORDER_PREFIX + _b32(_parse_uuid(txn_id, "txn_id"))


def txn_id_for(order_id: str) -> str:
    """The transaction id an order id was derived from; ValueError for a foreign order id."""
    match = _ORDER.fullmatch(order_id)
    if match is None:
        raise ValueError(f"order_id: {order_id!r} was not derived from a transaction id")
    return str(_unb32(match.group(1)))


def refund_id_for(order_id: str, cause_id: str) -> str:
    """The refund id of ``order_id`` caused by ``cause_id`` (a transaction UUID)."""
    match = _ORDER.fullmatch(order_id)
    if match is None:
        raise ValueError(f"order_id: {order_id!r} was not derived from a transaction id")
    return REFUND_PREFIX + match.group(1) + _b32(_parse_uuid(cause_id, "cause_id"))


def debit_key_for(txn_id: str) -> str:
    """The idempotency key of a prepaid-account debit for a transaction."""
    return "debit:" + str(_parse_uuid(txn_id, "txn_id"))
