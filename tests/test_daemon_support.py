"""Rigs shared by the daemon tests: lane files on disk, fake devices, a fake reader, the gateway.

``lane_files`` writes a parking lane (Riverside plaza and tariff) into a folder;
``FakeLane`` starts a :class:`~edge.daemon.lane_daemon.LaneDaemon` on the fakes
of :mod:`drivers.fakes`, a reader that knows each test image's plate, and the
gateway simulator reached in process through a ``MockTransport``. This module
holds no tests.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import numpy as np
import numpy.typing as npt
from paths import REPO

from contracts.gateway.transport import ConnectError, HttpRequest, HttpResponse, MockTransport
from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import FeeItem, Transaction
from contracts.uuid7 import uuid7
from drivers.factory import LaneDrivers
from drivers.fakes import FakeBarrier, FakeCamera, FakeDisplay, FakeLaneLight, FakeLoops
from edge.config.lane import LaneFiles, load_lane
from edge.daemon.executor import StepLog
from edge.daemon.lane_daemon import DaemonOptions, LaneDaemon
from edge.payments.config import RetryConfig
from edge.payments.gateway import GatewayClient
from edge.payments.ids import order_id_for
from edge.payments.receiver import CallbackReceiver
from edge.store import Store
from models.config import RecognitionConfig
from models.result import PlateResult, unreadable
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.state import GatewaySim

SECRET = "daemon-test-secret"
MERCHANT = "m-daemon"
PLATE = "皖A12345"
FAST = DaemonOptions(device_timeout_s=2.0, shutdown_grace_s=2.0, safety_clear_s=0.5)
"""Short waits for fake devices, which answer at once."""

PAYMENTS_QR = """
[payments.policy]
methods = ["permit", "prepaid", "qr"]
postpay = "{postpay}"

[payments.gateway]
base_url = "{gateway}"
merchant_id = "m-daemon"
secret = "daemon-test-secret"
query_schedule_s = [0.05]
read_timeout_s = 0.5
connect_timeout_s = 0.3

[payments.gateway.retry]
attempts = 2
backoff_s = 0.01
backoff_max_s = 0.02

