"""The payment gateway simulator: its API, its control routes and its command."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from contracts.gateway.protocol import OrderStatus
from edge.payments.gateway import GatewayClient, GatewayRefusedError
from edge.payments.testing import MERCHANT, SECRET, lane_client
from plumbing.testing import wait_until
from simulators.control import ControlClient, ControlError
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer
from simulators.testing import addresses


@pytest.fixture
def server() -> Iterator[GatewayServer]:
    srv = GatewayServer(secret=SECRET, merchant_id=MERCHANT, seed=3)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: GatewayServer) -> GatewayClient:
    return lane_client(server.url)


def raw(server: GatewayServer, method: str, path: str, body: bytes = b"") -> tuple[int, str]:
    """An unsigned request, as a technician's curl sends it."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())["error"]
    finally:
        conn.close()


class TestOrders:
    """Orders are idempotent on their id; a second create with another amount is refused."""

    def test_same_create_returns_the_same_order(self, client: GatewayClient) -> None:
        first = client.create_order("LW1", 800, "CNY", "parking")
        assert client.create_order("LW1", 800, "CNY", "parking again") == first
        assert first.status is OrderStatus.PENDING

    def test_other_amount_is_refused(self, client: GatewayClient) -> None:
        client.create_order("LW1", 800, "CNY", "parking")
        with pytest.raises(
            GatewayRefusedError, match="HTTP 409: amount: order LW1 exists with 800"
        ):
            client.create_order("LW1", 900, "CNY", "parking")

    def test_query_unknown_is_none(self, client: GatewayClient) -> None:
        assert client.query_order("LW404") is None

    def test_close_pending_and_paid(self, server: GatewayServer, client: GatewayClient) -> None:
        client.create_order("LW1", 800, "CNY", "a")
        client.create_order("LW2", 800, "CNY", "b")
        ControlClient(server.url).post("/_sim/pay", {"order_id": "LW2"})
        assert client.close_order("LW1").status is OrderStatus.CLOSED
        assert client.close_order("LW2").status is OrderStatus.PAID

    def test_auto_pay(self, server: GatewayServer, client: GatewayClient) -> None:
        ControlClient(server.url).post("/_sim/faults", {"auto_pay_ms": 1})
        client.create_order("LW1", 800, "CNY", "a")

        def paid() -> bool:
            order = client.query_order("LW1")
            return order is not None and order.status is OrderStatus.PAID

        wait_until(paid, "auto-pay")


class TestRefunds:
    """Refunds are idempotent on their id and never exceed what was paid."""

    def test_refund_once(self, server: GatewayServer, client: GatewayClient) -> None:
        client.create_order("LW1", 800, "CNY", "a")
        ControlClient(server.url).post("/_sim/pay", {"order_id": "LW1"})
        first = client.refund("RF1", "LW1", 500, "fix")
        assert client.refund("RF1", "LW1", 500, "fix") == first
        assert server.sim.kept("LW1") == 300
        with pytest.raises(GatewayRefusedError, match="refund_id: RF1 exists for 500 of LW1"):
            client.refund("RF1", "LW1", 100, "fix")
        with pytest.raises(GatewayRefusedError, match="amount: 400 exceeds the 300 left"):
            client.refund("RF2", "LW1", 400, "fix")

    def test_refund_of_unpaid_order_is_refused(self, client: GatewayClient) -> None:
        client.create_order("LW1", 800, "CNY", "a")
        with pytest.raises(GatewayRefusedError, match="order_id: order LW1 is pending, not paid"):
            client.refund("RF1", "LW1", 800, "fix")


class TestBadRequests:
    """Bad requests get 400 naming the field; unsigned ones 401; unknown routes 404."""

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{nope", "body: not valid JSON"),
            (b"[]", "body: must be a JSON object"),
            (b'{"amount": 5}', "order_id: missing"),
            (
                b'{"order_id": "LW1", "amount": -5}',
                "amount: must be a positive number of minor units, got -5",
            ),
            (b'{"order_id": "LW1", "amount": true}', "amount: expected int, got True"),
            (b'{"order_id": "LW 1", "amount": 5}', "order_id: expected 1-64 characters"),
            (
                b'{"order_id": "LW1", "amount": 5, "currency": "rmb"}',
                "currency: expected an ISO 4217 code",
            ),
            (b'{"order_id": "LW1", "amount": 5, "currency": "CNY"}', "description: missing"),
        ],
    )
    def test_bad_create(self, server: GatewayServer, body: bytes, message: str) -> None:
        status, error = raw(server, "POST", "/v1/orders", body)
        assert status == 400
        assert error.startswith(message)

    def test_unsigned_is_401(self, server: GatewayServer) -> None:
        body = b'{"order_id": "LW1", "amount": 5, "currency": "CNY", "description": "d"}'
        assert raw(server, "POST", "/v1/orders", body) == (
            401,
            "x-lw-merchant: unknown merchant None",
        )

    def test_wrong_secret_is_401(self, server: GatewayServer) -> None:
        client = lane_client(server.url)
        client.secret = b"other"
        with pytest.raises(GatewayRefusedError, match="HTTP 401: signature: bad_signature"):
            client.create_order("LW1", 5, "CNY", "d")

    def test_unknown_route_is_404(self, server: GatewayServer) -> None:
        assert raw(server, "POST", "/v1/nothing", b"{}") == (404, "no route POST /v1/nothing")

    def test_pay_unknown_order(self, server: GatewayServer) -> None:
        with pytest.raises(ControlError, match=r"HTTP 404.*order_id: no order 'LW9'"):
            ControlClient(server.url).post("/_sim/pay", {"order_id": "LW9"})

    def test_pay_twice_is_refused(self, server: GatewayServer, client: GatewayClient) -> None:
        client.create_order("LW1", 800, "CNY", "a")
        control = ControlClient(server.url)
        control.post("/_sim/pay", {"order_id": "LW1"})
        with pytest.raises(ControlError, match=r"HTTP 409.*order LW1 is paid, cannot be paid"):
            control.post("/_sim/pay", {"order_id": "LW1"})

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"decline_rate": 1.5}, "decline_rate: must be between 0 and 1, got 1.5"),
            ({"decline_rate": "high"}, "decline_rate: expected float, got 'high'"),
            ({"timeout_next": 1.5}, "timeout_next: expected int, got 1.5"),
            ({"duplicate_callbacks": 1}, "duplicate_callbacks: expected bool, got 1"),
            ({"colour": 1}, "unknown fault 'colour'"),
        ],
    )
    def test_bad_fault_is_named(
        self, server: GatewayServer, change: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ControlError, match=rf"HTTP 400.*{message}"):
            ControlClient(server.url).post("/_sim/faults", change)

    def test_faults_change_while_running(self, server: GatewayServer) -> None:
        answer = ControlClient(server.url).post(
            "/_sim/faults", {"latency_ms": 1, "late_callback_s": 2}
        )
        assert (answer["latency_ms"], answer["late_callback_s"]) == (1, 2.0)
        assert server.sim.faults == GatewayFaults(latency_ms=1, late_callback_s=2.0)


