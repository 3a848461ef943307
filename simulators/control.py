"""A small JSON-over-HTTP control endpoint that every simulator exposes.

Technicians (with curl) and traffic scenarios use it to act on the simulated
world: put a vehicle on a loop, show a plate to the camera, break the arm,
switch a fault on. ``GET /`` lists the routes; a route handler takes the JSON
body (a dict) and returns a JSON-serialisable dict. Bad JSON, an unknown route
or a handler's ``ValueError`` give HTTP 400 with a message naming the problem.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from plumbing import log

Route = Callable[[dict[str, Any]], dict[str, Any]]

logger = log.get(__name__)


class ControlServer:
    """Serves ``routes`` (keyed ``"GET /state"``, ``"POST /loops"``) on a loopback port."""

    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = dict(routes)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll
            name="sim-control",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

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
                logger.debug("control_request", line=format % args)

            def _dispatch(self, method: str) -> None:
                key = f"{method} {self.path.split('?', 1)[0]}"
                if key == "GET /":
                    self._reply(HTTPStatus.OK, {"routes": sorted(server.routes)})
                    return
                route = server.routes.get(key)
                if route is None:
                    self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {key!r}"})
                    return
                try:
                    body = self._body()
                    result = route(body)
                except ValueError as exc:
                    self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                    return
                if method == "GET":  # reads (polled by scenarios) are no news
                    logger.debug("control", route=key)
                else:
                    logger.info("control", route=key, body=body)
                self._reply(HTTPStatus.OK, result)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                if not length:
                    return {}
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ValueError(f"body is not valid JSON: {exc}") from None
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                return body

            def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class ControlError(Exception):
    """A simulator's control endpoint refused a request or could not be reached."""


class ControlClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body or {}).encode() if method != "GET" else None
        request = urllib.request.Request(  # noqa: S310 - URL is a simulator the user named
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise ControlError(f"{method} {self.url}{path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ControlError(f"{method} {self.url}{path}: {exc}") from None
        return result

    def get(self, path: str) -> dict[str, Any]:
        return self.call("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("POST", path, body)
