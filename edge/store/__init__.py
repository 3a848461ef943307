"""The lane store (SQLite): sequenced, hash-chained records and the lane's local state.

Use :class:`Store`::

    with Store.open("lane.db") as store:
        record = store.append_transaction(txn)   # durable when it returns

See :mod:`edge.store.store` for records and sync, and the ``lists``, ``accounts``,
``tariffs``, ``config`` and ``entries`` attributes for the rest. :func:`verify` checks a file;
:func:`check_store` is a lane's read-only check before it opens its store.
"""

from edge.store.accounts import (
    Account,
    IdempotencyConflictError,
    InsufficientFundsError,
    Posting,
    UnknownAccountError,
)
from edge.store.config_versions import (
    AppliedBundle,
    PricingDocuments,
    StaleConfigError,
)
from edge.store.db import StoreDamagedError, StoreError, StoreFullError
from edge.store.entries import EntryAlreadyOpenError, OpenEntryRow
from edge.store.lists import ListEntry, ListName, StaleListVersionError
from edge.store.plates import plate_key
from edge.store.schema import SchemaError
from edge.store.startcheck import check_store
from edge.store.store import (
    AckBeyondHeadError,
    DuplicateRecordIdError,
    Store,
    StreamStatus,
    SyncStatus,
)
from edge.store.tariffs import TariffConflictError, TariffVersion
from edge.store.verify import Break, Report, verify

__all__ = [
    "Account",
    "AckBeyondHeadError",
    "AppliedBundle",
    "Break",
    "DuplicateRecordIdError",
    "EntryAlreadyOpenError",
    "IdempotencyConflictError",
    "InsufficientFundsError",
    "ListEntry",
    "ListName",
    "OpenEntryRow",
    "Posting",
    "PricingDocuments",
    "Report",
    "SchemaError",
    "StaleConfigError",
    "StaleListVersionError",
    "Store",
    "StoreDamagedError",
    "StoreError",
    "StoreFullError",
    "StreamStatus",
    "SyncStatus",
    "TariffConflictError",
    "TariffVersion",
    "UnknownAccountError",
    "check_store",
    "plate_key",
    "verify",
]
