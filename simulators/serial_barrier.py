"""A simulated RS-485 barrier controller speaking ARCHITECTURE.md's frames.

:class:`BarrierController` is the device's behaviour without I/O: an arm that
takes ``travel_s`` to rise or fall, lock open, a breakable arm, a manual key,
and the replies to each command. :class:`BarrierSimulator` puts it on a serial
line (``simulators.serial_link``) with fault injection, and exposes the
control routes a technician or a traffic scenario uses:

* ``GET /state``: position, arm travel, lock, broken, frames received and rejected, faults;
* ``POST /event {"code": "P"}``: send an unsolicited report (``P`` vehicle passed,
  ``B`` arm broken, ``X`` obstacle: a closing arm reverses, ``K`` manual key: the
  arm goes the other way);
* ``POST /arm {"broken": true}``: break (reports ``EB``) or repair the arm;
* ``POST /faults {"delay_ms": 300, "drop_rate": 0.5, "garble_rate": 0.1,
  "silent": false, "seed": 1, "drop_next": 2}``: change fault injection;
  ``drop_next`` swallows exactly that many of the next replies.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from drivers import barrier_frames as bf
from plumbing import log
from simulators.control import Route
from simulators.fault_route import updated_faults
from simulators.faults import Faults
from simulators.route_fields import one_bool
from simulators.serial_link import Link, LinkLoop

logger = log.get(__name__)

POSITION_NAMES = {
    bf.POS_UP: "up",
    bf.POS_DOWN: "down",
    bf.POS_MOVING: "moving",
    bf.POS_FAULT: "fault",
}
# Commands that take no data; status is answered separately.
ACTIONS = frozenset({bf.OPEN, bf.CLOSE, bf.LOCK_OPEN, bf.UNLOCK})


class BarrierController:
    """The controller's state and replies. Not thread-safe: the simulator locks around it."""

    def __init__(
        self, address: str, travel_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if travel_s < 0:
            raise ValueError(f"travel time must not be negative, got {travel_s}")
        self.address = address
        self.travel_s = travel_s
        self.locked = False
        self.broken = False
        self._clock = clock
        self._arm0 = 0.0  # 0 down, 1 up, at time _t0
        self._direction = 0  # +1 rising, -1 falling, 0 still
        self._t0 = clock()

    def arm(self) -> float:
        """How far up the arm is now, 0 (down) to 1 (up)."""
        if self._direction == 0:
            return self._arm0
        elapsed = self._clock() - self._t0
        travelled = 1.0 if self.travel_s == 0 else elapsed / self.travel_s
        return min(1.0, max(0.0, self._arm0 + self._direction * travelled))

    def position(self) -> str:
        if self.broken:
            return bf.POS_FAULT
        arm = self.arm()
        if arm >= 1.0:
            return bf.POS_UP
        if arm <= 0.0:
            return bf.POS_DOWN
        return bf.POS_MOVING

    def _move(self, direction: int) -> None:
        self._arm0 = self.arm()
        self._direction = direction
        self._t0 = self._clock()

    def _heading_up(self) -> bool:
        return self._direction > 0 or (self._direction == 0 and self._arm0 >= 1.0)

    def handle(self, frame: bf.BarrierFrame) -> bf.BarrierFrame:
        """The reply to a command frame addressed to this controller."""
        command, data = frame.command, frame.data
        if command == bf.STATUS:
            return self._reply(bf.STATUS, self.position())
        if command not in ACTIONS:
            return self._nak("1")
        if data:
            return self._nak("2")
        if command == bf.UNLOCK:
            self.locked = False
            return self._reply(bf.ACK)
        if self.broken:
            return self._nak("3")
        if command == bf.CLOSE:
            if self.locked:
                return self._nak("5")
            self._move(-1)
        else:
            self.locked = self.locked or command == bf.LOCK_OPEN
            self._move(+1)
        return self._reply(bf.ACK)

    def event(self, code: str) -> bf.BarrierFrame:
        """Something happened at the barrier; the unsolicited report to send."""
        if code not in bf.EVENT_CODES:
            raise ValueError(f"code must be one of {sorted(bf.EVENT_CODES)}, got {code!r}")
        if code == bf.EV_ARM_BROKEN:
            self.broken = True
        elif code == bf.EV_OBSTACLE and self._direction < 0:
            self._move(+1)
        elif code == bf.EV_MANUAL_KEY and not self.broken:
            self._move(-1 if self._heading_up() else +1)
        return self._reply(bf.EVENT, code)

    def repair(self) -> None:
        """A new arm, fitted down."""
        self.broken = False
        self._arm0, self._direction, self._t0 = 0.0, 0, self._clock()

    def _reply(self, command: str, data: str = "") -> bf.BarrierFrame:
        return bf.BarrierFrame(self.address, command, data)

    def _nak(self, code: str) -> bf.BarrierFrame:
        return self._reply(bf.NAK, code)


class BarrierSimulator:
    """A :class:`BarrierController` answering frames on ``link``, with fault injection."""

    def __init__(self, link: Link, controller: BarrierController, faults: Faults) -> None:
        self.link = link
        self.controller = controller
        self.faults = faults
        self.drop_next = 0
        self.received: Counter[str] = Counter()
        self.rejected = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._decoder = bf.FrameDecoder(controller.address)
        self._last_position = controller.position()
        self.loop = LinkLoop(link, self._on_bytes, name="sim-barrier")

    def start(self) -> None:
        logger.info(
            "barrier_simulator_started",
            path=self.link.path,
            address=self.controller.address,
            travel_s=self.controller.travel_s,
        )
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def routes(self) -> dict[str, Route]:
        return {
            "GET /state": lambda _: self.state(),
            "POST /event": self._post_event,
            "POST /arm": self._post_arm,
            "POST /faults": self._post_faults,
        }

    def state(self) -> dict[str, Any]:
        with self._lock:
            c = self.controller
            faults = {k: v for k, v in asdict(self.faults).items() if k != "seed"}
            return {
                "path": self.link.path,
                "address": c.address,
                "position": POSITION_NAMES[c.position()],
                "arm": round(c.arm(), 3),
                "locked": c.locked,
                "broken": c.broken,
                "received": dict(self.received),
                "rejected": self.rejected,
                "faults": {**faults, "drop_next": self.drop_next},
            }

    # -- the line -----------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, bf.DecodeError):
                self._rejected(item)
                continue
            with self._lock:
                self.received[item.command] += 1
                reply = self.controller.handle(item)
            logger.info(
                "barrier_command",
                command=item.command,
                data=item.data,
                reply=reply.command + reply.data,
            )
            self._send(reply, is_reply=True)
        self._log_arrival()

    def _rejected(self, error: bf.DecodeError) -> None:
        if error.problem is bf.DecodeProblem.WRONG_ADDRESS:
            # Another controller's frame on a shared bus: not ours to answer.
            logger.debug("frame_for_other_address", reason=error.reason)
            return
        with self._lock:
            self.rejected += 1
        logger.warning(
            "frame_rejected", problem=error.problem.value, reason=error.reason, raw=error.raw
        )

    def _send(self, frame: bf.BarrierFrame, *, is_reply: bool) -> None:
        with self._lock:
            faults = self.faults
            dropped = self.drop_next > 0 if is_reply else False
            if dropped:
                self.drop_next -= 1
        if dropped or faults.drops():
            logger.info("reply_dropped", frame=frame.command + frame.data)
            return
        faults.delay()
        clean = bf.encode(frame)
        wire = faults.garble(clean)
        if wire != clean:
            logger.info("reply_garbled", frame=frame.command + frame.data, wire=wire)
        with self._write_lock:
            self.link.write(wire)

    def _log_arrival(self) -> None:
        with self._lock:
            position = self.controller.position()
            changed = position != self._last_position
            self._last_position = position
        if changed:
            logger.info("arm_position", position=POSITION_NAMES[position])

    # -- control routes -----------------------------------------------------------

    def _post_event(self, body: dict[str, Any]) -> dict[str, Any]:
        code = body.get("code")
        if not isinstance(code, str):
            raise ValueError(f"code: expected one of {sorted(bf.EVENT_CODES)}")
        with self._lock:
            report = self.controller.event(code)
        logger.info("barrier_event", code=code)
        self._send(report, is_reply=False)
        return self.state()

    def _post_arm(self, body: dict[str, Any]) -> dict[str, Any]:
        if one_bool(body, "broken"):
            return self._post_event({"code": bf.EV_ARM_BROKEN})
        with self._lock:
            self.controller.repair()
        logger.info("arm_repaired")
        return self.state()

    def _post_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.faults, self.drop_next = updated_faults(self.faults, self.drop_next, body)
        logger.info("faults_changed", **body)
        return self.state()
