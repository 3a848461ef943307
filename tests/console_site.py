"""A console over a central database with a user of every role, lanes, passages and alarms.

For the console's tests: :func:`console_site` opens a store (SQLite or PostgreSQL,
tests/central_db.py), adds the users, and builds the FastAPI app on a settable
clock with a cheap Argon2 (the stored hashes are still real Argon2id).
:meth:`Site.client` is a TestClient over https, so Secure cookies come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from central_db import central_db_url
from fastapi.testclient import TestClient

from central.config import ConsoleConfig
from central.console.app import create_app
from central.console.auth import Passwords, add_user
from central.console.context import Console
from central.console.roles import ROLES
from central.console.sessions import CSRF_HEADER
from central.storage import CentralStore
from central.storage.engine import writer
from contracts.mqtt.payloads import LaneState, TxnBatch
from contracts.records.sealed import GENESIS_HASH, TransactionRecord
from contracts.testing import paid_exit

PLAZA = "riverside"
LANES = ("entry-1", "exit-1")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
PLATES = ("ABC1234", "XYZ9876", "ABD5555")
"""Passages of exit-1, one per plate, a minute apart from NOW - 1 h."""


def cheap_passwords() -> Passwords:
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Site:
    store: CentralStore
    console: Console
    clock: Clock
    config: ConsoleConfig
    clients: list[TestClient] = field(default_factory=list)

    def client(self) -> TestClient:
        client = TestClient(create_app(self.console), base_url="https://testserver")
        self.clients.append(client)
        return client

    def login(self, name: str, password: str = PASSWORD) -> tuple[TestClient, str]:
        """A client logged in as ``name``, and its CSRF token."""
        client = self.client()
        answer = client.post("/api/login", json={"name": name, "password": password})
        assert answer.status_code == 200, answer.text
        return client, str(answer.json()["csrf_token"])

    def add_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        with writer(self.store.engine).begin() as connection:
            add_user(
                connection,
                name=name,
                role=role,
                password=password,
                passwords=self.console.passwords,
                at=self.clock(),
                actor="test",
            )

    def open_alarm(self, subject: str, lane: str = "exit-1") -> int:
        return self.store.open_alarm(
            "barrier_fault",
            plaza_id=PLAZA,
            lane_id=lane,
            subject=subject,
            detail={"code": "F"},
            at=self.clock(),
        )


def csrf(token: str) -> dict[str, str]:
    return {CSRF_HEADER: token}


def write_secret(path: Path) -> Path:
    path.write_bytes(b"0123456789abcdef" * 3)
    return path


def seed(store: CentralStore) -> None:
    """Two lanes stated, three passages of exit-1, nothing else."""
    for lane in LANES:
        store.note_state(
            LaneState(plaza_id=PLAZA, lane_id=lane, online=True, at=NOW, mode="normal"), NOW
        )
    records, prev = [], GENESIS_HASH
    for seq, plate in enumerate(PLATES, start=1):
        at = NOW - timedelta(hours=1) + timedelta(minutes=seq)
        record, _ = TransactionRecord.seal(paid_exit("exit-1", at, plate=plate), seq, prev)
        prev = record.hash
        records.append(record)
    store.store_batch(
        PLAZA, TxnBatch(plaza_id=PLAZA, lane_id="exit-1", sent_at=NOW, records=tuple(records)), NOW
    )


@contextmanager
def console_site(backend: str, tmp_path: Path, **settings: Any) -> Iterator[Site]:
    """A seeded store and its console, with a user named after each role."""
    config = ConsoleConfig(session_secret_file=write_secret(tmp_path / "secret"), **settings)
    clock = Clock()
    with central_db_url(backend, tmp_path) as url, CentralStore.open(url) as store:
        console = Console.from_config(
            store.engine, config, passwords=cheap_passwords(), clock=clock
        )
        site = Site(store=store, console=console, clock=clock, config=config)
        for role in ROLES:
            site.add_user(role, role)
        seed(store)
        try:
            yield site
        finally:
            for client in site.clients:
                client.close()
