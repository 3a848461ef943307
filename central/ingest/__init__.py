"""Central's ingest: MQTT workers that take the lanes' records, store them and ack them.

A worker (:mod:`~central.ingest.worker`) is one MQTT 5 client in a shared
subscription group, so several workers (threads here, or processes on other
machines with the same group) split the lanes' messages. Every message goes
through :class:`~central.ingest.handler.Ingest`, which reads it with the contract's
one reader, stores it, and says what to publish back (the lane's ack). Gaps are
asked for with a resend command once they outlast the gap timeout
(:mod:`~central.ingest.gaps`). :mod:`~central.ingest.service` runs the workers,
the metrics endpoint and the periodic checks for ``lanewarden central run``.
"""
