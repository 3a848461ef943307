"""Barrier controller on an RS-485 serial line, speaking ARCHITECTURE.md's frames.

Threads: a reader owns the port's input, decodes frames (``drivers.barrier_frames``)
and hands replies to the command in flight or, for unsolicited ``E`` reports,
turns them into :class:`BarrierReported` events. A poller asks for the arm's
position every ``poll_ms``. Commands (open, close, lock, unlock, status) are
serialised: one frame on the bus at a time, as RS-485 half duplex requires.

Faults are events:

* a command unanswered within ``reply_timeout_ms`` is sent again, ``retries``
  times; then the barrier is in fault (:class:`DeviceFault`, position FAULT)
  until the controller answers again (:class:`DeviceRecovered`);
* a NAK is the controller refusing, not a fault: the command's result names
  the NAK code and its meaning;
* a port that vanishes (USB adapter unplugged, simulator killed) fails the
  next read at once: fault, then the port is opened again every ``reconnect_ms``;
* garbled or partial frames are logged with the decoder's reason and counted
  (:attr:`SerialBarrierDriver.rejected_frames`); the command they answered is
  retried like an unanswered one.

A reply is accepted only if it fits the command (``A``/``N`` for a command,
``S`` for a status request), which guards against the rare corruption the LRC
cannot see and against a late reply to an earlier attempt.
"""

from __future__ import annotations

import queue
import termios
import threading
import time

import serial

from drivers import barrier_frames as bf
from drivers.config import SerialBarrier
from drivers.interfaces import (
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    CommandResult,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    EventSink,
    Position,
)
from plumbing import log

logger = log.get(__name__)

READ_TIMEOUT_S = 0.05
# What a serial port raises when it fails or vanishes (pyserial lets termios errors through).
PORT_ERRORS = (serial.SerialException, OSError, termios.error)

COMMAND_NAMES = {
    bf.OPEN: "open",
    bf.CLOSE: "close",
    bf.STATUS: "status",
    bf.LOCK_OPEN: "lock open",
    bf.UNLOCK: "unlock",
}
SIGNALS = {
    bf.EV_VEHICLE_PASSED: BarrierSignal.VEHICLE_PASSED,
    bf.EV_ARM_BROKEN: BarrierSignal.ARM_BROKEN,
    bf.EV_OBSTACLE: BarrierSignal.OBSTACLE,
    bf.EV_MANUAL_KEY: BarrierSignal.MANUAL_KEY,
}
POSITIONS = {
    bf.POS_UP: Position.UP,
    bf.POS_DOWN: Position.DOWN,
    bf.POS_MOVING: Position.MOVING,
    bf.POS_FAULT: Position.FAULT,
}
COMMAND_REPLIES = frozenset({bf.ACK, bf.NAK})
STATUS_REPLIES = frozenset({bf.STATUS})


class _NoAnswerError(Exception):
    """The controller could not be asked or did not answer; the message says which."""


