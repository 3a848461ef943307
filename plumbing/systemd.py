"""systemd's notify protocol: readiness, watchdog pings and stopping.

The daemon runs as ``Type=notify``: it says READY=1 once its drivers are up and
pings WATCHDOG=1 from the event loop, so a stuck loop gets the lane restarted.
Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from plumbing import log

logger = log.get(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading "@" and means a leading NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval_s: float | None = (
            int(usec) / 1_000_000 / 2 if usec.isdigit() and mine else None
        )

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, **fields: str) -> None:
        """Send ``KEY=value`` lines, e.g. ``notify(READY="1", STATUS="lane up")``."""
        if not self._address:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            # Called from the event loop: never wait for a busy systemd. A lost
            # watchdog ping is harmless (the next one follows); a lost READY shows
            # as a start time-out, which is what a lane that cannot report deserves.
            sock.setblocking(False)
            try:
                sock.sendto(message, self._address)
            except (BlockingIOError, ConnectionRefusedError, FileNotFoundError) as exc:
                logger.warning("sd_notify_failed", fields=sorted(fields), error=str(exc))

    def ready(self, status: str) -> None:
        self.notify(READY="1", STATUS=status)

    def watchdog(self) -> None:
        self.notify(WATCHDOG="1")

    def stopping(self, status: str) -> None:
        self.notify(STOPPING="1", STATUS=status)
