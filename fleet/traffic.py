"""The demo's traffic: vehicles arrive at the entry, park a while, and leave by the exit.

Arrivals follow a Poisson process at ``vehicles_per_min``; vehicles pay in turn
(:data:`PAYS_CYCLE`) by QR through the gateway simulator, from a prepaid
account, or not at all (a whitelisted plate); each takes a plate of its kind
that is not inside already, and stays a random while. For colour, the
third vehicle has a dirty plate at the entry (the entry admits it for review,
so its exit finds no entry: the unmatched-exit fee, flagged), and the fifth
backs out of the entry once the barrier is up. The first two leave with a
plate the exit cannot read and are stranded until helped
(:mod:`fleet.stranded`): the first by its driver, who types the plate on
the pay-by-plate page, the second by an operator over the lane's control
socket. Each lane has its own worker
thread, so the two lanes work at the same time; every passage is printed as it
ends, with what the lane recorded.
"""

from __future__ import annotations

import heapq
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from contracts.money import format_amount
from fleet.driving import Driver, PassageSeen
from fleet.screen import Screen
from fleet.stranded import Helper, StrandedHelp

Pays = Literal["qr", "prepaid", "whitelist"]
PAYS_CYCLE: tuple[Pays, ...] = ("qr", "prepaid", "qr", "whitelist", "qr", "prepaid")
UNREADABLE_VEHICLE = 3
BACK_OUT_VEHICLE = 5
STRANDED_AT_EXIT: dict[int, Helper] = {1: "driver", 2: "operator"}
FIRST_STAY_S = 3.0  # the first vehicle leaves soon, so a short demo shows a whole visit
STAY_S = (8.0, 30.0)


@dataclass
class Vehicle:
    number: int
    plate: str
    pays: Pays
    stay_s: float
    unreadable: bool = False
    backs_out: bool = False
    stranded_by: Helper | None = None  # its plate is not read at the exit; who helps it out


@dataclass
class Tally:
    """What the traffic saw, for the summary."""

    entered: int = 0
    left: int = 0
    backed_out: int = 0
    refused: int = 0
    fees: dict[str, int] = field(default_factory=dict)  # by how it was paid
    paid: dict[str, int] = field(default_factory=dict)  # vehicles, by how they paid
    currency: str = "CNY"


