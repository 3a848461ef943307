"""One lane, running on its own: the start-up sequence, the running lane and its shutdown.

:meth:`LaneDaemon.start` is the whole start, one step after the other:

1. config: the lane files are loaded and validated by the caller
   (:func:`edge.config.lane.load_lane`);
2. the store is checked read-only (pages, heads against its head file: a damaged
   store is refused with its files untouched, :mod:`edge.store.startcheck`), then
   opened (created and migrated when new), with the evidence images' folder and
   the metrics endpoint when they are configured; the lane prices with the tariff
   central sent last, kept in the store, else its tariff file's
   (:func:`edge.daemon.config_push.initial_pricing`);
3. the drivers are built and started, and the start waits until every device is
   up (a missing device fails the start naming it);
4. plate recognition is started in its worker (a model that fails to load fails
   the start);
5. payments are built and their callback receiver started;
6. the payments of passages left open by the last run are brought to their end;
7. the lane machine starts from the devices' actual state and settles those
   passages (:mod:`edge.lane.restart`: one still authorised for the vehicle on
   the loops stays authorised), and the control socket for operator commands
   opens (``lanewarden edge ctl``); then systemd hears
   READY; beside it run the watchdog pings, the payment sweep (with the refunds
   the records say are due, :mod:`edge.daemon.refunds`), the store check and the
   retention work (images purged, old plate text pseudonymised);
8. sync with central starts when the lane file has a ``[sync]`` section
   (:mod:`edge.daemon.syncing`): the outbox, lane state and its will, telemetry,
   central's commands (to the operator desk) and configuration pushes, in a thread
   of its own; a broker that cannot be reached does not fail the start (records
   wait in the store), a password or TLS file that cannot be used does.

Anything that fails stops what was already started, in reverse order, and raises
:class:`StartupError` with a message naming the problem.

:meth:`LaneDaemon.stop` closes the lane to new vehicles, lets the current
passage finish for up to ``shutdown_grace_s``, resolves what is still open by
the recovery rule, leaves the barrier in the policy's safe position (never closed
on an occupied safety loop) and stops everything.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from contracts.gateway.protocol import plate_page_url
from contracts.gateway.transport import Transport
from contracts.records.vocab import DetailValue
from drivers.errors import DriverUnavailableError
from drivers.factory import LaneDrivers, build_lane
from drivers.interfaces import DeviceEvent, DeviceFault, Position
from edge.config.lane import LaneFiles, LanePayments
from edge.daemon.config_push import ConfigPush, PricingInForce, initial_pricing
from edge.daemon.control import ControlServer, ControlSocketError
from edge.daemon.devices import DeviceStartError, wait_until_up
from edge.daemon.display_text import lines_for
from edge.daemon.executor import LaneShell, Queued, StepLog
from edge.daemon.full_store import FullStore
from edge.daemon.lookup import CreditBook, LocalEntries, VehicleLookup
from edge.daemon.operator import OperatorDesk
from edge.daemon.payment_events import record_payment_event
from edge.daemon.plates import (
    Recognition,
    RecognitionFactory,
    RecognitionStartError,
    recognition_worker,
    start_recognition,
)
from edge.daemon.recording import Recorder
from edge.daemon.recovery import (
    Interrupted,
    interrupted_passages,
    recent_records,
    report_recovered,
)
from edge.daemon.refunds import Refunds
from edge.daemon.settling import StorePermits, StorePrepaid
from edge.daemon.shutdown import leave_safe, until
from edge.daemon.syncing import SyncStartError, remote_lookups, start_sync, view_of
from edge.evidence import Evidence, EvidenceError, site_key
from edge.lane import LaneState
from edge.lane.actions import Message, ShowMessage
from edge.lane.credits import credit_window
from edge.lane.events import Mode, Restarted, SetMode, Stopping
from edge.lane.state import KnownPosition
from edge.lane.store_space import SpaceChange, check_space
from edge.metrics import LaneMetrics
from edge.payments.outcome import PaymentEvent
from edge.payments.service import Payments
from edge.store import (
    SchemaError,
    Store,
    StoreDamagedError,
    StoreError,
    StoreFullError,
    check_store,
)
from edge.sync import LaneView, SyncService
from edge.sync.lookups import RemoteLookups
from plumbing import log
from plumbing.config import ConfigError
from plumbing.metrics import MetricsError, MetricsServer
from plumbing.systemd import Notifier

logger = log.get(__name__)

SYSTEM_OPERATOR = "lanewarden"


class StartupError(Exception):
    """The lane cannot start; the message names the file, device or setting at fault."""


class StoreUnusableError(StartupError):
    """The store is damaged, lost records or is not a lanewarden store: a restart will not help."""


@dataclass(frozen=True)
class DaemonOptions:
    device_timeout_s: float = 15.0
    shutdown_grace_s: float = 20.0  # for the passage in progress to finish
    payment_close_s: float = 10.0  # for a cancelled QR order to be closed at the gateway
    safety_clear_s: float = 5.0  # for the safety loop to clear before the barrier closes
    capture_frames: int = 2
    sweep_s: float = 60.0
    retention_s: float = 3600.0
    store_full_retry_s: float = 1.0  # how often a full store is tried again


class LaneDaemon:
    """A lane daemon in the running event loop: ``await start()``, then ``await stop()``.

    ``drivers``, ``recognition`` and ``transport`` replace the hardware, the
    plate recognition worker and the gateway's HTTP transport (tests, bench);
    ``step_log`` hears every event the lane machine takes (its event log).
    """

    def __init__(
        self,
        files: LaneFiles,
        *,
        environ: Mapping[str, str] | None = None,
        drivers: LaneDrivers | None = None,
        recognition: RecognitionFactory = recognition_worker,
        transport: Transport | None = None,
        notifier: Notifier | None = None,
        options: DaemonOptions | None = None,
        step_log: StepLog | None = None,
    ) -> None:
        self.files = files
        self.step_log = step_log
        self.lane = files.lane
        self.environ = os.environ if environ is None else environ
        self.drivers = drivers
        self.recognition = recognition
        self.transport = transport
        self.notifier = notifier if notifier is not None else Notifier(self.environ)
        self.options = options or DaemonOptions()
        self.store_path = Path(self.lane.store)
        self.credits = CreditBook(credit_window(self.lane.policy.pass_timeout_s))
        self._start_faults: dict[str, str] = {}
        self._shell: LaneShell | None = None
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._store_mode: Mode | None = None
        self._machine: asyncio.Task[None] | None = None
        self._full: FullStore | None = None
        self.metrics_server: MetricsServer | None = None
        self.control: ControlServer | None = None
        self.desk: OperatorDesk | None = None
        self.sync: SyncService | None = None
        self.lookups: RemoteLookups | None = None
        """A highway exit's entry lookups at central (when it syncs)."""
        self.failed: asyncio.Future[BaseException] | None = None

    # -- the start-up sequence ------------------------------------------------------------------

    async def start(self) -> None:
        lane, stack = self.lane, self._stack
        log.bind(lane_id=lane.id)
        self._loop = asyncio.get_running_loop()
        self.failed = self._loop.create_future()
        self.lookups = remote_lookups(self.files, self._loop)
        try:
            # 1. config (validated by load_lane), 2. the store: the tariff central sent
            # last, else the lane's file, compiled
            self.store = self._open_store()
            stack.callback(self.store.close)
            self.pricing = PricingInForce(initial_pricing(self.files, self.store))
            evidence = self._open_evidence()
            registry = self.registry = CollectorRegistry()
            self.metrics = LaneMetrics(registry, lane_kind=lane.lane_kind.value)
            if lane.metrics is not None and lane.metrics.enabled:
                self.metrics_server = MetricsServer(registry, lane.metrics.host, lane.metrics.port)
                self.metrics_server.start()
                stack.callback(self.metrics_server.stop)
            self.recorder = Recorder(
                self.store, lane.id, self.metrics, observe=self.credits.observe
            )
            self.config_push = ConfigPush(self.files, self.store, self.pricing, self.recorder)
            # 3. drivers, up before anything else
            drivers = self.drivers or self._build_drivers()
            self.drivers = drivers
            self._sink: Callable[[DeviceEvent], None] = self._early_sink
            drivers.start(self._device_handover)
            stack.callback(drivers.stop)
            await wait_until_up(drivers, self._start_faults, self.options.device_timeout_s)
            # 4. plate recognition, in its worker
            plates = await start_recognition(self.recognition, lane.recognition)
            stack.callback(plates.close)
            # 5. payments
            settings = lane.payment_settings()
            self.payments = Payments.build(
                settings.policy,
                settings.gateway,
                events=self._payment_handover,
                environ=self.environ,
                permits=StorePermits(self.store),
                accounts=StorePrepaid(self.store),
                qr_window_s=0.8 * lane.policy.payment_timeout_s,
                transport=self.transport,
            )
            self.refunds = Refunds(self.recorder, self.payments.qr, self.credits)
            self._start_payments(settings)
            stack.callback(self.payments.stop)
            # 6. the last run's credits, and the passages it left open, payments settled
            interrupted = await self._last_run()
            # 7. the lane machine, from the devices' actual state and the passages left open
            self._parts = (drivers, plates, evidence)
            await self._open_control(await self._begin(interrupted, "restart"))
            self._background(evidence)
            await self._check_store()
            self.recorder.event(
                "lane_started", datetime.now(UTC), detail={"kind": lane.lane_kind.value}
            )
            # 8. sync with central, when configured
            await self._start_sync()
        except (
            ConfigError,
            ControlSocketError,
            DeviceStartError,
            DriverUnavailableError,
            MetricsError,
            RecognitionStartError,
            StartupError,
            StoreFullError,
            SyncStartError,
            ValueError,
        ) as exc:
            await self._unwind()
            raise _startup_error(exc) from exc
        except BaseException:
            await self._unwind()
            raise
        self.notifier.ready(f"lane {lane.id} up")
        logger.info("lane_started", lane_kind=lane.lane_kind.value)

    def _open_store(self) -> Store:
        try:
            self.store_path.parent.mkdir(parents=True, exist_ok=True)
            check_store(self.store_path)
            store = Store.open(self.store_path)
        except StoreDamagedError as exc:
            raise StoreUnusableError(
                f"store: {exc} (its files were left as they were; see README, A damaged store)"
            ) from exc
        except (StoreError, SchemaError) as exc:
            raise StoreUnusableError(f"store: cannot open {self.store_path}: {exc}") from exc
        except OSError as exc:
            raise StartupError(f"store: cannot open {self.store_path}: {exc}") from exc
        max_mb = self.lane.degraded.store_max_mb
        if max_mb is not None:
            limit = store.limit_size(max_mb * 1024 * 1024)
            logger.info("store_size_limited", max_mb=max_mb, limit_bytes=limit)
        return store

    async def _open_control(self, shell: LaneShell) -> None:
        """The control socket for operator commands (``lanewarden edge ctl``)."""
        lane = self.lane
        group = lane.control.group if lane.control is not None else "lanewarden"
        self.desk = OperatorDesk(shell)
        self.control = ControlServer(lane.control_socket(), self.desk.handle, group=group)
        await self.control.start()
        self._stack.push_async_callback(self.control.stop)

    def _background(self, evidence: Evidence | None) -> None:
        """Beside the lane: watchdog pings, payment sweep, store check, retention."""
        self._run(self._watchdog())
        self._run(self._every(self.options.sweep_s, self._sweep))
        self._run(self._every(self.lane.degraded.store_check_s, self._check_store))
        if evidence is not None:
            self._run(self._every(self.options.retention_s, lambda: self._retain(evidence)))

    async def _start_sync(self) -> None:
        """Sync with central in its own thread; operator commands from it go to the desk."""
        assert self.desk is not None
        self.sync = start_sync(
            self.files,
            view=self._sync_view,
            handler=self.desk.handle,
            loop=self._loop,
            environ=self.environ,
            registry=self.registry,
            alarm=self._sync_alarm,
            on_config=self.config_push.take,
            lookups=self.lookups,
        )
        if self.sync is not None:
            self._stack.push_async_callback(asyncio.to_thread, self.sync.stop)

    def _sync_alarm(self, kind: str, detail: dict[str, DetailValue]) -> None:
        """From the sync thread: an alarm, recorded on the loop like the lane's own."""

        def record() -> None:
            try:
                self.recorder.event(kind, datetime.now(UTC), severity="alarm", detail=detail)
            except StoreFullError as exc:
                self._store_full(exc)

        self._loop.call_soon_threadsafe(record)

    def _sync_view(self) -> LaneView:
        """From the sync thread: the lane's mode, barrier, faults and configuration now."""
        shell = self._shell
        return view_of(
            shell.state if shell is not None else None,
            self.pricing.now.tariff,
            store_full=self.store_full,
            now=datetime.now(UTC),
            config_version=self.config_push.version_in_force,
        )

    def _open_evidence(self) -> Evidence | None:
        config = self.lane.evidence
        if config is None:
            return None
        try:
            config.directory.mkdir(parents=True, exist_ok=True)
            site_key(config.pseudonym_key_file)
        except (EvidenceError, OSError) as exc:
            raise StartupError(f"evidence: {exc}") from exc
        return Evidence(config, self.lane.id)

    async def _retain(self, evidence: Evidence) -> None:
        """Purge images past their retention; pseudonymise plate text past its own."""
        now = datetime.now(UTC)
        config = evidence.config
        report = await asyncio.to_thread(evidence.purge, now)
        key = await asyncio.to_thread(site_key, config.pseudonym_key_file)
        changed = await asyncio.to_thread(
            self.store.pseudonymise_plates, config.plate_cutoff(now), key
        )
        logger.info("retention_done", images_purged=report.files_deleted, plates=changed)

    def _start_payments(self, settings: LanePayments) -> None:
        try:
            self.payments.start()
        except OSError as exc:
            callback = settings.gateway.callback if settings.gateway else None
            where = f"{callback.host}:{callback.port}" if callback else "its port"
            raise StartupError(
                f"payments.gateway.callback: cannot listen on {where}: {exc.strerror or exc}"
            ) from exc

    def _build_drivers(self) -> LaneDrivers:
        try:
            return build_lane(self.lane.device_sections())
        except (DriverUnavailableError, OSError, ValueError) as exc:
            raise StartupError(f"drivers: {exc}") from exc

    def _device_handover(self, event: DeviceEvent) -> None:
        """The drivers' sink (any thread): the event is handled on the loop."""
        self._loop.call_soon_threadsafe(self._sink, event)

    def _payment_handover(self, event: PaymentEvent) -> None:
        """The payments' event sink (gateway and receiver threads)."""
        self._loop.call_soon_threadsafe(self._record_payment_event, event)

    def _early_sink(self, event: DeviceEvent) -> None:
        """Device events before the machine runs: faults fail the start."""
        if isinstance(event, DeviceFault):
            self._start_faults.setdefault(event.device, event.reason)

    async def _last_run(self) -> list[Interrupted]:
        """The credits of the lane's recent records; the passages it left open, payments settled."""
        since = datetime.now(UTC) - self.credits.window
        self.credits.load(recent_records(self.store, self.lane.id, since))
        return await interrupted_passages(self.store, self.lane.id, self.payments.qr)

    async def _settle_at_shutdown(self, shell: LaneShell) -> None:
        """What is still open at a shutdown: settled by the machine's rule, nothing resumed."""
        assert self.drivers is not None
        arming = self.drivers.loops.state().arming
        interrupted = await interrupted_passages(self.store, self.lane.id, self.payments.qr)
        if not interrupted:
            return
        shell.timings.drop()
        await shell.feed(Queued(Stopping(tuple(p.txn for p in interrupted), arming)))
        now = datetime.now(UTC)
        for passage in interrupted:
            report_recovered(self.recorder, passage, why="shutdown", now=now)

    async def _begin(self, interrupted: list[Interrupted], why: str) -> LaneShell:
        """Run the lane machine (at start, and again after a full store); its shell.

        ``interrupted``: the passages the machine settles first (``why`` it starts).
        """
        assert self.drivers is not None
        if self._full is None:
            safe = self.lane.policy.safe_position
            retry_s = self.options.store_full_retry_s
            self._full = FullStore(self.recorder, self.drivers, safe, retry_s)
        shell = await self._start_machine(*self._parts, interrupted=interrupted, why=why)
        self._machine = self._run(shell.run())
        if self.desk is not None:
            self.desk.shell = shell  # operator commands go to the running machine
        await self.refunds.due()  # what the last run decided to give back and did not
        return shell

    async def _start_machine(
        self,
        drivers: LaneDrivers,
        plates: Recognition,
        evidence: Evidence | None,
        *,
        interrupted: list[Interrupted],
        why: str,
    ) -> LaneShell:
        lane = self.lane
        up = drivers.barrier.position() is Position.UP
        state = LaneState.initial(
            lane.id,
            lane.lane_kind,
            lane.machine_policy(),
            os.urandom(16),
            barrier=KnownPosition.UP if up else KnownPosition.DOWN,
        )
        lookup = VehicleLookup(
            self.files,
            self.store,
            self.pricing,
            LocalEntries(self.store, self.files.plaza.id),
            self.credits,
            central=self.lookups,
        )
        gateway = lane.payment_settings().gateway
        shell = LaneShell(
            state,
            recorder=self.recorder,
            drivers=drivers,
            lookup=lookup,
            plates=plates,
            payments=self.payments,
            refunds=self.refunds,
            degraded=lane.degraded,
            evidence=evidence,
            capture_frames=self.options.capture_frames,
            plate_page=(
                plate_page_url(gateway.base_url, gateway.merchant_id, lane.id) if gateway else None
            ),
            step_log=self.step_log,
        )
        self._shell = shell
        self._sink = shell.on_device
        loops = drivers.loops.state()
        open_txns = tuple(passage.txn for passage in interrupted)
        await shell.feed(Queued(Restarted(open_txns, loops.arming, loops.safety)))
        now = datetime.now(UTC)
        for passage in interrupted:
            report_recovered(self.recorder, passage, why=why, now=now)
        return shell

    # -- running ------------------------------------------------------------------------------

    def _run(self, work: Awaitable[None]) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except StoreFullError as exc:
                self._store_full(exc)
            except BaseException as exc:
                logger.exception("lane_task_failed")
                if self.failed is not None and not self.failed.done():
                    self.failed.set_result(exc)

        task = asyncio.create_task(guarded())
        if isinstance(work, Coroutine):
            # Cancelled before it began (a start that failed later): never to be awaited.
            task.add_done_callback(lambda _: work.close())
        self._tasks.append(task)
        return task

    async def wait_failed(self) -> BaseException:
        """Resolves when a task of the running lane failed (the lane must restart)."""
        assert self.failed is not None, "start() first"
        return await self.failed

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval_s
        if interval is None:
            return
        while True:
            self.notifier.watchdog()  # from the loop: a stuck loop sends no more pings
            await asyncio.sleep(interval)

    async def _every(self, period_s: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await job()
            except StoreFullError as exc:
                self._store_full(exc)

    async def _sweep(self) -> None:
        await asyncio.to_thread(self.payments.sweep)
        await self.refunds.due()

    async def _check_store(self) -> None:
        """Store nearly full: record, alarm and apply the degraded policy; undo when space is back."""
        policy = self.lane.degraded
        free_mb = shutil.disk_usage(self.store_path.parent).free // (1024 * 1024)
        check = check_space(
            free_mb, policy.store_min_free_mb, policy.store_nearly_full, self._store_mode
        )
        self._store_mode = check.in_force
        now = datetime.now(UTC)
        if check.change is SpaceChange.BEGAN:
            detail = {"mode": "store_nearly_full", "outcome": policy.store_nearly_full.value}
            self.recorder.event(
                "degraded_mode", now, severity="alarm", detail={**detail, "free_mb": free_mb}
            )
        elif check.change is SpaceChange.ENDED:
            self.recorder.event(
                "degraded_mode_ended",
                now,
                detail={"mode": "store_nearly_full", "free_mb": free_mb},
            )
        shell = self._shell
        if check.set_mode is not None and shell is not None:
            why = (
                f"store nearly full ({free_mb} MB free)"
                if check.change is SpaceChange.BEGAN
                else "store has space again"
            )
            shell.post(SetMode(check.set_mode, SYSTEM_OPERATOR, why))

    # -- a full store ----------------------------------------------------------------------------

    @property
    def store_full(self) -> bool:
        """Whether the lane is stopped because its store cannot take a record."""
        return self._full is not None and self._full.full

    def _store_full(self, error: StoreFullError) -> None:
        """A write failed for want of space: stop the machine, keep the lane safe, wait."""
        full = self._full
        if full is None:
            raise error  # before the lane runs: the start fails, naming it
        if full.notice(error):
            self._run(self._through_full_store(full))

    async def _through_full_store(self, full: FullStore) -> None:
        await self._freeze()
        await full.ride_out()
        if full.locked_open:
            assert self.drivers is not None
            await asyncio.to_thread(self.drivers.barrier.unlock)
        # Resume as after a restart: what was open is resolved, the machine starts afresh.
        interrupted = await interrupted_passages(self.store, self.lane.id, self.payments.qr)
        await self._begin(interrupted, "store_full")
        self._store_mode = None  # the new machine starts in its normal mode: look again
        await self._check_store()
        logger.info("lane_resumed")

    async def _freeze(self) -> None:
        """Stop the lane machine, its work and timers; close the lane on the display."""
        shell = self._shell
        if shell is None:
            return
        self._sink = self._while_full
        if self._machine is not None:
            self._machine.cancel()
            await asyncio.gather(self._machine, return_exceptions=True)
        for task in list(shell.work):
            task.cancel()
        await asyncio.gather(*shell.work, return_exceptions=True)
        shell.cancel_all_timers()
        if self.payments.qr is not None:
            for txn_id in list(shell.paying):
                self.payments.qr.cancel(str(txn_id))
        await shell.show(lines_for(ShowMessage(Message.LANE_CLOSED)))

    def _while_full(self, event: DeviceEvent) -> None:
        """Device events while the store is full: the resumed machine reads the devices afresh."""
        logger.info("device_event_while_store_full", device_event=type(event).__name__)

    def _record_payment_event(self, event: PaymentEvent) -> None:
        record_payment_event(event, self.recorder, self.refunds, datetime.now(UTC))

    # -- stopping ------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Finish or void the current passage, leave the barrier safe, stop everything."""
        self.notifier.stopping(f"lane {self.lane.id} stopping")
        shell = self._shell
        if self.store_full:
            # Nothing can be recorded: the next start settles what is open.
            logger.warning("stopping_with_store_full")
        elif shell is not None:
            await self._wind_down(shell)
        await self._unwind()
        logger.info("lane_stopped")

    async def _wind_down(self, shell: LaneShell) -> None:
        """Close to new vehicles, let the current passage finish, then resolve what is left.

        The waits are bounded (grace, payment close, safety loop) so that a stop
        ends well within systemd's TimeoutStopSec (60 s in the unit).
        """
        options = self.options
        # A lane whose machine failed steps no more: nothing will finish, resolve at once.
        broken = self.failed is not None and self.failed.done()
        shell.post(SetMode(Mode.CLOSED, SYSTEM_OPERATOR, "daemon stopping"))
        await until(lambda: shell.idle, 0.0 if broken else options.shutdown_grace_s)
        for txn_id in list(shell.paying):
            if self.payments.qr is not None:
                self.payments.qr.cancel(str(txn_id))
        if shell.paying:
            await asyncio.wait(list(shell.paying.values()), timeout=options.payment_close_s)
        await until(shell.queue.empty, 0.0 if broken else 1.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for task in list(shell.work):
            task.cancel()
        await asyncio.gather(*shell.work, return_exceptions=True)
        shell.cancel_all_timers()
        await self._settle_at_shutdown(shell)
        assert self.drivers is not None
        barrier = await leave_safe(
            self.drivers, self.lane.policy.safe_position, self.recorder, options.safety_clear_s
        )
        self.recorder.event("lane_stopped", datetime.now(UTC), detail={"barrier": barrier})

    async def _unwind(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._stack.aclose()


def _startup_error(exc: Exception) -> StartupError:
    """A failed start's error, of the kind a :class:`StartupError` had (it sets the exit code)."""
    kind = type(exc) if isinstance(exc, StartupError) else StartupError
    return kind(str(exc))
