"""``lanewarden demo``: a parking site with an entry and an exit lane, run end to end.

:func:`run_demo` is the whole demo, one step after the other:

1. the simulators of both lanes start in this process (I/O modules on Modbus
   TCP, cameras, displays on ptys, the exit's serial barrier controller on a
   pty) with the payment gateway simulator, which pays every QR order after a
   moment (the customer scanning);
2. the shipped ``riverside-entry`` and ``riverside-exit`` lane files are
   derived into the work folder, pointed at those simulators and at one site
   store; the tariff loses its free minutes, since a demo stay lasts seconds;
3. the store gets the site's prepaid accounts and whitelist;
4. each lane daemon starts as its own process (``lanewarden edge run``), as
   systemd would start it, and the demo waits until both are ready, showing
   which are still starting;
5. traffic runs (:mod:`fleet.traffic`) until ``--duration`` passes, or
   SIGINT / SIGTERM; the exit offers help to a car whose plate it cannot read
   (``offer_help``), and the first two cars out are helped that way, one by its
   driver (pay by plate), one by an operator (:mod:`fleet.stranded`);
6. the lanes stop with SIGTERM, then the simulators; the summary counts the
   vehicles and fees and verifies the store's hash chains.

A person at the terminal reads only the demo's own lines, all printed through
one :class:`fleet.screen.Screen` (these steps, a line per vehicle from
:mod:`fleet.traffic`, the summary). The log lines, this process's
(simulators, gateway) and each lane daemon's, go to files in the work folder,
named at the start and the end; the folder stays for them. ``--verbose`` shows
them on stderr as well.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from contracts.money import format_amount
from edge.config.lane import LaneFiles
from edge.store import ListEntry, Store, verify
from fleet.driving import Driver, LaneRecords
from fleet.lane_files import derive_lane, gateway_payments
from fleet.lane_process import LaneProcess, LaneStartError
from fleet.plates import demo_plates
from fleet.rig import LaneRig
from fleet.screen import Screen
from fleet.stranded import StrandedHelp
from fleet.traffic import DemoTraffic, Pays, Tally
from plumbing import log
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer

ENTRY, EXIT = "riverside-entry", "riverside-exit"
MERCHANT = "riverside-demo"
PAY_AFTER_MS = 2000
ACCOUNT_BALANCE = 20_000  # fen
PLATES_PER_KIND: dict[Pays, int] = {"qr": 24, "prepaid": 8, "whitelist": 6}


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float | None
    vehicles_per_min: float
    seed: int
    workdir: Path | None
    verbose: bool = False
    """Log lines on stderr too, not only in the work folder's files."""
    log_level: str = "info"
    log_format: str = "auto"
    """Of stderr's log lines (as ``lanewarden --log-level/--log-format`` gave them)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def no_free_minutes(tariff: str) -> str:
    """The Riverside tariff without its free minutes: demo stays last seconds, not hours."""
    lines = tariff.splitlines(keepends=True)
    edited = ["free_minutes = 0\n" if line == "free_minutes = 15\n" else line for line in lines]
    if edited == lines:
        raise ValueError("tariff: no `free_minutes = 15` line to change")
    return "".join(edited)


def run_demo(options: DemoOptions, out: TextIO, stop: threading.Event) -> int:
    """The demo until ``options.duration_s`` passes or ``stop`` is set; the exit status.

    ``out`` gets the lines for people; the log lines go to files in the work
    folder (to stderr too with ``options.verbose``), which stays for them.
    """
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="lanewarden-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    screen = Screen(out)
    logs = DemoLogs(workdir, options.verbose)
    screen.say(f"lanewarden demo: Riverside Car Park, work folder {workdir}")
    screen.say(logs.at_start())
    if options.verbose:
        code = _run(options, logs, screen, stop)
    else:
        with log.to_file(logs.demo, options.log_level, options.log_format):
            code = _run(options, logs, screen, stop)
    screen.say(logs.at_end())
    return code


@dataclass(frozen=True)
class DemoLogs:
    """Where the demo's log lines go: this process's and each lane daemon's, in the work folder."""

    workdir: Path
    verbose: bool

    @property
    def demo(self) -> Path:
        return self.workdir / "demo.log"

    def lane(self, lane_id: str) -> Path:
        return self.workdir / f"{lane_id}.log"

    def at_start(self) -> str:
        lanes = f"{self.lane(ENTRY).name} and {self.lane(EXIT).name}"
        if self.verbose:
            return f"logs: here on stderr (--verbose); the lane daemons' also in {lanes} there"
        return (
            f"logs: JSON lines there, {self.demo.name} (simulators, gateway), {lanes} "
            "(lane daemons); --verbose shows them here too"
        )

    def at_end(self) -> str:
        files = [self.lane(ENTRY), self.lane(EXIT)]
        if not self.verbose:
            files.insert(0, self.demo)
        return (
            f"logs: {', '.join(map(str, files))}; the work folder {self.workdir} stays "
            "(lane files, store, logs): remove it when done"
        )


