"""Central for a simulated site: its file, written into the work folder, and its process.

:func:`write_central` writes ``central.toml`` beside the lanes: the broker the
demo started, SQLite in the work folder (``central/central.sqlite3``), metrics on
a port the kernel picks, the plazas' time zones (so that central counts the
lanes' days as they do), and a short gap timeout (a demo lasts a minute). The
workers follow the broker: two in one shared-subscription group on an MQTT 5
broker (mosquitto), one plain worker on the embedded MQTT 3.1.1 broker, which has
no shared subscriptions; :attr:`CentralSite.workers_line` says which, in one
line. The file is loaded back with :func:`central.config.load_central`, so it is
validated as a technician's would be. :func:`central_process` is
``lanewarden central run --config central.toml`` as a Type=notify process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from central.config import CentralConfig, load_central
from fleet.lane_files import toml_text
from fleet.lane_process import DaemonProcess
from plumbing.broker_process import Broker

FILE = "central.toml"
STATE_DIR = "central"
GAP_TIMEOUT_S = 2.0
RESEND_INTERVAL_S = 5.0
SHARED_WORKERS = 2


@dataclass(frozen=True)
class CentralSite:
    path: Path
    config: CentralConfig

    @property
    def database(self) -> Path:
        return self.config.storage.database_path

    @property
    def workers_line(self) -> str:
        """What the workers are and why, in one line."""
        ingest = self.config.ingest
        if self.config.broker.protocol == "3.1.1":
            return (
                f"central: {ingest.workers} ingest worker: the embedded broker speaks MQTT 3.1.1, "
                "which has no shared subscriptions (mosquitto gives two)"
            )
        return (
            f"central: {ingest.workers} ingest workers sharing the lanes' messages "
            f"(MQTT 5 shared subscription $share/{ingest.group}/...)"
        )


def write_central(folder: Path, broker: Broker, plazas: Mapping[str, str]) -> CentralSite:
    """``folder/central.toml`` for ``broker`` and ``plazas`` (id: time zone), loaded back."""
    table = {
        "kind": "central",
        "broker": {
            "host": broker.host,
            "port": broker.port,
            "protocol": "5" if broker.mqtt5 else "3.1.1",
            "keepalive_s": 5,
        },
        "storage": {"state_dir": str(folder / STATE_DIR)},
        "ingest": {
            "workers": SHARED_WORKERS if broker.mqtt5 else 1,
            "gap_timeout_s": GAP_TIMEOUT_S,
            "resend_interval_s": RESEND_INTERVAL_S,
        },
        "metrics": {"host": "127.0.0.1", "port": 0},
        "plazas": {plaza: {"timezone": zone} for plaza, zone in plazas.items()},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_DIR).mkdir(exist_ok=True)
    path = folder / FILE
    header = "# Written by lanewarden demo: central for this work folder's lanes.\n"
    path.write_text(header + toml_text(table), encoding="utf-8")
    return CentralSite(path, load_central(path))


def central_process(site: CentralSite, log_path: Path, echo: TextIO | None = None) -> DaemonProcess:
    """``lanewarden central run --config`` of ``site``, not yet spawned."""
    return DaemonProcess(("central", "run"), site.path, log_path, echo)
