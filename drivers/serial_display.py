"""LED message display on a serial line: its line protocol and the driver.

The protocol (version 1), spoken by the driver and by ``lanewarden sim display``
---------------------------------------------------------------------------------

Text is UTF-8, so Chinese (or any) text travels as is. Each message is one
line ending with LF (0x0A); a CR before the LF is ignored. Both directions use
the same shape::

    message  = verb [ " " payload ] "*" checksum LF
    checksum = two upper-case hex digits: the XOR of every byte before the "*"

Lane to display:

``SHOW row|row|...``
    Replace everything shown with these rows, top first. ``SHOW`` alone blanks
    the display (so one empty row and no rows look the same). Inside a row
    ``\\|`` stands for ``|`` and ``\\\\`` for ``\\``.
``PING``
    Are you there?

Display to lane, one reply per message:

``OK``
    Done.
``ERR reason``
    Refused; the reason is for people and logs (``ERR 5 rows, the display has 4``).

Rules: no control characters (below 0x20, or 0x7F) anywhere in a message, at
most :data:`MAX_MESSAGE` bytes before the LF, at most as many rows as the
display has. A row wider than the display scrolls on the real sign. The
checksum is found at the last ``*``, so ``*`` may appear in text.

Example: ``SHOW 欢迎光临|粤B·12345|请缴费 ¥12.00*74`` followed by LF.

The driver
----------

:class:`SerialDisplayDriver` writes one message and waits ``reply_timeout_ms``
for the reply, sending again ``retries`` times. No reply, or a port that has
vanished, is a :class:`DeviceFault`; the port is opened again on the next
``show`` and the first reply after a fault is a :class:`DeviceRecovered`. An
``ERR`` is the display refusing, not a fault: ``show`` returns a failure
naming the reason. The display only speaks when spoken to, so the driver has
no thread of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import serial

from drivers.config import SerialDisplay
from drivers.interfaces import (
    CommandResult,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    EventSink,
)
from drivers.serial_barrier import PORT_ERRORS
from plumbing import log

logger = log.get(__name__)

MAX_MESSAGE = 1024
LF = b"\n"
SHOW = "SHOW"
PING = "PING"
OK = "OK"
ERR = "ERR"


@dataclass(frozen=True)
class Message:
    verb: str
    payload: str = ""


@dataclass(frozen=True)
class MessageError:
    """A line that is not a valid message; ``reason`` names what was wrong."""

    reason: str
    raw: bytes


class ProtocolError(ValueError):
    """Text that cannot be put into a message; the message names it."""


def checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def _control_char(text: str) -> str | None:
    for char in text:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return char
    return None


def encode(message: Message) -> bytes:
    """The line for ``message``; :class:`ProtocolError` when it cannot be sent."""
    text = message.verb + (" " + message.payload if message.payload else "")
    bad = _control_char(text)
    if bad is not None:
        raise ProtocolError(f"control character {bad!r} in {text!r}")
    body = text.encode("utf-8")
    if len(body) + 3 > MAX_MESSAGE:
        raise ProtocolError(f"message is {len(body) + 3} bytes, at most {MAX_MESSAGE}")
    return body + f"*{checksum(body):02X}".encode("ascii") + LF


def join_rows(rows: Sequence[str]) -> str:
    """The ``SHOW`` payload for ``rows``, escaping ``\\`` and ``|``."""
    return "|".join(row.replace("\\", "\\\\").replace("|", "\\|") for row in rows)


def split_rows(payload: str) -> list[str]:
    """The rows of a ``SHOW`` payload; :class:`ProtocolError` for a bad escape."""
    if not payload:
        return []
    rows: list[str] = []
    row: list[str] = []
    chars = iter(payload)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in ("\\", "|"):
                sequence = "\\" + escaped
                raise ProtocolError(f"bad escape {sequence!r} in row {len(rows) + 1}")
            row.append(escaped)
        elif char == "|":
            rows.append("".join(row))
            row = []
        else:
            row.append(char)
    rows.append("".join(row))
    return rows


def parse(line: bytes) -> Message | MessageError:
    """One line without its LF."""
    line = line.removesuffix(b"\r")
    body, star, given = line.rpartition(b"*")
    if not star:
        return MessageError("no '*' before the checksum", line)
    if (
        len(given) != 2
        or given.upper() != given
        or not all(c in b"0123456789ABCDEF" for c in given)
    ):
        return MessageError(f"checksum {given!r} is not two upper-case hex digits", line)
    if int(given, 16) != checksum(body):
        return MessageError(
            f"checksum mismatch: message says {given.decode()}, bytes give {checksum(body):02X}",
            line,
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MessageError(f"not UTF-8 at byte {exc.start}", line)
    bad = _control_char(text)
    if bad is not None:
        return MessageError(f"control character {bad!r} in message", line)
    verb, _, payload = text.partition(" ")
    if not verb:
        return MessageError("empty verb", line)
    return Message(verb, payload)


class LineDecoder:
    """Incremental: bytes in, one :class:`Message` or :class:`MessageError` per line out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._overlong = False

    def feed(self, data: bytes) -> list[Message | MessageError]:
        out: list[Message | MessageError] = []
        self._buffer.extend(data)
        while True:
            end = self._buffer.find(LF)
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._overlong:
                self._overlong = False
                continue
            out.append(
                MessageError(f"message longer than {MAX_MESSAGE} bytes", line[:64])
                if len(line) > MAX_MESSAGE
                else parse(line)
            )
        if len(self._buffer) > MAX_MESSAGE and not self._overlong:
            out.append(
                MessageError(f"message longer than {MAX_MESSAGE} bytes", bytes(self._buffer[:64]))
            )
            self._overlong = True
        if self._overlong:
            self._buffer.clear()
        return out


