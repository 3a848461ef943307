"""``lanewarden bench crash``: a lane process killed a few times under traffic, then checked.

No timed assertions: the figures are there, and the store and the ledger check out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from contracts.records.transaction import FeeItem, Transaction
from contracts.uuid7 import uuid7
from edge.payments.ids import order_id_for
from edge.store import Store
from fleet.crash import Killing, Visit, tally
from plumbing.cli import main

KEYS = {"kills", "vehicles", "paid_orders", "lost", "doubled", "stranded_entries", "chain_ok"}
LANE = "riverside-exit"
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class TestBenchCrash:
    """A few kills under traffic give every figure, on target."""

    @pytest.mark.slow
    def test_figures(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        figures = tmp_path / "crash.json"
        argv = ["bench", "crash", "--kills", "3", "--seed", "1", "--json", str(figures)]
        assert main(argv) == 0
        out = capsys.readouterr().out
        for key in KEYS:
            assert key in out
        data = json.loads(figures.read_text())
        assert set(data) >= KEYS
        assert data["kills"] == 3
        assert data["vehicles"] >= 1
        assert (data["lost"], data["doubled"], data["stranded_entries"]) == (0, 0, 0)
        assert data["chain_ok"] is True
        assert data["integrity_ok"] is True

    def test_kills_at_least_one(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "crash", "--kills", "0"]) == 2
        assert "--kills must be at least 1, got 0" in capsys.readouterr().err


class TestTally:
    """The ledger check counts a stay paid twice and a vehicle out with its entry open."""

    def test_doubled_and_stranded(self, tmp_path: Path) -> None:
        store_path = tmp_path / "site.db"
        entry = uuid7(AT - timedelta(hours=2))
        first, second = uuid7(AT), uuid7(AT + timedelta(seconds=5))
        with Store.open(store_path) as store:
            store.append_transaction(exit_record(first, entry, "voided"))
            store.append_transaction(exit_record(second, entry, "passed"))
        visit = Visit(0, "皖A12345", entry, AT - timedelta(seconds=1), AT + timedelta(minutes=1))
        visit.drove_out = True
        visit.entry_left_open = True
        ledger = {"orders": [paid_order(first), paid_order(second)]}
        figures = tally(store_path, ledger, [visit], Killing(kills=1), minutes=0.1, exit_status=0)
        assert (figures.paid_orders, figures.lost, figures.phantom) == (2, 0, 0)
        assert figures.doubled == 1
        assert figures.stranded_entries == 1
        assert figures.chain_ok
        assert figures.integrity_ok

    def test_a_paid_order_the_store_does_not_know_is_lost(self, tmp_path: Path) -> None:
        store_path = tmp_path / "site.db"
        with Store.open(store_path) as store:
            store.append_transaction(exit_record(uuid7(AT), uuid7(AT), "passed"))
        ledger = {"orders": [paid_order(uuid7(AT))]}
        figures = tally(store_path, ledger, [], Killing(), minutes=0.1, exit_status=0)
        assert figures.lost == 1
        assert figures.phantom == 1  # the record says paid; the gateway has no such order


def exit_record(txn_id: UUID, entry: UUID, status: str) -> Transaction:
    return Transaction.build(
        id=txn_id,
        lane_id=LANE,
        kind="exit",
        status=status,
        authorisation="paid",
        recorded_at=AT,
        plate_text="皖A12345",
        exit_time=AT,
        entry_txn_id=entry,
        currency="CNY",
        fee_items=(FeeItem(label="parking", amount=500),),
        fee_total=500,
        payment_method="terminal",
        payment_status="approved",
    )


def paid_order(txn_id: UUID) -> dict[str, object]:
    return {"order_id": order_id_for(str(txn_id)), "status": "paid", "amount": 500, "refunded": 0}
