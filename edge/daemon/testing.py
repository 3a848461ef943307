"""A lane daemon's surroundings for tests and commissioning: lane files, fake devices, a reader.

Public API (as ``structlog.testing`` is, and gpiozero's mock pins): lanewarden's
daemon tests build their lanes here, and a technician can run a daemon on the
same fakes to check a lane file before the hardware is there.

- :func:`lane_files` writes a Riverside parking lane (plaza and tariff beside it);
  :data:`PAYMENTS_QR` is a section to add to it (and
  :func:`edge.sync.testing.sync_section`).
- :class:`Devices` bundles the in-memory drivers of :mod:`drivers.fakes`;
  :class:`BookRecognition` is a plate reader that knows each test image's plate
  (:func:`image_of`).
- :func:`seed_entry` and :func:`terminal_exit` make the records an earlier run
  leaves in a store.

The lane daemon driven on these, with the gateway simulator, is
:class:`fleet.testing.FakeLane` (edge never imports the simulators).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import FeeItem, Transaction
from contracts.testing import rule_entry
from contracts.uuid7 import uuid7
from drivers.factory import LaneDrivers
from drivers.fakes import FakeBarrier, FakeCamera, FakeDisplay, FakeLaneLight, FakeLoops
from edge.daemon.lane_daemon import DaemonOptions
from edge.payments.testing import MERCHANT, SECRET
from edge.store import Store
from models.config import RecognitionConfig
from models.result import PlateResult, unreadable

REPO = Path(__file__).resolve().parents[2]
"""The source checkout, whose ``config/`` holds the shipped examples."""
PLATE = "皖A12345"
FAST = DaemonOptions(device_timeout_s=2.0, shutdown_grace_s=2.0, safety_clear_s=0.5)
"""Short waits for fake devices, which answer at once."""

PAYMENTS_QR = f"""
[payments.policy]
methods = ["permit", "prepaid", "qr"]
postpay = "{{postpay}}"

[payments.gateway]
base_url = "{{gateway}}"
merchant_id = "{MERCHANT}"
secret = "{SECRET.decode()}"
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
"""A QR payments section; ``.format(postpay=..., gateway=base_url)`` fills it in."""


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
    highway: bool = False,
) -> Path:
    """Write a Riverside lane file (with plaza and tariff) into ``folder``; returns its path.

    The plaza lists ``plaza_lanes``, which must include ``lane_id``. ``highway``: the
    G60 South exit instead (plaza, network and tariff of config/).
    """
    (folder / "plazas").mkdir(parents=True, exist_ok=True)
    (folder / "tariffs").mkdir(exist_ok=True)
    (folder / "lanes").mkdir(exist_ok=True)
    plaza, tariff = ("south", "g60-highway") if highway else ("riverside", "riverside-parking")
    shutil.copy(REPO / f"config/tariffs/{tariff}.toml", folder / "tariffs")
    if highway:
        lane_id, lane_kind = "south-exit", "highway_exit"
        for name in ("south", "g60-network"):
            shutil.copy(REPO / f"config/plazas/{name}.toml", folder / "plazas")
    else:
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
        f'plaza = "../plazas/{plaza}.toml"\ntariff = "../tariffs/{tariff}.toml"\n'
        f'store = "{store or folder / "site.db"}"\n\n'
        f"[policy]\n{policy}\n\n"
        '[recognition]\nregion = "cn"\nprovince = "皖"\n\n'
        f"{devices}\n{extra}\n"
    )
    return path


def image_of(plate_index: int) -> npt.NDArray[np.uint8]:
    """A test image the fake reader knows by its first pixel (0: no plate in view)."""
    return np.full((48, 64, 3), plate_index, dtype=np.uint8)


def sure_read(text: str) -> PlateResult:
    """A confident, valid Chinese blue-plate read of ``text``."""
    return PlateResult(text, "cn", "blue", (0.99,) * len(text), 0.99, True, None, None)


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
            answer.set_result(sure_read(text))
        return answer

    def close(self) -> None:
        self.started = False


@dataclass
class Devices:
    """One lane's fake devices, each reachable for the test to drive."""

    loops: FakeLoops = field(default_factory=FakeLoops)
    barrier: FakeBarrier = field(default_factory=FakeBarrier)
    light: FakeLaneLight = field(default_factory=FakeLaneLight)
    camera: FakeCamera = field(default_factory=FakeCamera)
    display: FakeDisplay = field(default_factory=FakeDisplay)

    def lane_drivers(self) -> LaneDrivers:
        return LaneDrivers(self.loops, self.barrier, self.light, self.camera, self.display)


def seed_entry(store_path: Path, plate: str = PLATE, hours: float = 2.0) -> TransactionRecord:
    """An entry of ``plate`` recorded by the site's entry lane ``hours`` ago, still open."""
    at = datetime.now(UTC) - timedelta(hours=hours)
    with Store.open(store_path) as store, store.batch():
        record = store.append_transaction(rule_entry("riverside-entry", at, plate))
        store.entries.open(record)
    return record


def terminal_exit(
    lane_id: str,
    status: str,
    at: datetime,
    amount: int,
    *,
    plate: str = PLATE,
    label: str = "parking",
    **fields: Any,
) -> Transaction:
    """An exit of ``plate`` at ``at``, ``amount`` fen charged at the terminal as one ``label`` item.

    ``fields`` add to or override the record's fields (``payment_status``, ``flags``, ...).
    """
    return Transaction.build(
        **{
            "id": uuid7(at),
            "lane_id": lane_id,
            "kind": "exit",
            "status": status,
            "recorded_at": at,
            "plate_text": plate,
            "exit_time": at,
            "currency": "CNY",
            "fee_items": (FeeItem(label=label, amount=amount),),
            "fee_total": amount,
            "payment_method": "terminal",
            **fields,
        }
    )
