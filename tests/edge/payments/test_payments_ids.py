"""Order and refund ids derived from transaction ids."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.payments.ids import debit_key_for, order_id_for, refund_id_for, txn_id_for

TXN = "0190f7a4-1b2c-7d3e-8f40-123456789abc"


class TestOrderIds:
    """One transaction, one order id; distinct transactions never share one."""

    @given(st.uuids())
    def test_deterministic_and_reversible(self, txn: uuid.UUID) -> None:
        order_id = order_id_for(str(txn))
        assert order_id == order_id_for(str(txn).upper())
        assert txn_id_for(order_id) == str(txn)

    @given(st.lists(st.uuids(), min_size=2, max_size=50, unique=True))
    def test_collision_free(self, txns: list[uuid.UUID]) -> None:
        assert len({order_id_for(str(t)) for t in txns}) == len(txns)

    @given(st.uuids())
    def test_fits_every_gateway(self, txn: uuid.UUID) -> None:
        assert re.fullmatch(r"[A-Z0-9]{6,32}", order_id_for(str(txn)))

    def test_not_a_uuid_is_refused_naming_the_field(self) -> None:
        with pytest.raises(ValueError, match=r"txn_id: expected a UUID, got 'T-1'"):
            order_id_for("T-1")

    def test_foreign_order_id_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"order_id: 'SIM123' was not derived"):
            txn_id_for("SIM123")


class TestRefundIds:
    """A refund id names its order and its cause; the same cause gives the same id."""

    @given(st.uuids(), st.uuids(), st.uuids())
    def test_distinct_causes_distinct_refunds(
        self, txn: uuid.UUID, a: uuid.UUID, b: uuid.UUID
    ) -> None:
        order_id = order_id_for(str(txn))
        assert refund_id_for(order_id, str(a)) == refund_id_for(order_id, str(a))
        assert (refund_id_for(order_id, str(a)) == refund_id_for(order_id, str(b))) == (a == b)
        assert len(refund_id_for(order_id, str(a))) <= 64

    def test_refunds_of_different_orders_differ(self) -> None:
        other = str(uuid.uuid4())
        assert refund_id_for(order_id_for(TXN), TXN) != refund_id_for(order_id_for(other), TXN)

    def test_bad_cause_is_refused(self) -> None:
        with pytest.raises(ValueError, match="cause_id: expected a UUID"):
            refund_id_for(order_id_for(TXN), "fix-1")

    def test_bad_order_is_refused(self) -> None:
        with pytest.raises(ValueError, match="order_id: 'X' was not derived"):
            refund_id_for("X", TXN)

    def test_debit_key(self) -> None:
        assert debit_key_for(TXN.upper()) == f"debit:{TXN}"
