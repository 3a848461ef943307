"""The phases of ``lanewarden bench sync`` and the figures they give.

* throughput, per backend: ``lanes`` lanes with ``records`` records in all, every record
  sendable at once; records stored per second from the first publish to the last ack,
  and per CPU-second of the workers (which says more on a machine other work loads).
* lag (on the first backend): ``lanes`` lanes releasing 2 records a second each for
  ``lag_s`` seconds; per record, its ack's arrival less its publish, the first second
  (warm-up) left out.
* drain (same backend): one lane with a backlog of ``drain`` records connects (the end
  of its outage) and sends; seconds from the connection's start to the last ack.

Two central processes of one worker each serve every phase of a backend; their peak RSS
is read before they stop. Records are sealed and batches serialised before any clock.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from central.bench.lanes import Fleet, SimLane
from central.bench.services import Workers, broker, parse_broker
from central.storage import CentralStore
from central.storage.schema import transactions
from contracts.records.sealed import TransactionRecord
from contracts.testing import transaction_chain

PLAZA = "bench"
BATCH = 500  # the lane's default [sync] batch_size
WINDOW = 8  # and window
RESEND_S = 10.0  # and resend_timeout_s
LAG_RATE = 2.0  # records a second per lane in the steady state
WARMUP_S = 1.0


@dataclass(frozen=True)
class BenchParams:
    lanes: int
    records: int
    workers: int = 2
    lag_s: float = 10.0
    drain: int = 30_000
    timeout_s: float = 600.0
    broker: str | None = None

    def __post_init__(self) -> None:
        for name in ("lanes", "records", "workers", "drain"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.records < self.lanes:
            raise ValueError(f"--records ({self.records}) must be at least --lanes ({self.lanes})")
        if self.broker is not None:
            parse_broker(self.broker)
        if self.lag_s <= WARMUP_S:
            raise ValueError(f"--lag-s must be more than {WARMUP_S} s, got {self.lag_s}")


@dataclass
class BackendRun:
    backend: str
    records: int
    seconds: float
    stored: int
    distinct: int
    resends: int
    cpu_s: float
    """CPU seconds the workers used in the throughput phase."""
    rss_mb: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.records / self.seconds

    @property
    def per_cpu_s(self) -> float | None:
        return self.records / self.cpu_s if self.cpu_s > 0 else None


@dataclass
class Figures:
    runs: list[BackendRun]
    lag_ms: list[float]
    lag_stored: int
    drain_s: float
    drain_stored: int

    def as_json(self) -> dict[str, object]:
        by = {run.backend: run for run in self.runs}
        lag = sorted(self.lag_ms)
        return {
            "records_per_s_pg": round(by["postgresql"].per_s) if "postgresql" in by else None,
            "records_per_s_sqlite": round(by["sqlite"].per_s) if "sqlite" in by else None,
            "lag_p50_ms": round(percentile(lag, 50), 1),
            "lag_p99_ms": round(percentile(lag, 99), 1),
            "drain_30k_s": round(self.drain_s, 3),
            "worker_rss_mb": round(max(mb for run in self.runs for mb in run.rss_mb), 1),
            "runs": [
                {
                    "backend": run.backend,
                    "records": run.records,
                    "seconds": round(run.seconds, 3),
                    "stored": run.stored,
                    "stored_distinct": run.distinct,
                    "resends": run.resends,
                    "central_cpu_s": round(run.cpu_s, 2),
                    "records_per_central_cpu_s": (
                        None if run.per_cpu_s is None else round(run.per_cpu_s)
                    ),
                    "worker_rss_mb": [round(mb, 1) for mb in run.rss_mb],
                }
                for run in self.runs
            ],
            "lag_records": len(lag),
            "lag_stored": self.lag_stored,
            "drain_records_stored": self.drain_stored,
        }


def percentile(ordered: list[float], pct: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not ordered:
        raise ValueError("no lag samples: no record was acked in the steady-state phase")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def _chain(job: tuple[str, int]) -> list[TransactionRecord]:
    return list(transaction_chain(*job))


def _chains(jobs: list[tuple[str, int]]) -> Iterator[list[TransactionRecord]]:
    with ProcessPoolExecutor(2) as pool:
        yield from pool.map(_chain, jobs, chunksize=max(1, len(jobs) // 8))


def _lane(lane_id: str, records: list[TransactionRecord], **kw: object) -> SimLane:
    return SimLane(PLAZA, lane_id, records, BATCH, WINDOW, RESEND_S, **kw)  # type: ignore[arg-type]


def _release(offset: float) -> Callable[[float], int]:
    def released(t: float) -> int:
        return 0 if t < offset else int((t - offset) * LAG_RATE) + 1

    return released


def _stored(url: str, prefix: str) -> tuple[int, int]:
    """Rows of lanes named ``prefix...``, and their distinct ``(lane_id, lane_seq)``."""
    store = CentralStore.open(url)
    try:
        where = transactions.c.lane_id.like(f"{prefix}%")
        pairs = select(transactions.c.lane_id, transactions.c.lane_seq).where(where).distinct()
        with store.engine.connect() as connection:
            rows = connection.execute(select(func.count()).where(where)).scalar_one()
            distinct = connection.execute(select(func.count()).select_from(pairs.subquery()))
            return int(rows), int(distinct.scalar_one())
    finally:
        store.close()


class SyncBench:
    """Builds the records once, then runs the phases on each database it is given."""

    def __init__(self, params: BenchParams, say: Callable[[str], None]) -> None:
        self.params = params
        self.say = say
        per_lane = [params.records // params.lanes] * params.lanes
        for index in range(params.records % params.lanes):
            per_lane[index] += 1
        lag_count = int(params.lag_s * LAG_RATE) + 1
        say(f"sealing {params.records + params.lanes * lag_count + params.drain} records")
        jobs = [(f"tp-{n:03d}", count) for n, count in enumerate(per_lane)]
        jobs += [(f"lag-{n:03d}", lag_count) for n in range(params.lanes)]
        chains = list(_chains([*jobs, ("drain-000", params.drain)]))
        self.throughput = [
            _lane(j[0], c) for j, c in zip(jobs[: params.lanes], chains, strict=False)
        ]
        for lane in self.throughput:
            lane.prebuild()
        lag_chains = chains[params.lanes : 2 * params.lanes]
        self.lag = [
            _lane(job[0], chain, release=_release(n / params.lanes / LAG_RATE))
            for n, (job, chain) in enumerate(zip(jobs[params.lanes :], lag_chains, strict=True))
        ]
        self.drain = _lane("drain-000", chains[-1])
        self.drain.prebuild()

    def run(self, databases: list[tuple[str, AbstractContextManager[str]]]) -> Figures:
        runs: list[BackendRun] = []
        lag_ms: list[float] = []
        lag_stored = drain_stored = 0
        drain_s = 0.0
        with tempfile.TemporaryDirectory(prefix="lanewarden-bench-sync-") as tmp:
            workdir = Path(tmp)
            with broker(self.params.broker, workdir) as address:
                for index, (backend, database) in enumerate(databases):
                    with database as url:
                        run, extra = self._backend(backend, url, address, workdir, index == 0)
                        runs.append(run)
                        if extra is not None:
                            lag_ms, lag_stored, drain_s, drain_stored = extra
        return Figures(runs, lag_ms, lag_stored, drain_s, drain_stored)

    def _backend(
        self, backend: str, url: str, address: tuple[str, int], workdir: Path, first: bool
    ) -> tuple[BackendRun, tuple[list[float], int, float, int] | None]:
        p = self.params
        self.say(f"{backend}: starting {p.workers} workers")
        workers = Workers(p.workers, address, url, workdir)
        extra = None
        try:
            fleet = Fleet(*address, PLAZA, f"bench-lanes-{backend}")
            try:
                for lane in self.throughput:
                    lane.reset()
                self.say(f"{backend}: throughput, {p.lanes} lanes, {p.records} records")
                cpu_before = workers.cpu_s()
                seconds = fleet.run(self.throughput, p.timeout_s)
                cpu = workers.cpu_s() - cpu_before
                resends = sum(lane.resends for lane in self.throughput)
                if first:
                    for lane in self.lag:
                        lane.reset()
                    self.say(f"{backend}: lag, {p.lanes} lanes at {LAG_RATE:g} records/s")
                    fleet.run(self.lag, p.timeout_s)
            finally:
                fleet.close()
            if first:
                lag_ms = [
                    lag * 1000
                    for lane in self.lag
                    for lag, sent in zip(lane.lags_s(), lane.first_sent, strict=False)
                    if sent - lane.first_sent[0] >= WARMUP_S
                ]
                self.say(f"{backend}: drain of {p.drain} records of one lane")
                self.drain.reset()
                begun = time.perf_counter()
                drainer = Fleet(*address, PLAZA, f"bench-drain-{backend}")
                try:
                    connected = time.perf_counter() - begun
                    drain_s = connected + drainer.run([self.drain], p.timeout_s)
                finally:
                    drainer.close()
                extra = (lag_ms, _stored(url, "lag-")[0], drain_s, _stored(url, "drain-")[0])
            rss = workers.peak_rss_mb()
        finally:
            workers.stop()
        stored, distinct = _stored(url, "tp-")
        run = BackendRun(backend, p.records, seconds, stored, distinct, resends, cpu, rss)
        return run, extra
