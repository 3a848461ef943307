"""The callback receiver: what it answers to malformed, misrouted and oversized callbacks."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from contracts.gateway.signing import Verifier, sign
from edge.payments.outcome import AlarmKind, PaymentAlarm
from edge.payments.receiver import MAX_BODY, CallbackReceiver
from edge.payments.testing import SECRET
from fleet.testing import InProcessRig


def notice(**changes: object) -> dict[str, object]:
    return {
        "event_id": "e1",
        "order_id": "LWX",
        "status": "paid",
        "amount": 800,
        "currency": "CNY",
        "gateway_ref": "SIM1",
    } | changes


class TestReceiverCore:
    """Refusals name the fault, are counted and raise an alarm."""

    def test_not_json(self) -> None:
        rig = InProcessRig()
        status, body = rig.receiver.handle("POST", "/cb", {}, b"{oops")
        assert status == 400
        assert body["error"].startswith("body is not valid JSON")
        assert rig.receiver.counts == {"malformed": 1}
        assert [e.kind for e in rig.events if isinstance(e, PaymentAlarm)] == [AlarmKind.MALFORMED]

    def test_not_an_object(self) -> None:
        status, body = InProcessRig().receiver.handle("POST", "/cb", {}, b"[1]")
        assert (status, body) == (400, {"error": "body must be a JSON object"})

    def test_missing_field_is_named(self) -> None:
        rig = InProcessRig()
        body = notice()
        del body["gateway_ref"]
        headers = sign(SECRET, "m", "POST", "/cb", body, now=time.time())
        status, answer = rig.receiver.handle("POST", "/cb", headers, json.dumps(body).encode())
        assert (status, answer) == (400, {"error": "gateway_ref: missing"})

    def test_negative_amount_is_named(self) -> None:
        rig = InProcessRig()
        body = notice(amount=-5)
        headers = sign(SECRET, "m", "POST", "/cb", body, now=time.time())
        status, answer = rig.receiver.handle("POST", "/cb", headers, json.dumps(body).encode())
        assert status == 400
        assert answer["error"] == "amount: must be a positive number of minor units, got -5"

    def test_unsigned(self) -> None:
        rig = InProcessRig()
        status, answer = rig.receiver.handle("POST", "/cb", {}, json.dumps(notice()).encode())
        assert status == 401
        assert "missing_headers" in answer["error"]
        assert rig.receiver.counts == {"missing_headers": 1}

    def test_wrong_path(self) -> None:
        status, _ = InProcessRig().receiver.handle("POST", "/other", {}, b"{}")
        assert status == 404


class TestReceiverHttp:
    """Over HTTP the receiver answers, refuses oversized bodies, and stops cleanly."""

    def test_oversized_body_is_refused(self) -> None:
        receiver = CallbackReceiver(Verifier(SECRET), InProcessRig().qr.on_notice, lambda _: None)
        receiver.start()
        try:
            host, port = receiver.url.split("//")[1].split("/")[0].split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("POST", "/payments/notify", body=b"x" * (MAX_BODY + 1))
            response = conn.getresponse()
            assert response.status == 413
            conn.close()
        finally:
            receiver.stop()

    def test_url_before_start_is_an_error(self) -> None:
        receiver = CallbackReceiver(Verifier(SECRET), InProcessRig().qr.on_notice, lambda _: None)
        with pytest.raises(RuntimeError, match="callback receiver not started"):
            _ = receiver.url
