"""``lanewarden demo``: a parking site with an entry and an exit lane, run end to end.

:func:`run_demo` is the whole demo, one step after the other:

1. the simulators of both lanes start in this process (I/O modules on Modbus
   TCP, cameras, displays on ptys, the exit's serial barrier controller on a
   pty) with the payment gateway simulator, which pays every QR order after a
   moment (the customer scanning);
2. a broker starts (:mod:`simulators.mqtt_broker`): mosquitto on a free port
   with its config in the work folder, else (or with ``--broker embedded``) the
   embedded amqtt broker, MQTT 3.1.1, in this process;
3. the shipped ``riverside-entry`` and ``riverside-exit`` lane files are
   derived into the work folder, pointed at those simulators, at one site
   store and, in a ``[sync]`` section, at the broker; the tariff loses its free
   minutes, since a demo stay lasts seconds; ``central.toml`` is written beside
   them (:mod:`fleet.central_process`: SQLite in the work folder, two workers on
   mosquitto, one on the 3.1.1 broker, said in one line);
4. the store gets the site's prepaid accounts and whitelist;
5. central (``lanewarden central run``) and each lane daemon (``lanewarden edge
   run``) start as processes of their own, as systemd would start them, and
   the demo waits until all are ready, showing which are still starting;
6. traffic runs (:mod:`fleet.traffic`) until ``--duration`` passes, or
   SIGINT / SIGTERM; the exit offers help to a car whose plate it cannot read
   (``offer_help``), and the first two cars out are helped that way, one by its
   driver (pay by plate), one by an operator (:mod:`fleet.stranded`); in the
   middle the broker stops for 20 s (:mod:`fleet.outage`, scaled down for a
   short run) while the lanes' backlog grows, then drains;
7. the demo waits (at most ``DRAIN_S``) for the lanes' backlog to drain, stops
   the lanes with SIGTERM, sends what they wrote while stopping, stops central,
   the broker and the simulators; the summary counts the vehicles and fees,
   verifies the store's hash chains and compares central's count, sum and
   chains with the lanes' (:mod:`fleet.agreement`), naming central's database
   and the ``lanewarden central report`` that reads it.

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
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from contracts.money import format_amount
from edge.config.lane import LaneFiles
from edge.config.plaza import PlazaConfig
from edge.store import ListEntry, Store, verify
from fleet.agreement import Agreement, Figures, compare
from fleet.central_process import CentralSite, central_process, write_central
from fleet.driving import Driver, LaneRecords
from fleet.lane_files import derive_lane, gateway_payments, sync_section
from fleet.lane_process import DaemonProcess, LaneProcess, LaneStartError
from fleet.outage import (
    Backlog,
    BrokerOutage,
    backlog_text,
    final_sync,
    plan_outage,
    read_backlog,
    total,
    wait_drained,
)
from fleet.plates import demo_plates
from fleet.rig import LaneRig
from fleet.screen import Screen
from fleet.stranded import StrandedHelp
from fleet.traffic import DemoTraffic, Pays, Tally
from plumbing import log
from plumbing.broker_process import Broker, BrokerStartError, free_port
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer
from simulators.mqtt_broker import Choice, start_broker

ENTRY, EXIT = "riverside-entry", "riverside-exit"
MERCHANT = "riverside-demo"
PAY_AFTER_MS = 2000
ACCOUNT_BALANCE = 20_000  # fen
PLATES_PER_KIND: dict[Pays, int] = {"qr": 24, "prepaid": 8, "whitelist": 6}
CENTRAL = "central"
DRAIN_S = 30.0
"""How long the lanes' backlog may take to drain after the traffic before the demo fails."""
FINAL_SYNC_S = 15.0


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
    broker: Choice = "auto"
    """mosquitto when installed (``auto``), or always it, or the embedded amqtt broker."""


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
        """The log of the daemon ``lane_id`` (``central`` for central's)."""
        return self.workdir / f"{lane_id}.log"

    def at_start(self) -> str:
        daemons = f"{self.lane(ENTRY).name}, {self.lane(EXIT).name} and {self.lane(CENTRAL).name}"
        if self.verbose:
            return f"logs: here on stderr (--verbose); the daemons' also in {daemons} there"
        return (
            f"logs: JSON lines there, {self.demo.name} (simulators, gateway), {daemons} "
            "(lane daemons, central); --verbose shows them here too"
        )

    def at_end(self) -> str:
        files = [self.lane(ENTRY), self.lane(EXIT), self.lane(CENTRAL)]
        if not self.verbose:
            files.insert(0, self.demo)
        return (
            f"logs: {', '.join(map(str, files))}; the work folder {self.workdir} stays "
            "(lane files, stores, broker, logs): remove it when done"
        )


