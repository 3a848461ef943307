"""Rigs shared by the payment tests: the lane's payment side wired to the gateway simulator.

``real_rig`` runs everything over loopback HTTP (simulator, callback receiver);
``InProcessRig`` wires the same objects without sockets or threads, for
property tests. This module holds no tests.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts.gateway.signing import Verifier
from contracts.gateway.transport import HttpRequest, HttpTransport, MockTransport
from edge.payments.config import RetryConfig
from edge.payments.gateway import GatewayClient
from edge.payments.outcome import PaymentEvent, PaymentRequest
from edge.payments.qr import QrPayments
from edge.payments.receiver import CallbackReceiver
from simulators.control import ControlClient
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer
from simulators.gateway.state import GatewaySim

SECRET = b"test-secret"
MERCHANT = "m-test"
FAST_RETRY = RetryConfig(attempts=2, backoff_s=0.01, backoff_max_s=0.02)


def request(amount: int = 800, plate: str | None = "粤B12345") -> PaymentRequest:
    return PaymentRequest(
        txn_id=str(uuid.uuid4()),
        plate=plate,
        amount=amount,
        currency="CNY",
        description="parking",
        at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds (asynchronous callbacks); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def refused_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Rig:
    server: GatewayServer
    receiver: CallbackReceiver
    client: GatewayClient
    qr: QrPayments
    control: ControlClient
    events: list[PaymentEvent] = field(default_factory=list)

    @property
    def sim(self) -> GatewaySim:
        return self.server.sim


def lane_client(base_url: str, read_timeout_s: float = 0.3) -> GatewayClient:
    transport = HttpTransport(base_url, connect_timeout_s=0.5, read_timeout_s=read_timeout_s)
    return GatewayClient(transport, merchant_id=MERCHANT, secret=SECRET, retry=FAST_RETRY)


@contextmanager
def real_rig(
    faults: GatewayFaults | None = None,
    *,
    callbacks: bool = True,
    query_schedule_s: tuple[float, ...] = (0.05,),
) -> Iterator[Rig]:
    """Simulator and callback receiver on loopback; the lane's QR payments between them."""
    server = GatewayServer(secret=SECRET, merchant_id=MERCHANT, faults=faults, seed=7)
    server.start()
    events: list[PaymentEvent] = []
    client = lane_client(server.url)
    qr = QrPayments(client, query_schedule_s=query_schedule_s, events=events.append)
    receiver = CallbackReceiver(Verifier(SECRET), qr.on_notice, events.append, path="/cb")
    receiver.start()
    if callbacks:
        qr.notify_url = receiver.url
    try:
        yield Rig(server, receiver, client, qr, ControlClient(server.url), events)
    finally:
        receiver.stop()
        server.stop()


class InProcessRig:
    """The simulator reached through a MockTransport; callbacks queued and run by hand."""

    def __init__(self, faults: GatewayFaults | None = None) -> None:
        self.queued: list[Callable[[], None]] = []
        self.events: list[PaymentEvent] = []
        self.sim = GatewaySim(
            secret=SECRET,
            merchant_id=MERCHANT,
            faults=faults,
            deliver=self._deliver,
            later=lambda _delay, action: self.queued.append(action),
            seed=1,
        )
        client = GatewayClient(
            MockTransport(self.sim.transport_handler),
            merchant_id=MERCHANT,
            secret=SECRET,
            retry=FAST_RETRY,
            sleep=lambda _s: None,
        )
        self.qr = QrPayments(
            client, query_schedule_s=(1.0,), events=self.events.append, notify_url="http://lane/cb"
        )
        self.receiver = CallbackReceiver(
            Verifier(SECRET), self.qr.on_notice, self.events.append, path="/cb"
        )

    def _deliver(self, url: str, headers: dict[str, str], body: bytes) -> int:
        status, _ = self.receiver.handle("POST", "/cb", headers, body)
        return status

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.sim.handle(HttpRequest("POST", path, {}, json.dumps(body).encode()))
        assert answer.status == 200, answer.payload
        return answer.payload
