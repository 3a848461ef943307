"""Central's Prometheus metrics for ingest, on a registry of its own.

Labels are small vocabularies (stream, rejection reason, alarm kind) plus the lane
id for the lag, since a supervisor asks "which lane is behind": a site has tens to
hundreds of lanes, which Prometheus holds easily. Every method only updates
memory, so workers call them from their network threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.mqtt.payloads import Stream, StreamCounts


class IngestMetrics:
    """The ingest metrics of one central process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.stored = Counter(
            "lanewarden_central_records_stored",
            "Records stored (new), by stream.",
            ["stream"],
            registry=registry,
        )
        self.duplicates = Counter(
            "lanewarden_central_records_duplicate",
            "Records received again and already stored (resends), by stream.",
            ["stream"],
            registry=registry,
        )
        self.conflicts = Counter(
            "lanewarden_central_records_conflicting",
            "Records whose lane_seq is stored with other content (never overwritten; alarm).",
            ["stream"],
            registry=registry,
        )
        self.chain_breaks = Counter(
            "lanewarden_central_chain_breaks",
            "Records whose prev_hash does not match the stored predecessor (alarm).",
            ["stream"],
            registry=registry,
        )
        self.rejected = Counter(
            "lanewarden_central_payloads_rejected",
            "Messages refused and not stored, by reason (not_json, schema, version, too_large, "
            "kind, wrong_lane, hash, unknown_topic).",
            ["reason"],
            registry=registry,
        )
        self.store_failures = Counter(
            "lanewarden_central_store_failures",
            "Messages that could not be stored because the database failed (not acked).",
            registry=registry,
        )
        self.acks = Counter(
            "lanewarden_central_acks_sent", "Acks published to lanes.", registry=registry
        )
        self.resends = Counter(
            "lanewarden_central_resends_sent",
            "Resend commands published for gaps that outlasted the gap timeout.",
            registry=registry,
        )
        self.command_results = Counter(
            "lanewarden_central_command_results",
            "Command results from lanes stored, by outcome (ok or failed); a repeat of one is not "
            "counted again.",
            ["outcome"],
            registry=registry,
        )
        self.lookups = Counter(
            "lanewarden_central_entry_lookups",
            "Remote entry lookups answered, by outcome (found or none).",
            ["outcome"],
            registry=registry,
        )
        self.entries_replicated = Counter(
            "lanewarden_central_entries_replicated",
            "Entry and exit records republished to the other lanes of their plaza (per lane).",
            registry=registry,
        )
        self.lookup_seconds = Histogram(
            "lanewarden_central_entry_lookup_seconds",
            "Time to find a plate's open entry in the store (s).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.lag = Gauge(
            "lanewarden_central_lag_seconds",
            "How far central is behind the lane (s), by lane and stream: the receipt time of "
            "the latest batch stored minus the time of its last record, and 0 once the lane's "
            "telemetry says none of the stream's records waits for an ack (a quiet lane that "
            "is caught up reads 0, not its last batch's lag). A lane not heard from keeps its "
            "last value: see lanewarden_central_lane_last_heard_timestamp_seconds.",
            ["lane_id", "stream"],
            registry=registry,
        )
        self.last_heard = Gauge(
            "lanewarden_central_lane_last_heard_timestamp_seconds",
            "When central last took a valid message from the lane (Unix time, s); "
            "time() minus this is how long the lane has been silent.",
            ["lane_id"],
            registry=registry,
        )
        self.gaps_open = Gauge(
            "lanewarden_central_gaps_open",
            "Gaps in a lane's lane_seq seen by this process and not filled yet.",
            registry=registry,
        )
        self.alarms_open = Gauge(
            "lanewarden_central_alarms_open",
            "Alarms in state open, by kind (from the store).",
            ["kind"],
            registry=registry,
        )
        self.workers_connected = Gauge(
            "lanewarden_central_workers_connected",
            "Ingest workers connected and subscribed to the broker.",
            registry=registry,
        )
        self._alarm_kinds: set[str] = set()

    def batch_stored(self, lane_id: str, stream: Stream, lag_s: float) -> None:
        self.lag.labels(lane_id=lane_id, stream=stream).set(lag_s)

    def backlog_reported(self, lane_id: str, backlog: StreamCounts) -> None:
        """The lane's telemetry: a stream with nothing waiting for an ack has no lag."""
        for stream, waiting in (("txn", backlog.txn), ("event", backlog.event)):
            if waiting == 0:
                self.lag.labels(lane_id=lane_id, stream=stream).set(0)

    def heard(self, lane_id: str, at: datetime) -> None:
        self.last_heard.labels(lane_id=lane_id).set(at.timestamp())

    def set_alarms_open(self, counts: Mapping[str, int]) -> None:
        """Open alarms by kind; kinds no longer open drop to 0 rather than vanish."""
        self._alarm_kinds |= set(counts)
        for kind in self._alarm_kinds:
            self.alarms_open.labels(kind=kind).set(counts.get(kind, 0))
