"""The gateway's wire protocol: one definition shared by the lane's client and the simulator.

JSON over HTTP, every request and callback signed (see :mod:`contracts.gateway.signing`).

==========================================  ==================================================
``POST /v1/orders``                         create: ``order_id, amount, currency, description``
                                            (+ optional ``notify_url``, and ``plate_order_id``
                                            for an order started from a typed plate); the same
                                            id and amount again returns the same order, another
                                            amount is 409
``GET /v1/orders/{order_id}``               query; 404 for an unknown order
``POST /v1/orders/{order_id}/close``        close a pending order; answers the order as it
                                            stands (``paid`` if the payment came first)
``POST /v1/refunds``                        refund: ``refund_id, order_id, amount, reason``;
                                            idempotent on ``refund_id``
``GET /v1/refunds/{refund_id}``             query a refund
``GET /v1/lanes/{lane_id}/plate-orders``    plate orders typed for the lane and not yet
                                            started: ``{"plate_orders": [PlateOrder...]}``
callback ``POST {notify_url}``              a :class:`Notice`, answered 2xx when taken
==========================================  ==================================================

Pay by plate: a lane whose plate reader failed shows the QR code of the
gateway's page for the lane (:func:`plate_page_url`); the driver types the plate
there, and the gateway keeps it as a :class:`PlateOrder`. The lane polls for its
plate orders, prices the typed plate, and creates the order with
``plate_order_id``; the gateway shows that order on the driver's phone, where it
is paid like any other. A plate order is started once; the gateway forgets
those not started within a few minutes.

Errors are ``{"error": "field: what is wrong"}`` with a 4xx status (not retried)
or 5xx (retried). Amounts are integer minor units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

ORDERS = "/v1/orders"
REFUNDS = "/v1/refunds"
LANES = "/v1/lanes"
PLATE_PAGE = "/pay-by-plate"


def plate_orders_path(lane_id: str) -> str:
    return f"{LANES}/{lane_id}/plate-orders"


def plate_page_url(base_url: str, merchant_id: str, lane_id: str) -> str:
    """The gateway's page where a driver at ``lane_id`` types the plate (the QR code's content)."""
    return f"{base_url.rstrip('/')}{PLATE_PAGE}/{merchant_id}/{lane_id}"


ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CURRENCY = re.compile(r"[A-Z]{3}")


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"
    CLOSED = "closed"

    @property
    def final(self) -> bool:
        return self is not OrderStatus.PENDING


class BadMessageError(ValueError):
    """A message misses a field or has a wrong value; the text names the field."""


def field(
    body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, optional: bool = False
) -> Any:
    """``body[name]`` checked to be of ``kind`` (bool is not a number here)."""
    if name not in body or body[name] is None:
        if optional:
            return None
        raise BadMessageError(f"{name}: missing")
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        expected = " or ".join(k.__name__ for k in kinds)
        raise BadMessageError(f"{name}: expected {expected}, got {value!r}")
    return value


def amount_field(body: Mapping[str, Any], name: str = "amount") -> int:
    value: int = field(body, name, int)
    if value <= 0:
        raise BadMessageError(f"{name}: must be a positive number of minor units, got {value}")
    return value


def id_field(body: Mapping[str, Any], name: str) -> str:
    value: str = field(body, name, str)
    if not ORDER_ID.fullmatch(value):
        raise BadMessageError(f"{name}: expected 1-64 characters of A-Z a-z 0-9 _ -, got {value!r}")
    return value


def currency_field(body: Mapping[str, Any]) -> str:
    value: str = field(body, "currency", str)
    if not CURRENCY.fullmatch(value):
        raise BadMessageError(f"currency: expected an ISO 4217 code such as CNY, got {value!r}")
    return value


def status_field(body: Mapping[str, Any]) -> OrderStatus:
    value = field(body, "status", str)
    try:
        return OrderStatus(value)
    except ValueError:
        raise BadMessageError(
            f"status: expected one of {', '.join(s.value for s in OrderStatus)}, got {value!r}"
        ) from None


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: int
    currency: str
    status: OrderStatus
    gateway_ref: str
    qr_url: str
    refunded: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status.value}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Order:
        return cls(
            order_id=id_field(body, "order_id"),
            amount=amount_field(body),
            currency=currency_field(body),
            status=status_field(body),
            gateway_ref=field(body, "gateway_ref", str),
            qr_url=field(body, "qr_url", str),
            refunded=field(body, "refunded", int),
        )


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    amount: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Refund:
        return cls(
            refund_id=id_field(body, "refund_id"),
            order_id=id_field(body, "order_id"),
            amount=amount_field(body),
            reason=field(body, "reason", str),
        )


@dataclass(frozen=True)
class Notice:
    """A callback: the gateway tells the lane an order was paid or declined.

    ``event_id`` is the same in every delivery of one event, so duplicates are
    recognisable even though each delivery is signed with a fresh nonce.
    """

    event_id: str
    order_id: str
    status: OrderStatus
    amount: int
    currency: str
    gateway_ref: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status.value}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Notice:
        return cls(
            event_id=field(body, "event_id", str),
            order_id=id_field(body, "order_id"),
            status=status_field(body),
            amount=amount_field(body),
            currency=currency_field(body),
            gateway_ref=field(body, "gateway_ref", str),
        )


@dataclass(frozen=True)
class PlateOrder:
    """A plate a driver typed on the gateway's page for a lane, waiting for the lane's order."""

    plate_order_id: str
    lane_id: str
    plate: str
    typed_at: float  # the gateway's clock, seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> PlateOrder:
        plate: str = field(body, "plate", str)
        if not plate.strip() or len(plate) > 16:
            raise BadMessageError(f"plate: expected 1-16 characters, got {plate!r}")
        return cls(
            plate_order_id=id_field(body, "plate_order_id"),
            lane_id=field(body, "lane_id", str),
            plate=plate,
            typed_at=float(field(body, "typed_at", (int, float))),
        )
