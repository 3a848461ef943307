"""A simulated LED message display: shows what the lane sends.

It speaks the line protocol documented in ``drivers/serial_display.py`` on a
serial line (``simulators.serial_link``), renders the rows it is given in the
terminal, and answers ``ERR <reason>`` (logged as well) to any line that is
malformed, has an unknown verb or more rows than the display has. Control
routes: ``GET /state`` (rows shown, counts, faults) and ``POST /faults`` (as
the barrier simulator: delay_ms, drop_rate, garble_rate, silent, seed,
drop_next).
"""

from __future__ import annotations

import sys
import threading
import unicodedata
from dataclasses import asdict
from typing import Any, TextIO

from drivers import serial_display as proto
from plumbing import log
from simulators.control import Route
from simulators.fault_route import updated_faults
from simulators.faults import Faults
from simulators.serial_link import Link, LinkLoop

logger = log.get(__name__)


def text_width(text: str) -> int:
    """Terminal columns of ``text``: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def render(rows: list[str], height: int, columns: int) -> str:
    """The display as a box of ``height`` rows, at least ``columns`` wide."""
    width = max([columns, *(text_width(r) for r in rows)])
    padded = [*rows, *[""] * (height - len(rows))]
    body = [f"│{row}{' ' * (width - text_width(row))}│" for row in padded]
    return "\n".join([f"┌{'─' * width}┐", *body, f"└{'─' * width}┘"])


class DisplaySimulator:
    def __init__(
        self,
        link: Link,
        rows: int,
        faults: Faults,
        columns: int = 16,
        out: TextIO | None = None,
    ) -> None:
        if rows < 1:
            raise ValueError(f"a display has at least one row, got {rows}")
        self.link = link
        self.rows = rows
        self.columns = columns
        self.faults = faults
        self.drop_next = 0
        self.shown: list[str] = []
        self.received = 0
        self.rejected = 0
        self._out = out
        self._lock = threading.Lock()
        self._decoder = proto.LineDecoder()
        self.loop = LinkLoop(link, self._on_bytes, name="sim-display")

    def start(self) -> None:
        logger.info("display_simulator_started", path=self.link.path, rows=self.rows)
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def routes(self) -> dict[str, Route]:
        return {"GET /state": lambda _: self.state(), "POST /faults": self._post_faults}

    def state(self) -> dict[str, Any]:
        with self._lock:
            faults = {k: v for k, v in asdict(self.faults).items() if k != "seed"}
            return {
                "path": self.link.path,
                "rows": self.rows,
                "lines": list(self.shown),
                "received": self.received,
                "rejected": self.rejected,
                "faults": {**faults, "drop_next": self.drop_next},
            }

    def _post_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.faults, self.drop_next = updated_faults(self.faults, self.drop_next, body)
        logger.info("faults_changed", **body)
        return self.state()

    def _on_bytes(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            with self._lock:
                self.received += 1
            reply = self._handle(item)
            if reply.verb == proto.ERR:
                with self._lock:
                    self.rejected += 1
                raw = item.raw if isinstance(item, proto.MessageError) else b""
                logger.warning("message_rejected", reason=reply.payload, raw=raw)
            self._reply(reply)

    def _handle(self, item: proto.Message | proto.MessageError) -> proto.Message:
        if isinstance(item, proto.MessageError):
            return proto.Message(proto.ERR, item.reason)
        if item.verb == proto.PING:
            return proto.Message(proto.OK)
        if item.verb != proto.SHOW:
            return proto.Message(proto.ERR, f"unknown verb {item.verb!r}")
        try:
            rows = proto.split_rows(item.payload)
        except proto.ProtocolError as exc:
            return proto.Message(proto.ERR, str(exc))
        if len(rows) > self.rows:
            return proto.Message(proto.ERR, f"{len(rows)} rows, the display has {self.rows}")
        with self._lock:
            self.shown = rows
        logger.info("display_shows", lines=rows)
        out = self._out or sys.stdout
        print(render(rows, self.rows, self.columns), file=out, flush=True)
        return proto.Message(proto.OK)

    def _reply(self, reply: proto.Message) -> None:
        with self._lock:
            faults = self.faults
            dropped = self.drop_next > 0
            if dropped:
                self.drop_next -= 1
        if dropped or faults.drops():
            logger.info("reply_dropped", reply=reply.verb)
            return
        faults.delay()
        self.link.write(faults.garble(proto.encode(reply)))