def _run(options: DemoOptions, logs: DemoLogs, screen: Screen, stop: threading.Event) -> int:
    say, workdir = screen.say, logs.workdir
    store_path = workdir / "riverside.db"
    plates = demo_plates(PLATES_PER_KIND, options.seed)
    with ExitStack() as stack:
        # 1. simulators
        entry_rig, exit_rig, gateway, secret = _simulators(stack, options.seed)
        # 2. the broker
        try:
            broker = start_broker(options.broker, workdir=workdir / "broker")
        except BrokerStartError as exc:
            say(f"error: {exc}")
            return 1
        stack.callback(broker.close)
        say(broker_line(broker, options.broker))
        # 3. lane files and central's
        entry_files, exit_files = _lane_files(
            config=workdir / "config",
            store_path=store_path,
            entry_rig=entry_rig,
            exit_rig=exit_rig,
            gateway=gateway,
            secret=secret,
            sync=sync_section(broker.host, broker.port, mqtt5=broker.mqtt5),
        )
        lane_paths = (os.path.relpath(files.path, workdir) for files in (entry_files, exit_files))
        say(
            f"lanes: {' and '.join(lane_paths)} there (one store: {store_path.name}), "
            f"syncing to central through the broker"
        )
        say("tariff: riverside-parking without its 15 free minutes (a demo stay lasts seconds)")
        plaza = entry_files.plaza
        central = _central_site(workdir, broker, plaza, say)
        # 4. the site's accounts and lists
        heads = _seed(store_path, plates)
        say(
            f"site: {len(plates['prepaid'])} prepaid accounts of "
            f"{format_amount(ACCOUNT_BALANCE, 'CNY')}, {len(plates['whitelist'])} whitelisted "
            f"plates; QR orders are paid by the gateway simulator after {PAY_AFTER_MS} ms"
        )
        # 5. central and the lane daemons, each its own process
        echo = sys.stderr if options.verbose else None
        central_proc = central_process(central, logs.lane(CENTRAL), echo=echo)
        lanes = {
            lane_id: LaneProcess(files.path, logs.lane(lane_id), echo=echo)
            for lane_id, files in ((ENTRY, entry_files), (EXIT, exit_files))
        }
        codes: dict[str, int | None] = {}
        stack.callback(lambda: codes.__setitem__(CENTRAL, central_proc.stop()))

        def stop_lanes() -> None:
            for lane_id, lane in lanes.items():
                codes[lane_id] = lane.stop()

        stack.callback(stop_lanes)
        daemons: dict[str, DaemonProcess] = {CENTRAL: central_proc, **lanes}
        try:
            for daemon in daemons.values():
                daemon.spawn()
            pids = ", ".join(f"{name} {daemon.pid}" for name, daemon in daemons.items())
            say(
                f"starting central (lanewarden central run) and the lane daemons (lanewarden "
                f"edge run), pids {pids}; plate models take a while to load on a small machine ..."
            )
            ready = wait_until_ready(daemons, screen, stop)
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
        # 6. traffic, and the broker's outage in its middle
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

        def backlog() -> Backlog:
            return read_backlog(store_path, (ENTRY, EXIT))

        def alive() -> str | None:
            for name, daemon in daemons.items():
                if daemon.proc is not None and daemon.proc.poll() is not None:
                    return f"{name} exited ({daemon.proc.returncode}):\n{daemon.tail()}"
            return None

        failure = _traffic_and_outage(
            traffic,
            duration_s=options.duration_s,
            alive=alive,
            broker=broker,
            backlog=backlog,
            screen=screen,
        )
        # 7. the backlog drains, then everything stops in order
        drained = _drain_and_stop(screen, backlog, stop_lanes, (entry_files, exit_files))
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
    agreed = _central_report(say, store_path, central, plaza)
    clean = failure is None and all(code == 0 for code in codes.values())
    return 0 if clean and report.ok and drained and agreed else 1