[payments.gateway.callback]
host = "127.0.0.1"
port = 0
public_url = "http://lane.test/payments/notify"
"""


def lane_files(
    folder: Path,
    *,
    lane_id: str = "riverside-exit",
    lane_kind: str = "parking_exit",
    policy: str = "",
    extra: str = "",
    devices: str | None = None,
    store: Path | None = None,
    plaza_lanes: Sequence[str] = ("riverside-entry", "riverside-exit"),
) -> Path:
    """Write a Riverside lane file (with plaza and tariff) into ``folder``; returns its path.

    The plaza lists ``plaza_lanes``, which must include ``lane_id``.
    """
    (folder / "plazas").mkdir(parents=True, exist_ok=True)
    (folder / "tariffs").mkdir(exist_ok=True)
    (folder / "lanes").mkdir(exist_ok=True)
    shutil.copy(REPO / "config/tariffs/riverside-parking.toml", folder / "tariffs")
    (folder / "plazas/riverside.toml").write_text(
        'kind = "plaza"\nid = "riverside"\nname = "Riverside"\ntimezone = "Asia/Shanghai"\n'
        f'currency = "CNY"\nlanes = {json.dumps(list(plaza_lanes))}\n'
    )
    devices = devices or (
        '[io]\ntype = "modbus_tcp"\nhost = "127.0.0.1"\nport = 1\n\n'
        '[barrier]\ntype = "io"\n\n[loops]\ntype = "io"\n\n'
        '[camera]\ntype = "opencv"\nsource = "http://127.0.0.1:1/stream.mjpg"\n'
    )
    path = folder / "lanes" / f"{lane_id}.toml"
    path.write_text(
        f'kind = "lane"\nid = "{lane_id}"\nname = "test lane"\nlane_kind = "{lane_kind}"\n'
        'plaza = "../plazas/riverside.toml"\ntariff = "../tariffs/riverside-parking.toml"\n'
        f'store = "{store or folder / "site.db"}"\n\n'
        f"[policy]\n{policy}\n\n"
        '[recognition]\nregion = "cn"\nprovince = "皖"\n\n'
        f"{devices}\n{extra}\n"
    )
    return path


def image_of(plate_index: int) -> npt.NDArray[np.uint8]:
    """A test image the fake reader knows by its first pixel (0: no plate in view)."""
    return np.full((48, 64, 3), plate_index, dtype=np.uint8)


class BookRecognition:
    """Recognition that knows a test image's plate by its first pixel; fails when told to.

    While ``holding``, reads are taken (begun) and not answered: they wait in ``held``.
    """

    def __init__(self, plates: dict[int, str], config: RecognitionConfig) -> None:
        self.plates = plates
        self.config = config
        self.failing: Exception | None = None
        self.holding = False
        self.held: list[Future[PlateResult]] = []
        self.started = False

    def start(self) -> None:
        self.started = True

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateResult]:
        answer: Future[PlateResult] = Future()
        if self.holding:
            answer.set_running_or_notify_cancel()
            self.held.append(answer)
            return answer
        if self.failing is not None:
            answer.set_exception(self.failing)
            return answer
        text = self.plates.get(int(frames[-1][0, 0, 0]))
        if text is None:
            answer.set_result(unreadable(self.config.region, "no plate found in the frame"))
        else:
            answer.set_result(
                PlateResult(text, "cn", "blue", (0.99,) * len(text), 0.99, True, None, None)
            )
        return answer

    def close(self) -> None:
        self.started = False


@dataclass
class Devices:
    loops: FakeLoops = field(default_factory=FakeLoops)
    barrier: FakeBarrier = field(default_factory=FakeBarrier)
    light: FakeLaneLight = field(default_factory=FakeLaneLight)
    camera: FakeCamera = field(default_factory=FakeCamera)
    display: FakeDisplay = field(default_factory=FakeDisplay)

    def lane_drivers(self) -> LaneDrivers:
        return LaneDrivers(self.loops, self.barrier, self.light, self.camera, self.display)


class Gateway:
    """The gateway simulator without sockets, reached through a ``MockTransport``.

    Delayed work (callbacks) is done at once; callbacks go straight to the lane's
    receiver. ``down`` makes every request fail to connect; ``before`` sees each
    request that reaches the gateway first (a customer who pays just then).
    """

    def __init__(self, faults: GatewayFaults | None = None) -> None:
        self.sim = GatewaySim(
            secret=SECRET.encode(),
            merchant_id=MERCHANT,
            faults=faults,
            deliver=self._deliver,
            seed=3,
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
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

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

    def latest(self) -> list[TransactionRecord]:
        """The latest version of every transaction of the lane, in order of first record."""
        with Store.open(self.files.lane.store) as store:
            records = store.transactions(self.files.lane.id, 1, 10_000)
        latest: dict[Any, TransactionRecord] = {}
        for record in records:
            latest[record.id] = record
        return list(latest.values())

    def records(self) -> list[TransactionRecord]:
        """Every version of every transaction of the lane, in lane_seq order."""
        with Store.open(self.files.lane.store) as store:
            return store.transactions(self.files.lane.id, 1, 10_000)

    def events(self, kind: str | None = None) -> list[Any]:
        with Store.open(self.files.lane.store) as store:
            events = store.events(self.files.lane.id, 1, 10_000)
        return [e for e in events if kind is None or e.kind == kind]


def seed_entry(store_path: Path, plate: str = PLATE, hours: float = 2.0) -> TransactionRecord:
    """An entry of ``plate`` recorded by the site's entry lane ``hours`` ago, still open."""
    at = datetime.now(UTC) - timedelta(hours=hours)
    with Store.open(store_path) as store, store.batch():
        record = store.append_transaction(
            Transaction.build(
                id=uuid7(at),
                lane_id="riverside-entry",
                kind="entry",
                status="passed",
                authorisation="rule",
                recorded_at=at,
                plate_text=plate,
                plate_confidence=0.99,
                vehicle_class=1,
                entry_time=at,
            )
        )
        store.entries.open(record)
    return record


def load(path: Path) -> LaneFiles:
    return load_lane(path)


def seed_pending_payment(
    store_path: Path, gateway: Gateway, *, amount: int, pay: bool = True
) -> UUID:
    """What a run that died while the customer paid leaves: a pending charge and its order."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    txn_id = uuid7(at)
    with Store.open(store_path) as store:
        store.append_transaction(
            Transaction.build(
                id=txn_id,
                lane_id="riverside-exit",
                kind="exit",
                status="pending_payment",
                recorded_at=at,
                plate_text=PLATE,
                exit_time=at,
                currency="CNY",
                fee_items=(FeeItem(label="parking", amount=amount),),
                fee_total=amount,
                payment_method="terminal",
                payment_status="requested",
            )
        )
    client = GatewayClient(
        gateway.transport, merchant_id=MERCHANT, secret=SECRET.encode(), retry=RetryConfig()
    )
    order = client.create_order(order_id_for(str(txn_id)), amount, "CNY", "parking", None)
    if pay:
        gateway.sim.pay(order.order_id)
    return txn_id
