"""Lane metrics: counters the daemon updates, scraped over HTTP on loopback."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from edge.metrics import LaneMetrics
from plumbing.metrics import MetricsError, MetricsServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(registry: CollectorRegistry) -> Samples:
    """Every sample of the registry, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> LaneMetrics:
    return LaneMetrics(registry, lane_kind="parking_exit")


@pytest.fixture
def server(registry: CollectorRegistry) -> Iterator[MetricsServer]:
    server = MetricsServer(registry, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


class TestLaneMetrics:
    """Each method moves its own metric by the right amount."""

    def test_vehicles_by_lane_kind_and_outcome(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        metrics.vehicle("passed")
        metrics.vehicle("passed")
        metrics.vehicle("denied")
        got = samples(registry)
        kind = ("lane_kind", "parking_exit")
        assert got["lanewarden_vehicles_total", (kind, ("outcome", "passed"))] == 2
        assert got["lanewarden_vehicles_total", (kind, ("outcome", "denied"))] == 1

    def test_plate_reads_and_read_rate(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        for ok in (True, True, True, False):
            metrics.plate_read(ok)
        got = samples(registry)
        assert got["lanewarden_plate_reads_total", (("result", "read"),)] == 3
        assert got["lanewarden_plate_reads_total", (("result", "unreadable"),)] == 1
        assert got["lanewarden_plate_read_rate", ()] == 0.75

    def test_fees_sum_minor_units_by_currency(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        metrics.fee(500, "CNY")
        metrics.fee(1250, "CNY")
        metrics.fee(300, "EUR")
        got = samples(registry)
        assert got["lanewarden_fees_minor_units_total", (("currency", "CNY"),)] == 1750
        assert got["lanewarden_fees_minor_units_total", (("currency", "EUR"),)] == 300

    def test_payments_by_status_and_method(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        metrics.payment("paid", "qr")
        metrics.payment("post_pay", "plate")
        metrics.payment("paid", "qr")
        got = samples(registry)
        assert got["lanewarden_payments_total", (("method", "qr"), ("status", "paid"))] == 2
        assert got["lanewarden_payments_total", (("method", "plate"), ("status", "post_pay"))] == 1

    def test_barrier_cycles_faults_and_alarms(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        metrics.barrier_cycle()
        metrics.barrier_cycle()
        metrics.fault("barrier", "no_reply")
        metrics.alarm("tailgating")
        got = samples(registry)
        assert got["lanewarden_barrier_cycles_total", ()] == 2
        assert got["lanewarden_faults_total", (("device", "barrier"), ("reason", "no_reply"))] == 1
        assert got["lanewarden_alarms_total", (("kind", "tailgating"),)] == 1

    def test_open_latency_histogram(
        self, metrics: LaneMetrics, registry: CollectorRegistry
    ) -> None:
        for seconds in (0.04, 0.12, 0.25, 7.0):
            metrics.open_latency(seconds)
        got = samples(registry)
        bucket = "lanewarden_loop_to_open_seconds_bucket"
        assert got[bucket, (("le", "0.05"),)] == 1
        assert got[bucket, (("le", "0.3"),)] == 3
        assert got[bucket, (("le", "5.0"),)] == 3
        assert got[bucket, (("le", "+Inf"),)] == 4
        assert got["lanewarden_loop_to_open_seconds_sum", ()] == pytest.approx(7.41)

    def test_negative_fee_is_refused(self, metrics: LaneMetrics) -> None:
        with pytest.raises(ValueError, match="amount: a charged fee is not negative, got -5"):
            metrics.fee(-5, "CNY")

    def test_negative_latency_is_refused(self, metrics: LaneMetrics) -> None:
        with pytest.raises(ValueError, match=r"seconds: a latency is not negative, got -0\.1"):
            metrics.open_latency(-0.1)

    def test_lanes_have_their_own_registries(self) -> None:
        first, second = CollectorRegistry(), CollectorRegistry()
        LaneMetrics(first, lane_kind="parking_entry").vehicle("passed")
        LaneMetrics(second, lane_kind="parking_exit")
        assert any(name == "lanewarden_vehicles_total" for name, _ in samples(first))
        assert not any(name == "lanewarden_vehicles_total" for name, _ in samples(second))

    def test_one_registry_holds_one_lane(self, registry: CollectorRegistry) -> None:
        LaneMetrics(registry, lane_kind="parking_exit")
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            LaneMetrics(registry, lane_kind="parking_exit")


class TestServer:
    """The registry is served over HTTP; stopping releases the port and the thread."""

    def test_scrape_returns_the_values(self, metrics: LaneMetrics, server: MetricsServer) -> None:
        metrics.vehicle("passed")
        metrics.fee(800, "CNY")
        metrics.open_latency(0.2)
        got = scrape(server.port)
        kind = ("lane_kind", "parking_exit")
        assert got["lanewarden_vehicles_total", (kind, ("outcome", "passed"))] == 1
        assert got["lanewarden_fees_minor_units_total", (("currency", "CNY"),)] == 800
        assert got["lanewarden_loop_to_open_seconds_count", ()] == 1

    def test_scrape_sees_later_updates(self, metrics: LaneMetrics, server: MetricsServer) -> None:
        metrics.alarm("arm_broken")
        assert scrape(server.port)["lanewarden_alarms_total", (("kind", "arm_broken"),)] == 1
        metrics.alarm("arm_broken")
        assert scrape(server.port)["lanewarden_alarms_total", (("kind", "arm_broken"),)] == 2

    def test_only_this_registry_is_served(self, server: MetricsServer) -> None:
        names = {name for name, _ in scrape(server.port)}
        assert names == set()

    def test_stop_releases_the_port(self, registry: CollectorRegistry) -> None:
        server = MetricsServer(registry, "127.0.0.1", 0)
        server.start()
        port = server.port
        server.stop()
        server.stop()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))

    def test_taken_port_is_named(self, registry: CollectorRegistry) -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            server = MetricsServer(registry, "127.0.0.1", port)
            with pytest.raises(MetricsError, match=f"cannot listen on 127.0.0.1:{port}: "):
                server.start()

    def test_start_twice_is_refused(self, server: MetricsServer) -> None:
        with pytest.raises(MetricsError, match="already started"):
            server.start()

    def test_context_manager_stops(self, registry: CollectorRegistry) -> None:
        with MetricsServer(registry, "127.0.0.1", 0) as server:
            assert scrape(server.port) == {}