def _central_report(
    say: Callable[[str], None], store_path: Path, central: CentralSite, plaza: PlazaConfig
) -> bool:
    """Central's figures and chains against the lanes' (the summary's lines); whether they agree."""
    zone = ZoneInfo(plaza.timezone)
    agreement = compare(
        store_path,
        central.config.storage.database_url,
        (ENTRY, EXIT),
        zone,
        lambda: datetime.now(UTC).astimezone(zone).date(),
    )
    central_summary(say, agreement, central, plaza.currency)
    return agreement.figures_agree and agreement.chains_agree


def _central_site(
    workdir: Path, broker: Broker, plaza: PlazaConfig, say: Callable[[str], None]
) -> CentralSite:
    """Central's file for ``broker`` and the plaza, said in two lines."""
    central = write_central(workdir, broker, {plaza.id: plaza.timezone})
    say(central.workers_line)
    say(
        f"central: {central.path.name} there, SQLite database "
        f"{os.path.relpath(central.database, workdir)}"
    )
    return central


def _simulators(stack: ExitStack, seed: int) -> tuple[LaneRig, LaneRig, GatewayServer, str]:
    """Both lanes' devices and the payment gateway, started (stopped by ``stack``); its secret."""
    entry_rig = LaneRig(serial_barrier=False, seed=seed)
    exit_rig = LaneRig(serial_barrier=True, seed=seed + 1)
    for rig in (entry_rig, exit_rig):
        rig.start()
        stack.callback(rig.stop)
    secret = secrets.token_hex(16)
    gateway = GatewayServer(
        secret=secret.encode(),
        merchant_id=MERCHANT,
        faults=GatewayFaults(auto_pay_ms=PAY_AFTER_MS),
        seed=seed,
    )
    gateway.start()
    stack.callback(gateway.stop)
    return entry_rig, exit_rig, gateway, secret


def _traffic_and_outage(
    traffic: DemoTraffic,
    *,
    duration_s: float | None,
    alive: Callable[[], str | None],
    broker: Broker,
    backlog: Callable[[], Backlog],
    screen: Screen,
) -> str | None:
    """The traffic, with the broker's outage in its middle; what went wrong, if anything."""
    say = screen.say
    plan = plan_outage(duration_s)
    outage = None
    if isinstance(plan, str):
        say(plan)
    else:
        outage = BrokerOutage(broker, plan, backlog, screen)
        say(
            f"broker outage: {plan.length_s:g} s from {plan.start_s:g} s into the traffic "
            "(the lanes queue their records, then drain them)"
        )
    say(f"IN: {ENTRY}, OUT: {EXIT}; times from the start of the traffic")
    if outage is not None:
        outage.start()
    try:
        failure = traffic.run(duration_s, alive)
    finally:
        if outage is not None:
            outage.finish()
    if failure is None and outage is not None and outage.error is not None:
        failure = outage.error
    if failure is not None:
        say(f"error: {failure}")
    return failure


