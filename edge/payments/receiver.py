"""The lane's endpoint for the gateway's signed callbacks.

Each callback is checked (signature, freshness, nonce), parsed, and handed to
the payment flow (:meth:`QrPayments.on_notice`). Refusals are counted by reason
and reported as alarms through the event sink. Answers: 200 when the callback
is taken (duplicates included, so the gateway stops resending), 401 for a
signature problem, 400 for a malformed body or a wrong amount, 404 for an
order the lane does not know.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from contracts.gateway.protocol import BadMessageError, Notice
from contracts.gateway.signing import SignatureError, Verifier
from edge.payments.outcome import AlarmKind, EventSink, NoticeVerdict, PaymentAlarm
from plumbing import log

logger = log.get(__name__)

MAX_BODY = 64 * 1024

_VERDICT_STATUS = {
    NoticeVerdict.WRONG_AMOUNT: HTTPStatus.BAD_REQUEST,
    NoticeVerdict.UNKNOWN_ORDER: HTTPStatus.NOT_FOUND,
}
_VERDICT_ALARM = {
    NoticeVerdict.WRONG_AMOUNT: AlarmKind.WRONG_AMOUNT,
    NoticeVerdict.UNKNOWN_ORDER: AlarmKind.UNKNOWN_ORDER,
}


class CallbackReceiver:
    """Verifies callbacks posted to ``path`` and hands them to ``on_notice``.

    ``counts`` holds how many callbacks ended each way (``accepted``,
    ``duplicate``, ``bad_signature``, ``replayed``, ``wrong_amount``...).
    """

    def __init__(
        self,
        verifier: Verifier,
        on_notice: Callable[[Notice], NoticeVerdict],
        events: EventSink,
        *,
        path: str = "/payments/notify",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.verifier = verifier
        self.on_notice = on_notice
        self.events = events
        self.path = path
        self.counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the core, without HTTP --------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Answer one callback: (HTTP status, JSON body)."""
        if method != "POST" or path != self.path:
            return HTTPStatus.NOT_FOUND, {"error": f"no route {method} {path}"}
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._refuse(AlarmKind.MALFORMED, f"body is not valid JSON: {exc}", None)
        if not isinstance(body, dict):
            return self._refuse(AlarmKind.MALFORMED, "body must be a JSON object", None)
        order_id = body.get("order_id") if isinstance(body.get("order_id"), str) else None
        try:
            self.verifier.verify(method, path, headers, body)
        except SignatureError as exc:
            return self._refuse(AlarmKind(f"callback_{exc.reason.value}"), str(exc), order_id)
        try:
            notice = Notice.from_json(body)
        except BadMessageError as exc:
            return self._refuse(AlarmKind.MALFORMED, str(exc), order_id)
        verdict = self.on_notice(notice)
        self._count(verdict.value)
        logger.info(
            "payment_callback",
            order_id=notice.order_id,
            status=notice.status.value,
            event_id=notice.event_id,
            verdict=verdict.value,
        )
        if verdict.taken:
            return HTTPStatus.OK, {"ok": True, "result": verdict.value}
        detail = (
            f"{verdict.value}: order {notice.order_id}, amount {notice.amount} {notice.currency}"
        )
        self._alarm(_VERDICT_ALARM[verdict], detail, notice.order_id)
        return _VERDICT_STATUS[verdict], {"error": detail}

    def _refuse(
        self, kind: AlarmKind, detail: str, order_id: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._count(kind.value.removeprefix("callback_"))
        self._alarm(kind, detail, order_id)
        status = HTTPStatus.BAD_REQUEST if kind is AlarmKind.MALFORMED else HTTPStatus.UNAUTHORIZED
        return status, {"error": detail}

    def _count(self, key: str) -> None:
        with self._counts_lock:
            self.counts[key] += 1

    def _alarm(self, kind: AlarmKind, detail: str, order_id: str | None) -> None:
        logger.error("payment_callback_refused", kind=kind.value, detail=detail, order_id=order_id)
        self.events(PaymentAlarm(kind, detail, order_id))

    # -- the HTTP server ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The callback URL on the bound address (after start)."""
        if self._server is None:
            raise RuntimeError("callback receiver not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                    return
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = receiver.handle("POST", self.path, headers, raw)
                self._reply(status, payload)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("callback_request", line=format % args)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(self._address, Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="payment-callbacks",
            daemon=True,
        )
        self._thread.start()
        logger.info("callback_receiver_started", url=self.url)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
