"""Answering the lane machine's ``LookUpVehicle``: lists, open entries and the fee.

Where a vehicle's entry is found depends on the site. Lanes that share one
database on one computer (a car park's entry and exit lanes) find it in the
store: :class:`LocalEntries`. A highway exit needs the entry recorded at another
plaza: when it has none of its own and syncs, it asks central
(:class:`~edge.sync.lookups.RemoteLookups`, :meth:`VehicleLookup.check_with_central`,
awaited in a task of the shell's) and what central said goes into the machine
with the answer (``VehicleChecked.central``). No entry found, or no answer in
time: the tariff's unmatched-exit rule prices the exit (lost ticket,
maximum-distance fare) and the machine flags the record for review.

A vehicle that had paid for a passage that did not happen (it backed away, or a
restart voided it) is not charged again: :class:`CreditBook` finds such payments
in the lane's records (:mod:`edge.lane.credits`), and the fee of the plate's next
passage carries an item that deducts them. A vehicle that backed off unseen while
the lane restarted (recorded passed, its entry closed) and comes back with no open
entry gets that passage's entry and payment back (:mod:`edge.lane.assumed`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from contracts.mqtt.payloads import StoredEntry
from contracts.records.transaction import Transaction
from edge.config.lane import LaneFiles
from edge.fees.engine import CompiledTariff, quote
from edge.fees.passage import FeeQuery, QuoteError
from edge.lane.assumed import Assumed, assumed_passages
from edge.lane.credits import Credit, credits, deduct, refunds_due
from edge.lane.events import LookupFailed, VehicleChecked
from edge.lane.policy import LaneKind
from edge.lane.records import CentralLookup, Fee, Listing, OpenEntry, PaymentMethod
from edge.store import Store, StoreError, plate_key
from edge.sync.lookups import RemoteAnswer, RemoteLookups
from models.match import MatchConfig, match_plate

DEFAULT_CLASS = 1


@dataclass(frozen=True)
class FoundEntry:
    """An entry without an exit yet, wherever it was recorded."""

    txn_id: UUID
    at: datetime
    plaza_id: str
    lane_id: str
    vehicle_class: int | None


class EntrySource(Protocol):
    def find(self, plate: str) -> FoundEntry | None:
        """The plate's open entry, or None when it has none."""
        ...


#: How far a plate may be from an open entry's and still close it: one confusable
#: character (O/0, B/8, S/5...: a read or a typed plate gets these wrong; the
#: substitution costs 1 less the pair's confusion weight), never another letter or
#: digit; two entries that near match neither.
ENTRY_MATCH = MatchConfig(max_distance=0.98, confusion_cost=0.0, ambiguity_gap=0.5)


class LocalEntries:
    """Entries recorded by the lanes that share this store (one site, one computer).

    The plate's own entry first; otherwise the one entry whose plate differs
    from it only in confusable characters (:data:`ENTRY_MATCH`).
    """

    def __init__(self, store: Store, plaza_id: str) -> None:
        self.store = store
        self.plaza_id = plaza_id

    def find(self, plate: str) -> FoundEntry | None:
        entry = self.store.entries.find(plate)
        if entry is None:
            match = match_plate(plate, self.store.entries.plates(), ENTRY_MATCH)
            if match.entry is None or match.ambiguous:
                return None
            entry = self.store.entries.find(match.entry)
            if entry is None:
                return None
        return FoundEntry(
            entry.txn_id, entry.entry_time, self.plaza_id, entry.lane_id, entry.vehicle_class
        )


