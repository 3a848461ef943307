"""The sync's figures as Prometheus metrics, read from its counters at each scrape.

The outbox keeps plain counters (:class:`~edge.sync.service.SyncCounters`); this
collector turns them into metrics on the lane's own registry when Prometheus
asks, so the outbox's thread never touches a metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.sync.service import SyncService


class SyncCollector(Collector):
    """Metrics of one lane's sync (records sent, acks refused, resends, lookups, backlog, online)."""

    def __init__(self, service: SyncService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        counters = self.service.counters
        sent = CounterMetricFamily(
            "lanewarden_sync_records_sent", "Records published to central (resends included)."
        )
        sent.add_metric([], counters.records_sent)
        yield sent
        timeouts = CounterMetricFamily(
            "lanewarden_sync_resend_timeouts", "Times a stream was sent again for want of an ack."
        )
        timeouts.add_metric([], counters.timeouts)
        yield timeouts
        yield _by(
            "lanewarden_sync_acks_refused", "Acks ignored, by reason.", "reason", counters.bad_acks
        )
        commands = CounterMetricFamily(
            "lanewarden_sync_commands_refused", "Commands from central refused unread or expired."
        )
        commands.add_metric([], self.service.commands.refused)
        yield commands
        site = self.service.site_entries
        yield _by(
            "lanewarden_sync_site_entries",
            "The site's entries and exits from central applied, by what they did.",
            "change",
            site.applied,
        )
        yield _by(
            "lanewarden_sync_site_entries_refused",
            "Entry notices from central refused, by reason.",
            "reason",
            site.refused,
        )
        lookups = self.service.lookups
        if lookups is not None:
            yield _by(
                "lanewarden_sync_entry_lookups",
                "Entry lookups asked of central, by outcome (found, none, timeout, offline).",
                "outcome",
                lookups.outcomes,
            )
            yield _by(
                "lanewarden_sync_lookup_replies_refused",
                "Entry lookup replies refused, by reason.",
                "reason",
                lookups.refused,
            )
        online = GaugeMetricFamily("lanewarden_sync_online", "1 while connected to the broker.")
        online.add_metric([], 1.0 if self.service.online else 0.0)
        yield online
        backlog = GaugeMetricFamily(
            "lanewarden_sync_backlog",
            "Records central has not acked, by stream.",
            labels=["stream"],
        )
        for stream, count in self.service.last_backlog.items():
            backlog.add_metric([stream], count)
        yield backlog


def _by(name: str, documentation: str, label: str, counts: Mapping[str, int]) -> Metric:
    """A counter family with one sample per key of ``counts``."""
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, count in sorted(counts.items()):
        family.add_metric([key], count)
    return family


def register(registry: CollectorRegistry, service: SyncService) -> None:
    registry.register(SyncCollector(service))
