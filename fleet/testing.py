"""A lane daemon on fake devices with the gateway simulator, for tests and commissioning.

Public API (as ``structlog.testing`` is): the rigs that join the lane's side
(:mod:`edge.daemon.testing`, :mod:`edge.payments.testing`) to the gateway
simulator live here, in the top layer, because edge never imports the
simulators.

- :class:`Gateway` is the gateway simulator reached in process through a
  ``MockTransport``; :class:`FakeLane` runs a
  :class:`~edge.daemon.lane_daemon.LaneDaemon` on fake devices and that gateway,
  driven through the devices' knobs (:meth:`FakeLane.arrive`,
  :meth:`FakeLane.drive_through`); :func:`exit_lane` and :func:`run` set one up
  and play a scenario on it.
- :func:`real_rig` (loopback HTTP, threads) and :class:`InProcessRig` (no
  sockets, callbacks run by hand) wire the lane's QR payments to the simulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from contracts.gateway.signing import Verifier
from contracts.gateway.transport import ConnectError, HttpRequest, HttpResponse, MockTransport
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from drivers.interfaces import Position
from edge.config.lane import LaneFiles, load_lane
from edge.daemon.executor import StepLog
from edge.daemon.lane_daemon import DaemonOptions, LaneDaemon
from edge.daemon.testing import (
    FAST,
    PAYMENTS_QR,
    PLATE,
    BookRecognition,
    Devices,
    image_of,
    lane_files,
    seed_entry,
    terminal_exit,
)
from edge.payments.gateway import GatewayClient
from edge.payments.ids import order_id_for
from edge.payments.outcome import PaymentEvent
from edge.payments.qr import QrPayments
from edge.payments.receiver import CallbackReceiver
from edge.payments.testing import FAST_RETRY, MERCHANT, SECRET, lane_client
from edge.store import Store
from models.config import RecognitionConfig
from plumbing.testing import settle
from simulators.control import ControlClient
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer
from simulators.gateway.state import GatewaySim


class Gateway:
    """The gateway simulator without sockets, reached through a ``MockTransport``.

    Delayed work (callbacks) is done at once; callbacks go straight to the lane's
    receiver. ``down`` makes every request fail to connect; ``before`` sees each
    request that reaches the gateway first (a customer who pays just then).
    """

    def __init__(self, faults: GatewayFaults | None = None) -> None:
        self.sim = GatewaySim(
            secret=SECRET, merchant_id=MERCHANT, faults=faults, deliver=self._deliver, seed=3
        )
        self.down = False
        self.before: Callable[[HttpRequest], None] | None = None
        self.receiver: CallbackReceiver | None = None
        self.transport = MockTransport(self._handle)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        if self.down:
            raise ConnectError(f"{request.method} {request.path}: connection refused")
        if self.before is not None:
            self.before(request)
        return self.sim.transport_handler(request)

    def _deliver(self, url: str, headers: dict[str, str], body: bytes) -> int:
        if self.receiver is None:
            return 503
        status, _ = self.receiver.handle("POST", urlsplit(url).path, headers, body)
        return status

    def orders(self, status: str | None = None) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.sim.state()["orders"]
        return [o for o in orders if status is None or o["status"] == status]

    def kept(self) -> int:
        """Money the gateway keeps over every order (paid minus refunded)."""
        return sum(self.sim.kept(o["order_id"]) for o in self.orders())


class FakeLane:
    """A daemon on fake devices, driven from the test through the devices' knobs."""

    def __init__(
        self,
        files: LaneFiles,
        *,
        gateway: Gateway | None = None,
        plates: dict[int, str] | None = None,
        devices: Devices | None = None,
        options: DaemonOptions | None = None,
        step_log: StepLog | None = None,
    ) -> None:
        self.files = files
        self.gateway = gateway or Gateway()
        self.devices = devices or Devices()
        self.plates = plates if plates is not None else {1: PLATE}
        self.reader: BookRecognition | None = None
        self.daemon = LaneDaemon(
            files,
            environ={},
            drivers=self.devices.lane_drivers(),
            recognition=self._recognition,
            transport=self.gateway.transport,
            options=options or FAST,
            step_log=step_log,
        )

    def _recognition(self, config: RecognitionConfig) -> BookRecognition:
        self.reader = BookRecognition(self.plates, config)
        return self.reader

    async def start(self) -> None:
        await self.daemon.start()
        self.gateway.receiver = self.daemon.payments.receiver

    async def settle(
        self, condition: Callable[[], bool], what: str, timeout_s: float = 15.0
    ) -> None:
        """Let the lane work until ``condition()`` holds; fail naming ``what``."""
        await settle(condition, what, timeout_s)

    async def arrive(self, plate_index: int = 1) -> None:
        """A vehicle drives onto the arming loop showing its plate."""
        self.devices.camera.show(image_of(plate_index))
        self.devices.loops.set(arming=True)

    async def drive_through(self) -> None:
        """The vehicle in front of the open barrier drives over the safety loop and away."""
        loops = self.devices.loops
        loops.set(safety=True)
        await asyncio.sleep(0.02)
        loops.set(arming=False)
        self.devices.camera.show(image_of(0))
        await asyncio.sleep(0.02)
        loops.set(safety=False)

    def records(self) -> list[TransactionRecord]:
        """Every version of every transaction of the lane, in lane_seq order."""
        with Store.open(self.files.lane.store) as store:
            return store.transactions(self.files.lane.id, 1, 10_000)

    def latest(self) -> list[TransactionRecord]:
        """The latest version of every transaction of the lane, in order of first record."""
        latest: dict[UUID, TransactionRecord] = {}
        for record in self.records():
            latest[record.id] = record
        return list(latest.values())

    def events(self, kind: str | None = None) -> list[LaneEventRecord]:
        """The lane's events (of ``kind``), in lane_seq order."""
        with Store.open(self.files.lane.store) as store:
            events = store.events(self.files.lane.id, 1, 10_000)
        return [e for e in events if kind is None or e.kind == kind]


