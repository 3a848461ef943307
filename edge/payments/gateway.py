"""The lane's client for a QR payment gateway.

Every call is idempotent on the wire (orders on the order id, refunds on the
refund id), so every call may be retried; retries are bounded by
:class:`~edge.payments.config.RetryConfig` and each one is logged. A create
whose answer never came is resolved by querying the order before trying again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from contracts.gateway import protocol
from contracts.gateway.protocol import BadMessageError, Order, PlateOrder, Refund
from contracts.gateway.signing import WallClock, sign
from contracts.gateway.transport import (
    ConnectError,
    HttpRequest,
    HttpTransport,
    NoReplyError,
    Transport,
    TransportError,
)
from edge.payments.config import GatewayConfig, RetryConfig
from plumbing import log

logger = log.get(__name__)

T = TypeVar("T")


class GatewayError(Exception):
    """A gateway call did not give a usable answer."""


class GatewayDownError(GatewayError):
    """Every try failed to reach the gateway or got a 5xx.

    ``maybe_done`` is False only when no try was delivered (all connections
    refused): then the call certainly had no effect.
    """

    def __init__(self, message: str, maybe_done: bool) -> None:
        self.maybe_done = maybe_done
        super().__init__(message)


class GatewayRefusedError(GatewayError):
    """The gateway answered 4xx: retrying would not help (bad secret, amount conflict)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


class GatewayClient:
    def __init__(
        self,
        transport: Transport,
        *,
        merchant_id: str,
        secret: bytes,
        base_path: str = "",
        retry: RetryConfig | None = None,
        clock: WallClock = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.merchant_id = merchant_id
        self.secret = secret
        self.base_path = base_path.rstrip("/")
        self.retry = retry or RetryConfig()
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def from_config(
        cls, config: GatewayConfig, environ: Mapping[str, str], transport: Transport | None = None
    ) -> GatewayClient:
        """A client for ``config``; ``transport`` replaces HTTP (tests, in-process simulator)."""
        transport = transport or HttpTransport(
            config.base_url, config.connect_timeout_s, config.read_timeout_s
        )
        return cls(
            transport,
            merchant_id=config.merchant_id,
            secret=config.secret_bytes(environ),
            base_path=urlsplit(config.base_url).path,
            retry=config.retry,
        )

    # -- the four operations ---------------------------------------------------------------

    def create_order(
        self,
        order_id: str,
        amount: int,
        currency: str,
        description: str,
        notify_url: str | None = None,
        *,
        plate_order_id: str | None = None,
    ) -> Order:
        """Create the order, or get it back if it already exists with the same amount.

        ``plate_order_id`` starts it from a plate the driver typed (pay by plate).
        """
        body: dict[str, Any] = {
            "order_id": order_id,
            "amount": amount,
            "currency": currency,
            "description": description,
        }
        if notify_url:
            body["notify_url"] = notify_url
        if plate_order_id:
            body["plate_order_id"] = plate_order_id

        def attempt() -> Order:
            try:
                return Order.from_json(self._send("POST", protocol.ORDERS, body))
            except NoReplyError:
                # The order may exist now: ask before creating it again.
                logger.warning("gateway_create_unanswered", order_id=order_id)
                found = self._query_once(order_id)
                if found is None:
                    raise
                return found

        return self._retrying(f"create {order_id}", attempt)

    def query_order(self, order_id: str) -> Order | None:
        """The order as the gateway has it; None when the gateway does not know it."""
        return self._retrying(f"query {order_id}", lambda: self._query_once(order_id))

    def close_order(self, order_id: str) -> Order:
        """Close a pending order; the answer says ``paid`` if the payment came first."""
        path = f"{protocol.ORDERS}/{order_id}/close"
        return self._retrying(
            f"close {order_id}", lambda: Order.from_json(self._send("POST", path, {}))
        )

    def plate_orders(self, lane_id: str) -> list[PlateOrder]:
        """Plates typed for ``lane_id`` on the gateway's page that no order has started yet."""
        path = protocol.plate_orders_path(lane_id)

        def attempt() -> list[PlateOrder]:
            answer = self._send("GET", path, {})
            items = protocol.field(answer, "plate_orders", list)
            return [PlateOrder.from_json(item) for item in items if isinstance(item, dict)]

        return self._retrying(f"plate orders of {lane_id}", attempt)

    def refund(self, refund_id: str, order_id: str, amount: int, reason: str) -> Refund:
        body = {"refund_id": refund_id, "order_id": order_id, "amount": amount, "reason": reason}
        return self._retrying(
            f"refund {refund_id}",
            lambda: Refund.from_json(self._send("POST", protocol.REFUNDS, body)),
        )

    # -- plumbing ------------------------------------------------------------------------------

    def _query_once(self, order_id: str) -> Order | None:
        try:
            return Order.from_json(self._send("GET", f"{protocol.ORDERS}/{order_id}", {}))
        except GatewayRefusedError as exc:
            if exc.status == 404:
                return None
            raise

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        maybe_done = False
        last = ""
        for n in range(1, self.retry.attempts + 1):
            if n > 1:
                pause = self.retry.delay(n - 1)
                logger.warning("gateway_retry", call=what, attempt=n, after_s=pause, cause=last)
                self.sleep(pause)
            try:
                return call()
            except ConnectError as exc:
                last = str(exc)
            except (NoReplyError, _ServerError) as exc:
                maybe_done = True
                last = str(exc)
            except BadMessageError as exc:
                raise GatewayRefusedError(502, f"{what}: malformed answer: {exc}") from None
        logger.error("gateway_unavailable", call=what, attempts=self.retry.attempts, cause=last)
        raise GatewayDownError(
            f"{what}: gateway unavailable after {self.retry.attempts} tries: {last}", maybe_done
        )

    def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        full = self.base_path + path
        headers = sign(self.secret, self.merchant_id, method, full, body, now=self.clock())
        data = json.dumps(body).encode() if method != "GET" else b""
        response = self.transport.send(HttpRequest(method, full, headers, data))
        try:
            payload = json.loads(response.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = {"error": response.body[:200].decode(errors="replace")}
        if not isinstance(payload, dict):
            raise _ServerError(f"{method} {full}: answer is not a JSON object")
        if response.status >= 500:
            raise _ServerError(f"{method} {full}: HTTP {response.status}: {payload}")
        if response.status >= 400:
            raise GatewayRefusedError(response.status, str(payload.get("error", payload)))
        return payload


class _ServerError(TransportError):
    """A 5xx or an unreadable answer: the gateway may have acted; retry."""
