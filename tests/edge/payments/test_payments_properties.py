"""Properties of the QR flow: whatever the order of payments and callbacks, money moves once."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.gateway.transport import HttpRequest
from edge.payments.outcome import Charged, LatePaymentRefunded
from edge.payments.qr import QrPrompt
from edge.payments.testing import request
from fleet.testing import InProcessRig
from simulators.gateway.faults import GatewayFaults

ACTIONS = st.sampled_from(["pay", "late_pay", "deliver", "redeliver", "forge", "query"])


def act(rig: InProcessRig, order_id: str, action: str) -> None:
    if action == "pay":
        rig.sim.handle(_control("/_sim/pay", {"order_id": order_id}))
    elif action == "late_pay":
        rig.sim.handle(_control("/_sim/pay", {"order_id": order_id, "late": True}))
    elif action == "deliver" and rig.queued:
        rig.queued.pop(0)()
    elif action == "redeliver":
        rig.sim.handle(_control("/_sim/callback", {"order_id": order_id, "event_id": "again"}))
    elif action == "forge":
        body = {"order_id": order_id, "status": "paid", "forge": True}
        rig.sim.handle(_control("/_sim/callback", body))
    elif action == "query":
        rig.qr.client.query_order(order_id)


def _control(path: str, body: dict[str, object]) -> HttpRequest:
    return HttpRequest("POST", path, {}, json.dumps(body).encode())


class TestAtMostOneCapture:
    """Any mix of payments, duplicate, late and forged callbacks: the lane and the gateway agree."""

    @settings(max_examples=150, deadline=None)
    @given(
        before=st.lists(ACTIONS, max_size=6),
        after=st.lists(ACTIONS, max_size=6),
        duplicates=st.booleans(),
    )
    def test_money_kept_matches_the_outcome(
        self, before: list[str], after: list[str], duplicates: bool
    ) -> None:
        rig = InProcessRig(GatewayFaults(duplicate_callbacks=duplicates))
        req = request()

        def while_open(prompt: QrPrompt) -> None:
            for action in before:
                act(rig, prompt.order_id, action)

        result = rig.qr.pay(req, window_s=0, on_prompt=while_open)
        order_id = rig.sim.state()["orders"][0]["order_id"]
        for action in after:
            act(rig, order_id, action)
        while rig.queued:
            rig.queued.pop(0)()
        rig.qr.sweep()

        kept = rig.sim.kept(order_id)
        charged = isinstance(result, Charged)
        assert kept == (req.amount if charged else 0)
        refunds = [e for e in rig.events if isinstance(e, LatePaymentRefunded)]
        assert len(refunds) <= 1
        assert len(rig.sim.state()["refunds"]) == len(refunds)
        assert rig.receiver.counts["accepted"] <= 1
        again = rig.qr.pay(req, window_s=0)  # asking again charges nothing more
        assert type(again) is type(result)
        assert rig.sim.kept(order_id) == kept
