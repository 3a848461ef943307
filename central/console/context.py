"""What every console request works with: the database, passwords, sessions, the rule, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from central.config import ConsoleConfig
from central.console.auth import LockoutRule, Passwords
from central.console.sessions import Sessions, read_secret
from central.storage.engine import writer


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Console:
    """The console's dependencies, one per application (``app.state.console``)."""

    engine: Engine
    sessions: Sessions
    rule: LockoutRule
    secure_cookies: bool
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_config(
        cls,
        engine: Engine,
        config: ConsoleConfig,
        *,
        passwords: Passwords | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Console:
        """The console of ``config``; SecretError when its secret file is missing or short."""
        return cls(
            engine=engine,
            sessions=Sessions(
                read_secret(config.session_secret_file),
                timedelta(seconds=config.idle_timeout_s),
            ),
            rule=LockoutRule(
                count=config.lockout_count,
                period=timedelta(seconds=config.lockout_period_s),
                length=timedelta(seconds=config.lockout_s),
            ),
            secure_cookies=config.secure_cookies,
            passwords=passwords or Passwords(),
            clock=clock,
        )

    @property
    def writer(self) -> Engine:
        """The engine for transactions that write (SQLite takes its lock up front)."""
        return writer(self.engine)
