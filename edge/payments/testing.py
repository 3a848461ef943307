"""The lane's payment side set up for tests and commissioning against a gateway.

Public API (as ``structlog.testing`` is): the merchant and secret the test
gateways are configured with, a lane's gateway client with short timeouts and
retries, and payment requests. A technician checking a lane against the gateway
simulator uses the same client. The rigs that pair these with the gateway
simulator are in :mod:`fleet.testing` (edge never imports the simulators).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.gateway.transport import HttpTransport
from edge.payments.config import RetryConfig
from edge.payments.gateway import GatewayClient
from edge.payments.outcome import PaymentRequest

SECRET = b"test-secret"
"""The signing secret shared by the test gateway and the lane (``secret`` in a lane file)."""
MERCHANT = "m-test"
FAST_RETRY = RetryConfig(attempts=2, backoff_s=0.01, backoff_max_s=0.02)
"""Two attempts, hundredths of a second apart: a test sees a retry without waiting for it."""


def request(amount: int = 800, plate: str | None = "粤B12345") -> PaymentRequest:
    """A parking charge of ``amount`` fen for a new transaction id."""
    return PaymentRequest(
        txn_id=str(uuid.uuid4()),
        plate=plate,
        amount=amount,
        currency="CNY",
        description="parking",
        at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    )


def lane_client(base_url: str, read_timeout_s: float = 0.3) -> GatewayClient:
    """The lane's client of the gateway at ``base_url``, over HTTP, with :data:`FAST_RETRY`."""
    transport = HttpTransport(base_url, connect_timeout_s=0.5, read_timeout_s=read_timeout_s)
    return GatewayClient(transport, merchant_id=MERCHANT, secret=SECRET, retry=FAST_RETRY)
