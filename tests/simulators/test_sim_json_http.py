"""The simulators' one JSON-over-HTTP helper and the checks on a control route's body."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from simulators.json_http import Answer, BadRequestError, JsonHttpServer, Request, json_object
from simulators.route_fields import bool_field, check_fields, one_bool, only_keys, optional_bool


def _echo(request: Request) -> Answer | None:
    """Answers with what it was sent; a request for /silent gets no answer at all."""
    if request.path == "/silent":
        return None
    body = json_object(request.body) if request.method != "GET" else {}
    return Answer(200, {"method": request.method, "target": request.target, "body": body})


@pytest.fixture
def server() -> Iterator[JsonHttpServer]:
    srv = JsonHttpServer(_echo, name="test-json-http")
    srv.start()
    yield srv
    srv.stop()


def _send(
    srv: JsonHttpServer, method: str, target: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, Any]]:
    host, port = srv.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.putrequest(method, target)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class TestJsonHttpServer:
    """A handle function gets the request whole; a body it cannot read is refused before it."""

    def test_request_reaches_the_handle_with_its_query(self, server: JsonHttpServer) -> None:
        status, payload = _send(server, "POST", "/x?y=1", b'{"a": 1}')
        assert (status, payload) == (
            200,
            {"method": "POST", "target": "/x?y=1", "body": {"a": 1}},
        )

    def test_delete_is_served(self, server: JsonHttpServer) -> None:
        assert _send(server, "DELETE", "/vehicle")[1]["method"] == "DELETE"

    @pytest.mark.parametrize("length", ["many", "-3"])
    def test_bad_content_length_is_400_naming_it(self, server: JsonHttpServer, length: str) -> None:
        status, payload = _send(server, "POST", "/x", **{"Content-Length": length})
        assert status == 400
        assert payload == {"error": f"Content-Length: expected a number of bytes, got {length!r}"}

    def test_no_answer_closes_the_connection(self, server: JsonHttpServer) -> None:
        with pytest.raises(http.client.RemoteDisconnected):
            _send(server, "GET", "/silent")


class TestJsonObject:
    """A body is a JSON object or nothing; anything else is named."""

    def test_empty_is_an_empty_object(self) -> None:
        assert json_object(b"") == {}

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (b"{nope", "body: not valid JSON: Expecting property name"),
            (b"\xff", "body: not valid JSON: 'utf-8' codec"),
            (b"[1, 2]", "body: must be a JSON object, got list"),
            (b'"on"', "body: must be a JSON object, got str"),
        ],
    )
    def test_refused(self, raw: bytes, message: str) -> None:
        with pytest.raises(BadRequestError, match=message):
            json_object(raw)


KINDS: dict[str, tuple[type, ...]] = {
    "delay_ms": (int,),
    "rate": (float,),
    "silent": (bool,),
    "seed": (int, type(None)),
}


class TestRouteFields:
    """Each check names the field and what it wanted; true is no number, 1 is a float."""

    def test_good_body_passes(self) -> None:
        check_fields({"delay_ms": 5, "rate": 1, "silent": False, "seed": None}, KINDS)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"slow": 1},
                "unknown fault 'slow'; expected some of ['delay_ms', 'rate', 'seed', 'silent']",
            ),
            ({"delay_ms": True}, "delay_ms: expected int, got True"),
            ({"delay_ms": 1.5}, "delay_ms: expected int, got 1.5"),
            ({"rate": "high"}, "rate: expected float, got 'high'"),
            ({"silent": 1}, "silent: expected bool, got 1"),
            ({"seed": "x"}, "seed: expected int or null, got 'x'"),
        ],
    )
    def test_check_fields_refuses(self, body: dict[str, Any], message: str) -> None:
        with pytest.raises(BadRequestError) as caught:
            check_fields(body, KINDS, what="fault")
        assert str(caught.value) == message

    def test_only_keys(self) -> None:
        only_keys({"plate": "A1"}, "plate", "image")
        with pytest.raises(
            BadRequestError, match=r"unknown key 'plat'; expected some of \['image', 'plate'\]"
        ):
            only_keys({"plat": "A1"}, "plate", "image")

    def test_bool_field(self) -> None:
        assert bool_field({}, "unreadable", default=False) is False
        assert bool_field({"dark": True}, "dark") is True
        with pytest.raises(BadRequestError, match="dark: expected true or false, got nothing"):
            bool_field({}, "dark")
        with pytest.raises(BadRequestError, match="dark: expected true or false, got 'on'"):
            bool_field({"dark": "on"}, "dark")

    def test_optional_bool(self) -> None:
        assert optional_bool({"arming": None}, "arming") is None
        assert optional_bool({}, "arming") is None
        with pytest.raises(BadRequestError, match="arming: expected true, false or null, got 0"):
            optional_bool({"arming": 0}, "arming")

    def test_one_bool_takes_no_other_key(self) -> None:
        assert one_bool({"broken": True}, "broken") is True
        with pytest.raises(BadRequestError, match="unknown key 'why'"):
            one_bool({"broken": True, "why": "test"}, "broken")