def _run(options: DemoOptions, logs: DemoLogs, screen: Screen, stop: threading.Event) -> int:
    say, workdir = screen.say, logs.workdir
    store_path = workdir / "riverside.db"
    plates = demo_plates(PLATES_PER_KIND, options.seed)
    with ExitStack() as stack:
        # 1. simulators
        entry_rig = LaneRig(serial_barrier=False, seed=options.seed)
        exit_rig = LaneRig(serial_barrier=True, seed=options.seed + 1)
        for rig in (entry_rig, exit_rig):
            rig.start()
            stack.callback(rig.stop)
        secret = secrets.token_hex(16)
        gateway = GatewayServer(
            secret=secret.encode(),
            merchant_id=MERCHANT,
            faults=GatewayFaults(auto_pay_ms=PAY_AFTER_MS),
            seed=options.seed,
        )
        gateway.start()
        stack.callback(gateway.stop)
        # 2. lane files
        entry_files, exit_files = _lane_files(
            config=workdir / "config",
            store_path=store_path,
            entry_rig=entry_rig,
            exit_rig=exit_rig,
            gateway=gateway,
            secret=secret,
        )
        lane_paths = (os.path.relpath(files.path, workdir) for files in (entry_files, exit_files))
        say(f"lanes: {' and '.join(lane_paths)} there (one store: {store_path.name})")
        say("tariff: riverside-parking without its 15 free minutes (a demo stay lasts seconds)")
        # 3. the site's accounts and lists
        heads = _seed(store_path, plates)
        say(
            f"site: {len(plates['prepaid'])} prepaid accounts of "
            f"{format_amount(ACCOUNT_BALANCE, 'CNY')}, {len(plates['whitelist'])} whitelisted "
            f"plates; QR orders are paid by the gateway simulator after {PAY_AFTER_MS} ms"
        )
        # 4. the lane daemons, each its own process
        echo = sys.stderr if options.verbose else None
        lanes = {
            lane_id: LaneProcess(files.path, logs.lane(lane_id), echo=echo)
            for lane_id, files in ((ENTRY, entry_files), (EXIT, exit_files))
        }
        codes: dict[str, int | None] = {}

        def stop_lanes() -> None:
            for lane_id, lane in lanes.items():
                codes[lane_id] = lane.stop()

        stack.callback(stop_lanes)
        try:
            for lane in lanes.values():
                lane.spawn()
            pids = " and ".join(str(lane.pid) for lane in lanes.values())
            say(
                f"starting the lane daemons (lanewarden edge run, pids {pids}); "
                "plate models take a while to load on a small machine ..."
            )
            ready = wait_until_ready(lanes, screen, stop)
        except LaneStartError as exc:
            say(f"error: {exc}")
            return 1
        if not ready:
            say("interrupted before the lanes were ready; stopping them")
            return 0
        say(
            f"lanes ready: {ENTRY} (pid {lanes[ENTRY].pid}), {EXIT} (pid {lanes[EXIT].pid}); "
            f"traffic at {options.vehicles_per_min:g} vehicles/min, "
            + (f"for {options.duration_s:g} s" if options.duration_s else "until Ctrl-C")
        )
        say(f"IN: {ENTRY}, OUT: {EXIT}; times from the start of the traffic")
        # 5. traffic
        traffic = DemoTraffic(
            Driver(entry_rig, LaneRecords(store_path, ENTRY), stop),
            Driver(exit_rig, LaneRecords(store_path, EXIT), stop),
            plates,
            vehicles_per_min=options.vehicles_per_min,
            seed=options.seed,
            screen=screen,
            stop=stop,
            help_=StrandedHelp(gateway.sim, EXIT, exit_files.lane.control_socket(), stop),
        )

        def alive() -> str | None:
            for lane_id, lane in lanes.items():
                if lane.proc is not None and lane.proc.poll() is not None:
                    return f"lane {lane_id} exited ({lane.proc.returncode}):\n{lane.tail()}"
            return None

        failure = traffic.run(options.duration_s, alive)
        if failure is not None:
            say(f"error: {failure}")
        # 6. stop, in order
        say("stopping: lanes (SIGTERM), then simulators ...")
        stack.close()
    report = verify(store_path)
    summary(
        say,
        traffic.tally,
        queued=traffic.queued,
        codes=codes,
        chain_ok=report.ok,
        store_path=store_path,
        heads=heads,
    )
    clean = failure is None and all(code == 0 for code in codes.values())
    return 0 if clean and report.ok else 1


