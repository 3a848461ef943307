"""Server-side console sessions: a random token in the cookie, its hash in the database.

The cookie carries 256 random bits; the database keeps only their SHA-256, so a
copy of the database opens no session. A session unused for the idle timeout is
ended on its next use. The CSRF token of a session is an HMAC of its token under
the console's secret: nothing more to store, and unknowable without both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select, update

from central.console.auth import User
from central.storage.schema import console_sessions, users
from central.storage.times import utc_in, utc_out

COOKIE = "lanewarden_session"
CSRF_HEADER = "X-CSRF-Token"
MIN_SECRET = 32


class SecretError(ValueError):
    """The session secret file is missing, unreadable or too short."""


def read_secret(path: Path) -> bytes:
    """The bytes of the session secret file; :class:`SecretError` saying what is wrong."""
    try:
        secret = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"session_secret_file {path}: cannot read it: {exc}") from None
    if len(secret.strip()) < MIN_SECRET:
        raise SecretError(
            f"session_secret_file {path}: {len(secret.strip())} bytes, at least {MIN_SECRET} "
            "random bytes are needed (head -c 48 /dev/urandom > FILE)"
        )
    return secret


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    user: User


class Sessions:
    """Starting, finding (with the idle timeout) and ending sessions."""

    def __init__(self, secret: bytes, idle: timedelta) -> None:
        if len(secret) < MIN_SECRET:
            raise SecretError(f"session secret: at least {MIN_SECRET} bytes")
        self._secret = secret
        self.idle = idle

    def start(self, connection: Connection, user: User, at: datetime) -> str:
        """A new session of ``user``: the cookie's token. Ends the user's idle sessions."""
        at = utc_in(at, "at")
        connection.execute(
            delete(console_sessions).where(
                console_sessions.c.user_id == user.id,
                console_sessions.c.last_seen < at - self.idle,
            )
        )
        token = secrets.token_urlsafe(32)
        connection.execute(
            insert(console_sessions).values(
                token_hash=_digest(token), user_id=user.id, created_at=at, last_seen=at
            )
        )
        return token

    def find(self, connection: Connection, token: str, at: datetime) -> Session | None:
        """The live session of ``token``, its use noted; None (and ended) when idle too long."""
        at = utc_in(at, "at")
        digest = _digest(token)
        row = (
            connection.execute(
                select(console_sessions.c.last_seen, users)
                .join(users, users.c.id == console_sessions.c.user_id)
                .where(console_sessions.c.token_hash == digest)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        if row["disabled"] or at - utc_out(row["last_seen"]) > self.idle:
            self.end(connection, token)
            return None
        connection.execute(
            update(console_sessions)
            .where(console_sessions.c.token_hash == digest)
            .values(last_seen=at)
        )
        return Session(token=token, user=User.from_row(row))

    def end(self, connection: Connection, token: str) -> None:
        connection.execute(
            delete(console_sessions).where(console_sessions.c.token_hash == _digest(token))
        )

    def csrf(self, token: str) -> str:
        """The CSRF token that state-changing requests of this session must carry."""
        return hmac.new(self._secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.csrf(token), given)
