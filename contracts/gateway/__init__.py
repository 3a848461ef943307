"""The payment gateway's wire protocol, read by the lane's client and by the gateway simulator.

- :mod:`contracts.gateway.protocol`: the order, notice and refund messages and their checks;
- :mod:`contracts.gateway.signing`: the message signature both ends compute;
- :mod:`contracts.gateway.transport`: the request/response seam between the client and the
  network (HTTP, or an in-process handler such as the simulator's).
"""
