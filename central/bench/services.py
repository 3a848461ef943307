"""What the bench runs against: a broker, a throwaway database, central's worker processes.

The broker is the one given (``host:port``) or ``mosquitto`` on a free loopback port.
A PostgreSQL run gets a schema of its own (first on ``search_path``), dropped after; a
SQLite run a file in a temporary directory. Workers are ``lanewarden central run``
processes (one ingest worker each, one shared-subscription group), so that each has its
own interpreter and its peak RSS is its own.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from central.storage import CentralStore
from plumbing.broker_process import (
    BrokerStartError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
    parse_address,
    wait_listening,
)

READY_S = 60.0
MOSQUITTO_SETTINGS = ("max_inflight_messages 0", "max_queued_messages 100000")
"""A backlog of records in flight at once: no limit on QoS 1 messages unacked."""
CENTRAL_RUN = [sys.executable, "-m", "plumbing.cli", "--log-level", "warning", "central", "run"]


class BenchSetupError(RuntimeError):
    """The bench cannot start: no broker, no database, a worker that does not come up."""


def parse_broker(text: str) -> tuple[str, int]:
    """``host:port`` of ``--broker``, or an error naming what is wrong with it."""
    return parse_address(text, "--broker")


@contextmanager
def broker(given: str | None, workdir: Path) -> Iterator[tuple[str, int]]:
    """The broker to use: ``given``, else mosquitto started on a free port (stopped after)."""
    if given is not None:
        host, port = parse_broker(given)
        try:
            wait_listening(host, port)
        except BrokerStartError as exc:
            raise BenchSetupError(str(exc)) from exc
        yield host, port
        return
    executable = find_mosquitto()
    if executable is None:
        raise BenchSetupError("mosquitto is not installed: give a broker with --broker HOST:PORT")
    try:
        started = MosquittoBroker(executable, workdir=workdir, settings=MOSQUITTO_SETTINGS)
    except BrokerStartError as exc:
        raise BenchSetupError(str(exc)) from exc
    try:
        yield started.host, started.port
    finally:
        started.close()


@contextmanager
def pg_database(server: str) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh schema on ``server``, dropped on exit."""
    schema = f"bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as exc:
        raise BenchSetupError(f"PostgreSQL at {server}: {exc}") from exc
    url = make_url(server).set(
        drivername="postgresql+psycopg", query={"options": f"-csearch_path={schema}"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A SQLite file in a temporary directory, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-sqlite-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'central.db'}"


def _workers_connected(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("lanewarden_central_workers_connected "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchSetupError(f"no VmHWM for process {pid}")


def cpu_s(pid: int) -> float:
    """CPU seconds the process has used (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Workers:
    """``count`` central processes of one ingest worker each, on one database and group."""

    def __init__(self, count: int, broker: tuple[str, int], url: str, workdir: Path) -> None:
        CentralStore.open(url).close()  # migrated once, before the processes race to it
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []
        ports = []
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        for index in range(count):
            port = free_port()
            ports.append(port)
            config = workdir / f"central-{index}.toml"
            config.write_text(
                f'kind = "central"\n[broker]\nhost = "{broker[0]}"\nport = {broker[1]}\n'
                f'[storage]\nurl = "{url}"\n[ingest]\nworkers = 1\n[metrics]\nport = {port}\n',
                encoding="utf-8",
            )
            log_path = workdir / f"central-{index}.log"
            self._logs.append(log_path)
            with log_path.open("wb") as log:
                command = [*CENTRAL_RUN, "--config", str(config)]
                # this Python, this package, a config file written here
                self.procs.append(subprocess.Popen(command, stderr=log, env=env))  # noqa: S603
        deadline = time.monotonic() + READY_S
        while sum(_workers_connected(port) for port in ports) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                tail = self._logs[0].read_text(errors="replace")[-2000:]
                raise BenchSetupError(f"central's workers did not connect; log:\n{tail}")
            time.sleep(0.2)

    def peak_rss_mb(self) -> list[float]:
        return [peak_rss_mb(proc.pid) for proc in self.procs]

    def cpu_s(self) -> float:
        """CPU seconds the workers have used so far, together."""
        return sum(cpu_s(proc.pid) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
