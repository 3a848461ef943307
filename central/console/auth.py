"""Users, their Argon2 passwords, and logging in with a lockout after repeated failures.

A login is judged in one writer transaction that locks the user's row, so two
attempts at once count as two failures. A name that does not exist costs the same
Argon2 work as a wrong password (no user list by timing), and every attempt,
refused or not, is written to the audit log.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, RowMapping, insert, select, update

from central.console import audit
from central.console.roles import ROLES, Role
from central.storage.schema import users
from central.storage.times import utc_in, utc_out

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Longer passwords are refused before hashing: Argon2 of megabytes is a cheap denial."""


class UserError(ValueError):
    """A user that cannot be added as asked (bad name, role or password, name taken)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> User:
        return cls(
            id=row["id"], name=row["name"], role=cast(Role, row["role"]), disabled=row["disabled"]
        )


@dataclass(frozen=True)
class LockoutRule:
    """``count`` failures within ``period`` lock a user for ``length``."""

    count: int
    period: timedelta
    length: timedelta


class Passwords:
    """Argon2id hashing; tests pass a cheap :class:`PasswordHasher`, production the default."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def spend(self, password: str) -> None:
        """The work of one verification, for a name that has no user."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self.verify(self._dummy, password)


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters, got {len(password)}")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password: at most {MAX_PASSWORD} characters")
    return password


def add_user(
    connection: Connection,
    *,
    name: str,
    role: str,
    password: str,
    passwords: Passwords,
    at: datetime,
    actor: str,
    reason: str | None = None,
) -> User:
    """Add a user and audit it; :class:`UserError` for a bad name, role, password or a taken name."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"name: {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise UserError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    check_password(password)
    taken = connection.execute(select(users.c.id).where(users.c.name == name)).first()
    if taken is not None:
        raise UserError(f"name: a user {name!r} exists already")
    at = utc_in(at, "at")
    new_id = connection.execute(
        insert(users)
        .values(
            name=name,
            role=role,
            password_hash=passwords.hash(password),
            created_at=at,
            disabled=False,
            failed_logins=0,
        )
        .returning(users.c.id)
    ).scalar_one()
    audit.append(
        connection,
        at=at,
        actor=actor,
        action="user.add",
        target=f"user:{name}",
        after={"name": name, "role": role, "disabled": False},
        reason=reason,
    )
    return User(id=int(new_id), name=name, role=role, disabled=False)


def user_by_id(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return None if row is None else User.from_row(row)


def log_in(
    connection: Connection,
    *,
    name: str,
    password: str,
    passwords: Passwords,
    rule: LockoutRule,
    at: datetime,
) -> User | None:
    """The user when ``name`` and ``password`` let them in now; None (audited) when not.

    A locked user is refused even with the right password, and a failure while
    locked does not lengthen the lock (an attacker cannot keep a user out forever
    by trying faster than the lock ends).
    """
    at = utc_in(at, "at")
    target = f"user:{name}"
    if len(password) > MAX_PASSWORD:
        _refused(connection, at, name, target, "password too long")
        return None
    row = (
        connection.execute(select(users).where(users.c.name == name).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        passwords.spend(password)
        _refused(connection, at, name, target, "no such user")
        return None
    locked_until = row["locked_until"]
    if locked_until is not None and at < utc_out(locked_until):
        passwords.spend(password)
        _refused(connection, at, name, target, "locked")
        return None
    if not passwords.verify(row["password_hash"], password):
        _count_failure(connection, row, at, rule)
        return None
    if row["disabled"]:
        _refused(connection, at, name, target, "disabled")
        return None
    changes: dict[str, Any] = {"failed_logins": 0, "failures_since": None, "locked_until": None}
    if passwords.needs_rehash(row["password_hash"]):
        changes["password_hash"] = passwords.hash(password)
    connection.execute(update(users).where(users.c.id == row["id"]).values(**changes))
    audit.append(connection, at=at, actor=name, action="login", target=target)
    return User.from_row(row)


def _refused(connection: Connection, at: datetime, name: str, target: str, why: str) -> None:
    audit.append(
        connection, at=at, actor=name, action="login.refused", target=target, after={"why": why}
    )


def _count_failure(
    connection: Connection, row: RowMapping, at: datetime, rule: LockoutRule
) -> None:
    since = row["failures_since"]
    if since is None or at - utc_out(since) > rule.period:
        failures, since = 1, at
    else:
        failures = row["failed_logins"] + 1
    locked_until = at + rule.length if failures >= rule.count else None
    connection.execute(
        update(users)
        .where(users.c.id == row["id"])
        .values(
            failed_logins=0 if locked_until else failures,
            failures_since=None if locked_until else since,
            locked_until=locked_until,
        )
    )
    target = f"user:{row['name']}"
    _refused(connection, at, row["name"], target, "wrong password")
    if locked_until is not None:
        audit.append(
            connection,
            at=at,
            actor=audit.SYSTEM,
            action="user.lock",
            target=target,
            after={"locked_until": locked_until.isoformat(), "failures": failures},
            reason=f"{failures} failed logins within {rule.period.total_seconds():g} s",
        )
