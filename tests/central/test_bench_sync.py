"""``lanewarden bench sync`` run small: its figures' keys, and every record stored once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from central_db import PG_ENV, pg_server
from mqtt_broker import MqttBroker

from central.commands.bench_sync import main

KEYS = {
    "records_per_s_pg",
    "records_per_s_sqlite",
    "lag_p50_ms",
    "lag_p99_ms",
    "drain_30k_s",
    "worker_rss_mb",
}
SMALL = ["--lanes", "3", "--records", "300", "--lag-s", "2", "--drain", "700"]


class TestBenchSync:
    """The bench's figures from a small run, through a real broker and real workers."""

    def test_sqlite_figures_and_every_record_once(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        """Each throughput record is stored exactly once; lag and drain records all stored."""
        out = tmp_path / "bench.json"
        broker = f"{mqtt_broker.host}:{mqtt_broker.port}"
        assert main([*SMALL, "--sqlite", "--broker", broker, "--json", str(out)]) == 0
        figures = json.loads(out.read_text())
        assert figures.keys() >= KEYS
        assert figures["records_per_s_pg"] is None
        (run,) = figures["runs"]
        assert run["backend"] == "sqlite"
        assert run["stored"] == run["stored_distinct"] == 300
        assert run["central_cpu_s"] > 0
        assert run["records_per_central_cpu_s"] == pytest.approx(300 / run["central_cpu_s"], 0.01)
        assert figures["drain_records_stored"] == 700
        assert figures["lag_stored"] == 3 * (2 * 2 + 1)
        assert figures["lag_records"] > 0
        assert 0 < figures["lag_p50_ms"] <= figures["lag_p99_ms"]
        assert figures["worker_rss_mb"] > 0

    def test_postgresql_and_sqlite(self, mqtt_broker: MqttBroker, tmp_path: Path) -> None:
        """With PostgreSQL both databases are benched, each storing every record once."""
        server = pg_server()
        out = tmp_path / "bench.json"
        broker = f"{mqtt_broker.host}:{mqtt_broker.port}"
        assert main([*SMALL, "--pg", server, "--broker", broker, "--json", str(out)]) == 0
        figures = json.loads(out.read_text())
        assert {run["backend"] for run in figures["runs"]} == {"postgresql", "sqlite"}
        for run in figures["runs"]:
            assert run["stored"] == run["stored_distinct"] == 300
        assert figures["records_per_s_pg"] > 0
        assert figures["records_per_s_sqlite"] > 0


class TestBenchSyncErrors:
    """Bad input is refused with a message naming it."""

    def test_no_postgresql_named(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.delenv(PG_ENV, raising=False)
        assert main(SMALL) == 2
        assert PG_ENV in capsys.readouterr().err

    def test_fewer_records_than_lanes(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--lanes", "10", "--records", "5", "--sqlite"]) == 2
        assert "--records (5) must be at least --lanes (10)" in capsys.readouterr().err

    def test_malformed_broker(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([*SMALL, "--sqlite", "--broker", "nowhere"]) == 2
        assert "--broker must be host:port, got 'nowhere'" in capsys.readouterr().err
