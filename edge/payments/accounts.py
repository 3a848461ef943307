"""Prepaid accounts and permits, as the payment chain sees them.

The store implements both against SQLite; the in-memory versions here serve
tests and the demo. A debit carries an idempotency key derived from the
transaction (:func:`edge.payments.ids.debit_key_for`): the same key debits once
and answers the same result again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Debited:
    account_id: str
    amount: int
    balance_after: int
    reference: str


@dataclass(frozen=True)
class InsufficientBalance:
    account_id: str
    balance: int


@dataclass(frozen=True)
class NoAccount:
    plate: str


Debit = Debited | InsufficientBalance | NoAccount


class PrepaidAccounts(Protocol):
    def debit(self, plate: str, amount: int, currency: str, key: str) -> Debit:
        """Take ``amount`` from the account linked to ``plate``, once per ``key``."""
        ...


class Permits(Protocol):
    def find(self, plate: str, at: datetime) -> str | None:
        """The id of a permit (whitelist entry) valid for ``plate`` at ``at``, if any."""
        ...


@dataclass
class _Account:
    account_id: str
    currency: str
    balance: int


class InMemoryAccounts:
    """Accounts in a dict; thread-safe like the store's."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}
        self._done: dict[str, Debited] = {}
        self._lock = threading.Lock()

    def open(self, plate: str, account_id: str, balance: int, currency: str = "CNY") -> None:
        if balance < 0:
            raise ValueError(f"balance: must not be negative, got {balance}")
        self._accounts[plate] = _Account(account_id, currency, balance)

    def balance(self, plate: str) -> int:
        return self._accounts[plate].balance

    def debit(self, plate: str, amount: int, currency: str, key: str) -> Debit:
        with self._lock:
            if key in self._done:
                return self._done[key]
            account = self._accounts.get(plate)
            if account is None or account.currency != currency:
                return NoAccount(plate)
            if account.balance < amount:
                return InsufficientBalance(account.account_id, account.balance)
            account.balance -= amount
            done = Debited(
                account.account_id, amount, account.balance, f"{account.account_id}:{key}"
            )
            self._done[key] = done
            return done


class InMemoryPermits:
    """Permits in a dict: plate -> (permit id, valid from, valid until)."""

    def __init__(self) -> None:
        self._permits: dict[str, tuple[str, datetime, datetime]] = {}

    def grant(
        self, plate: str, permit_id: str, valid_from: datetime, valid_until: datetime
    ) -> None:
        if valid_until <= valid_from:
            raise ValueError(f"valid_until: {valid_until} is not after valid_from {valid_from}")
        self._permits[plate] = (permit_id, valid_from, valid_until)

    def find(self, plate: str, at: datetime) -> str | None:
        entry = self._permits.get(plate)
        if entry is None or not entry[1] <= at < entry[2]:
            return None
        return entry[0]