class Timeline:
    """Actions due at monotonic times, run by :meth:`run_due` from the main loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._count = 0

    def at(self, when: float, action: Callable[[], None]) -> None:
        with self._lock:
            self._count += 1
            heapq.heappush(self._heap, (when, self._count, action))

    def run_due(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > now:
                    return
                _, _, action = heapq.heappop(self._heap)
            action()


class DemoTraffic:
    def __init__(
        self,
        entry: Driver,
        exit_: Driver,
        plates: dict[Pays, list[str]],
        *,
        vehicles_per_min: float,
        seed: int,
        screen: Screen,
        stop: threading.Event,
        help_: StrandedHelp | None = None,
    ) -> None:
        if vehicles_per_min <= 0:
            raise ValueError(f"--vehicles-per-min must be positive, got {vehicles_per_min}")
        self.entry = entry
        self.exit = exit_
        self.plates = plates
        self.rate_per_s = vehicles_per_min / 60.0
        self.rng = random.Random(seed)
        self.screen = screen
        self.stop = stop
        self.help = help_
        self.tally = Tally()
        self.timeline = Timeline()
        self._entry_queue: queue.Queue[Vehicle] = queue.Queue()
        self._exit_queue: queue.Queue[Vehicle] = queue.Queue()
        self._inside: set[str] = set()
        self._lock = threading.Lock()
        self._count = 0
        self._start = time.monotonic()
        self._workers = [
            threading.Thread(
                target=self._work, args=(self._entry_queue, self._enter), name="demo-entry"
            ),
            threading.Thread(
                target=self._work, args=(self._exit_queue, self._leave), name="demo-exit"
            ),
        ]

    def run(self, duration_s: float | None, alive: Callable[[], str | None]) -> str | None:
        """Send vehicles until ``duration_s`` passes or ``stop`` is set; the reason a lane died, if one did."""
        self._start = time.monotonic()
        for worker in self._workers:
            worker.start()
        next_arrival = self._start + 1.0
        end = None if duration_s is None else self._start + duration_s
        failure = None
        try:
            while not self.stop.wait(0.1):
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                failure = alive()
                if failure is not None:
                    break
                if now >= next_arrival:
                    self._arrive()
                    next_arrival = now + self.rng.expovariate(self.rate_per_s)
                self.timeline.run_due(now)
        finally:
            self.stop.set()
            for worker in self._workers:
                worker.join()
        return failure

    @property
    def queued(self) -> int:
        """Vehicles that arrived but never reached the entry's loop."""
        return self._entry_queue.qsize()

    # -- vehicles

    def _arrive(self) -> None:
        with self._lock:
            pays = PAYS_CYCLE[self._count % len(PAYS_CYCLE)]
            free = [p for p in self.plates[pays] if p not in self._inside]
            if not free:
                return
            plate = self.rng.choice(free)
            self._inside.add(plate)
            self._count += 1
            number = self._count
        stay = FIRST_STAY_S if number == 1 else self.rng.uniform(*STAY_S)
        vehicle = Vehicle(
            number,
            plate,
            pays,
            stay,
            unreadable=number == UNREADABLE_VEHICLE,
            backs_out=number == BACK_OUT_VEHICLE,
            stranded_by=STRANDED_AT_EXIT.get(number) if self.help is not None else None,
        )
        self._entry_queue.put(vehicle)

    def _work(self, vehicles: queue.Queue[Vehicle], handle: Callable[[Vehicle], None]) -> None:
        while not self.stop.is_set():
            try:
                vehicle = vehicles.get(timeout=0.1)
            except queue.Empty:
                continue
            handle(vehicle)

    def _enter(self, vehicle: Vehicle) -> None:
        passage = self.entry.through(
            vehicle.plate, unreadable=vehicle.unreadable, back_out=vehicle.backs_out
        )
        if passage.interrupted:
            self._gone(vehicle)
            return
        self._say(passage, "IN ", vehicle, self._entry_detail(vehicle, passage))
        if passage.drove_through:
            self.tally.entered += 1
            due = time.monotonic() + vehicle.stay_s
            self.timeline.at(due, lambda: self._exit_queue.put(vehicle))
        else:
            self.tally.backed_out += 1
            self._gone(vehicle)

    def _leave(self, vehicle: Vehicle) -> None:
        helper, help_ = vehicle.stranded_by, self.help
        on_stranded = None
        if helper is not None and help_ is not None:

            def on_stranded() -> str:
                return help_.by(helper, vehicle.plate)

        passage = self.exit.through(
            vehicle.plate, unreadable=helper is not None, on_stranded=on_stranded
        )
        if passage.interrupted:
            return
        self._say(passage, "OUT", vehicle, self._exit_detail(passage))
        if passage.drove_through:
            self.tally.left += 1
            record = passage.record
            if record is not None and record.fee_total is not None:
                how = method_of(passage)
                self.tally.fees[how] = self.tally.fees.get(how, 0) + record.fee_total
                self.tally.paid[how] = self.tally.paid.get(how, 0) + 1
                self.tally.currency = record.currency or self.tally.currency
            self._gone(vehicle)
        else:
            # Still inside: an operator would sort it out; its plate is not used again.
            self.tally.refused += 1

    def _gone(self, vehicle: Vehicle) -> None:
        with self._lock:
            self._inside.discard(vehicle.plate)

    # -- printing

    def _entry_detail(self, vehicle: Vehicle, passage: PassageSeen) -> list[str]:
        record = passage.record
        parts = [read_text(passage)]
        if vehicle.unreadable:
            parts.insert(0, "dirty plate")
        parts.append(barrier_text(passage))
        if passage.drove_through:
            parts.append(f"parked ({vehicle.pays}, stays {vehicle.stay_s:.0f} s)")
        elif vehicle.backs_out and passage.opened_at is not None:
            parts.append("backed out")
        if record is not None:
            parts.append(f"record {record.status}" + flags_text(record.flags))
        return parts

    def _exit_detail(self, passage: PassageSeen) -> list[str]:
        record = passage.record
        parts = [read_text(passage)]
        if passage.helped is not None:
            parts = [f"dirty plate, stranded: {passage.helped}"]
        if record is not None:
            if record.entry_time is not None and record.exit_time is not None:
                stayed = (record.exit_time - record.entry_time).total_seconds()
                parts.append(f"stayed {stayed:.0f} s")
            if record.fee_total is not None and record.currency is not None:
                parts.append(f"fee {format_amount(record.fee_total, record.currency)}")
            parts.append(paid_how(passage))
        prompts = [line for line in passage.display if "Scan to pay" in line]
        if prompts:
            parts.append(f"display: {prompts[0].split(' / ')[0]}")
        parts.append(barrier_text(passage))
        if record is not None:
            parts.append(f"record {record.status}" + flags_text(record.flags))
        return parts

    def _say(self, passage: PassageSeen, way: str, vehicle: Vehicle, parts: list[str]) -> None:
        at = (passage.finished_at or time.monotonic()) - self._start
        shown = vehicle.plate
        self.screen.say(f"{at:6.1f}s  {way} #{vehicle.number:<3} {shown:<9} " + "  |  ".join(parts))


def read_text(passage: PassageSeen) -> str:
    record = passage.record
    if record is None:
        return "no record"
    if record.plate_text is None:
        return "plate unreadable"
    if "plate_typed" in record.flags:
        return f"plate typed {record.plate_text}"
    confidence = f" ({record.plate_confidence:.2f})" if record.plate_confidence else ""
    wrong = "" if record.plate_text == passage.shown else " MISREAD"
    return f"read {record.plate_text}{confidence}{wrong}"


def barrier_text(passage: PassageSeen) -> str:
    if passage.open_ms is None:
        return "barrier stayed down"
    return f"barrier opened after {passage.open_ms / 1000:.1f} s"


def paid_how(passage: PassageSeen) -> str:
    """How the exit was settled, with the payment's outcome."""
    record = passage.record
    method = method_of(passage)
    if record is not None and record.payment_method is not None:
        return f"{method} ({record.payment_status})"
    return method


def method_of(passage: PassageSeen) -> str:
    record = passage.record
    if record is None:
        return "unknown"
    if record.listing in ("whitelist", "permit"):
        return f"{record.listing}, no charge"
    if record.payment_method == "account":
        return "prepaid account"
    if record.payment_method == "terminal":
        return "QR via gateway"
    if record.authorisation == "rule" and not record.fee_total:
        return "no charge"
    return record.authorisation or record.status


def flags_text(flags: tuple[str, ...]) -> str:
    return f" [flagged: {', '.join(flags)}]" if flags else ""