class SerialBarrierDriver:
    """:class:`drivers.interfaces.Barrier` over a serial barrier controller."""

    def __init__(self, config: SerialBarrier, name: str = "barrier") -> None:
        self.config = config
        self.name = name
        self.rejected_frames = 0
        self._sink: EventSink | None = None
        self._port: serial.Serial | None = None
        self._port_lock = threading.Lock()
        self._decoder = bf.FrameDecoder(config.address)
        self._replies: queue.Queue[bf.BarrierFrame] = queue.Queue()
        self._exchange_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._position = Position.UNKNOWN
        self._link_fault = False  # the controller cannot be reached or does not answer
        self._arm_fault = False  # the controller answers and says its arm is in fault
        self._started = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- Device -------------------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._stop.clear()
        self._started = True
        self._connect()
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{self.name}-reader", daemon=True)
        ]
        if self.config.poll_ms:
            self._threads.append(
                threading.Thread(target=self._poll_loop, name=f"{self.name}-poller", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._started = False
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        with self._port_lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()
            logger.info("barrier_port_closed", device=self.name, port=self.config.port)

    # -- Barrier ------------------------------------------------------------------

    def open(self) -> CommandResult:
        return self._command(bf.OPEN)

    def close(self) -> CommandResult:
        return self._command(bf.CLOSE)

    def lock_open(self) -> CommandResult:
        return self._command(bf.LOCK_OPEN)

    def unlock(self) -> CommandResult:
        return self._command(bf.UNLOCK)

    def position(self) -> Position:
        with self._state_lock:
            return self._position

    def refresh(self) -> Position:
        """Ask the controller for the arm's position now (the poller does this on its own)."""
        try:
            reply = self._exchange(bf.STATUS, STATUS_REPLIES)
        except _NoAnswerError:
            return self.position()
        position = POSITIONS.get(reply.data)
        if position is None:
            self._reject(f"status reply with unknown position {reply.data!r}", b"")
            return self.position()
        self._health(
            link=False,
            arm=position is Position.FAULT,
            reason="controller reports the arm in fault",
        )
        self._set_position(position)
        return position

    # -- commands -----------------------------------------------------------------

    def _command(self, command: str) -> CommandResult:
        what = COMMAND_NAMES[command]
        try:
            reply = self._exchange(command, COMMAND_REPLIES)
        except _NoAnswerError as exc:
            return CommandResult.failure(f"{what}: {exc}")
        self._health(link=False)
        if reply.command == bf.NAK:
            meaning = bf.NAK_CODES.get(reply.data, "code not in the protocol")
            logger.warning(
                "barrier_nak", device=self.name, command=what, code=reply.data, meaning=meaning
            )
            return CommandResult.failure(
                f"{what}: controller refused, NAK {reply.data} ({meaning})"
            )
        logger.info("barrier_ack", device=self.name, command=what)
        return CommandResult.success()

    def _exchange(self, command: str, accept: frozenset[str]) -> bf.BarrierFrame:
        """Send ``command`` and return the first fitting reply, retrying as configured."""
        wire = bf.encode(bf.BarrierFrame(self.config.address, command))
        attempts = 1 + self.config.retries
        timeout = self.config.reply_timeout_ms / 1000
        if not self._started:
            raise _NoAnswerError("barrier driver not started")
        with self._exchange_lock:
            for attempt in range(1, attempts + 1):
                if self._stop.is_set():
                    raise _NoAnswerError("barrier driver stopped")
                self._drain_replies()
                self._write(wire)
                reply = self._await_reply(accept, timeout)
                if reply is not None:
                    return reply
                logger.info("barrier_no_reply", device=self.name, command=command, attempt=attempt)
            reason = (
                f"no reply to {command} in {self.config.reply_timeout_ms} ms, {attempts} attempts"
            )
            self._fault(reason)
            raise _NoAnswerError(reason)

    def _await_reply(self, accept: frozenset[str], timeout: float) -> bf.BarrierFrame | None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                reply = self._replies.get(timeout=remaining)
            except queue.Empty:
                return None
            if reply.command in accept:
                return reply
            self._reject(f"reply {reply.command!r} does not answer the command sent", b"")
        return None

    def _drain_replies(self) -> None:
        while True:
            try:
                stale = self._replies.get_nowait()
            except queue.Empty:
                return
            logger.info(
                "barrier_late_reply", device=self.name, reply=stale.command, data=stale.data
            )

    def _write(self, wire: bytes) -> None:
        with self._port_lock:
            port = self._port
            if port is None:
                raise _NoAnswerError(f"serial port {self.config.port} is not open")
            try:
                port.write(wire)
                return
            except PORT_ERRORS as exc:
                error = exc
        self._lost(port, f"write failed: {error}")
        raise _NoAnswerError(f"serial port {self.config.port} lost: {error}")

    # -- the reader ---------------------------------------------------------------

    def _connect(self) -> bool:
        try:
            port = serial.Serial(
                self.config.port,
                baudrate=self.config.baudrate,
                timeout=READ_TIMEOUT_S,
                write_timeout=1.0,
                exclusive=True,  # one driver per port: a second lane process fails to open
            )
        except PORT_ERRORS as exc:
            self._fault(f"cannot open serial port {self.config.port}: {exc}")
            return False
        with self._port_lock:
            self._port = port
        self._decoder = bf.FrameDecoder(self.config.address)
        logger.info("barrier_port_opened", device=self.name, port=self.config.port)
        return True

    def _read_loop(self) -> None:
        reconnect_s = self.config.reconnect_ms / 1000
        while not self._stop.is_set():
            port = self._port
            if port is None:
                if not self._connect():
                    self._stop.wait(reconnect_s)
                continue
            try:
                data = port.read(max(1, port.in_waiting))
            except (*PORT_ERRORS, TypeError, ValueError) as exc:
                # pyserial raises TypeError or ValueError when the port is closed under a read.
                self._lost(port, f"read failed: {exc}")
                continue
            if data:
                self._received(data)

    def _received(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, bf.DecodeError):
                self._reject(item.reason, item.raw, problem=item.problem.value)
            elif item.command == bf.EVENT:
                self._unsolicited(item)
            else:
                self._replies.put(item)

    def _unsolicited(self, frame: bf.BarrierFrame) -> None:
        signal = SIGNALS.get(frame.data)
        if signal is None:
            self._reject(f"event with unknown code {frame.data!r}", b"")
            return
        logger.info("barrier_reported", device=self.name, signal=signal.value)
        self._emit(BarrierReported(signal=signal, at=time.monotonic()))
        if signal is BarrierSignal.ARM_BROKEN:
            self._health(arm=True, reason="controller reports the arm broken")
            self._set_position(Position.FAULT)

    def _reject(self, reason: str, raw: bytes, problem: str = "unexpected") -> None:
        self.rejected_frames += 1
        logger.warning(
            "barrier_frame_rejected", device=self.name, problem=problem, reason=reason, raw=raw
        )

    def _lost(self, port: serial.Serial, reason: str) -> None:
        with self._port_lock:
            if self._port is not port:
                return
            self._port = None
        port.close()
        self._fault(f"serial port {self.config.port} lost: {reason}")

    # -- the poller ---------------------------------------------------------------

    def _poll_loop(self) -> None:
        period = self.config.poll_ms / 1000
        while not self._stop.wait(period):
            if self._port is not None:
                self.refresh()

    # -- state and events ---------------------------------------------------------

    def _set_position(self, position: Position) -> None:
        with self._state_lock:
            changed = position != self._position
            self._position = position
        if changed:
            logger.info("barrier_moved", device=self.name, position=position.value)
            self._emit(BarrierMoved(position=position, at=time.monotonic()))

    def _fault(self, reason: str) -> None:
        """The controller cannot be reached: fault, position unknown until it answers."""
        self._health(link=True, reason=reason)
        self._set_position(Position.FAULT)

    def _health(
        self, *, link: bool | None = None, arm: bool | None = None, reason: str = ""
    ) -> None:
        """Record link and arm health; one DeviceFault when either goes bad, one
        DeviceRecovered when both are good again."""
        with self._state_lock:
            was = self._link_fault or self._arm_fault
            self._link_fault = self._link_fault if link is None else link
            self._arm_fault = self._arm_fault if arm is None else arm
            now = self._link_fault or self._arm_fault
        if now and not was:
            logger.error("barrier_fault", device=self.name, reason=reason)
            self._emit(DeviceFault(device=self.name, reason=reason, at=time.monotonic()))
        elif was and not now:
            logger.info("barrier_recovered", device=self.name)
            self._emit(DeviceRecovered(device=self.name, at=time.monotonic()))
        elif now and reason:
            logger.debug("barrier_still_faulted", device=self.name, reason=reason)

    def _emit(self, event: DeviceEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:
            logger.exception("event_sink_failed", device=self.name, event_type=type(event).__name__)


def build_serial_barrier(config: SerialBarrier) -> SerialBarrierDriver:
    return SerialBarrierDriver(config)
