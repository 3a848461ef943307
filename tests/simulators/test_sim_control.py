"""The simulators' JSON control endpoint."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from simulators.control import ControlClient, ControlError, ControlServer
from simulators.running import announce


@pytest.fixture
def server() -> Iterator[ControlServer]:
    state: dict[str, Any] = {"arming": False}

    def set_loops(body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("arming"), bool):
            raise ValueError("arming: expected true or false")
        state["arming"] = body["arming"]
        return dict(state)

    srv = ControlServer({"POST /loops": set_loops, "GET /state": lambda _: dict(state)})
    srv.start()
    yield srv
    srv.stop()


class TestControl:
    """Routes answer JSON; bad requests get a 400 naming the fault."""

    def test_route_changes_state(self, server: ControlServer) -> None:
        client = ControlClient(server.url)
        assert client.post("/loops", {"arming": True}) == {"arming": True}
        assert client.get("/state") == {"arming": True}

    def test_lists_routes(self, server: ControlServer) -> None:
        assert ControlClient(server.url).get("/")["routes"] == ["GET /state", "POST /loops"]

    def test_bad_value_is_400_with_reason(self, server: ControlServer) -> None:
        with pytest.raises(ControlError, match=r"HTTP 400.*arming: expected true or false"):
            ControlClient(server.url).post("/loops", {"arming": "yes"})

    def test_unknown_route_is_404(self, server: ControlServer) -> None:
        with pytest.raises(ControlError, match=r"HTTP 404.*no route 'POST /nope'"):
            ControlClient(server.url).post("/nope")

    def test_unreachable_simulator(self) -> None:
        with pytest.raises(ControlError, match=r"127\.0\.0\.1:9"):
            ControlClient("http://127.0.0.1:9", timeout=1).get("/state")


class TestAnnounce:
    """A simulator says where to reach it as `what: address` lines, the address one word."""

    def test_lines(self) -> None:
        out = io.StringIO()
        announce(
            ("camera stream (MJPEG)", "http://127.0.0.1:1/stream.mjpg"), ("control", "x"), out=out
        )
        assert (
            out.getvalue() == "camera stream (MJPEG): http://127.0.0.1:1/stream.mjpg\ncontrol: x\n"
        )

    @pytest.mark.parametrize("address", ["", "/dev/tty 9600"])
    def test_address_of_more_or_less_than_one_word_refused(self, address: str) -> None:
        with pytest.raises(ValueError, match="serial port: an address is one word"):
            announce(("serial port", address), out=io.StringIO())
