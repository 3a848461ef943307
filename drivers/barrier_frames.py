"""The serial barrier controller's frames: the one definition both sides use.

A frame on the wire (ARCHITECTURE.md, "Serial barrier controller")::

    STX(0x02) ADDR(2 hex chars) CMD(1 char) DATA(0-32 printable ASCII) ETX(0x03) LRC(2 hex chars)

LRC is the XOR of every byte between STX and ETX (address, command, data),
written as two upper-case hex characters. Addresses are upper-case hex
(``"01"``), commands one upper-case letter, data printable ASCII (0x20-0x7E).

:func:`encode` refuses a frame it could not send faithfully (:class:`FrameError`).
:class:`FrameDecoder` takes bytes as they come off the line, in chunks of any
size, and returns complete frames and :class:`DecodeError` values: garbage
between frames, a wrong LRC, a bad address, non-printable or over-long data.
After an error it resynchronises on the next STX, so one bad byte costs one
frame, never the stream.

A limit of the XOR LRC worth knowing: every single-byte corruption is reported,
but a byte corrupted *into* STX starts a new frame whose remaining bytes may by
chance be valid, and one corrupted *into* ETX ends the frame early where the
next two bytes may by chance be the right LRC. Receivers therefore also check
that a reply fits the command it answers (see ``drivers/serial_barrier.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

STX = 0x02
ETX = 0x03
MAX_DATA = 32

# Commands from the lane.
OPEN = "O"
CLOSE = "C"
STATUS = "S"
LOCK_OPEN = "L"
UNLOCK = "U"
LANE_COMMANDS = frozenset({OPEN, CLOSE, STATUS, LOCK_OPEN, UNLOCK})

# Replies and unsolicited reports from the controller.
ACK = "A"
NAK = "N"
EVENT = "E"

# Data of an ``S`` reply.
POS_UP = "U"
POS_DOWN = "D"
POS_MOVING = "M"
POS_FAULT = "F"
POSITIONS = frozenset({POS_UP, POS_DOWN, POS_MOVING, POS_FAULT})

# Data of an ``E`` report.
EV_VEHICLE_PASSED = "P"
EV_ARM_BROKEN = "B"
EV_OBSTACLE = "X"
EV_MANUAL_KEY = "K"
EVENT_CODES = frozenset({EV_VEHICLE_PASSED, EV_ARM_BROKEN, EV_OBSTACLE, EV_MANUAL_KEY})

# Data of an ``N`` reply: why the controller refused a command.
NAK_CODES: dict[str, str] = {
    "1": "unknown command",
    "2": "bad data for this command",
    "3": "arm broken",
    "4": "obstacle under the arm",
    "5": "locked open",
}

_HEX_DIGITS = b"0123456789ABCDEF"
_HEX2 = re.compile(rb"[0-9A-F]{2}")


class FrameError(ValueError):
    """A frame that cannot be encoded; the message names the field at fault."""


@dataclass(frozen=True)
class BarrierFrame:
    address: str
    command: str
    data: str = ""


class DecodeProblem(Enum):
    GARBAGE = "garbage"
    BAD_ADDRESS = "bad_address"
    WRONG_ADDRESS = "wrong_address"
    BAD_COMMAND = "bad_command"
    BAD_DATA = "bad_data"
    DATA_TOO_LONG = "data_too_long"
    BAD_LRC = "bad_lrc"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class DecodeError:
    """Bytes the decoder threw away, and why (``reason`` is for people and logs)."""

    problem: DecodeProblem
    reason: str
    raw: bytes


def lrc(body: bytes) -> int:
    """XOR of ``body``: the bytes between STX and ETX."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _is_printable(byte: int) -> bool:
    return 0x20 <= byte <= 0x7E


def _check(frame: BarrierFrame) -> None:
    if not _HEX2.fullmatch(frame.address.encode("ascii", "replace")):
        raise FrameError(f"address must be two upper-case hex characters, got {frame.address!r}")
    if len(frame.command) != 1 or not "A" <= frame.command <= "Z":
        raise FrameError(f"command must be one upper-case letter, got {frame.command!r}")
    if len(frame.data) > MAX_DATA:
        raise FrameError(f"data is {len(frame.data)} characters, at most {MAX_DATA} allowed")
    bad = [c for c in frame.data if not (len(c.encode()) == 1 and _is_printable(ord(c)))]
    if bad:
        raise FrameError(f"data must be printable ASCII, got {bad[0]!r} in {frame.data!r}")


