"""``lanewarden bench lane``: vehicles through a simulated exit lane, timed from outside the lane.

The lane is the shipped ``riverside-exit`` (its policy and recognition as
shipped; loops on a Modbus TCP I/O module, the serial barrier controller on a
pty, the camera an MJPEG stream of real plate photos) run as its own process,
``lanewarden edge run``, so that its memory is its own. Every vehicle has an
open entry (recorded two hours earlier) and a prepaid account, so a correct read
is paid from the account and opens the barrier; a misread plate finds no
account, the lane refuses it, and the vehicle backs out.

Figures:

- ``open_ms_p50/p95/p99``: from the arming loop set occupied in the I/O module
  simulator to the open command accepted by the barrier controller, both
  stamped in this process on one monotonic clock; account-paid vehicles only.
  Plate recognition, the lookup, the payment and the store's commits are all in it.
- ``read_rate``: vehicles whose recorded plate is the photo's label.
- ``vehicles_per_min``: 60 s over the mean lane cycle, arming loop on to the
  barrier down behind the vehicle (the lane's reactions, a fast barrier's
  travel and the simulated driver included), measured one vehicle after the
  other: the arrival rate that keeps the lane busy all the time; above it a
  queue builds without bound. Conservative: a real queue's next plate could be
  read while the barrier closes.
- ``rss_mb``: the lane process's peak resident set (VmHWM) at the end of the run.
- ``stranded``: vehicles the lane neither let through nor turned away before the
  driver's patience (15 s) ran out.
- ``lane_cpu_weight``: the CPU weight the lane ran with against 100 for every
  other process: its unit's ``CPUWeight=`` where this process may give it
  (:func:`fleet.priority.run_as_unit`), else 100; ``lane_priority`` says which,
  with the plate reader's threads and nice steps beside it.

One warm-up vehicle goes first and is not counted. With ``load`` above 0, that
many CPU-burning processes (:func:`fleet.burners.cpu_burners`) run beside the
lane from the warm-up vehicle on, as other work on a busy lane computer would.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from uuid import UUID

from contracts.testing import rule_entry
from edge.store import EntryAlreadyOpenError, Store
from fleet.burners import cpu_burners
from fleet.driving import Driver, DriveTiming, LaneRecords, PassageSeen
from fleet.lane_files import derive_lane
from fleet.lane_process import LaneProcess
from fleet.plates import SHIPPED_PLATES
from fleet.priority import Priority, run_as_unit
from fleet.rig import LaneRig
from models.config import RecognitionConfig
from simulators.camera import IMAGE_SUFFIXES, normalise, read_labels

LANE = "riverside-exit"
ENTRY_LANE = "riverside-entry"
BALANCE = 100_000_000  # fen: never runs out during a bench
PARKED_H = 2.0
TIMING = DriveTiming(patience_s=15.0)
BARRIER_TRAVEL_S = 0.6  # a fast parking barrier, each way
TARGETS = {
    "open_ms_p95": ("<", 300.0),
    "vehicles_per_min": (">=", 20.0),
    "rss_mb": ("<", 400.0),
    "stranded": ("=", 0.0),
}


class BenchError(Exception):
    """The bench cannot run: bad images folder, or the lane did not start."""


@dataclass(frozen=True)
class Figures:
    open_ms_p50: float | None
    open_ms_p95: float | None
    open_ms_p99: float | None
    read_rate: float
    vehicles_per_min: float | None
    rss_mb: float | None
    stranded: int
    vehicles: int
    account_paid: int
    cycle_s_mean: float | None
    lane_reaction_s_mean: float | None
    plate_read_ms_p50: float | None
    reads_late: int
    """Plate reads that missed the lane's read deadline (the vehicle took the unreadable path)."""
    drive_through_s: float
    barrier_travel_s: float
    load: int
    """CPU-burning processes run beside the lane."""
    load_average: float
    """The machine's 1-minute load average at the end (other work competes for the CPUs)."""
    lane_cpu_weight: int
    """The lane's CPU weight against 100 for every other process (its unit's, where it could be given)."""
    lane_priority: str
    """How the lane ran: its CPU weight and where it came from, the plate reader's threads and nice."""

    def as_json(self) -> dict[str, float | int | str | None]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def labelled_images(folder: Path) -> list[tuple[Path, str]]:
    """(image, plate) for every image the folder's labels.csv names; BenchError when none."""
    if not folder.is_dir():
        raise BenchError(f"--images {folder}: not a folder")
    if not (folder / "labels.csv").is_file():
        raise BenchError(f"--images {folder}: no labels.csv (columns file,plate) in it")
    labels = read_labels(folder)
    images = [
        (folder / name, plate)
        for name, plate in sorted(labels.items())
        if (folder / name).is_file() and (folder / name).suffix.lower() in IMAGE_SUFFIXES
    ]
    if not images:
        raise BenchError(f"--images {folder}: labels.csv names no image file of the folder")
    return images


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), linear between closest ranks; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_bench(
    vehicles: int, images: Path | None, out: TextIO, stop: threading.Event, load: int = 0
) -> Figures | None:
    """Run the bench, ``load`` CPU burners beside the lane; None when ``stop`` was set first."""
    if vehicles < 1:
        raise BenchError(f"--vehicles must be at least 1, got {vehicles}")
    if load < 0:
        raise BenchError(f"--load must be 0 or more, got {load}")
    photos = labelled_images(images or SHIPPED_PLATES)
    workdir = Path(tempfile.mkdtemp(prefix="lanewarden-bench-"))
    rig = LaneRig(serial_barrier=True, travel_s=BARRIER_TRAVEL_S)
    try:
        rig.start()
        store_path = workdir / "site.db"
        files = derive_lane(
            LANE,
            workdir / "config",
            store=store_path,
            devices=rig.devices(),
            # Account-paid vehicles only: the shipped QR gateway is not part of this rig.
            changes={"payments": {"policy": {"methods": ["permit", "prepaid"]}, "gateway": None}},
        )
        seed_accounts(store_path, [plate for _, plate in photos])
        lane = LaneProcess(files.path, workdir / "lane.log")
        try:
            print(f"starting {LANE} (lanewarden edge run) ...", file=out, flush=True)
            lane.start(cancel=stop)
            assert lane.pid is not None
            priority = run_as_unit(lane.pid)
            print(f"lane priority: {priority.how}", file=out, flush=True)
            driver = Driver(rig, LaneRecords(store_path, LANE), stop, TIMING)
            if load:
                print(f"{load} CPU-burning processes beside the lane", file=out, flush=True)
            with cpu_burners(load):
                passages = drive(driver, photos, vehicles + 1, store_path, out)[1:]
            rss = lane.peak_rss_mb()
        finally:
            code = lane.stop()
        if stop.is_set():
            return None
        if code != 0:
            raise BenchError(f"the lane exited with status {code}:\n{lane.tail()}")
        how = lane_priority(priority, files.lane.recognition)
        return figures(
            passages,
            rss,
            lane_reads(store_path),
            rig.travel_s,
            load=load,
            priority=priority,
            how=how,
        )
    finally:
        rig.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def seed_accounts(store_path: Path, plates: list[str]) -> None:
    with Store.open(store_path) as store, store.batch():
        for number, plate in enumerate(sorted(set(plates)), start=1):
            store.accounts.put(f"bench-{number:03d}", "CNY", BALANCE, [plate])


