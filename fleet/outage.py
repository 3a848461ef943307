"""The demo's broker outage and the lanes' backlog: what is not yet in central.

A lane keeps every record until central's ack covers it, so its backlog is read
from the store: per lane and stream, records written (``last_seq``) minus records
acked (``acked_seq``). :class:`BrokerOutage` stops the broker in the middle of
the traffic (:func:`plan_outage`), shows the backlog growing while it is down,
starts it again on the same port (with nothing remembered: no persistence) and
shows the backlog draining. :func:`wait_drained` waits, bounded, for the backlog
to reach zero before the summary; :func:`final_sync` sends what the lanes wrote
while stopping (their last events, a passage settled at shutdown) as a restarted
lane would, with the lane's own sync outbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.config.lane import LaneFiles
from edge.daemon.syncing import lane_facts
from edge.store import Store
from edge.sync import SyncService
from fleet.screen import Screen
from plumbing.broker_process import Broker

OUTAGE_S = 20.0
FULL_FROM_S = 60.0
"""From this much traffic the outage lasts ``OUTAGE_S``; shorter runs get a third of theirs."""
MIN_OUTAGE_S = 3.0
SHOW_EVERY_S = 5.0
DRAIN_SHOW_S = 2.0

Backlog = dict[str, tuple[int, int]]
"""Per lane: transactions and lane events not yet acked by central."""


@dataclass(frozen=True)
class OutagePlan:
    start_s: float
    """After the traffic starts."""
    length_s: float


def plan_outage(duration_s: float | None) -> OutagePlan | str:
    """The outage for ``duration_s`` of traffic (None: until Ctrl-C), or why there is none.

    ``OUTAGE_S`` in the middle of a run of ``FULL_FROM_S`` or more (20 s to 40 s of a
    minute); a third of a shorter run, in its middle; none under ``MIN_OUTAGE_S``.
    """
    if duration_s is None:
        return OutagePlan(OUTAGE_S, OUTAGE_S)
    length = min(OUTAGE_S, duration_s / 3)
    if length < MIN_OUTAGE_S:
        return (
            f"no broker outage: {duration_s:g} s of traffic is too short for one (a third of "
            f"the run from {3 * MIN_OUTAGE_S:g} s, {OUTAGE_S:g} s from {FULL_FROM_S:g} s)"
        )
    return OutagePlan((duration_s - length) / 2, length)


def read_backlog(store_path: Path, lanes: Sequence[str]) -> Backlog:
    with Store.open(store_path) as store:
        backlog = {}
        for lane in lanes:
            status = store.sync_status(lane)
            backlog[lane] = (status.txn.pending, status.event.pending)
        return backlog


def total(backlog: Mapping[str, tuple[int, int]]) -> int:
    return sum(txn + event for txn, event in backlog.values())


def backlog_text(backlog: Mapping[str, tuple[int, int]]) -> str:
    """``riverside-entry 3 (2 txn, 1 event), riverside-exit 0``."""
    parts = []
    for lane, (txn, event) in backlog.items():
        parts.append(
            f"{lane} {txn + event}" + (f" ({txn} txn, {event} event)" if txn + event else "")
        )
    return ", ".join(parts)


class BrokerOutage:
    """Stops ``broker`` at ``plan.start_s`` after :meth:`start` for ``plan.length_s``, in a thread."""

    def __init__(
        self,
        broker: Broker,
        plan: OutagePlan,
        backlog: Callable[[], Backlog],
        screen: Screen,
        *,
        show_every_s: float = SHOW_EVERY_S,
    ) -> None:
        self.broker = broker
        self.plan = plan
        self.backlog = backlog
        self.screen = screen
        self.show_every_s = show_every_s
        self.error: str | None = None
        """Why the broker did not come back, if it did not."""
        self.drained_after_s: float | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-outage")

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """End it now (the traffic is over): a broker still down is started at once."""
        self._cancel.set()
        self._thread.join()

    def _run(self) -> None:
        say, broker, length = self.screen.say, self.broker, self.plan.length_s
        if self._cancel.wait(self.plan.start_s):
            return
        broker.stop()
        down = time.monotonic()
        say(
            f"broker: stopped ({broker.name}, port {broker.port}) for {length:g} s; the lanes "
            "keep working and keep every record until central acks it"
        )
        while not self._cancel.wait(
            min(self.show_every_s, max(0.0, down + length - time.monotonic()))
        ):
            waited = time.monotonic() - down
            if waited >= length - 0.05:
                break
            say(f"  broker down {waited:.0f} s; backlog (not yet acked): {self._text()}")
        try:
            broker.start()
        except RuntimeError as exc:
            self.error = f"the broker did not start again on port {broker.port}: {exc}"
            say(f"error: {self.error}")
            return
        back = time.monotonic()
        say(
            f"broker: back on port {broker.port} after {back - down:.0f} s; backlog: {self._text()}"
        )
        while not self._cancel.wait(DRAIN_SHOW_S):
            backlog = self.backlog()
            if total(backlog) == 0:
                self.drained_after_s = time.monotonic() - back
                say(f"  backlog drained {self.drained_after_s:.1f} s after the broker's return")
                return
            since = time.monotonic() - back
            say(f"  broker back {since:.0f} s; backlog (not yet acked): {backlog_text(backlog)}")

    def _text(self) -> str:
        return backlog_text(self.backlog())


def wait_drained(backlog: Callable[[], Backlog], screen: Screen, timeout_s: float) -> Backlog:
    """Wait up to ``timeout_s`` for no backlog; the backlog at the end.

    A Ctrl-C does not cut it short: the traffic's end set the stop event already,
    and the wait is bounded."""
    start = time.monotonic()
    now = backlog()
    try:
        while total(now) and time.monotonic() - start < timeout_s:
            time.sleep(0.5)
            now = backlog()
            screen.progress(f"backlog draining: {backlog_text(now)}")
    finally:
        screen.done()
    return now


def final_sync(
    files: Sequence[LaneFiles], backlog: Callable[[], Backlog], timeout_s: float
) -> Backlog:
    """Send the stopped lanes' records not yet acked, with their sync outboxes; what is left.

    The lanes wrote their last records while stopping (``lane_stopped``, the mode
    they closed in, a passage settled at shutdown), after their outbox stopped:
    each lane's own :class:`~edge.sync.SyncService` on the store, as the lane's next
    start would run it, sends them.
    """
    services = []
    for lane in files:
        assert lane.lane.sync is not None, "the demo's lanes sync"
        services.append(SyncService(lane.lane.sync, lane_facts(lane), Path(lane.lane.store)))
    left = backlog()
    try:
        for service in services:
            service.start()
        deadline = time.monotonic() + timeout_s
        while total(left) and time.monotonic() < deadline:
            time.sleep(0.2)
            left = backlog()
    finally:
        for service in services:
            service.stop()
    return left