class CreditBook:
    """The lane's credits (:mod:`edge.lane.credits`), from its records and nothing else.

    :meth:`load` takes the records of the credit window at start; :meth:`observe`
    hears every version the lane stores after that. The book keeps the latest
    version of each transaction of the window, so its answer is what the store
    says, and a kill loses nothing of it.
    """

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._latest: dict[UUID, Transaction] = {}

    def load(self, records: Iterable[Transaction]) -> None:
        for record in records:
            self.observe(record)

    def observe(self, record: Transaction) -> None:
        self._latest.pop(record.id, None)
        self._latest[record.id] = record  # the dict stays in recording order
        if len(self._latest) > PRUNE_AT:
            self._prune(record.recorded_at - self.window)

    def refunds_due(self) -> list[Transaction]:
        """The payments to give back that no refund record answers yet (:mod:`edge.lane.abandoned`)."""
        return refunds_due(self._latest.values())

    def refunded(self, txn_id: UUID) -> bool:
        """Whether a refund of ``txn_id``'s payment is recorded."""
        return any(
            record.references == txn_id and record.payment_status == "refunded"
            for record in self._latest.values()
        )

    def take(self, plate: str, at: datetime, txn_id: UUID) -> list[Credit]:
        """The plate's credits valid at ``at``, for the passage ``txn_id`` to deduct."""
        key = plate_key(plate)
        return [
            credit
            for credit in credits(self._latest.values(), self.window, holder=txn_id)
            if plate_key(credit.plate) == key and at <= credit.until
        ]

    def returning(self, plate: str, at: datetime, txn_id: UUID) -> tuple[Assumed, bool] | None:
        """The assumed passage the plate's return at ``at`` corrects, and whether the plate is its own.

        The newest one recorded under this plate, else under the one plate that
        differs from it only in confusable characters (:data:`ENTRY_MATCH`, as
        entries are matched): :mod:`edge.lane.assumed`.
        """
        recent = [
            a
            for a in assumed_passages(self._latest.values(), self.window, holder=txn_id)
            if at <= a.until
        ]
        match = match_plate(plate, [a.plate for a in recent], ENTRY_MATCH)
        if match.entry is None or match.ambiguous:
            return None
        mine = [a for a in recent if plate_key(a.plate) == plate_key(match.entry)]
        return (mine[-1], match.exact) if mine else None

    def _prune(self, before: datetime) -> None:
        """Forget versions older than the window: every credit they could hold has expired."""
        for txn_id in [t for t, r in self._latest.items() if r.recorded_at < before]:
            del self._latest[txn_id]


def _found(stored: StoredEntry | None) -> FoundEntry | None:
    if stored is None:
        return None
    return FoundEntry(
        stored.txn_id, stored.entry_time, stored.plaza_id, stored.lane_id, stored.vehicle_class
    )


def _said(central: RemoteAnswer | None) -> CentralLookup | None:
    """What central said, for the machine; None when it was not asked."""
    if central is None:
        return None
    if not central.answered:
        return CentralLookup.UNANSWERED
    return CentralLookup.NONE if central.entry is None else CentralLookup.FOUND


PRUNE_AT = 2000
"""Transactions the book holds before it forgets those older than the window."""


class TariffSource(Protocol):
    """The tariff the lane prices with now (central may replace it while the lane runs)."""

    @property
    def compiled(self) -> CompiledTariff | None: ...