def seed_entry(store_path: Path, plate: str) -> UUID:
    """The vehicle's entry, recorded by the site's entry lane two hours ago (once per visit).

    Returns the entry's transaction id (the one still open when the last visit's
    exit was misread).
    """
    at = datetime.now(UTC) - timedelta(hours=PARKED_H)
    with Store.open(store_path) as store, store.batch():
        found = store.entries.find(plate)
        if found is not None:
            return found.txn_id  # the last visit's exit was misread: that entry is still open
        record = store.append_transaction(rule_entry(ENTRY_LANE, at, plate))
        try:
            store.entries.open(record)
        except EntryAlreadyOpenError as exc:
            raise BenchError(f"entry of {plate}: {exc}") from None
        return record.id


def drive(
    driver: Driver, photos: list[tuple[Path, str]], count: int, store_path: Path, out: TextIO
) -> list[PassageSeen]:
    passages = []
    for number in range(count):
        if driver.stop.is_set():
            break
        image, plate = photos[number % len(photos)]
        seed_entry(store_path, plate)
        passage = driver.through(plate, image=image)
        passages.append(passage)
        record = passage.record
        read = record.plate_text if record is not None and record.plate_text else "unreadable"
        opened = f"{passage.open_ms:7.0f} ms" if passage.open_ms is not None else "        -"
        status = record.status if record is not None else "no record"
        label = "warm-up" if number == 0 else f"{number:>3}/{count - 1}"
        print(f"  {label}  {plate:<9} read {read:<9} open {opened}  {status}", file=out, flush=True)
    return passages


@dataclass(frozen=True)
class LaneReads:
    """What the lane's own events say of its plate reads (the warm-up vehicle's included)."""

    ms: list[float]
    """Plate-read times, ms after the loop, from the passage_timings events."""
    late: int
    """Reads that missed the read deadline (plate_read_late events)."""


def lane_reads(store_path: Path) -> LaneReads:
    with Store.open(store_path) as store:
        events = store.events(LANE, 1, 100_000)
    times = [e.detail.get("plate_read_ms") for e in events if e.kind == "passage_timings"]
    late = sum(e.kind == "plate_read_late" for e in events)
    return LaneReads([float(t) for t in times if isinstance(t, int | float)], late)


