"""``lanewarden bench crash``: a paying exit lane killed with SIGKILL at random moments, under traffic.

The lane is the shipped ``riverside-exit`` as its own process (``lanewarden edge
run``) on the lane bench's simulators (:class:`~fleet.rig.LaneRig`: loops on
a Modbus TCP module, the serial barrier controller on a pty, the camera an MJPEG
stream), paying by QR through the gateway simulator over HTTP with duplicate
callbacks on; a simulated customer pays each order 0.2–3 s after it is created.
One vehicle at a time: it has an entry recorded two hours earlier, stops on the
arming loop, waits for the barrier (backing off and trying again after a
minute), and drives through.

Meanwhile the bench SIGKILLs the lane's process group and starts it again, K
times: at a random moment while it runs, sometimes during its start-up (before
it reported ready), sometimes again right after the restart (twice in quick
succession). At the end it stops the lane with SIGTERM and checks:

- ``integrity_ok``: SQLite's ``integrity_check``; ``chain_ok``: every lane's
  hash chains, with ``lane_seq`` contiguous (``store verify``);
- the gateway's ledger against the store: ``lost`` counts paid orders whose
  transaction is not recorded as paid, ``phantom`` payments recorded that the
  gateway never took; ``doubled`` counts vehicles (stays) that paid more than
  one fee; ``stranded_entries`` vehicles that drove out without a ``passed``
  record closing their entry.

Targets: ``lost``, ``phantom``, ``doubled`` and ``stranded_entries`` 0,
``chain_ok`` and ``integrity_ok`` true.

Every vehicle has its own plate, rendered from text by the camera simulator. A
misread is a recognition matter, not a crash's: it is reported as ``misread``
(a misread exit finds no entry, so its vehicle counts as stranded as well).
"""

from __future__ import annotations

import random
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from contracts.records.sealed import TransactionRecord
from edge.payments.ids import txn_id_for
from edge.store import Store
from edge.store.db import StoreError, read_only
from edge.store.verify import verify
from fleet.bench import BenchError, seed_entry
from fleet.lane_files import derive_lane, gateway_payments
from fleet.lane_process import LaneProcess, LaneStartError
from fleet.rig import LaneRig
from plumbing import log
from plumbing.broker_process import free_port
from simulators.camera import normalise, random_plate
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer

logger = log.get(__name__)

LANE = "riverside-exit"
MERCHANT = "riverside-crash"
BARRIER_TRAVEL_S = 0.6
PAY_AFTER_S = (0.2, 3.0)
ALIVE_S = (0.3, 4.0)  # how long the lane runs after it reported ready, before the kill
QUICK_ALIVE_S = (0.05, 0.6)  # ... when it is killed again in quick succession
START_KILL_S = (0.05, 1.2)  # after the spawn, for a kill during start-up
START_KILL_SHARE = 0.12
QUICK_SHARE = 0.2
PATIENCE_S = 60.0  # a driver waits this long for the barrier, then backs off and tries again
TRIES = 3
STEP_S = 0.3  # each of the driver's moves through the lane
SETTLE_S = 30.0
MAX_START_FAILURES = 5
TARGETS = {"lost": 0, "phantom": 0, "doubled": 0, "stranded_entries": 0}


@dataclass
class Visit:
    """One vehicle's stay ending at the exit (one entry, one fee)."""

    number: int
    plate: str
    entry_id: UUID
    began: datetime
    ended: datetime | None = None
    drove_out: bool = False
    tries: int = 0
    entry_left_open: bool = False
    """Its entry was still open when the same plate came again."""


