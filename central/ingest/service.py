"""Central's ingest service: the workers, the metrics endpoint and the periodic checks.

``start()`` is one flat sequence: the gaps the store holds (a restart forgot
them), the metrics endpoint, then the workers (all in the shared group, MQTT 5). ``tick()`` runs every half second from the caller's thread
(``lanewarden central run``'s main thread): it applies a fall-back to one plain
worker when the broker turned out to have no shared subscriptions, asks lanes to
resend gaps that outlasted the gap timeout, and refreshes the gauges that come
from the store. ``stop()`` undoes ``start()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry

from central.config import CentralConfig
from central.ingest.gaps import GapTracker, HeldGap, ResendDue
from central.ingest.handler import Ingest, IngestStore, utc_now
from central.ingest.metrics import IngestMetrics
from central.ingest.worker import Worker
from contracts.commands import new_command
from contracts.mqtt.topics import SPECS, LaneTopic, lane_topic
from plumbing import log
from plumbing.broker import first_protocol
from plumbing.metrics import MetricsServer

logger = log.get(__name__)

ALARMS_EVERY_S = 5.0


class AlarmCounts(Protocol):
    """The store's open alarms (``CentralStore.alarms(state="open")``), by kind."""

    def __call__(self) -> Mapping[str, int]: ...


class OpenGaps(Protocol):
    """The gaps the store holds now (``central.storage.timers.open_gaps``)."""

    def __call__(self) -> Iterable[HeldGap]: ...


class IngestService:
    """The ingest workers of one central process and what runs beside them."""

    def __init__(
        self,
        config: CentralConfig,
        store: IngestStore,
        *,
        alarm_counts: AlarmCounts | None = None,
        open_gaps: OpenGaps | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = IngestMetrics(self.registry)
        self.gaps = GapTracker(config.ingest.gap_timeout_s, config.ingest.resend_interval_s)
        self.ingest = Ingest(store, self.metrics, self.gaps, clock=clock, monotonic=monotonic)
        self.store = store
        self.workers: list[Worker] = []
        self.shared = config.broker.protocol != "3.1.1"
        self.protocol = first_protocol(config.broker)
        self.metrics_server: MetricsServer | None = None
        self._alarm_counts = alarm_counts
        self._open_gaps = open_gaps
        self._clock = clock
        self._monotonic = monotonic
        self._environ = environ
        self._fallback: tuple[str, bool] | None = None
        self._fallback_lock = threading.Lock()
        self._alarms_due = 0.0

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self.resume_gaps()
        metrics = self.config.metrics
        if metrics.enabled:
            self.metrics_server = MetricsServer(self.registry, metrics.host, metrics.port)
            self.metrics_server.start()
        if self.shared:
            self._start_workers(self.config.ingest.workers, shared=True)
        else:
            logger.warning(
                "shared_subscriptions_off",
                why="broker.protocol is 3.1.1, which has no shared subscriptions",
                workers=1,
            )
            self._start_workers(1, shared=False)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None

    def resume_gaps(self) -> int:
        """Track the gaps the store holds (a restart forgot them); how many were new."""
        if self._open_gaps is None:
            return 0
        now, wall_now = self._monotonic(), self._clock()
        resumed = sum(self.gaps.resume(held, now, wall_now) for held in self._open_gaps())
        if resumed:
            logger.info("gaps_resumed", gaps=resumed)
        return resumed

    def _start_workers(self, count: int, *, shared: bool) -> None:
        ingest = self.config.ingest
        for index in range(count):
            worker = Worker(
                index,
                self.config.broker,
                self.ingest,
                prefix=ingest.client_id,
                group=ingest.group if shared else None,
                protocol=self.protocol,
                on_no_shared=self._no_shared if shared else None,
                environ=self._environ,
            )
            self.workers.append(worker)
            worker.start()

    def _no_shared(self, why: str, mqtt5_refused: bool) -> None:
        """From a worker's thread: the broker cannot share; tick() falls back."""
        with self._fallback_lock:
            if self._fallback is None:
                self._fallback = (why, mqtt5_refused)

    # -- periodic --------------------------------------------------------------------------

    def tick(self) -> None:
        """The periodic work; call every half second or so from one thread."""
        self._apply_fallback()
        for due in self.gaps.due(self._monotonic(), self.store.acked_seq):
            self._ask_resend(due)
        self.metrics.gaps_open.set(self.gaps.open_count)
        now = self._monotonic()
        if self._alarm_counts is not None and now >= self._alarms_due:
            self._alarms_due = now + ALARMS_EVERY_S
            self.metrics.set_alarms_open(self._alarm_counts())

    @property
    def healthy(self) -> bool:
        """Every worker is connected (a disconnected one is reconnecting)."""
        return bool(self.workers) and all(w.connected for w in self.workers)

    def _apply_fallback(self) -> None:
        with self._fallback_lock:
            fallback = self._fallback
        if fallback is None or not self.shared:
            return
        why, mqtt5_refused = fallback
        if mqtt5_refused and self.config.broker.protocol == "5":
            with self._fallback_lock:
                self._fallback = None
            logger.error("broker_refuses_mqtt5", why=why, hint="set broker.protocol to auto")
            return  # as configured: keep trying MQTT 5
        self.shared = False
        if mqtt5_refused:
            self.protocol = "3.1.1"
        for worker in self.workers:
            worker.stop()
        self.workers = []
        logger.warning(
            "shared_subscriptions_unavailable",
            why=why,
            workers=1,
            configured_workers=self.config.ingest.workers,
            mqtt=self.protocol,
        )
        self._start_workers(1, shared=False)

    def _ask_resend(self, due: ResendDue) -> None:
        reason = (
            f"gap in {due.stream} from lane_seq {due.from_seq} (held up to {due.held_to}), "
            f"open {due.open_s:.0f} s"
        )
        command = new_command(
            "resend",
            operator_id="central",
            reason=reason,
            now=self._clock(),
            stream=due.stream,
            from_seq=due.from_seq,
        )
        topic = lane_topic(due.plaza_id, due.lane_id, LaneTopic.CMD)
        payload = command.model_dump_json().encode()
        sent = any(
            w.publish(topic, payload, SPECS[LaneTopic.CMD].qos) for w in self.workers if w.connected
        )
        if sent:
            self.metrics.resends.inc()
        logger.info(
            "resend_asked" if sent else "resend_not_sent",
            lane_id=due.lane_id,
            stream=due.stream,
            from_seq=due.from_seq,
            held_to=due.held_to,
            command_id=command.command_id,
        )
