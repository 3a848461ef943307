"""The lane's Prometheus metrics, served over HTTP on a local port.

Every lane has its own :class:`~prometheus_client.CollectorRegistry` (never the
library's global one), so several lanes in one process (the demo) and tests do not
collide. The daemon creates the registry, a :class:`LaneMetrics` on it, and a
:class:`~plumbing.metrics.MetricsServer` when metrics are enabled::

    registry = CollectorRegistry()
    metrics = LaneMetrics(registry, lane_kind=config.lane_kind.value)
    server = MetricsServer(registry, config.metrics.host, config.metrics.port)
    server.start()          # raises MetricsError when the port cannot be bound
    ...
    metrics.vehicle("passed")
    server.stop()           # joins the server thread

The methods of :class:`LaneMetrics` only update counters in memory (thread-safe,
microseconds), so the event loop may call them directly. Labels are the lane's own
small vocabularies (outcomes, methods, devices, alarm kinds), never plates or ids.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OPEN_LATENCY_BUCKETS: tuple[float, ...] = (
    0.05,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
)
"""Loop-to-open latency buckets (s): dense around the 300 ms target, up to 5 s."""


class LaneMetrics:
    """The metrics of one lane, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, *, lane_kind: str) -> None:
        self.lane_kind = lane_kind
        self._vehicles = Counter(
            "lanewarden_vehicles",
            "Vehicles handled, by lane kind and final outcome (transaction status).",
            ["lane_kind", "outcome"],
            registry=registry,
        )
        self._plate_reads = Counter(
            "lanewarden_plate_reads",
            "Plate reads by result: read or unreadable.",
            ["result"],
            registry=registry,
        )
        self._read_rate = Gauge(
            "lanewarden_plate_read_rate",
            "Share of plate reads that gave a plate since the lane started (0..1).",
            registry=registry,
        )
        self._fees = Counter(
            "lanewarden_fees_minor_units",
            "Fees charged, in the currency's minor unit (fen, cent), by currency.",
            ["currency"],
            registry=registry,
        )
        self._payments = Counter(
            "lanewarden_payments",
            "Payment outcomes (paid, not_paid, post_pay) by method.",
            ["status", "method"],
            registry=registry,
        )
        self._barrier_cycles = Counter(
            "lanewarden_barrier_cycles",
            "Barrier open-close cycles.",
            registry=registry,
        )
        self._open_latency = Histogram(
            "lanewarden_loop_to_open_seconds",
            "Time from the arming loop to the barrier open command (s).",
            buckets=OPEN_LATENCY_BUCKETS,
            registry=registry,
        )
        self._faults = Counter(
            "lanewarden_faults",
            "Device faults by device and reason.",
            ["device", "reason"],
            registry=registry,
        )
        self._alarms = Counter(
            "lanewarden_alarms",
            "Alarms raised, by kind.",
            ["kind"],
            registry=registry,
        )
        self._reads_lock = threading.Lock()
        self._reads = 0
        self._unreadable = 0

    def vehicle(self, outcome: str) -> None:
        """A vehicle's passage ended with ``outcome`` (passed, denied, voided...)."""
        self._vehicles.labels(lane_kind=self.lane_kind, outcome=outcome).inc()

    def plate_read(self, ok: bool) -> None:
        """A plate read finished: ``ok`` when it gave a plate."""
        self._plate_reads.labels(result="read" if ok else "unreadable").inc()
        with self._reads_lock:
            if ok:
                self._reads += 1
            else:
                self._unreadable += 1
            self._read_rate.set(self._reads / (self._reads + self._unreadable))

    def fee(self, amount: int, currency: str) -> None:
        """A fee of ``amount`` minor units was charged."""
        if amount < 0:
            raise ValueError(f"amount: a charged fee is not negative, got {amount}")
        self._fees.labels(currency=currency).inc(amount)

    def payment(self, status: str, method: str) -> None:
        """A payment ended as ``status`` (paid, not_paid, post_pay) by ``method``."""
        self._payments.labels(status=status, method=method).inc()

    def barrier_cycle(self) -> None:
        self._barrier_cycles.inc()

    def open_latency(self, seconds: float) -> None:
        """Loop-to-open latency of one vehicle, from the monotonic clock."""
        if seconds < 0:
            raise ValueError(f"seconds: a latency is not negative, got {seconds}")
        self._open_latency.observe(seconds)

    def fault(self, device: str, reason: str) -> None:
        self._faults.labels(device=device, reason=reason).inc()

    def alarm(self, kind: str) -> None:
        self._alarms.labels(kind=kind).inc()
