"""Signed messages: authentic, fresh and new, or refused with the reason."""

from __future__ import annotations

import pytest

from contracts.gateway.signing import (
    H_NONCE,
    H_SIGNATURE,
    H_TIMESTAMP,
    Rejection,
    SignatureError,
    Verifier,
    canonical_json,
    sign,
)

SECRET = b"k"
BODY = {"order_id": "LW1", "amount": 800, "note": "粤B"}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed(now: float, nonce: str = "n1", body: dict[str, object] = BODY) -> dict[str, str]:
    return sign(SECRET, "m", "POST", "/cb", body, now=now, nonce=nonce)


class TestVerifier:
    """The verifier accepts each authentic message once, within the clock skew."""

    def test_accepts_authentic(self) -> None:
        clock = Clock()
        Verifier(SECRET, clock=clock).verify("POST", "/cb", signed(clock.now), BODY)

    def test_key_order_and_spacing_do_not_matter(self) -> None:
        clock = Clock()
        reordered = dict(reversed(list(BODY.items())))
        assert canonical_json(reordered) == canonical_json(BODY)
        Verifier(SECRET, clock=clock).verify("POST", "/cb", signed(clock.now), reordered)

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"amount": 1}, Rejection.BAD_SIGNATURE),
            ({"path": "/other"}, Rejection.BAD_SIGNATURE),
            ({"secret": b"other"}, Rejection.BAD_SIGNATURE),
            ({"drop": H_SIGNATURE}, Rejection.MISSING),
            ({"drop": H_NONCE}, Rejection.MISSING),
        ],
    )
    def test_tampering_is_refused(self, change: dict[str, object], reason: Rejection) -> None:
        clock = Clock()
        secret = change.get("secret", SECRET)
        assert isinstance(secret, bytes)
        headers = sign(secret, "m", "POST", "/cb", BODY, now=clock.now, nonce="n")
        headers.pop(str(change.get("drop", "")), None)
        body = BODY | ({"amount": change["amount"]} if "amount" in change else {})
        path = str(change.get("path", "/cb"))
        with pytest.raises(SignatureError) as caught:
            Verifier(SECRET, clock=clock).verify("POST", path, headers, body)
        assert caught.value.reason is reason

    def test_bad_timestamp_is_named(self) -> None:
        headers = signed(Clock().now) | {H_TIMESTAMP: "soon"}
        with pytest.raises(SignatureError, match="x-lw-timestamp is not an integer: 'soon'"):
            Verifier(SECRET, clock=Clock()).verify("POST", "/cb", headers, BODY)

    @pytest.mark.parametrize("offset", [-301, 301])
    def test_stale_is_refused(self, offset: float) -> None:
        clock = Clock()
        with pytest.raises(SignatureError, match=r"stale: timestamp .* \(allowed ±300 s\)"):
            Verifier(SECRET, clock=clock).verify("POST", "/cb", signed(clock.now + offset), BODY)

    def test_replay_is_refused(self) -> None:
        clock = Clock()
        verifier = Verifier(SECRET, clock=clock)
        headers = signed(clock.now)
        verifier.verify("POST", "/cb", headers, BODY)
        with pytest.raises(SignatureError, match="replayed: nonce 'n1' already used"):
            verifier.verify("POST", "/cb", headers, BODY)

    def test_forged_messages_do_not_burn_nonces(self) -> None:
        clock = Clock()
        verifier = Verifier(SECRET, clock=clock)
        forged = sign(b"x", "m", "POST", "/cb", BODY, now=clock.now, nonce="n1")
        with pytest.raises(SignatureError, match="bad_signature"):
            verifier.verify("POST", "/cb", forged, BODY)
        verifier.verify("POST", "/cb", signed(clock.now), BODY)

    def test_nonce_memory_is_bounded_by_the_skew_window(self) -> None:
        clock = Clock()
        verifier = Verifier(SECRET, max_skew_s=10, clock=clock)
        for i in range(5):
            verifier.verify("POST", "/cb", signed(clock.now, nonce=f"n{i}"), BODY)
        clock.now += 30
        verifier.verify("POST", "/cb", signed(clock.now, nonce="late"), BODY)
        assert verifier.remembered() == 1
