"""``lanewarden central run --config FILE``: central's ingest in the foreground (systemd runs this)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from central.commands import console, user
from central.commands.opening import (
    EXIT_CONFIG,
    EXIT_FAILED,
    CommandFailedError,
    load_config,
    open_store,
)
from plumbing.cli import Groups

if TYPE_CHECKING:
    from central.config import CentralConfig
    from central.storage import CentralStore
    from central.storage.timers import OpenGap

TICK_S = 0.5
GC_YOUNG = 50_000
"""Allocations between young-generation collections (Python's default is 700)."""


def register(groups: Groups) -> None:
    parser = groups.group("central").add_parser(
        "run",
        help="run central's ingest workers, storage and metrics",
        description="Run central's ingest until SIGTERM or SIGINT: the configured number of "
        "MQTT workers in one shared-subscription group (one plain worker on a broker without "
        "MQTT 5 shared subscriptions, said in a log line), storing into the configured "
        "database, acking every batch to its lane and asking lanes to resend gaps that stay "
        "open past the gap timeout; Prometheus metrics on the configured port. Under systemd "
        "(Type=notify) it reports READY once the workers are started and pings the watchdog. "
        f"Exit status: 0 stopped cleanly, {EXIT_FAILED} the database or the metrics port "
        f"cannot be used, {EXIT_CONFIG} the configuration (or a file it names) is invalid.",
    )
    parser.add_argument(
        "--config", required=True, metavar="FILE", help="central's file (config/central.toml)"
    )
    parser.set_defaults(func=run)
    # The console's commands ride on this entry point until they have their own.
    console.register(groups)
    user.register(groups)


def run(args: argparse.Namespace) -> int:
    prog = "lanewarden central run"
    try:
        store = open_store(prog, config := load_config(prog, args.config))
    except CommandFailedError as exc:
        return exc.code
    try:
        tune_gc()
        return serve(config, store)
    finally:
        store.close()


def held_gaps(store: CentralStore) -> list[OpenGap]:
    """The gaps the store holds, for the ingest service to resume at start."""
    from central.storage.timers import open_gaps

    with store.engine.connect() as connection:
        return open_gaps(connection)


def tune_gc() -> None:
    """Fit the cyclic garbage collector to ingest: many objects per message, few cycles.

    A batch of 500 records is some 20,000 objects alive until it is stored, so at
    Python's default threshold young collections run dozens of times per message,
    find nothing to free (reference counting frees the batch), and promote the batch
    to the older generations, whose full collections then walk every object of the
    process. That was a sixth of a worker's CPU per record. Objects made while
    starting (modules, config, the engine) are frozen out of collections, and young
    collections wait for :data:`GC_YOUNG` allocations, more than a message makes.
    """
    import gc

    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


def serve(config: CentralConfig, store: CentralStore) -> int:
    """Run the ingest service on ``store`` until SIGTERM or SIGINT."""
    import signal
    import threading
    import time

    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from central.alarms.watch import AlarmingStore, AlarmSweep
    from central.ingest.service import IngestService
    from central.storage.schema import alarms
    from plumbing import log
    from plumbing.broker import BrokerSetupError
    from plumbing.metrics import MetricsError
    from plumbing.systemd import Notifier

    logger = log.get("central.run")

    def open_alarms() -> dict[str, int]:
        # Counted in the database (its index is on state and kind): a storm of alarms
        # (every conflicting record opens one) must not slow the main loop down.
        query = (
            select(alarms.c.kind, func.count())
            .where(alarms.c.state == "open")
            .group_by(alarms.c.kind)
        )
        with store.engine.connect() as connection:
            return {kind: int(count) for kind, count in connection.execute(query)}

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notifier = Notifier()

    service = IngestService(
        config,
        AlarmingStore(store, config),
        alarm_counts=open_alarms,
        open_gaps=lambda: held_gaps(store),
    )
    sweep = AlarmSweep(store, config)
    try:
        try:
            service.start()
        except BrokerSetupError as exc:
            print(f"lanewarden central run: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except MetricsError as exc:
            print(f"lanewarden central run: {exc}", file=sys.stderr)
            return EXIT_FAILED
        workers = len(service.workers)
        backend = config.storage.database_url.split(":", 1)[0]
        notifier.ready(f"central up: {workers} workers, storage {backend}")
        logger.info("central_started", workers=workers, group=config.ingest.group)
        while not stop.wait(TICK_S):
            try:
                service.tick()
            except SQLAlchemyError as exc:  # the database is away: ingest retries per message
                logger.warning("tick_failed", error=str(exc).splitlines()[0])
            try:
                sweep.tick(time.monotonic())
            except SQLAlchemyError as exc:
                logger.warning("alarm_sweep_failed", error=str(exc).splitlines()[0])
            notifier.watchdog()
        notifier.stopping("central stopping")
        logger.info("central_stopping")
    finally:
        service.stop()
    logger.info("central_stopped")
    return 0
