"""The payment gateway simulator that speaks the lane's gateway protocol over HTTP.

It keeps orders and refunds in memory, answers create/query/close/refund
(:mod:`contracts.gateway.protocol`), and posts signed callbacks to the lane. A
technician or a test plays the customer with ``POST /_sim/pay``, or lets the
simulator pay every order after a delay (auto-pay). Faults: latency, declined
payments, requests processed but never answered (timeouts), duplicate, late
and forged callbacks. The state is in ``GatewaySim``, usable without HTTP (the
lane's client can reach it through a ``MockTransport``); ``GatewayServer``
puts it on a socket with a scheduler thread for delayed work.

Pay by plate: ``POST /_sim/plate {"lane_id", "plate", "pay"}`` plays a driver
who scanned the lane's pay-by-plate QR code and typed the plate; the lane finds
it with ``GET /v1/lanes/{lane_id}/plate-orders`` and starts its order from it
(``plate_order_id``), and with ``pay`` (the default) the driver pays that order
on the phone (after ``auto_pay_ms``, or at once). Plate orders not started
within ``PLATE_ORDER_TTL_S`` are forgotten.

Control routes (no signature): ``POST /_sim/pay {"order_id", "late"}``,
``POST /_sim/plate {"lane_id", "plate", "pay"}``,
``POST /_sim/callback {"order_id", "amount", "status", "forge", "nonce",
"timestamp_offset_s"}``, ``POST /_sim/faults {...}``, ``GET /_sim/state``.

The package's modules: :mod:`~simulators.gateway.faults` (what it does wrong),
:mod:`~simulators.gateway.state` (orders, refunds, plate orders and the
requests over them, no sockets), :mod:`~simulators.gateway.callbacks` (posting
a signed callback over HTTP), :mod:`~simulators.gateway.scheduler` (delayed
work on one thread) and :mod:`~simulators.gateway.server` (all of it on an
HTTP socket).
"""