def figures(
    passages: list[PassageSeen],
    rss_mb: float | None,
    reads: LaneReads,
    travel_s: float,
    *,
    load: int,
    priority: Priority,
    how: str,
) -> Figures:
    correct = [p for p in passages if p.record is not None and _read_right(p)]
    paid = [
        p
        for p in passages
        if p.record is not None
        and p.record.payment_method == "account"
        and p.record.payment_status == "approved"
        and p.open_ms is not None
    ]
    opens = [p.open_ms for p in paid if p.open_ms is not None]
    cycles = [p.closed_at - p.arrived_at for p in paid if p.closed_at is not None]
    cycle = statistics.fmean(cycles) if cycles else None
    reactions = [
        (p.open_ms + p.close_ms) / 1000
        for p in paid
        if p.open_ms is not None and p.close_ms is not None
    ]
    drive_s = TIMING.onto_safety_s + TIMING.off_arming_s + TIMING.off_safety_s
    return Figures(
        open_ms_p50=percentile(opens, 50),
        open_ms_p95=percentile(opens, 95),
        open_ms_p99=percentile(opens, 99),
        read_rate=len(correct) / len(passages) if passages else 0.0,
        vehicles_per_min=60.0 / cycle if cycle else None,
        rss_mb=rss_mb,
        stranded=sum(p.stranded for p in passages),
        vehicles=len(passages),
        account_paid=len(paid),
        cycle_s_mean=cycle,
        lane_reaction_s_mean=statistics.fmean(reactions) if reactions else None,
        plate_read_ms_p50=percentile(reads.ms, 50),
        reads_late=reads.late,
        drive_through_s=drive_s,
        barrier_travel_s=travel_s,
        load=load,
        load_average=os.getloadavg()[0],
        lane_cpu_weight=priority.weight,
        lane_priority=how,
    )


def lane_priority(priority: Priority, reader: RecognitionConfig) -> str:
    """The lane's CPU weight and where it came from, and the plate reader's settings."""
    return (
        f"{priority.how}; the plate reader {reader.nice} nice steps below the lane's loop, "
        f"{reader.threads} inference thread{'s' if reader.threads > 1 else ''}"
    )


def _read_right(passage: PassageSeen) -> bool:
    record = passage.record
    return bool(
        record is not None
        and record.plate_text
        and passage.shown
        and normalise(record.plate_text) == normalise(passage.shown)
    )


def table(f: Figures) -> str:
    rows = []
    for name in (
        "open_ms_p50",
        "open_ms_p95",
        "open_ms_p99",
        "read_rate",
        "vehicles_per_min",
        "rss_mb",
        "stranded",
    ):
        value = getattr(f, name)
        shown = (
            "n/a"
            if value is None
            else f"{value:.3f}"
            if name == "read_rate"
            else str(value)
            if isinstance(value, int)
            else f"{value:.1f}"
        )
        target = ""
        if name in TARGETS:
            op, limit = TARGETS[name]
            met = value is not None and _meets(value, op, limit)
            target = f"{op} {limit:g}  {'met' if met else 'MISSED'}"
        rows.append(f"{name:<18}{shown:>10}   {target}")
    notes = [
        f"vehicles {f.vehicles} (after 1 warm-up), paid from an account and opened: {f.account_paid}",
        "open_ms: arming loop on (I/O module simulator) -> open command accepted by the barrier "
        "controller, stamped in this process; plate read, lookup, account payment and store "
        "commits included"
        + (
            f"; the lane's own plate read alone: p50 {f.plate_read_ms_p50:.0f} ms after the loop"
            if f.plate_read_ms_p50 is not None
            else ""
        ),
        "vehicles_per_min: 60 s / mean lane cycle "
        + (f"({f.cycle_s_mean:.2f} s) " if f.cycle_s_mean is not None else "")
        + "from arming loop on to barrier down behind the vehicle, vehicles one after the other; "
        f"the simulated driver takes {f.drive_through_s:.1f} s to drive through and the barrier "
        f"{f.barrier_travel_s:.1f} s each way"
        + (
            f"; the lane's own reactions (loop to open command, safety loop clear to close "
            f"command) take {f.lane_reaction_s_mean:.2f} s of the cycle"
            if f.lane_reaction_s_mean is not None
            else ""
        ),
        "rss_mb: peak resident memory (VmHWM) of the lane daemon process alone",
        "stranded: vehicles neither let through nor turned away within the driver's "
        f"{TIMING.patience_s:.0f} s of patience",
        f"load: {f.load} CPU-burning processes beside the lane during the run; "
        f"{f.reads_late} plate reads missed the lane's read deadline",
        f"priority: {f.lane_priority}; the burners and the simulators at the default",
        f"machine: {os.cpu_count()} CPUs, load average {f.load_average:.1f} at the end of the run",
    ]
    return "\n".join(
        [f"{'figure':<18}{'value':>10}   target", *rows, "", *(f"- {n}" for n in notes)]
    )


def _meets(value: float, op: str, limit: float) -> bool:
    if op == "<":
        return value < limit
    if op == ">=":
        return value >= limit
    return value == limit
