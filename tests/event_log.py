"""The lane machine's event log, kept by a daemon and replayed into fresh machines.

:class:`PickledStepLog` is a :class:`~edge.daemon.executor.StepLog` that appends
every machine start (its initial state) and every event the daemon feeds it (with
its time) to a file, flushed at each step so that a killed daemon leaves every
step it began. :func:`check_replay` feeds each machine's events back through
:func:`edge.lane.replay` and compares what the replay records, field by field,
with the records the daemon stored.

Compared: every field of the record's content (:class:`~contracts.records.transaction.Transaction`,
:class:`~contracts.records.lane_event.LaneEvent`), the time of the decision
(``recorded_at``, ``time``) included. Not compared, because the store adds them
when it seals a record, after the machine: ``lane_seq``, ``prev_hash``, ``hash``
and ``record_version`` (the chain), ``plate_nonce``, ``plate_digest`` and
``plate_pseudonym`` (the salted commitment to the plate and its pseudonym).

Stored records that no step of a machine wrote, each of a named kind:

- a refund record (``references`` set): the gateway's refund, written once the
  shell carried out the machine's ``RefundPayment`` (:mod:`edge.daemon.refunds`);
- lane events the shell itself decides (device faults, degraded modes, passage
  timings, start and stop...): their ids are not the machine's.

A daemon killed mid-step may have stored only part of that step's records: with
``killed``, a machine's records may end early (the next start goes on from what
was stored).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from uuid import UUID

from contracts.records.lane_event import LaneEvent
from contracts.records.transaction import Transaction
from edge.daemon.recording import event_of, transaction_of
from edge.lane import LaneState, replay
from edge.lane.actions import RaiseAlarm, RecordEvent, RecordTransaction
from edge.lane.events import Event
from edge.store import Store

TXN_FIELDS = frozenset(Transaction.model_fields)
EVENT_FIELDS = frozenset(LaneEvent.model_fields)


class PickledStepLog:
    """A step log in a file of pickled entries (the test's own file: never read from elsewhere)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("ab")

    def begin(self, state: LaneState) -> None:
        self._write(("begin", state))

    def step(self, now: datetime, event: Event) -> None:
        self._write(("step", now, event))

    def _write(self, entry: tuple[Any, ...]) -> None:
        pickle.dump(entry, self._file)
        self._file.flush()

    def __enter__(self) -> PickledStepLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()


@dataclass
class Machine:
    """One machine of the log: where it started and what it was fed."""

    start: LaneState
    steps: list[tuple[datetime, Event]] = field(default_factory=list)


def machines(path: Path) -> list[Machine]:
    """The machines of a log file, in order (a last entry cut short by a kill is left out)."""
    found: list[Machine] = []
    with path.open("rb") as file:
        while True:
            try:
                entry = pickle.load(file)
            except EOFError:
                break
            except pickle.UnpicklingError:
                break  # the daemon was killed while it wrote this entry
            if entry[0] == "begin":
                found.append(Machine(entry[1]))
            else:
                found[-1].steps.append((entry[1], entry[2]))
    return found


@dataclass
class Replayed:
    """What the replay of one machine recorded, in order."""

    txns: list[Transaction]
    events: dict[UUID, LaneEvent]


def replayed(path: Path) -> list[Replayed]:
    """Each machine of the log replayed from its start: its records, as the recorder builds them."""
    out = []
    for machine in machines(path):
        _, decisions = replay(machine.start, machine.steps)
        txns: list[Transaction] = []
        events: dict[UUID, LaneEvent] = {}
        lane_id = machine.start.lane_id
        for action in (a for actions in decisions for a in actions):
            if isinstance(action, RecordTransaction):
                txns.append(transaction_of(action.txn, action.at))
            elif isinstance(action, RecordEvent | RaiseAlarm):
                events[action.id] = event_of(action, lane_id)
        out.append(Replayed(txns, events))
    return out


def differences(expected: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    return [
        f"{name}: replayed {expected[name]!r}, stored {stored[name]!r}"
        for name in sorted(expected)
        if expected[name] != stored[name]
    ]


@dataclass
class ReplayCheck:
    """How many stored records the replay reproduced, and the ones it need not have."""

    machines: int = 0
    txns: int = 0
    events: int = 0
    refunds: int = 0
    shell_events: int = 0


def check_replay(
    store_path: Path, lane_id: str, log_path: Path, *, killed: bool = False
) -> ReplayCheck:
    """Replay the log and compare with the store; raise AssertionError naming each difference."""
    runs = replayed(log_path)
    with Store.open(store_path) as store:
        stored_txns = store.transactions(lane_id, 1, 1_000_000)
        stored_events = store.events(lane_id, 1, 1_000_000)
    check = ReplayCheck(machines=len(runs))
    queue = [(index, txn) for index, run in enumerate(runs) for txn in run.txns]
    firsts = {
        at: txn.id for at, (index, txn) in enumerate(queue) if at == 0 or queue[at - 1][0] != index
    }
    position = 0
    problems: list[str] = []
    for record in stored_txns:
        expected = queue[position][1] if position < len(queue) else None
        if expected is None or expected.id != record.id:
            if record.references is not None:
                check.refunds += 1
                continue
            # A killed machine stored only part of its last step: the next one goes on.
            later = [at for at, first in firsts.items() if at > position and first == record.id]
            if not (killed and later):
                problems.append(
                    f"transaction {record.id} (lane_seq {record.lane_seq}, {record.status}) "
                    "was stored but no machine recorded it there"
                )
                continue
            position = later[0]
            expected = queue[position][1]
        wrong = differences(expected.model_dump(), record.model_dump(include=TXN_FIELDS))
        if wrong:
            problems.append(f"transaction {record.id} (lane_seq {record.lane_seq}): {wrong}")
        check.txns += 1
        position += 1
    if position < len(queue):
        problems.append(f"replayed but never stored: {[str(t.id) for _, t in queue[position:]]}")
    replayed_events = {event_id: e for run in runs for event_id, e in run.events.items()}
    for event in stored_events:
        expected_event = replayed_events.pop(event.id, None)
        if expected_event is None:
            check.shell_events += 1
            continue
        wrong = differences(expected_event.model_dump(), event.model_dump(include=EVENT_FIELDS))
        if wrong:
            problems.append(f"lane event {event.id} ({event.kind}): {wrong}")
        check.events += 1
    if replayed_events and not killed:
        problems.append(
            f"lane events replayed but never stored: {sorted(map(str, replayed_events))}"
        )
    assert not problems, "the replay differs from the store:\n" + "\n".join(problems)
    assert check.txns > 0, "no transaction to compare"
    return check