def encode(frame: BarrierFrame) -> bytes:
    """The bytes of ``frame`` on the wire; :class:`FrameError` when it is not valid."""
    _check(frame)
    body = (frame.address + frame.command + frame.data).encode("ascii")
    return bytes([STX]) + body + bytes([ETX]) + f"{lrc(body):02X}".encode("ascii")


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, get frames and errors back.

    With ``address`` set, well-formed frames for another address are reported as
    :attr:`DecodeProblem.WRONG_ADDRESS` (on an RS-485 bus they are not ours).
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self._frame: bytearray | None = None  # bytes since STX, None while hunting
        self._lrc: bytearray | None = None  # LRC characters after ETX
        self._garbage = bytearray()
        self._discarding = False  # skipping the rest of a frame already reported

    def feed(self, data: bytes) -> list[BarrierFrame | DecodeError]:
        out: list[BarrierFrame | DecodeError] = []
        for byte in data:
            item = self._byte(byte, out)
            if item is not None:
                out.append(item)
        self._flush_garbage(out)
        return out

    def _flush_garbage(self, out: list[BarrierFrame | DecodeError]) -> None:
        if self._garbage:
            raw = bytes(self._garbage)
            self._garbage.clear()
            out.append(
                DecodeError(
                    DecodeProblem.GARBAGE, f"{len(raw)} bytes outside a frame: {raw[:16]!r}", raw
                )
            )

    def _fail(
        self, problem: DecodeProblem, reason: str, raw: bytes, *, mid_frame: bool = True
    ) -> DecodeError:
        """Drop the frame in progress; the rest of a frame cut off mid-way is not garbage."""
        self._frame = None
        self._lrc = None
        self._discarding = mid_frame
        return DecodeError(problem, reason, raw)

    def _byte(
        self, byte: int, out: list[BarrierFrame | DecodeError]
    ) -> BarrierFrame | DecodeError | None:
        if byte == STX:
            self._discarding = False
            self._flush_garbage(out)
            interrupted = self._frame
            self._frame = bytearray([STX])
            self._lrc = None
            if interrupted is not None:
                return DecodeError(
                    DecodeProblem.INTERRUPTED,
                    f"frame cut short by a new STX after {len(interrupted)} bytes",
                    bytes(interrupted),
                )
            return None
        if self._frame is None:
            if not self._discarding:
                self._garbage.append(byte)
            return None
        self._frame.append(byte)
        if self._lrc is not None:
            self._lrc.append(byte)
            return (
                self._finish(bytes(self._frame), bytes(self._lrc)) if len(self._lrc) == 2 else None
            )
        if byte == ETX:
            if len(self._frame) < 5:  # STX + address + command + ETX
                return self._fail(
                    DecodeProblem.BAD_COMMAND,
                    f"ETX after {len(self._frame) - 2} body bytes, before the command",
                    bytes(self._frame),
                    mid_frame=False,
                )
            self._lrc = bytearray()
            return None
        return self._check_body_byte(bytes(self._frame))

    def _check_body_byte(self, frame: bytes) -> DecodeError | None:
        n = len(frame) - 1  # body bytes so far
        byte = frame[-1]
        if n <= 2:
            if byte not in _HEX_DIGITS:
                return self._fail(
                    DecodeProblem.BAD_ADDRESS,
                    f"address byte {byte:#04x} is not an upper-case hex character",
                    frame,
                )
        elif n == 3:
            if not ord("A") <= byte <= ord("Z"):
                return self._fail(
                    DecodeProblem.BAD_COMMAND, f"command byte {byte:#04x} is not A-Z", frame
                )
        elif not _is_printable(byte):
            return self._fail(
                DecodeProblem.BAD_DATA, f"non-printable byte {byte:#04x} in data", frame
            )
        elif n - 3 > MAX_DATA:
            return self._fail(
                DecodeProblem.DATA_TOO_LONG, f"data longer than {MAX_DATA} characters", frame
            )
        return None

    def _finish(self, raw: bytes, given: bytes) -> BarrierFrame | DecodeError:
        body = raw[1:-3]
        if not _HEX2.fullmatch(given):
            return self._fail(
                DecodeProblem.BAD_LRC,
                f"LRC {given!r} is not two upper-case hex characters",
                raw,
                mid_frame=False,
            )
        computed = lrc(body)
        if int(given, 16) != computed:
            return self._fail(
                DecodeProblem.BAD_LRC,
                f"LRC mismatch: frame says {given.decode()}, bytes give {computed:02X}",
                raw,
                mid_frame=False,
            )
        self._frame = None
        self._lrc = None
        text = body.decode("ascii")
        frame = BarrierFrame(address=text[:2], command=text[2], data=text[3:])
        if self.address is not None and frame.address != self.address:
            return DecodeError(
                DecodeProblem.WRONG_ADDRESS,
                f"frame for address {frame.address}, this end is {self.address}",
                raw,
            )
        return frame
