"""JSON over HTTP for the simulators: one server thread, one way to read a request and answer.

The control endpoint every simulator exposes (:mod:`simulators.control`) and the
payment gateway simulator (:mod:`simulators.gateway.server`) both take a JSON
object and answer one. What differs between them is only what a request means,
so they each give :class:`JsonHttpServer` a ``handle`` function from
:class:`Request` to :class:`Answer`; reading the body, refusing a bad one with a
400 naming what is wrong, and writing the answer are here, once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from plumbing import log

logger = log.get(__name__)


class BadRequestError(ValueError):
    """A request that cannot be acted on; the message names what is wrong (HTTP 400)."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    """The path as sent, query included."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(frozen=True)
class Answer:
    status: int
    payload: Mapping[str, Any]


Handle = Callable[[Request], Answer | None]
"""Answers a request; ``None``: no answer, the connection closes (the gateway's simulated timeout)."""


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (empty: ``{}``); BadRequestError saying what it is instead."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"body: not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequestError(f"body: must be a JSON object, got {type(body).__name__}")
    return body


def content_length(value: str | None) -> int:
    """The Content-Length header as a byte count; BadRequestError for anything else."""
    if value is None or not value.strip():
        return 0
    try:
        length = int(value)
    except ValueError:
        length = -1
    if length < 0:
        raise BadRequestError(f"Content-Length: expected a number of bytes, got {value!r}")
    return length


class JsonHttpServer:
    """Serves ``handle`` on a port, one thread per request, until ``stop``.

    ``wait_for_requests``: ``stop`` waits for requests still being answered
    (their threads must see the owner stopping); otherwise they are left to die
    with the process, as a control endpoint's may.
    """

    def __init__(
        self,
        handle: Handle,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        wait_for_requests: bool = False,
    ) -> None:
        self.handle = handle
        self.name = name
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = not wait_for_requests
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("http_request", server=server.name, line=format % args)

            def _dispatch(self, method: str) -> None:
                try:
                    length = content_length(self.headers.get("Content-Length"))
                except BadRequestError as exc:
                    self.close_connection = True  # the body's end is unknown
                    self._reply(Answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)}))
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(method, self.path, headers, self.rfile.read(length))
                answer = server.handle(request)
                if answer is not None:
                    self._reply(answer)

            def _reply(self, answer: Answer) -> None:
                data = json.dumps(answer.payload, ensure_ascii=False).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
