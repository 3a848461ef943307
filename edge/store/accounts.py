"""Prepaid accounts: balances in minor units and an idempotent ledger.

Every debit or credit carries an idempotency key (for a passage, derived from the
transaction id). Posting the same key again returns the first posting, marked
``replayed``, and moves no money: a retried payment never charges twice. The same
key with a different account or amount is a bug in the caller and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from edge.store.db import Db
from edge.store.plates import plate_key
from edge.store.times import loaded_time, stored_time


class UnknownAccountError(LookupError):
    """No account with that id."""


class InsufficientFundsError(Exception):
    """A debit larger than the balance (nothing was posted)."""

    def __init__(self, account_id: str, balance: int, amount: int) -> None:
        self.balance = balance
        self.amount = amount
        super().__init__(f"account {account_id}: balance {balance} is less than debit {amount}")


class IdempotencyConflictError(Exception):
    """An idempotency key reused for a different posting."""


@dataclass(frozen=True)
class Account:
    account_id: str
    currency: str
    balance: int
    plates: tuple[str, ...]


@dataclass(frozen=True)
class Posting:
    """One ledger line; ``amount`` is negative for a debit."""

    key: str
    account_id: str
    amount: int
    balance_after: int
    at: datetime
    replayed: bool


class Accounts:
    def __init__(self, db: Db) -> None:
        self._db = db

    def put(self, account_id: str, currency: str, balance: int, plates: Iterable[str]) -> Account:
        """Create or replace an account as central sent it (balance and plates)."""
        keys = tuple(sorted({plate_key(p) for p in plates}))
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO accounts (account_id, currency, balance) VALUES (?, ?, ?) "
                "ON CONFLICT (account_id) DO UPDATE "
                "SET currency = excluded.currency, balance = excluded.balance",
                (account_id, currency, balance),
            )
            conn.execute("DELETE FROM account_plates WHERE account_id = ?", (account_id,))
            conn.executemany(
                "INSERT INTO account_plates (plate, account_id) VALUES (?, ?) "
                "ON CONFLICT (plate) DO UPDATE SET account_id = excluded.account_id",
                [(key, account_id) for key in keys],
            )
        return Account(account_id, currency, balance, keys)

    def get(self, account_id: str) -> Account | None:
        with self._db.lock:
            rows = list(
                self._db.utils.query(
                    "SELECT a.currency, a.balance, p.plate FROM accounts a "
                    "LEFT JOIN account_plates p USING (account_id) "
                    "WHERE a.account_id = ? ORDER BY p.plate",
                    (account_id,),
                )
            )
        if not rows:
            return None
        plates = tuple(row["plate"] for row in rows if row["plate"] is not None)
        return Account(account_id, rows[0]["currency"], rows[0]["balance"], plates)

    def for_plate(self, plate: str) -> Account | None:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT account_id FROM account_plates WHERE plate = ?", (plate_key(plate),)
            ).fetchone()
            return None if row is None else self.get(row[0])

    def debit(self, account_id: str, amount: int, key: str, at: datetime) -> Posting:
        """Take ``amount`` (> 0) from the balance, once per ``key``."""
        if amount <= 0:
            raise ValueError(f"amount: a debit must be positive, got {amount}")
        return self._post(account_id, -amount, key, at)

    def credit(self, account_id: str, amount: int, key: str, at: datetime) -> Posting:
        """Add ``amount`` (> 0) to the balance, once per ``key``."""
        if amount <= 0:
            raise ValueError(f"amount: a credit must be positive, got {amount}")
        return self._post(account_id, amount, key, at)

    def posting(self, key: str) -> Posting | None:
        """The posting made under ``key``, if any (``replayed`` is True: it is not new)."""
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT account_id, amount, balance_after, at FROM account_ledger WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return Posting(key, row[0], row[1], row[2], loaded_time(row[3]), True)

    def _post(self, account_id: str, amount: int, key: str, at: datetime) -> Posting:
        when = stored_time(at, "at")
        with self._db.write() as conn:
            seen = conn.execute(
                "SELECT account_id, amount, balance_after, at FROM account_ledger WHERE key = ?",
                (key,),
            ).fetchone()
            if seen is not None:
                if (seen[0], seen[1]) != (account_id, amount):
                    raise IdempotencyConflictError(
                        f"key {key!r} already posted {seen[1]} to account {seen[0]}, "
                        f"not {amount} to account {account_id}"
                    )
                return Posting(key, account_id, amount, seen[2], loaded_time(seen[3]), True)
            row = conn.execute(
                "SELECT balance FROM accounts WHERE account_id = ?", (account_id,)
            ).fetchone()
            if row is None:
                raise UnknownAccountError(f"account {account_id!r} does not exist")
            balance = int(row[0]) + amount
            if balance < 0:
                raise InsufficientFundsError(account_id, int(row[0]), -amount)
            conn.execute(
                "UPDATE accounts SET balance = ? WHERE account_id = ?", (balance, account_id)
            )
            conn.execute(
                "INSERT INTO account_ledger (key, account_id, amount, balance_after, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, account_id, amount, balance, when),
            )
        return Posting(key, account_id, amount, balance, loaded_time(when), False)