class _NoReplyError(Exception):
    """The display could not be reached or did not answer; the message says which."""


class SerialDisplayDriver:
    """:class:`drivers.interfaces.Display` over the line protocol above."""

    def __init__(self, config: SerialDisplay, name: str = "display") -> None:
        self.config = config
        self.name = name
        self.rejected_replies = 0
        self._sink: EventSink | None = None
        self._port: serial.Serial | None = None
        self._lock = threading.Lock()
        self._faulted = False
        self._started = False

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        with self._lock:
            self._started = True
            self._open()

    def stop(self) -> None:
        with self._lock:
            self._started = False
            self._close()

    def show(self, lines: Sequence[str]) -> CommandResult:
        if len(lines) > self.config.rows:
            return CommandResult.failure(
                f"{len(lines)} lines, the display has {self.config.rows} rows"
            )
        try:
            wire = encode(Message(SHOW, join_rows(lines)))
        except ProtocolError as exc:
            return CommandResult.failure(f"cannot show {list(lines)!r}: {exc}")
        result = self._send(wire)
        if result.ok:
            logger.info("display_shown", device=self.name, lines=list(lines))
        return result

    def ping(self) -> CommandResult:
        """Whether the display answers (for ``lanewarden diag``)."""
        return self._send(encode(Message(PING)))

    def _send(self, wire: bytes) -> CommandResult:
        with self._lock:
            try:
                reply = self._exchange(wire)
            except _NoReplyError as exc:
                if self._started:
                    self._fault(str(exc))
                return CommandResult.failure(str(exc))
            self._answered()
        if reply.verb == ERR:
            logger.warning("display_refused", device=self.name, reason=reply.payload)
            return CommandResult.failure(f"display refused: {reply.payload}")
        return CommandResult.success()

    def _exchange(self, wire: bytes) -> Message:
        if not self._started:
            raise _NoReplyError("display driver not started")
        port = self._port or self._open()
        if port is None:
            raise _NoReplyError(f"serial port {self.config.port} is not open")
        timeout = self.config.reply_timeout_ms / 1000
        attempts = 1 + self.config.retries
        try:
            for attempt in range(1, attempts + 1):
                port.reset_input_buffer()
                port.write(wire)
                reply = self._await_reply(port, timeout)
                if reply is not None:
                    return reply
                logger.info("display_no_reply", device=self.name, attempt=attempt)
        except PORT_ERRORS as exc:
            self._close()
            raise _NoReplyError(f"serial port {self.config.port} lost: {exc}") from exc
        raise _NoReplyError(f"no reply in {self.config.reply_timeout_ms} ms, {attempts} attempts")

    def _await_reply(self, port: serial.Serial, timeout: float) -> Message | None:
        decoder = LineDecoder()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = port.read(max(1, port.in_waiting))
            for item in decoder.feed(data):
                if isinstance(item, Message) and item.verb in (OK, ERR):
                    return item
                reason = item.reason if isinstance(item, MessageError) else f"verb {item.verb!r}"
                self.rejected_replies += 1
                logger.warning("display_reply_rejected", device=self.name, reason=reason)
        return None

    def _open(self) -> serial.Serial | None:
        try:
            self._port = serial.Serial(
                self.config.port,
                baudrate=self.config.baudrate,
                timeout=0.02,
                write_timeout=1.0,
                exclusive=True,  # one driver per port: a second lane process fails to open
            )
        except PORT_ERRORS as exc:
            self._fault(f"cannot open serial port {self.config.port}: {exc}")
            return None
        logger.info("display_port_opened", device=self.name, port=self.config.port)
        return self._port

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def _fault(self, reason: str) -> None:
        first = not self._faulted
        self._faulted = True
        if first:
            logger.error("display_fault", device=self.name, reason=reason)
            self._emit(DeviceFault(device=self.name, reason=reason, at=time.monotonic()))

    def _answered(self) -> None:
        if self._faulted:
            self._faulted = False
            logger.info("display_recovered", device=self.name)
            self._emit(DeviceRecovered(device=self.name, at=time.monotonic()))

    def _emit(self, event: DeviceEvent) -> None:
        if self._sink is None:
            return
        try:
            self._sink(event)
        except Exception:
            logger.exception("event_sink_failed", device=self.name, event_type=type(event).__name__)


def build_serial_display(config: SerialDisplay) -> SerialDisplayDriver:
    return SerialDisplayDriver(config)