@dataclass(frozen=True)
class CrashFigures:
    kills: int
    kills_in_start: int
    quick_kills: int
    start_failures: int
    vehicles: int
    drove_out: int
    paid_orders: int
    lost: int
    phantom: int
    doubled: int
    stranded_entries: int
    chain_ok: bool
    integrity_ok: bool
    unauthorised: int
    misread: int
    minutes: float
    exit_status: int | None

    def as_json(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Killing:
    """What the killer did."""

    kills: int = 0
    in_start: int = 0
    quick: int = 0
    start_failures: int = 0


class Customer:
    """Pays every order the gateway opens, after a random 0.2–3 s (if it is still open)."""

    def __init__(self, gateway: GatewayServer, rng: random.Random) -> None:
        self.gateway = gateway
        self.rng = rng
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crash-customer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for order in self.gateway.sim.state()["orders"]:
                order_id = order["order_id"]
                if order["status"] == "pending" and order_id not in self._seen:
                    self._seen.add(order_id)
                    delay = self.rng.uniform(*PAY_AFTER_S)
                    self.gateway.scheduler.later(delay, partial(self._pay, order_id))

    def _pay(self, order_id: str) -> None:
        try:
            self.gateway.sim.pay(order_id)
        except ValueError as exc:  # closed meanwhile: the lane that opened it was killed
            logger.info("customer_too_late", order_id=order_id, reason=str(exc))


class Traffic:
    """Vehicles one after the other, each driving out once the barrier is up for it."""

    def __init__(
        self,
        rig: LaneRig,
        store_path: Path,
        stop: threading.Event,
        rng: random.Random,
    ) -> None:
        self.rig = rig
        self.store_path = store_path
        self.stop = stop
        self.rng = rng
        self.visits: list[Visit] = []
        self.finishing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crash-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def progress(self) -> str:
        out = sum(visit.drove_out for visit in self.visits)
        return f"{len(self.visits)} vehicles, {out} drove out"

    def _run(self) -> None:
        number = len(self.visits)
        while not self.finishing.is_set() and not self.stop.is_set():
            self.drive(self.arrive(number, random_plate(self.rng)))
            number += 1

    def arrive(self, number: int, plate: str) -> Visit:
        """A new stay ends at the exit: its entry recorded (two hours ago)."""
        key = normalise(plate)
        for earlier in self.visits:
            if normalise(earlier.plate) == key and earlier.drove_out:
                with Store.open(self.store_path) as store:
                    found = store.entries.find(plate)
                if found is not None and found.txn_id == earlier.entry_id:
                    earlier.entry_left_open = True
        entry_id = seed_entry(self.store_path, plate)
        visit = Visit(number, plate, entry_id, datetime.now(UTC))
        self.visits.append(visit)
        return visit

    def drive(self, visit: Visit) -> None:
        rig = self.rig
        for _ in range(TRIES):
            self._until(lambda: rig.barrier() == "down", SETTLE_S)
            rig.show(visit.plate)
            self.stop.wait(STEP_S)
            rig.loops(arming=True)
            if self._until(lambda: rig.barrier() == "up", PATIENCE_S):
                for arming, safety in ((True, True), (False, True), (False, False)):
                    self.stop.wait(STEP_S)
                    rig.loops(arming=arming, safety=safety)
                    if not arming:
                        rig.clear()
                visit.drove_out = not self.stop.is_set()
                break
            rig.loops(arming=False, safety=False)  # gives up for now, backs off, comes again
            rig.clear()
            visit.tries += 1
            if self.stop.wait(2.0):
                break
        rig.loops(arming=False, safety=False)
        rig.clear()
        self._until(lambda: rig.barrier() == "down", SETTLE_S)
        visit.ended = datetime.now(UTC)

    def _until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline or self.stop.wait(0.02):
                return False
        return True


def run_crash_bench(
    kills: int,
    out: TextIO,
    stop: threading.Event,
    *,
    seed: int | None = None,
    workdir: Path | None = None,
) -> CrashFigures | None:
    """Run the bench; None when ``stop`` was set before the end.

    ``workdir`` keeps the store, the lane files and the lane's log (a temporary
    folder, removed at the end, when None).
    """
    if kills < 1:
        raise BenchError(f"--kills must be at least 1, got {kills}")
    rng = random.Random(seed)
    keep = workdir is not None
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="lanewarden-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rig = LaneRig(
        serial_barrier=True,
        travel_s=BARRIER_TRAVEL_S,
    )
    secret = secrets.token_hex(16)
    gateway = GatewayServer(
        secret=secret.encode(),
        merchant_id=MERCHANT,
        faults=GatewayFaults(duplicate_callbacks=True),
        seed=seed,
        hold_s=5.0,
    )
    customer = Customer(gateway, rng)
    began = time.monotonic()
    try:
        rig.start()
        gateway.start()
        customer.start()
        store_path = workdir / "site.db"
        lane = LaneProcess(
            _lane_file(workdir, store_path, rig, gateway, secret), workdir / "lane.log"
        )
        try:
            if not lane.start(cancel=stop):
                return None
            traffic = Traffic(rig, store_path, stop, rng)
            traffic.start()
            killing = kill_repeatedly(lane, kills, rng, stop, out, traffic.progress)
            if not stop.is_set():
                lane.start(cancel=stop)  # the last start: the traffic finishes on it
            traffic.finishing.set()
            traffic.join()
            code = lane.stop()
        finally:
            if lane.proc is not None and lane.proc.poll() is None:
                lane.kill()
        if stop.is_set():
            return None
        ledger = gateway.sim.state()
        minutes = (time.monotonic() - began) / 60
        return tally(store_path, ledger, traffic.visits, killing, minutes=minutes, exit_status=code)
    except LaneStartError as exc:
        raise BenchError(f"the lane did not start: {exc}") from None
    finally:
        customer.stop()
        gateway.stop()
        rig.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _lane_file(
    workdir: Path, store_path: Path, rig: LaneRig, gateway: GatewayServer, secret: str
) -> Path:
    """The shipped exit on the rig, paying by QR alone through the gateway simulator."""
    payments = {
        "policy": {"methods": ["qr"], "postpay": "never"},
        "gateway": gateway_payments(gateway.url, MERCHANT, secret, free_port()),
    }
    files = derive_lane(
        LANE,
        workdir / "config",
        store=store_path,
        devices=rig.devices(),
        changes={"payments": payments},
    )
    return files.path


