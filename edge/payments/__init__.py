"""Payments at an unattended lane: permit, prepaid account, QR gateway, post-pay.

The daemon builds, from the lane's config:

* :class:`~edge.payments.gateway.GatewayClient` (``from_config``): the gateway's
  four calls, signed, bounded retries;
* :class:`~edge.payments.qr.QrPayments`: one order per transaction, callbacks,
  late refunds, corrections, ``sweep`` for what the gateway could not do before;
* :class:`~edge.payments.receiver.CallbackReceiver`: the HTTP endpoint for callbacks;
* :class:`~edge.payments.chain.PaymentChain`: ``settle(request)`` gives one
  :class:`~edge.payments.outcome.PaymentOutcome` (paid, not paid or post-pay).

* :class:`~edge.payments.service.Payments`: all of the above wired from the
  lane's ``GatewayConfig`` and ``PaymentPolicy``, with ``start``/``stop``/``sweep``.

Nothing here writes to the store: the daemon records the outcomes and events.
"""
