"""Central's storage: sealed records, acks, the lane registry, telemetry and alarms.

SQLAlchemy Core over SQLite (single site, demo) or PostgreSQL (production), with
Alembic migrations that ship in the package and run when the store opens.
"""

from central.storage.alarms import Alarm, AlarmError, AlarmState
from central.storage.engine import StoreUrlError
from central.storage.store import BatchOutcome, CentralStore

__all__ = ["Alarm", "AlarmError", "AlarmState", "BatchOutcome", "CentralStore", "StoreUrlError"]