def kill_repeatedly(  # noqa: PLR0917 - the lane, how often, the dice, the stop and the report
    lane: LaneProcess,
    kills: int,
    rng: random.Random,
    stop: threading.Event,
    out: TextIO,
    progress: Callable[[], str],
) -> Killing:
    """Start the lane, SIGKILL it at a random moment, ``kills`` times (it is running at the call)."""
    done = Killing()
    quick = False
    failures = 0
    while done.kills < kills and not stop.is_set():
        if done.kills:  # the first kill hits the lane the bench started
            lane.spawn()
            if not quick and rng.random() < START_KILL_SHARE:
                stop.wait(rng.uniform(*START_KILL_S))
                done.in_start += 1
            else:
                try:
                    lane.wait_ready(stop)
                except LaneStartError as exc:
                    done.start_failures += 1
                    failures += 1
                    print(f"  start failed ({failures} in a row): {exc}", file=out, flush=True)
                    if failures >= MAX_START_FAILURES:
                        raise
                    continue
                failures = 0
        done.quick += quick
        stop.wait(rng.uniform(*(QUICK_ALIVE_S if quick else ALIVE_S)))
        quick = rng.random() < QUICK_SHARE
        lane.kill()
        done.kills += 1
        if done.kills % 10 == 0 or done.kills == kills:
            print(f"  {done.kills}/{kills} kills, {progress()}", file=out, flush=True)
    return done


def _latest(store: Store) -> list[TransactionRecord]:
    records = store.transactions(LANE, 1, 10_000_000)
    return list({record.id: record for record in records}.values())


