"""What every ``lanewarden central`` command does first: read central's file, open its database.

Each failure is a line naming what was wrong and an exit status (78, EX_CONFIG, for what
a restart will not mend; 1 for a database that cannot be used now), the same in every
command. SQLAlchemy is imported here only when a command runs (``lanewarden --help``
stays instant, and a lane computer without the central extra can still list commands).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from central.config import CentralConfig
    from central.storage import CentralStore

EXIT_FAILED = 1
EXIT_CONFIG = 78  # EX_CONFIG: the unit's RestartPreventExitStatus, restarting will not help


class CommandFailedError(Exception):
    """A command cannot go on; its line has been printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fail(prog: str, message: str, code: int) -> CommandFailedError:
    print(f"{prog}: {message}", file=sys.stderr)
    return CommandFailedError(code)


def load_config(prog: str, path: str) -> CentralConfig:
    from central.config import load_central
    from plumbing.config import ConfigError

    try:
        return load_central(path)
    except ConfigError as exc:
        raise fail(prog, f"invalid configuration:\n{exc}", EXIT_CONFIG) from exc


def open_store(prog: str, config: CentralConfig, *, create: bool = True) -> CentralStore:
    """Central's database (made, with its folder, when ``create`` and SQLite), migrated."""
    from sqlalchemy.exc import SQLAlchemyError

    from central.storage import CentralStore, StoreUrlError

    storage = config.storage
    if storage.url is None:
        if not create and not storage.database_path.exists():
            raise fail(
                prog,
                f"no database at {storage.database_path} (storage.state_dir; central run "
                "creates it)",
                EXIT_FAILED,
            )
        storage.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        return CentralStore.open(storage.database_url)
    except StoreUrlError as exc:
        raise fail(prog, f"storage.url: {exc}", EXIT_CONFIG) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise fail(prog, f"cannot open the database: {exc}", EXIT_FAILED) from exc
