"""The gateway simulator's state and request handling, without sockets.

Orders, refunds and plate orders in memory; the lane's API requests (signed)
and the control routes (``/_sim/...``) answered as :class:`SimAnswer`; the
customer paying and the callbacks that follow. Delayed work goes through a
``Later`` (a scheduler thread under :mod:`simulators.gateway.server`, at once
in unit tests), so nothing here starts a thread.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from http import HTTPStatus
from typing import Any

from contracts.gateway import protocol
from contracts.gateway.protocol import (
    BadMessageError,
    Notice,
    Order,
    OrderStatus,
    PlateOrder,
    Refund,
)
from contracts.gateway.signing import H_MERCHANT, SignatureError, Verifier, sign
from contracts.gateway.transport import HttpRequest, HttpResponse, NoReplyError
from plumbing import log
from simulators.gateway.callbacks import Deliver, http_deliver
from simulators.gateway.faults import GatewayFaults
from simulators.json_http import json_object

logger = log.get(__name__)

Later = Callable[[float, Callable[[], None]], None]
"""Runs an action after a delay in seconds."""

PLATE_ORDER_TTL_S = 600.0
"""A typed plate that no lane order has started within this is forgotten."""


@dataclass
class _Order:
    order: Order
    notify_url: str | None
    description: str
    events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class _PlateOrder:
    plate: PlateOrder
    pay: bool  # the driver pays the order the lane starts from it
    order_id: str | None = None


@dataclass(frozen=True)
class SimAnswer:
    status: int
    payload: dict[str, Any]
    hold: bool = False
    """Do not answer at all (a timeout); the request has taken effect nonetheless."""


class GatewaySim:
    """The simulated gateway's state and request handling, without sockets. Thread-safe."""

    def __init__(
        self,
        *,
        secret: bytes,
        merchant_id: str,
        faults: GatewayFaults | None = None,
        callback_url: str | None = None,
        deliver: Deliver | None = None,
        later: Later | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.merchant_id = merchant_id
        self.faults = faults or GatewayFaults()
        self.callback_url = callback_url
        self.deliver = deliver or http_deliver
        self.later = later or (lambda _delay, action: action())
        self.clock = clock
        self.verifier = Verifier(secret, clock=clock)
        self._rng = random.Random(seed)
        self._orders: dict[str, _Order] = {}
        self._refunds: dict[str, Refund] = {}
        self._callbacks: list[dict[str, Any]] = []
        self._plates: dict[str, _PlateOrder] = {}
        self._refs = itertools.count(1)
        self._plate_ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> SimAnswer:
        """Answer one HTTP request (the API, signed; or a control route)."""
        path = request.path.split("?", 1)[0]
        try:
            body = json_object(request.body)
            if path.startswith("/_sim/") or path == "/":
                return SimAnswer(HTTPStatus.OK, self._control(request.method, path, body))
            action = self._route(request.method, path, body)
            merchant = request.headers.get(H_MERCHANT)
            if merchant != self.merchant_id:
                return SimAnswer(
                    HTTPStatus.UNAUTHORIZED,
                    {"error": f"{H_MERCHANT}: unknown merchant {merchant!r}"},
                )
            self.verifier.verify(request.method, path, request.headers, body)
            with self._lock:
                payload = action()
                hold = self._roll_timeout()
        except SignatureError as exc:
            return SimAnswer(HTTPStatus.UNAUTHORIZED, {"error": str(exc)})
        except _NotFoundError as exc:
            return SimAnswer(HTTPStatus.NOT_FOUND, {"error": str(exc)})
        except _ConflictError as exc:
            return SimAnswer(HTTPStatus.CONFLICT, {"error": str(exc)})
        except ValueError as exc:
            return SimAnswer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        logger.info("gateway_request", method=request.method, path=path, answered=not hold)
        return SimAnswer(HTTPStatus.OK, payload, hold=hold)

    def transport_handler(self, request: HttpRequest) -> HttpResponse:
        """``handle`` as a MockTransport handler: a held answer becomes NoReplyError."""
        answer = self.handle(request)
        if answer.hold:
            raise NoReplyError(f"{request.method} {request.path}: simulated timeout")
        return HttpResponse(answer.status, json.dumps(answer.payload).encode())

    def _roll_timeout(self) -> bool:
        if self.faults.timeout_next > 0:
            self.faults.timeout_next -= 1
            return True
        return self._rng.random() < self.faults.timeout_rate

    def _route(self, method: str, path: str, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        """The action a request asks for, its fields checked (400 before 401, for people with curl)."""
        if (method, path) == ("POST", protocol.ORDERS):
            fields = (
                protocol.id_field(body, "order_id"),
                protocol.amount_field(body),
                protocol.currency_field(body),
                protocol.field(body, "description", str),
                protocol.field(body, "notify_url", str, optional=True),
            )
            typed = protocol.field(body, "plate_order_id", str, optional=True)
            return lambda: self._create(*fields, plate_order_id=typed).to_json()
        if method == "GET" and path.startswith(protocol.LANES + "/"):
            lane_id, _, rest = path.removeprefix(protocol.LANES + "/").partition("/")
            if rest == "plate-orders" and lane_id:
                return lambda: {"plate_orders": self._pending_plates(lane_id)}
        if (method, path) == ("POST", protocol.REFUNDS):
            refund = Refund.from_json(body)
            return lambda: self._refund(refund).to_json()
        if path.startswith(protocol.ORDERS + "/"):
            order_id, _, action = path.removeprefix(protocol.ORDERS + "/").partition("/")
            if method == "GET" and not action:
                return partial(self._query, order_id)
            if method == "POST" and action == "close":
                return lambda: self._close(order_id).to_json()
        if method == "GET" and path.startswith(protocol.REFUNDS + "/"):
            refund_id = path.removeprefix(protocol.REFUNDS + "/")
            return lambda: self._find_refund(refund_id).to_json()
        raise _NotFoundError(f"no route {method} {path}")

    def _create(
        self,
        order_id: str,
        amount: int,
        currency: str,
        description: str,
        notify_url: str | None,
        *,
        plate_order_id: str | None = None,
    ) -> Order:
        typed = self._plates.get(plate_order_id) if plate_order_id else None
        if plate_order_id and typed is None:
            raise _NotFoundError(f"plate_order_id: no plate order {plate_order_id!r}")
        if typed is not None and typed.order_id not in (None, order_id):
            raise _ConflictError(
                f"plate_order_id: {plate_order_id} already started order {typed.order_id}"
            )
        existing = self._orders.get(order_id)
        if existing is not None:
            if (existing.order.amount, existing.order.currency) != (amount, currency):
                raise _ConflictError(
                    f"amount: order {order_id} exists with {existing.order.amount} "
                    f"{existing.order.currency}, not {amount} {currency}"
                )
            return existing.order
        order = Order(
            order_id=order_id,
            amount=amount,
            currency=currency,
            status=OrderStatus.PENDING,
            gateway_ref=f"SIM{next(self._refs):010d}",
            qr_url=f"lwsim://pay/{order_id}",
        )
        self._orders[order_id] = _Order(order, notify_url, description)
        logger.info("order_created", order_id=order_id, amount=amount, currency=currency)
        if self.faults.auto_pay_ms is not None:
            self.later(self.faults.auto_pay_ms / 1000, lambda: self._auto_pay(order_id))
        if typed is not None:
            typed.order_id = order_id
            logger.info("plate_order_started", plate_order_id=plate_order_id, order_id=order_id)
            if typed.pay and self.faults.auto_pay_ms is None:
                self.later(0.0, lambda: self._auto_pay(order_id))  # the driver pays on the phone
        return order

    def _pending_plates(self, lane_id: str) -> list[dict[str, Any]]:
        """The lane's plate orders not started yet; those too old to start are dropped."""
        now = self.clock()
        for key, typed in list(self._plates.items()):
            if typed.order_id is None and now - typed.plate.typed_at > PLATE_ORDER_TTL_S:
                del self._plates[key]
        return [
            t.plate.to_json()
            for t in self._plates.values()
            if t.plate.lane_id == lane_id and t.order_id is None
        ]

    def _query(self, order_id: str) -> dict[str, Any]:
        return self._order(order_id).order.to_json()

    def _find_refund(self, refund_id: str) -> Refund:
        if refund_id not in self._refunds:
            raise _NotFoundError(f"refund_id: no refund {refund_id!r}")
        return self._refunds[refund_id]

    def _order(self, order_id: str) -> _Order:
        if order_id not in self._orders:
            raise _NotFoundError(f"order_id: no order {order_id!r}")
        return self._orders[order_id]

    def _close(self, order_id: str) -> Order:
        sim = self._order(order_id)
        if sim.order.status is OrderStatus.PENDING:
            sim.order = _replace(sim.order, status=OrderStatus.CLOSED)
            logger.info("order_closed", order_id=order_id)
        return sim.order

    def _refund(self, refund: Refund) -> Refund:
        done = self._refunds.get(refund.refund_id)
        if done is not None:
            if (done.order_id, done.amount) != (refund.order_id, refund.amount):
                raise _ConflictError(
                    f"refund_id: {refund.refund_id} exists for {done.amount} of {done.order_id}"
                )
            return done
        sim = self._order(refund.order_id)
        if sim.order.status is not OrderStatus.PAID:
            raise _ConflictError(
                f"order_id: order {refund.order_id} is {sim.order.status.value}, not paid"
            )
        left = sim.order.amount - sim.order.refunded
        if refund.amount > left:
            raise _ConflictError(f"amount: {refund.amount} exceeds the {left} left to refund")
        sim.order = _replace(sim.order, refunded=sim.order.refunded + refund.amount)
        self._refunds[refund.refund_id] = refund
        logger.info(
            "refunded", order_id=refund.order_id, refund_id=refund.refund_id, amount=refund.amount
        )
        return refund

    # -- the customer and the callbacks -----------------------------------------------------------

    def pay(self, order_id: str, late: bool = False) -> Order:
        """The customer pays; ``late``: even though the order was closed (a race at the gateway)."""
        with self._lock:
            sim = self._order(order_id)
            status = sim.order.status
            if not (status is OrderStatus.PENDING or (late and status is OrderStatus.CLOSED)):
                raise _ConflictError(
                    f"order_id: order {order_id} is {status.value}, cannot be paid"
                )
            declined = self._rng.random() < self.faults.decline_rate
            new = OrderStatus.DECLINED if declined else OrderStatus.PAID
            sim.order = _replace(sim.order, status=new)
            forge = self._rng.random() < self.faults.forge_rate
            event_id = f"{order_id}-{next(sim.events)}"
            delay = self.faults.late_callback_s
            copies = 2 if self.faults.duplicate_callbacks else 1
        logger.info("customer_paid", order_id=order_id, status=new.value, late=late)
        for _ in range(copies):
            self.later(delay, lambda: self._send(order_id, event_id, forge=False))
        if forge:
            self.later(delay, lambda: self._send(order_id, event_id, forge=True))
        return sim.order

    def type_plate(self, lane_id: str, plate: str, pay: bool = True) -> PlateOrder:
        """A driver at ``lane_id`` scans the pay-by-plate code and types ``plate``."""
        if not lane_id.strip():
            raise BadMessageError("lane_id: must not be empty")
        with self._lock:
            typed = PlateOrder.from_json(
                {
                    "plate_order_id": f"P{next(self._plate_ids):08d}",
                    "lane_id": lane_id,
                    "plate": plate.strip().upper(),
                    "typed_at": self.clock(),
                }
            )
            self._plates[typed.plate_order_id] = _PlateOrder(typed, pay)
        logger.info("plate_typed", lane_id=lane_id, plate_order_id=typed.plate_order_id)
        return typed

    def _auto_pay(self, order_id: str) -> None:
        try:
            self.pay(order_id)
        except _ConflictError as exc:
            logger.info("auto_pay_skipped", order_id=order_id, reason=str(exc))

    def _send(self, order_id: str, event_id: str, forge: bool) -> None:
        self._notify(order_id, event_id, forge=forge)

    def _notify(
        self,
        order_id: str,
        event_id: str,
        *,
        forge: bool = False,
        amount: int | None = None,
        status: OrderStatus | None = None,
        nonce: str | None = None,
        timestamp_offset_s: float = 0.0,
    ) -> int:
        """Post one callback for the order's state; returns the lane's HTTP status (0: unreachable)."""
        with self._lock:
            sim = self._order(order_id)
            url = sim.notify_url or self.callback_url
            order = sim.order
        if url is None:
            logger.info("callback_skipped", order_id=order_id, reason="no callback URL")
            return 0
        notice = Notice(
            event_id=event_id,
            order_id=order_id,
            status=status or order.status,
            amount=order.amount if amount is None else amount,
            currency=order.currency,
            gateway_ref=order.gateway_ref,
        )
        body = notice.to_json()
        key = b"forged:" + self.secret if forge else self.secret
        path = urllib.parse.urlsplit(url).path or "/"
        now = self.clock() + timestamp_offset_s
        headers = sign(key, self.merchant_id, "POST", path, body, now=now, nonce=nonce)
        code = self.deliver(url, headers, json.dumps(body).encode())
        with self._lock:
            self._callbacks.append(
                {"event_id": event_id, "order_id": order_id, "forged": forge, "answer": code}
            )
        logger.info(
            "callback_sent", order_id=order_id, event_id=event_id, forged=forge, answer=code
        )
        return code

    # -- control routes ------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        route = f"{method} {path}"
        if route == "GET /":
            return {"routes": sorted(_CONTROL_ROUTES + _API_ROUTES)}
        if route == "POST /_sim/pay":
            order_id = protocol.id_field(body, "order_id")
            late = protocol.field(body, "late", bool, optional=True) or False
            return self.pay(order_id, late).to_json()
        if route == "POST /_sim/plate":
            pay = protocol.field(body, "pay", bool, optional=True)
            typed = self.type_plate(
                protocol.field(body, "lane_id", str),
                protocol.field(body, "plate", str),
                True if pay is None else pay,
            )
            return typed.to_json()
        if route == "POST /_sim/callback":
            return {"answer": self._custom_callback(body)}
        if route == "POST /_sim/faults":
            with self._lock:
                self.faults = self.faults.changed(body)
            logger.info("faults_changed", **body)
            return asdict(self.faults)
        if route == "GET /_sim/state":
            return self.state()
        raise _NotFoundError(f"no route {route}")

    def _custom_callback(self, body: dict[str, Any]) -> int:
        order_id = protocol.id_field(body, "order_id")
        status = protocol.status_field(body) if "status" in body else None
        with self._lock:
            event_id = f"{order_id}-{next(self._order(order_id).events)}"
        offset = protocol.field(body, "timestamp_offset_s", (int, float), optional=True)
        return self._notify(
            order_id,
            protocol.field(body, "event_id", str, optional=True) or event_id,
            forge=protocol.field(body, "forge", bool, optional=True) or False,
            amount=protocol.field(body, "amount", int, optional=True),
            status=status,
            nonce=protocol.field(body, "nonce", str, optional=True),
            timestamp_offset_s=float(offset or 0),
        )

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "orders": [o.order.to_json() for o in self._orders.values()],
                "refunds": [r.to_json() for r in self._refunds.values()],
                "callbacks": list(self._callbacks),
                "plate_orders": [
                    t.plate.to_json() | {"order_id": t.order_id, "pay": t.pay}
                    for t in self._plates.values()
                ],
                "faults": asdict(self.faults),
            }

    def kept(self, order_id: str) -> int:
        """Money the gateway keeps for an order: paid minus refunded (0 if unpaid)."""
        with self._lock:
            order = self._order(order_id).order
            return order.amount - order.refunded if order.status is OrderStatus.PAID else 0


_API_ROUTES = [
    "POST /v1/orders",
    "GET /v1/orders/{order_id}",
    "POST /v1/orders/{order_id}/close",
    "POST /v1/refunds",
    "GET /v1/refunds/{refund_id}",
    "GET /v1/lanes/{lane_id}/plate-orders",
]
_CONTROL_ROUTES = [
    "POST /_sim/pay",
    "POST /_sim/plate",
    "POST /_sim/callback",
    "POST /_sim/faults",
    "GET /_sim/state",
]


class _NotFoundError(ValueError):
    pass


class _ConflictError(ValueError):
    pass


def _replace(order: Order, **changes: Any) -> Order:
    return Order(**(asdict(order) | changes))
