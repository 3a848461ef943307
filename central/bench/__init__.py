"""``lanewarden bench sync``: simulated lanes through a broker into central's ingest workers.

The lanes here are built from :mod:`contracts` only (central never imports the lane's
code): they speak the lane's protocol (consecutive batches, a window of unacked batches,
resend from the last ack on timeout), so the figures are those a fleet of real lanes sees.
"""
