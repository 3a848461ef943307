"""How gateway requests travel: a small seam between the client and the network.

``HttpTransport`` talks HTTP(S) with the standard library; ``MockTransport`` hands
each request to a function (a fake gateway, or the simulator's request handler
in-process), in the manner of httpx's MockTransport. The client never learns
which one it has.

A transport tells two failures apart, because they mean different things for
money: ``ConnectError`` (the request never reached the gateway, so nothing was
done) and ``NoReplyError`` (it was sent but no answer came: it may have been done,
and only a query can tell).
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""


class TransportError(Exception):
    """The gateway could not be asked or did not answer."""


class ConnectError(TransportError):
    """No connection: the request was not delivered, so it had no effect."""


class NoReplyError(TransportError):
    """The request was sent but the answer never came: it may have taken effect."""


class Transport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...


class HttpTransport:
    """HTTP/1.1 over ``http.client``, one connection per request.

    ``connect_timeout_s`` bounds the TCP connect; ``read_timeout_s`` bounds each
    wait for the answer.
    """

    def __init__(self, base_url: str, connect_timeout_s: float, read_timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url: expected http(s)://host[:port], got {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout_s)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)

    def send(self, request: HttpRequest) -> HttpResponse:
        conn = self._connection()
        try:
            try:
                conn.connect()
            except OSError as exc:
                raise ConnectError(f"{self.host}:{self.port}: {exc}") from None
            if conn.sock is None:
                raise ConnectError(f"{self.host}:{self.port}: no socket after connect")
            conn.sock.settimeout(self.read_timeout_s)
            headers = {"Content-Type": "application/json", **request.headers}
            try:
                conn.request(request.method, request.path, body=request.body, headers=headers)
                response = conn.getresponse()
                return HttpResponse(response.status, response.read())
            except TimeoutError:
                raise NoReplyError(
                    f"{request.method} {request.path}: no answer in {self.read_timeout_s} s"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise NoReplyError(f"{request.method} {request.path}: {exc!r}") from None
        finally:
            conn.close()


class MockTransport:
    """Hands every request to ``handler``; the handler may raise a TransportError."""

    def __init__(self, handler: Callable[[HttpRequest], HttpResponse]) -> None:
        self.handler = handler

    def send(self, request: HttpRequest) -> HttpResponse:
        return self.handler(request)
