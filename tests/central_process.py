"""``lanewarden central run`` as a test's subprocess: its config file, its metrics, SIGKILL.

:func:`write_config` writes a central file for a broker and a database;
:class:`Central` runs it as systemd would (its own session, JSON log lines to a
file beside the config) and reads its Prometheus metrics; the ``centrals``
fixture kills whatever a test left running. The ``mosquitto`` fixture is a
private broker that speaks MQTT 5 (shared subscriptions), skipping, or failing
under ``LANEWARDEN_REQUIRE_SERVICES=1``, where only amqtt is available. This
module holds no tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker, free_port
from needs import unavailable
from prometheus_client.parser import text_string_to_metric_families

from plumbing.testing import wait_until


def write_config(
    tmp_path: Path, name: str, broker_port: int, url: str, workers: int
) -> tuple[Path, int]:
    path, metrics_port = tmp_path / f"{name}.toml", free_port()
    path.write_text(
        f"""kind = "central"
[broker]
port = {broker_port}
[storage]
url = "{url}"
[ingest]
workers = {workers}
gap_timeout_s = 60
[metrics]
port = {metrics_port}
"""
    )
    return path, metrics_port


class Central:
    """One ``lanewarden central run`` process."""

    def __init__(
        self, config: Path, metrics_port: int = 0, env: dict[str, str] | None = None
    ) -> None:
        self.config = config
        self.port = metrics_port
        self.log = config.with_suffix(".log").open("w+b")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plumbing.cli",
                "--log-format",
                "json",
                "central",
                "run",
                "--config",
                str(config),
            ],
            stdout=self.log,
            stderr=self.log,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def metric(self, name: str, **labels: str) -> float | None:
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return sample.value
        return None

    def wait_connected(self, workers: int) -> None:
        wait_until(
            lambda: (
                self.proc.poll() is None
                and self.metric("lanewarden_central_workers_connected") == workers
            ),
            f"{workers} workers connected ({self.output()[-500:]})",
            30,
            poll_s=0.05,
        )

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def centrals() -> Iterator[list[Central]]:
    """The test appends each :class:`Central` it starts; those still running are killed after."""
    made: list[Central] = []
    yield made
    for central in made:
        central.close()


@pytest.fixture
def mosquitto(private_broker: MosquittoBroker | AmqttBroker) -> MosquittoBroker:
    """A private broker with MQTT 5 shared subscriptions, which the embedded amqtt lacks."""
    if not isinstance(private_broker, MosquittoBroker):
        unavailable(
            "mosquitto is not installed (apt-get install mosquitto): central's shared "
            "subscriptions need an MQTT 5 broker"
        )
    return private_broker