class TestCommand:
    """``lanewarden sim gateway`` prints its URL first and stops cleanly on SIGTERM."""

    def test_runs_and_stops(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plumbing.cli", "sim", "gateway", "--port", "0", "--seed", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            (url,) = addresses(proc, "payment gateway (and its /_sim control routes)")
            assert url.startswith("http://127.0.0.1:")
            assert "POST /_sim/pay" in ControlClient(url).get("/")["routes"]
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, out
        assert "gateway_sim_stopped" in out

    def test_bad_rate_is_named(self) -> None:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "plumbing.cli",
                "sim",
                "gateway",
                "--port",
                "0",
                "--forge-rate",
                "2",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 2
        assert "forge_rate: must be between 0 and 1, got 2.0" in proc.stderr


class TestPayByPlate:
    """A driver types the plate; the lane finds it, starts its order from it; the driver pays."""

    def test_typed_plate_is_pending_until_an_order_starts_from_it(
        self, server: GatewayServer, client: GatewayClient
    ) -> None:
        sim = ControlClient(server.url)
        typed = sim.post("/_sim/plate", {"lane_id": "riverside-exit", "plate": "皖a12345"})
        assert typed["plate"] == "皖A12345"
        assert client.plate_orders("north-exit") == []
        (pending,) = client.plate_orders("riverside-exit")
        assert (pending.plate_order_id, pending.plate) == (typed["plate_order_id"], "皖A12345")
        client.create_order("LW1", 800, "CNY", "parking", plate_order_id=pending.plate_order_id)
        assert client.plate_orders("riverside-exit") == []
        wait_until(lambda: server.sim.kept("LW1") == 800, "the driver paid on the phone")

    def test_driver_who_does_not_pay_leaves_the_order_pending(
        self, server: GatewayServer, client: GatewayClient
    ) -> None:
        typed = server.sim.type_plate("riverside-exit", "皖A12345", pay=False)
        client.create_order("LW1", 800, "CNY", "parking", plate_order_id=typed.plate_order_id)
        order = client.query_order("LW1")
        assert order is not None
        assert order.status is OrderStatus.PENDING

    def test_unknown_or_reused_plate_order_is_refused(
        self, server: GatewayServer, client: GatewayClient
    ) -> None:
        with pytest.raises(GatewayRefusedError, match="plate_order_id: no plate order"):
            client.create_order("LW1", 800, "CNY", "parking", plate_order_id="P404")
        typed = server.sim.type_plate("riverside-exit", "皖A12345", pay=False)
        client.create_order("LW1", 800, "CNY", "parking", plate_order_id=typed.plate_order_id)
        with pytest.raises(GatewayRefusedError, match="already started order LW1"):
            client.create_order("LW2", 800, "CNY", "parking", plate_order_id=typed.plate_order_id)

    def test_old_plate_orders_are_forgotten(self) -> None:
        from simulators.gateway.state import PLATE_ORDER_TTL_S, GatewaySim

        now = [1000.0]
        sim = GatewaySim(secret=SECRET, merchant_id=MERCHANT, clock=lambda: now[0])
        sim.type_plate("riverside-exit", "皖A12345")
        now[0] += PLATE_ORDER_TTL_S + 1
        assert sim._pending_plates("riverside-exit") == []

    def test_bad_typed_plate_is_refused(self, server: GatewayServer) -> None:
        sim = ControlClient(server.url)
        with pytest.raises(ControlError, match="plate: expected 1-16 characters"):
            sim.post("/_sim/plate", {"lane_id": "riverside-exit", "plate": " "})
        with pytest.raises(ControlError, match="lane_id: missing"):
            sim.post("/_sim/plate", {"plate": "皖A12345"})
