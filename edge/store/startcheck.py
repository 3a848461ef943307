"""The check a lane makes of its store before it writes to it: damage is refused, files untouched.

Opening a damaged store for writing makes it worse or hides it: SQLite deletes the
WAL beside an emptied database file, checkpoints a WAL into a damaged file, runs on
pages that fail ``integrity_check``, and cuts a torn WAL back to its last intact
commit without a word, after which the lane hands out the lost records' ``lane_seq``
again with other content. So a start first reads the store without changing any of
its files (:func:`edge.store.db.read_only`), runs ``quick_check`` and compares every
lane's head with the head file (:mod:`edge.store.head`); only a store that passes
is opened for writing (and its WAL, if any, recovered as usual).
"""

from __future__ import annotations

import time
from pathlib import Path

from edge.store.db import StoreDamagedError, check_pages, read_only, wal_of
from edge.store.head import HeadFileError, head_file, load_head_file, shortfalls
from plumbing import log

logger = log.get(__name__)


def check_store(path: Path) -> None:
    """Raise :class:`StoreDamagedError` if the store at ``path`` is damaged or lost records.

    A store that does not exist yet passes (the lane creates it), unless its WAL
    or a head file naming records is there without it.
    """
    heads_path = head_file(path)
    try:
        written = load_head_file(heads_path)  # before the snapshot: a live writer only gets ahead
    except HeadFileError as exc:
        raise StoreDamagedError(f"{path}: its head file {exc}") from None
    if not path.exists():
        if written:
            raise StoreDamagedError(
                f"{path}: no such file, but its head file {heads_path.name} records "
                f"{written[0]} up to lane_seq {written[0].last_seq}: the store was lost or moved"
            )
        if wal_of(path).exists():
            raise StoreDamagedError(
                f"{path}: no such file, but its WAL {wal_of(path).name} is there"
            )
        return
    started = time.monotonic()
    with read_only(path) as conn:
        conn.execute("BEGIN")
        check_pages(conn, path)
        problems = shortfalls(conn, written, heads_path)
    if problems:
        raise StoreDamagedError(f"{path}: {'; '.join(problems)}")
    # quick_check reads every page: on a large store this is the slow step of a start.
    logger.info(
        "store_checked",
        path=str(path),
        bytes=path.stat().st_size,
        heads=len(written or []),
        seconds=round(time.monotonic() - started, 3),
    )