def _drain_and_stop(
    screen: Screen,
    backlog: Callable[[], Backlog],
    stop_lanes: Callable[[], None],
    files: tuple[LaneFiles, ...],
) -> bool:
    """Wait for the backlog to drain, stop the lanes, sync what they wrote while stopping;
    whether central got everything."""
    say = screen.say
    say(f"traffic over: waiting for the lanes' backlog to drain (at most {DRAIN_S:g} s) ...")
    left = wait_drained(backlog, screen, DRAIN_S)
    drained = total(left) == 0
    if drained:
        say("backlog: none, central has acked every record")
    else:
        say(f"error: the lanes' backlog did not drain in {DRAIN_S:g} s: {backlog_text(left)}")
    say("stopping: lanes (SIGTERM), then central, the broker and the simulators ...")
    stop_lanes()
    if not drained:
        return False
    stopping = backlog()
    left = final_sync(files, backlog, FINAL_SYNC_S)
    if total(left):
        say(
            "error: what the lanes wrote while stopping did not reach central in "
            f"{FINAL_SYNC_S:g} s: {backlog_text(left)}"
        )
        return False
    if total(stopping):
        say(
            f"  sent what the lanes wrote while stopping ({backlog_text(stopping)}) with "
            "their sync outboxes, as their next start would"
        )
    return True


def broker_line(broker: Broker, choice: Choice) -> str:
    """Which broker runs where, and why this one."""
    where = f"on {broker.host}:{broker.port}"
    if broker.mqtt5:
        return f"broker: {broker.name} {where} (MQTT 5; config and log in broker/)"
    why = "--broker embedded" if choice == "embedded" else "mosquitto is not installed"
    return f"broker: {broker.name} {where}, in this process ({why})"


def wait_until_ready(
    lanes: Mapping[str, DaemonProcess], screen: Screen, stop: threading.Event
) -> bool:
    """Wait for each daemon's READY=1, showing which are still starting; False on Ctrl-C.

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
    sync: dict[str, Any],
) -> tuple[LaneFiles, LaneFiles]:
    """The two lanes' files, on these simulators, with ``sync`` as their ``[sync]``; the exit
    pays QR through ``gateway``."""
    # the shipped payment policy, with the gateway simulator as the QR gateway
    payments = {"gateway": gateway_payments(gateway.url, MERCHANT, secret, free_port())}
    entry = derive_lane(
        ENTRY,
        config,
        store=store_path,
        devices=entry_rig.devices(),
        changes={"sync": sync},
        tariff_edit=no_free_minutes,
    )
    exit_ = derive_lane(
        EXIT,
        config,
        store=store_path,
        devices=exit_rig.devices(),
        changes={
            "payments": payments,
            "policy": {"unreadable_plate": "offer_help"},
            "sync": sync,
        },
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
    say("  stopped: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()))
    say(
        f"  store: {sum(records.values())} transaction records this run; "
        f"hash chains {'verified OK' if chain_ok else 'BROKEN'}"
    )


def central_summary(
    say: Callable[[str], None], agreement: Agreement, central: CentralSite, currency: str
) -> None:
    """Central's count and sum beside the lanes', the chains of both, where central's data is."""
    lanes, stored = agreement.lanes, agreement.central

    def figures(of: Mapping[str, Figures]) -> str:
        count = sum(f.transactions for f in of.values())
        amount = format_amount(sum(f.revenue for f in of.values()), currency)
        return f"{count} transactions, {amount}"

    verdict = "they agree" if agreement.figures_agree else "they DIFFER"
    say(f"  central: {figures(stored)}; the lanes' stores: {figures(lanes)}: {verdict}")
    for lane in lanes:
        if lanes[lane] != stored[lane]:
            say(
                f"    {lane}: central {figures({lane: stored[lane]})}, lane {figures({lane: lanes[lane]})}"
            )
    lane_chains = "OK" if agreement.lanes_chains_ok else "BROKEN"
    central_chains = "BROKEN" if agreement.central_chain_problems else "OK"
    heads = "the same heads" if not agreement.head_differences else "DIFFERENT heads"
    verdict = "they agree" if agreement.chains_agree else "they DISAGREE"
    say(
        f"  chains: lanewarden store verify {lane_chains}, central's chain check "
        f"{central_chains}, {heads}: {verdict}"
    )
    for problem in (
        *agreement.lanes_chain_problems,
        *agreement.central_chain_problems,
        *agreement.head_differences,
    ):
        say(f"    {problem}")
    first, last = agreement.days[0], agreement.days[-1]
    days = f"--day {first}" + (f" --to {last}" if last != first else "")
    say(f"  central's database: {central.database}")
    say(f"  its report: lanewarden central report {days} --config {central.path}")
