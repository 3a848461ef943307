"""Do central and the lanes agree? Their count and sum, and their hash chains.

The lanes' figures are counted from their store with the rule both sides share
(:func:`contracts.reconcile.day_totals`); central's are its report's
(:func:`central.reports.revenue.days_report`, what ``lanewarden central report``
prints), over the same plaza-local days. The chains agree when the lanes' store
verifies (``lanewarden store verify``), central's stored chains walk clean
(:func:`central.reports.chains.stored_chains`), and central's head of every lane
and stream is the lanes' own (same last lane_seq, same hash).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from central.reports.chains import stored_chains
from central.reports.revenue import days_report
from central.storage import CentralStore
from contracts.reconcile import day_totals
from edge.store import Store, verify

ALL = 10**9


@dataclass(frozen=True)
class Figures:
    transactions: int
    revenue: int
    """Minor units."""


@dataclass(frozen=True)
class Agreement:
    days: tuple[date, ...]
    """The plaza-local days of the lanes' transactions (today's when there are none)."""
    lanes: dict[str, Figures]
    central: dict[str, Figures]
    lanes_chains_ok: bool
    lanes_chain_problems: tuple[str, ...]
    central_chain_problems: tuple[str, ...]
    head_differences: tuple[str, ...]

    @property
    def figures_agree(self) -> bool:
        return self.lanes == self.central

    @property
    def chains_agree(self) -> bool:
        return (
            self.lanes_chains_ok and not self.central_chain_problems and not self.head_differences
        )


def compare(
    store_path: Path,
    central_url: str,
    lanes: Sequence[str],
    zone: ZoneInfo,
    today: Callable[[], date],
) -> Agreement:
    """Central's database at ``central_url`` against the lanes' store at ``store_path``."""
    report = verify(store_path)
    lane_figures: dict[str, Figures] = {}
    heads: dict[tuple[str, str], tuple[int, str | None]] = {}
    days: set[date] = set()
    with Store.open(store_path) as store:
        for lane in lanes:
            totals = day_totals(store.transactions(lane, 1, ALL), zone)
            days.update(t.day for t in totals)
            lane_figures[lane] = Figures(
                sum(t.transactions for t in totals), sum(t.revenue for t in totals)
            )
            status = store.sync_status(lane)
            txn, event = status.txn.last_seq, status.event.last_seq
            txns = store.transactions(lane, txn, 1) if txn else []
            events = store.events(lane, event, 1) if event else []
            heads[(lane, "txn")] = (txn, txns[0].hash if txns else None)
            heads[(lane, "event")] = (event, events[0].hash if events else None)
    shown = tuple(sorted(days)) or (today(),)
    with CentralStore.open(central_url) as central:
        rows = days_report(central.engine, shown[0], shown[-1], "lane", lambda _plaza: zone)
        chains = stored_chains(central.engine, lanes)
    central_figures = {lane: Figures(0, 0) for lane in lanes}
    for row in rows:
        if row.group in central_figures:
            before = central_figures[row.group]
            central_figures[row.group] = Figures(
                before.transactions + row.transactions, before.revenue + row.revenue
            )
    differences = []
    for chain in chains:
        seq, hash_ = heads[(chain.lane_id, chain.stream)]
        if (chain.last_seq, chain.last_hash if chain.records else None) != (seq, hash_):
            differences.append(
                f"{chain.lane_id} {chain.stream}: central's head is lane_seq {chain.last_seq}, "
                f"the lane's {seq}" + ("" if chain.last_seq != seq else " (another hash)")
            )
    return Agreement(
        days=shown,
        lanes=lane_figures,
        central=central_figures,
        lanes_chains_ok=report.ok,
        lanes_chain_problems=tuple([str(b) for b in report.breaks] + list(report.head_problems)),
        central_chain_problems=tuple(
            f"lane {c.lane_id} {c.stream} {c.problem}" for c in chains if c.problem
        ),
        head_differences=tuple(differences),
    )
