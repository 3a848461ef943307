"""Other processes keeping the CPUs busy, for the load bench and the tests under load.

A lane computer is rarely idle: evidence is encoded, records are synced, a
second lane may run beside the first. :func:`cpu_burners` starts ``count``
processes that spin in a loop, each in a session of its own, as another service
on the computer would be (systemd starts each unit in its own session, so the
kernel's autogroup shares the CPUs between them fairly); leaving the block stops
them, whatever happened inside it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from plumbing import log

logger = log.get(__name__)

#: A process that does nothing but use a CPU until it is told to stop.
SPIN = "while True: pass"
STOP_WAIT_S = 5.0


@contextmanager
def cpu_burners(count: int) -> Iterator[list[int]]:
    """``count`` CPU-burning processes while the block runs; yields their process ids."""
    if count < 0:
        raise ValueError(f"burner count must be 0 or more, got {count}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(
                subprocess.Popen(  # noqa: S603 - this Python, a fixed one-line program
                    [sys.executable, "-c", SPIN],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        logger.info("cpu_burners_started", count=count, pids=[p.pid for p in procs])
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if procs:
            logger.info("cpu_burners_stopped", count=len(procs))
