"""Fixtures shared by every test."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
import structlog
from central_process import centrals, mosquitto
from mqtt_broker import mqtt_broker, private_broker

__all__ = ["centrals", "mosquitto", "mqtt_broker", "private_broker"]  # shared fixtures


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """Undo a test's ``log.configure()`` (``main()`` calls it).

    It binds the stderr of the moment, which pytest closes after the test; a
    later test whose driver threads log would then fail writing to it.
    """
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