Scenario = Callable[[FakeLane], Awaitable[None]]


def run(lane: FakeLane, scenario: Scenario) -> None:
    """Start the lane, play the scenario, stop the lane (whatever happened)."""

    async def main() -> None:
        await lane.start()
        try:
            await scenario(lane)
        finally:
            await lane.daemon.stop()

    asyncio.run(main())


def exit_lane(
    folder: Path,
    *,
    postpay: str = "never",
    faults: GatewayFaults | None = None,
    policy: str = "",
    extra: str = "",
    devices: Devices | None = None,
    entry: bool = True,
) -> FakeLane:
    """A parking exit paying by QR; the customer pays at once unless ``faults`` say otherwise."""
    path = lane_files(
        folder,
        policy=policy,
        extra=PAYMENTS_QR.format(postpay=postpay, gateway="http://gateway.test") + extra,
    )
    if entry:
        seed_entry(folder / "site.db")
    gateway = Gateway(faults or GatewayFaults(auto_pay_ms=1))
    return FakeLane(load_lane(path), gateway=gateway, devices=devices)


def barrier_is(lane: FakeLane, position: Position) -> Callable[[], bool]:
    """A condition for :meth:`FakeLane.settle`: the barrier stands at ``position``."""
    return lambda: lane.devices.barrier.position() is position


async def one_vehicle(lane: FakeLane) -> None:
    """A vehicle arrives, the barrier opens, it drives through, the barrier closes."""
    await lane.arrive()
    await lane.settle(barrier_is(lane, Position.UP), "barrier up")
    await lane.drive_through()
    await lane.settle(barrier_is(lane, Position.DOWN), "barrier down")
    await lane.settle(lambda: bool(lane.events("passage_timings")), "timings recorded")


async def held(lane: FakeLane) -> None:
    """A vehicle arrives and the lane calls for help instead of opening."""
    await lane.arrive()
    await lane.settle(lambda: bool(lane.events()) and denied(lane), "vehicle denied")


def denied(lane: FakeLane) -> bool:
    """Whether the lane has denied a vehicle (its latest version of a transaction says so)."""
    return any(r.status == "denied" for r in lane.latest())


def only_exit(lane: FakeLane) -> TransactionRecord:
    """The lane's one exit; fails if there is none or more than one."""
    exits = [r for r in lane.latest() if r.kind == "exit"]
    if len(exits) != 1:
        raise AssertionError(f"expected one exit, got {exits}")
    return exits[0]


def seed_pending_payment(
    store_path: Path, gateway: Gateway, *, amount: int, pay: bool = True
) -> UUID:
    """What a run that died while the customer paid leaves: a pending charge and its order."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    with Store.open(store_path) as store:
        record = store.append_transaction(
            terminal_exit(
                "riverside-exit", "pending_payment", at, amount, payment_status="requested"
            )
        )
    client = GatewayClient(gateway.transport, merchant_id=MERCHANT, secret=SECRET, retry=FAST_RETRY)
    order = client.create_order(order_id_for(str(record.id)), amount, "CNY", "parking", None)
    if pay:
        gateway.sim.pay(order.order_id)
    return record.id


@dataclass
class Rig:
    """The gateway simulator and the lane's callback receiver on loopback, QR payments between."""

    server: GatewayServer
    receiver: CallbackReceiver
    client: GatewayClient
    qr: QrPayments
    control: ControlClient
    events: list[PaymentEvent] = field(default_factory=list)

    @property
    def sim(self) -> GatewaySim:
        return self.server.sim


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
        """A control route of the simulator (``/control/...``); fails unless it answers 200."""
        answer = self.sim.handle(HttpRequest("POST", path, {}, json.dumps(body).encode()))
        if answer.status != 200:
            raise AssertionError(f"{path}: {answer.status} {answer.payload}")
        return answer.payload