def tally(
    store_path: Path,
    ledger: dict[str, Any],
    visits: list[Visit],
    killing: Killing,
    *,
    minutes: float,
    exit_status: int | None,
) -> CrashFigures:
    """The checks of the store and of the gateway's ledger against it."""
    report = verify(store_path)
    try:
        with read_only(store_path) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    except (sqlite3.Error, StoreError):
        integrity = False
    with Store.open(store_path) as store:
        latest = {record.id: record for record in _latest(store)}
        open_entries = {v.entry_id for v in visits if _still_open(store, v)}
    kept: dict[UUID, int] = {}
    paid_orders = 0
    for order in ledger["orders"]:
        if order["status"] == "paid":
            paid_orders += 1
            kept[UUID(txn_id_for(order["order_id"]))] = order["amount"] - order["refunded"]
    lost = sum(
        1
        for txn_id, amount in kept.items()
        if amount > 0 and (txn_id not in latest or latest[txn_id].payment_status != "approved")
    )
    phantom = sum(
        1
        for record in latest.values()
        if record.payment_status == "approved"
        and record.payment_method == "terminal"
        and kept.get(record.id, 0) <= 0
    )
    by_visit = _by_visit(latest.values(), visits)
    doubled = stranded = misread = 0
    for visit in visits:
        records = by_visit.get(visit.number, [])
        full_fee = max(
            (sum(i.amount for i in r.fee_items if i.amount > 0) for r in records), default=0
        )
        if sum(kept.get(r.id, 0) for r in records) > full_fee:
            doubled += 1
        passed = [r for r in records if r.status == "passed"]
        misread += any(normalise(r.plate_text or "") != normalise(visit.plate) for r in passed)
        if visit.drove_out and (
            not any(r.entry_txn_id == visit.entry_id for r in passed)
            or visit.entry_left_open
            or visit.entry_id in open_entries
        ):
            stranded += 1
    return CrashFigures(
        kills=killing.kills,
        kills_in_start=killing.in_start,
        quick_kills=killing.quick,
        start_failures=killing.start_failures,
        vehicles=len(visits),
        drove_out=sum(v.drove_out for v in visits),
        paid_orders=paid_orders,
        lost=lost,
        phantom=phantom,
        doubled=doubled,
        stranded_entries=stranded,
        chain_ok=report.ok,
        integrity_ok=integrity,
        unauthorised=sum(r.status == "unauthorised" for r in latest.values()),
        misread=misread,
        minutes=minutes,
        exit_status=exit_status,
    )


def _still_open(store: Store, visit: Visit) -> bool:
    found = store.entries.find(visit.plate)
    return found is not None and found.txn_id == visit.entry_id


def _by_visit(records: Any, visits: list[Visit]) -> dict[int, list[TransactionRecord]]:
    """The lane's transactions of each visit: by the entry it matched, else by when it began."""
    by_entry = {v.entry_id: v.number for v in visits}
    result: dict[int, list[TransactionRecord]] = defaultdict(list)
    for record in records:
        number = by_entry.get(record.entry_txn_id) if record.entry_txn_id else None
        if number is None and record.exit_time is not None:
            number = next(
                (
                    v.number
                    for v in visits
                    if v.began <= record.exit_time <= (v.ended or datetime.max.replace(tzinfo=UTC))
                ),
                None,
            )
        if number is not None:
            result[number].append(record)
    return result


def table(f: CrashFigures) -> str:
    rows = []
    for name, value in asdict(f).items():
        target = ""
        if name in TARGETS:
            target = f"= {TARGETS[name]}  {'met' if value == TARGETS[name] else 'MISSED'}"
        elif name in ("chain_ok", "integrity_ok"):
            target = f"true  {'met' if value else 'MISSED'}"
        shown = f"{value:.1f}" if isinstance(value, float) else str(value).lower()
        rows.append(f"{name:<18}{shown:>10}   {target}")
    notes = [
        "kills: SIGKILL of the lane daemon's process group at a random moment, "
        f"{f.kills_in_start} of them during its start-up, {f.quick_kills} right after a restart",
        "lost: paid orders at the gateway not recorded as paid; phantom: recorded as paid, "
        "not taken; doubled: stays that paid more than one fee; stranded_entries: vehicles "
        "that drove out without a passed record closing their entry",
        f"vehicles: {f.vehicles} stays at the exit, {f.drove_out} drove out; "
        f"{f.paid_orders} orders paid; {f.unauthorised} recorded unauthorised; "
        f"{f.misread} misread",
    ]
    return "\n".join(
        [f"{'figure':<18}{'value':>10}   target", *rows, "", *(f"- {n}" for n in notes)]
    )