def wait_until_ready(lanes: dict[str, LaneProcess], screen: Screen, stop: threading.Event) -> bool:
    """Wait for each lane's READY=1, showing which are still starting; False on Ctrl-C.

    :class:`LaneStartError` when a lane exits or takes too long.
    """
    start = time.monotonic()
    starting = dict(lanes)
    try:
        while starting:
            if stop.is_set():
                return False
            for lane_id, lane in list(starting.items()):
                if lane.poll_ready(wait_s=0.1):
                    del starting[lane_id]
                    screen.say(f"  {lane_id} ready after {time.monotonic() - start:.1f} s")
            if starting:
                waited = time.monotonic() - start
                screen.progress(f"waiting for {' and '.join(starting)}: {waited:.0f} s")
        return True
    finally:
        screen.done()


def _lane_files(
    *,
    config: Path,
    store_path: Path,
    entry_rig: LaneRig,
    exit_rig: LaneRig,
    gateway: GatewayServer,
    secret: str,
) -> tuple[LaneFiles, LaneFiles]:
    """The two lanes' files, on these simulators; the exit pays QR through ``gateway``."""
    # the shipped payment policy, with the gateway simulator as the QR gateway
    payments = {"gateway": gateway_payments(gateway.url, MERCHANT, secret, free_port())}
    entry = derive_lane(
        ENTRY, config, store=store_path, devices=entry_rig.devices(), tariff_edit=no_free_minutes
    )
    exit_ = derive_lane(
        EXIT,
        config,
        store=store_path,
        devices=exit_rig.devices(),
        changes={"payments": payments, "policy": {"unreadable_plate": "offer_help"}},
        tariff_edit=no_free_minutes,
    )
    return entry, exit_


def _seed(store_path: Path, plates: dict[Pays, list[str]]) -> dict[str, int]:
    """Prepaid accounts and the whitelist into the site store; each lane's last lane_seq."""
    with Store.open(store_path) as store, store.batch():
        for number, plate in enumerate(plates["prepaid"], start=1):
            store.accounts.put(f"demo-{number:03d}", "CNY", ACCOUNT_BALANCE, [plate])
        version = (store.lists.version("whitelist") or 0) + 1
        store.lists.replace("whitelist", version, [ListEntry(p) for p in plates["whitelist"]])
        return {lane: store.sync_status(lane).txn.last_seq for lane in (ENTRY, EXIT)}


def summary(
    say: Callable[[str], None],
    tally: Tally,
    *,
    queued: int,
    codes: dict[str, int | None],
    chain_ok: bool,
    store_path: Path,
    heads: dict[str, int],
) -> None:
    with Store.open(store_path) as store:
        records = {lane: len(store.transactions(lane, heads[lane] + 1, 100_000)) for lane in heads}
    total = sum(tally.fees.values())
    say("")
    say("summary")
    say(
        f"  vehicles: {tally.entered} in, {tally.left} out, {tally.entered - tally.left} still "
        f"parked, {tally.backed_out} turned back at the entry, {tally.refused} refused at the "
        f"exit, {queued} still queued at the entry"
    )
    say(f"  fees: {format_amount(total, tally.currency)}")
    for how, amount in sorted(tally.fees.items()):
        count = tally.paid[how]
        vehicles = f"{count} vehicle{'s' if count != 1 else ''}"
        say(f"    {how}: {vehicles}, {format_amount(amount, tally.currency)}")
    say("  lanes stopped: " + ", ".join(f"{lane} exit {code}" for lane, code in codes.items()))
    say(
        f"  store: {sum(records.values())} transaction records this run; "
        f"hash chains {'verified OK' if chain_ok else 'BROKEN'}"
    )
