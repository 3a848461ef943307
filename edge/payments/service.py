"""Payments at one lane, wired from its configuration: what the daemon builds, starts and stops.

::

    payments = Payments.build(policy, gateway, events=sink, environ=os.environ,
                              permits=store.permits, accounts=store.accounts,
                              qr_window_s=lane.policy.payment_timeout_s)
    payments.start()                                  # the callback receiver
    outcome = await asyncio.to_thread(payments.chain.settle, request, show_prompt)
    ...                                               # record outcome, then act on it
    await asyncio.to_thread(payments.sweep)           # on a timer
    payments.stop()

``events`` receives alarms and late-payment refunds from gateway and receiver
threads, sometimes while the payments lock is held: it must only hand them
over (``loop.call_soon_threadsafe``), never call back into payments.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.gateway.signing import Verifier
from contracts.gateway.transport import Transport
from edge.payments.accounts import Permits, PrepaidAccounts
from edge.payments.chain import PaymentChain
from edge.payments.config import GatewayConfig, Method, PaymentPolicy
from edge.payments.gateway import GatewayClient
from edge.payments.outcome import EventSink
from edge.payments.qr import QrPayments
from edge.payments.receiver import CallbackReceiver


class Payments:
    def __init__(
        self, chain: PaymentChain, qr: QrPayments | None, receiver: CallbackReceiver | None
    ) -> None:
        self.chain = chain
        self.qr = qr
        self.receiver = receiver

    @classmethod
    def build(
        cls,
        policy: PaymentPolicy,
        gateway: GatewayConfig | None,
        *,
        events: EventSink,
        environ: Mapping[str, str],
        permits: Permits | None = None,
        accounts: PrepaidAccounts | None = None,
        qr_window_s: float = 90.0,
        transport: Transport | None = None,
    ) -> Payments:
        """ValueError naming the setting when the policy asks for what is not configured."""
        qr = receiver = None
        if gateway is None and Method.QR in policy.methods:
            raise ValueError("payments.gateway: required when payments.policy.methods has qr")
        if gateway is not None:
            client = GatewayClient.from_config(gateway, environ, transport)
            qr = QrPayments(
                client,
                query_schedule_s=gateway.query_schedule_s,
                events=events,
                notify_url=gateway.callback.public_url,
            )
            receiver = CallbackReceiver(
                Verifier(client.secret, gateway.max_clock_skew_s),
                qr.on_notice,
                events,
                path=gateway.callback.path,
                host=gateway.callback.host,
                port=gateway.callback.port,
            )
        chain = PaymentChain(
            policy, permits=permits, accounts=accounts, qr=qr, qr_window_s=qr_window_s
        )
        return cls(chain, qr, receiver)

    def start(self) -> None:
        if self.receiver is not None:
            self.receiver.start()

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()

    def sweep(self) -> None:
        """Close orders left unresolved and retry refunds due (call on a timer, off the loop)."""
        if self.qr is not None:
            self.qr.sweep()
