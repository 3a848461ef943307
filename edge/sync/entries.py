"""The site's entries from central: other lanes' entries and exits, into this lane's store.

A parking site whose lanes run on separate computers has one store per lane, so an
exit lane would not find an entry taken at another lane. Central republishes every
stored record that opens or closes an entry to the plaza's other lanes (topic
``entries``, :class:`~contracts.mqtt.payloads.EntryNotice`); each lane applies it
to its open entries by the rule it applies to its own records
(:meth:`edge.store.entries.OpenEntries.apply`). The records go nowhere else: they
are not the lane's, and its record streams and hash chains stay its own.

While the network is down nothing comes, and an exit without the entry is priced
by the tariff's rule for a missing one, as on a lane on its own. A notice that
cannot be read (not JSON, another lane's, a record whose hash does not match) is
refused with a log line and a count by reason; the store is left as it was.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from contracts.mqtt.payloads import EntryNotice, PayloadError, parse_payload
from edge.store import Store, StoreError
from plumbing import log

logger = log.get(__name__)


class EntryReplica:
    """Applies central's entry notices to one lane's store (called in the sync thread)."""

    def __init__(self, plaza_id: str, lane_id: str) -> None:
        self.plaza_id = plaza_id
        self.lane_id = lane_id
        self.applied: Counter[str] = Counter()
        """Records taken, by what they did: opened, closed, none (already so)."""
        self.refused: Counter[str] = Counter()
        """Notices refused, by reason (a payload rejection, or ``store``)."""

    def take(self, store: Store, raw: bytes) -> None:
        try:
            notice = parse_payload(EntryNotice, raw, plaza_id=self.plaza_id, lane_id=self.lane_id)
        except PayloadError as exc:
            self._refuse(exc.reason, str(exc))
            return
        try:
            with store.batch():
                changes = [store.entries.apply(record).change for record in notice.records]
        except (StoreError, sqlite3.Error) as exc:
            self._refuse("store", f"{type(exc).__name__}: {exc}")
            return
        self.applied.update(changes)
        logger.info(
            "site_entries_applied",
            records=len(changes),
            opened=changes.count("opened"),
            closed=changes.count("closed"),
        )

    def _refuse(self, reason: str, error: str) -> None:
        self.refused[reason] += 1
        logger.warning("site_entries_refused", reason=reason, error=error[:500])
