"""A small JSON-over-HTTP control endpoint that every simulator exposes.

Technicians (with curl) and traffic scenarios use it to act on the simulated
world: put a vehicle on a loop, show a plate to the camera, break the arm,
switch a fault on. ``GET /`` lists the routes; a route handler takes the JSON
body (a dict) and returns a JSON-serialisable dict. Bad JSON or a handler's
``ValueError`` give HTTP 400 with a message naming the problem, an unknown route
404. The HTTP side is :mod:`simulators.json_http`'s, the checks on a body's
fields :mod:`simulators.route_fields`'.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from plumbing import log
from simulators.json_http import Answer, JsonHttpServer, Request, json_object

Route = Callable[[dict[str, Any]], dict[str, Any]]

logger = log.get(__name__)


class ControlServer:
    """Serves ``routes`` (keyed ``"GET /state"``, ``"POST /loops"``) on a loopback port."""

    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = dict(routes)
        self._http = JsonHttpServer(self.answer, name="sim-control", host=host, port=port)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def answer(self, request: Request) -> Answer:
        """The route's result, 404 for no route, 400 naming what is wrong with the request."""
        key = f"{request.method} {request.path}"
        if key == "GET /":
            return Answer(HTTPStatus.OK, {"routes": sorted(self.routes)})
        route = self.routes.get(key)
        if route is None:
            return Answer(HTTPStatus.NOT_FOUND, {"error": f"no route {key!r}"})
        try:
            body = json_object(request.body)
            result = route(body)
        except ValueError as exc:
            return Answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        if request.method == "GET":  # reads (polled by scenarios) are no news
            logger.debug("control", route=key)
        else:
            logger.info("control", route=key, body=body)
        return Answer(HTTPStatus.OK, result)


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