class VehicleLookup:
    """The shell's answer to one lookup, from the store, the entries and the fee engine."""

    def __init__(
        self,
        files: LaneFiles,
        store: Store,
        tariffs: TariffSource,
        entries: EntrySource,
        credits: CreditBook,
        *,
        central: RemoteLookups | None = None,
    ) -> None:
        self.kind = files.lane.lane_kind
        self.plaza_id = files.plaza.id
        self.store = store
        self.tariffs = tariffs
        self.entries = entries
        self.credits = credits
        self.central = central

    def asks_central(self, plate: str) -> bool:
        """Whether this plate's lookup waits for central: a highway exit without its entry.

        A store that cannot be read says no: :meth:`check` then reports the failure.
        """
        if self.central is None or self.kind is not LaneKind.HIGHWAY_EXIT:
            return False
        try:
            return self.entries.find(plate) is None
        except (StoreError, OSError, sqlite3.Error):
            return False

    async def check_with_central(
        self, txn_id: UUID, plate: str, at: datetime
    ) -> VehicleChecked | LookupFailed:
        """:meth:`check` with central's entry of the plate, or its silence, as the entry source."""
        assert self.central is not None
        return self.check(txn_id, plate, at, await self.central.ask(plate))

    def check(
        self, txn_id: UUID, plate: str, at: datetime, central: RemoteAnswer | None = None
    ) -> VehicleChecked | LookupFailed:
        """The answer to one lookup; ``central`` is what central said, when it was asked."""
        try:
            return self._check(txn_id, plate, at, central)
        except (StoreError, QuoteError, OSError, sqlite3.Error) as exc:
            return LookupFailed(txn_id, f"{type(exc).__name__}: {exc}")

    def _check(
        self, txn_id: UUID, plate: str, at: datetime, central: RemoteAnswer | None
    ) -> VehicleChecked:
        listing = self._listing(plate, at)
        if self.kind in (LaneKind.PARKING_ENTRY, LaneKind.HIGHWAY_ENTRY):
            found = self.store.entries.find(plate)
            open_entry = None
            if found is not None:
                open_entry = OpenEntry(found.txn_id, found.entry_time, self.plaza_id, found.lane_id)
            return VehicleChecked(txn_id, listing, open_entry)
        exit_lane = self.kind is not LaneKind.OPEN_PLAZA
        entry = None
        if central is not None:
            entry = _found(central.entry)
        elif exit_lane:
            entry = self.entries.find(plate)
        back = self.credits.returning(plate, at, txn_id) if exit_lane and entry is None else None
        if back is not None:
            entry = self._restored(back[0])
        vehicle_class = entry.vehicle_class if entry and entry.vehicle_class else DEFAULT_CLASS
        fee = self._quote(plate, at, entry, vehicle_class, listing)
        owed = self.credits.take(plate, at, txn_id)
        if back is not None and (credit := back[0].credit()) is not None:
            owed.append(credit)
        fee = deduct(fee, owed)
        open_entry = None
        if entry is not None:
            open_entry = OpenEntry(entry.txn_id, entry.at, entry.plaza_id, entry.lane_id)
        correction = back[0].correction(same_plate=back[1]) if back is not None else None
        return VehicleChecked(
            txn_id,
            listing,
            open_entry,
            fee,
            vehicle_class,
            correction=correction,
            central=_said(central),
        )

    def _restored(self, assumed: Assumed) -> FoundEntry | None:
        """The entry an assumed passage closed, back for its returning vehicle (None: it had none)."""
        stored = self.store.transaction(assumed.entry_txn_id) if assumed.entry_txn_id else None
        entry = assumed.entry(stored.lane_id if stored is not None else "unknown")
        if entry is None:
            return None
        return FoundEntry(
            entry.txn_id, entry.at, entry.plaza_id, entry.lane_id, assumed.vehicle_class
        )

    def _listing(self, plate: str, at: datetime) -> Listing:
        lists = self.store.lists.lookup(plate, at)
        for name, listing in (
            ("blacklist", Listing.BLACKLIST),
            ("permit", Listing.PERMIT),
            ("whitelist", Listing.WHITELIST),
        ):
            if name in lists:
                return listing
        if self.store.accounts.for_plate(plate) is not None:
            return Listing.PREPAID
        return Listing.NONE

    def _quote(
        self,
        plate: str,
        at: datetime,
        entry: FoundEntry | None,
        vehicle_class: int,
        listing: Listing,
    ) -> Fee:
        tariff = self.tariffs.compiled  # once: both quotes below price with the same one
        if tariff is None:
            raise QuoteError(f"lane kind {self.kind.value} charges but has no tariff")
        passage = FeeQuery(
            exit=at,
            entry=entry.at if entry else None,
            vehicle_class=vehicle_class,
            entry_plaza=entry.plaza_id if entry else None,
            exit_plaza=self.plaza_id,
        )
        fee = quote(tariff, passage)
        if listing is Listing.PREPAID:
            # The tariff's account discount is due when the account settles the fee,
            # which the payment chain does when the balance covers it; otherwise the
            # vehicle falls through to another method and pays in full.
            account = self.store.accounts.for_plate(plate)
            discounted = quote(tariff, replace(passage, payment_method=PaymentMethod.ACCOUNT.value))
            if account is not None and account.balance >= discounted.total:
                fee = discounted
        return fee
