"""The serial barrier driver against the simulated controller, over real pseudo-terminals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from needs import program
from paths import REPO
from structlog.testing import capture_logs

from drivers import barrier_frames as bf
from drivers.config import SerialBarrier
from drivers.factory import DriverParts, build_barrier
from drivers.interfaces import (
    Barrier,
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    Position,
)
from drivers.serial_barrier import SerialBarrierDriver
from edge.config.lane import load_lane
from simulators.control import ControlClient, ControlError, ControlServer
from simulators.faults import Faults
from simulators.serial_barrier import BarrierController, BarrierSimulator
from simulators.serial_link import PortLink, PtyLink
from simulators.testing import addresses

WAIT_S = 10.0  # generous: a bound for a hung test, not a speed requirement
# Across processes (a simulator subprocess, socat) on a loaded CI machine, replies can be slow.
SLOW_REPLY_MS = 500


class Events:
    """A thread-safe event sink that tests can wait on."""

    def __init__(self) -> None:
        self.items: list[DeviceEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, match: Callable[[DeviceEvent], bool], since: int = 0) -> DeviceEvent:
        """The first event from index ``since`` on that matches."""
        with self._cond:
            found: list[DeviceEvent] = []

            def seen() -> bool:
                found[:] = [e for e in self.items[since:] if match(e)]
                return bool(found)

            assert self._cond.wait_for(seen, timeout=WAIT_S), f"no matching event in {self.items}"
            return found[0]


def moved_to(position: Position) -> Callable[[DeviceEvent], bool]:
    return lambda e: isinstance(e, BarrierMoved) and e.position is position


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_leaked_fds() -> Iterator[None]:
    """Every pty and port a test opens is closed again."""
    before = open_fds()
    yield
    leaked = {fd for fd in open_fds() - before if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not leaked, (
        f"test leaked file descriptors: {[os.readlink(f'/proc/self/fd/{fd}') for fd in leaked]}"
    )


def barrier_config(port: str, **overrides: Any) -> SerialBarrier:
    values: dict[str, Any] = {
        "type": "serial",
        "port": port,
        "reply_timeout_ms": 200,  # the protocol's own; shorter makes a loaded machine flaky
        "poll_ms": 20,
        "reconnect_ms": 50,
    }
    values.update(overrides)
    return SerialBarrier.model_validate(values)


@pytest.fixture
def sim() -> Iterator[BarrierSimulator]:
    link = PtyLink()
    simulator = BarrierSimulator(link, BarrierController("01", travel_s=0.05), Faults())
    simulator.start()
    yield simulator
    simulator.stop()
    link.close()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def driver(sim: BarrierSimulator, events: Events) -> Iterator[SerialBarrierDriver]:
    barrier = SerialBarrierDriver(barrier_config(sim.link.path))
    barrier.start(events)
    yield barrier
    barrier.stop()


def post(sim: BarrierSimulator, route: str, body: dict[str, Any]) -> dict[str, Any]:
    return sim.routes()[f"POST {route}"](body)


class TestCommands:
    """Commands reach the controller and the arm's position follows."""

    def test_is_a_barrier(self, driver: SerialBarrierDriver) -> None:
        assert isinstance(driver, Barrier)

    def test_open_then_close(self, driver: SerialBarrierDriver, events: Events) -> None:
        events.wait_for(moved_to(Position.DOWN))
        assert driver.open().ok
        events.wait_for(moved_to(Position.UP))
        assert driver.position() is Position.UP
        since = len(events.items)
        assert driver.close().ok
        events.wait_for(moved_to(Position.DOWN), since)
        assert driver.position() is Position.DOWN

    def test_lock_open_refuses_close_with_nak(
        self, driver: SerialBarrierDriver, sim: BarrierSimulator
    ) -> None:
        assert driver.lock_open().ok
        result = driver.close()
        assert not result.ok
        assert result.reason == "close: controller refused, NAK 5 (locked open)"
        assert driver.unlock().ok
        assert driver.close().ok
        assert sim.state()["locked"] is False

    def test_command_before_start_fails_with_reason(self, sim: BarrierSimulator) -> None:
        barrier = SerialBarrierDriver(barrier_config(sim.link.path))
        assert barrier.open().reason == "open: barrier driver not started"

    def test_broken_arm_is_a_fault_until_repaired(
        self, driver: SerialBarrierDriver, sim: BarrierSimulator, events: Events
    ) -> None:
        events.wait_for(moved_to(Position.DOWN))
        post(sim, "/arm", {"broken": True})
        fault = events.wait_for(lambda e: isinstance(e, DeviceFault))
        assert fault.reason == "controller reports the arm broken"  # type: ignore[union-attr]
        assert driver.position() is Position.FAULT
        post(sim, "/arm", {"broken": False})
        events.wait_for(lambda e: isinstance(e, DeviceRecovered))
        events.wait_for(moved_to(Position.DOWN), since=len(events.items) - 1)
        faults = [e for e in events.items if isinstance(e, DeviceFault)]
        assert len(faults) == 1, "one fault per episode, not one per status poll"

    def test_broken_arm_naks_open_and_reports_fault_position(
        self, driver: SerialBarrierDriver, sim: BarrierSimulator
    ) -> None:
        post(sim, "/arm", {"broken": True})
        result = driver.open()
        assert result.reason == "open: controller refused, NAK 3 (arm broken)"
        assert driver.refresh() is Position.FAULT


class TestRetries:
    """Unanswered commands are retried three times, then the barrier is in fault."""

    def test_dropped_replies_are_retried(self, sim: BarrierSimulator, events: Events) -> None:
        barrier = SerialBarrierDriver(barrier_config(sim.link.path, poll_ms=0))
        barrier.start(events)
        try:
            post(sim, "/faults", {"drop_next": 2})
            assert barrier.open().ok
            assert sim.state()["received"]["O"] == 3
            assert not [e for e in events.items if isinstance(e, DeviceFault)]
        finally:
            barrier.stop()

    def test_fault_after_three_unanswered_retries_then_recovery(
        self, sim: BarrierSimulator, events: Events
    ) -> None:
        barrier = SerialBarrierDriver(barrier_config(sim.link.path, poll_ms=0))
        barrier.start(events)
        try:
            post(sim, "/faults", {"silent": True})
            result = barrier.open()
            assert result.reason == "open: no reply to O in 200 ms, 4 attempts"
            assert sim.state()["received"]["O"] == 4
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault))
            assert isinstance(fault, DeviceFault)
            assert fault.reason == "no reply to O in 200 ms, 4 attempts"
            assert barrier.position() is Position.FAULT

            post(sim, "/faults", {"silent": False})
            assert barrier.open().ok
            events.wait_for(lambda e: isinstance(e, DeviceRecovered))
        finally:
            barrier.stop()


class TestFactory:
    """A lane whose barrier section says ``type = "serial"`` gets this driver."""

    def test_riverside_exit_has_a_serial_barrier(self) -> None:
        lane = load_lane(REPO / "config" / "lanes" / "riverside-exit.toml").lane
        barrier = build_barrier(DriverParts(lane.device_sections()))
        assert isinstance(barrier, SerialBarrierDriver)
        assert barrier.config.port == "/dev/ttyUSB1"


class TestUnsolicited:
    """Reports the controller sends on its own become BarrierReported events."""

    @pytest.mark.parametrize(
        ("code", "signal"),
        [
            ("P", BarrierSignal.VEHICLE_PASSED),
            ("B", BarrierSignal.ARM_BROKEN),
            ("X", BarrierSignal.OBSTACLE),
            ("K", BarrierSignal.MANUAL_KEY),
        ],
    )
    def test_event_reported(
        self,
        driver: SerialBarrierDriver,
        sim: BarrierSimulator,
        events: Events,
        code: str,
        signal: BarrierSignal,
    ) -> None:
        events.wait_for(moved_to(Position.DOWN))
        post(sim, "/event", {"code": code})
        assert events.wait_for(lambda e: isinstance(e, BarrierReported)).signal is signal  # type: ignore[union-attr]


class TestPortLost:
    """A vanished port is a fault at once, and the driver reconnects when it comes back."""

    def test_simulator_gone_then_back(self, tmp_path: Path, events: Events) -> None:
        # Lanes name ports by stable symlinks (/dev/serial/by-id/...); so does this test,
        # re-pointing it at the second simulator's new pty.
        first = PtyLink()
        sim = BarrierSimulator(first, BarrierController("01", travel_s=0.05), Faults())
        sim.start()
        alias = tmp_path / "ttyBARRIER"
        alias.symlink_to(first.path)
        barrier = SerialBarrierDriver(barrier_config(str(alias)))
        barrier.start(events)
        second: PtyLink | None = None
        try:
            events.wait_for(moved_to(Position.DOWN))
            sim.stop()
            first.close()
            alias.unlink()  # the freed pty number may soon belong to another process
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault))
            assert isinstance(fault, DeviceFault)
            assert fault.reason.startswith(f"serial port {alias} lost: read failed")
            assert barrier.position() is Position.FAULT
            assert not barrier.open().ok

            second = PtyLink()
            sim = BarrierSimulator(second, BarrierController("01", travel_s=0.05), Faults())
            sim.start()
            alias.symlink_to(second.path)
            events.wait_for(lambda e: isinstance(e, DeviceRecovered))
            assert barrier.open().ok
        finally:
            barrier.stop()
            sim.stop()
            first.close()
            if second is not None:
                second.close()

    def test_second_driver_on_the_same_port_is_refused(
        self, driver: SerialBarrierDriver, sim: BarrierSimulator, events: Events
    ) -> None:
        other_events = Events()
        other = SerialBarrierDriver(barrier_config(sim.link.path))
        other.start(other_events)
        try:
            fault = other_events.wait_for(lambda e: isinstance(e, DeviceFault))
            assert "exclusively lock" in fault.reason  # type: ignore[union-attr]
            assert driver.open().ok
        finally:
            other.stop()

    def test_missing_port_is_a_fault_not_an_exception(self, events: Events) -> None:
        barrier = SerialBarrierDriver(barrier_config("/dev/does-not-exist"))
        barrier.start(events)
        try:
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault))
            assert "cannot open serial port /dev/does-not-exist" in fault.reason  # type: ignore[union-attr]
            result = barrier.open()
            assert result.reason == "open: serial port /dev/does-not-exist is not open"
        finally:
            barrier.stop()


class RawDevice:
    """The far end of a pty played by the test, to send exactly the bytes wanted."""

    def __init__(self) -> None:
        self.link = PtyLink()

    def send(self, data: bytes) -> None:
        self.link.write(data)


@pytest.fixture
def raw() -> Iterator[RawDevice]:
    device = RawDevice()
    yield device
    device.link.close()


class TestMalformed:
    """Garbled, partial and unexpected frames are logged with a reason and counted, never fatal."""

    def _driver(self, raw: RawDevice, events: Events) -> SerialBarrierDriver:
        barrier = SerialBarrierDriver(barrier_config(raw.link.path, poll_ms=0))
        barrier.start(events)
        return barrier

    def _rejections(self, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [entry for entry in logs if entry["event"] == "barrier_frame_rejected"]

    def test_wrong_lrc_and_garbage_then_a_good_event(self, raw: RawDevice, events: Events) -> None:
        barrier = self._driver(raw, events)
        try:
            with capture_logs() as logs:
                raw.send(b"\x0201EP\x0300" + b"\xff\xfe" + b"\x0201E")  # bad LRC, noise, partial
                raw.send(bf.encode(bf.BarrierFrame("01", "E", "X")))
                events.wait_for(lambda e: isinstance(e, BarrierReported))
            reasons = [entry["reason"] for entry in self._rejections(logs)]
            assert reasons[0] == "LRC mismatch: frame says 00, bytes give 14"
            assert reasons[1].startswith("2 bytes outside a frame")
            assert reasons[2] == "frame cut short by a new STX after 4 bytes"
            assert barrier.rejected_frames == 3
            reported = [e for e in events.items if isinstance(e, BarrierReported)]
            assert [e.signal for e in reported] == [BarrierSignal.OBSTACLE]
        finally:
            barrier.stop()

    def test_garbled_replies_fail_the_command_with_a_fault(
        self, sim: BarrierSimulator, events: Events
    ) -> None:
        post(sim, "/faults", {"garble_rate": 1.0, "seed": 3})
        barrier = SerialBarrierDriver(barrier_config(sim.link.path, poll_ms=0))
        barrier.start(events)
        try:
            with capture_logs() as logs:
                result = barrier.open()
            assert result.reason == "open: no reply to O in 200 ms, 4 attempts"
            assert self._rejections(logs), "garbled replies were not logged"
            assert barrier.rejected_frames > 0
        finally:
            barrier.stop()

    def test_reply_that_does_not_fit_the_command(self, raw: RawDevice, events: Events) -> None:
        barrier = self._driver(raw, events)
        try:

            def answer_open_with_a_status() -> None:
                received = b""
                while bf.encode(bf.BarrierFrame("01", "O")) not in received:
                    received += raw.link.read(1.0)
                raw.send(bf.encode(bf.BarrierFrame("01", "S", "U")))

            answering = threading.Thread(target=answer_open_with_a_status)
            with capture_logs() as logs:
                answering.start()
                result = barrier.open()
            answering.join()
            assert not result.ok
            reasons = [entry["reason"] for entry in self._rejections(logs)]
            assert "reply 'S' does not answer the command sent" in reasons
        finally:
            barrier.stop()

    def test_unknown_event_code(self, raw: RawDevice, events: Events) -> None:
        barrier = self._driver(raw, events)
        try:
            with capture_logs() as logs:
                raw.send(bf.encode(bf.BarrierFrame("01", "E", "Q")))
                raw.send(bf.encode(bf.BarrierFrame("01", "E", "P")))
                events.wait_for(lambda e: isinstance(e, BarrierReported))
            reasons = [entry["reason"] for entry in self._rejections(logs)]
            assert reasons == ["event with unknown code 'Q'"]
        finally:
            barrier.stop()

    def test_frames_for_another_address_are_not_ours(self, raw: RawDevice, events: Events) -> None:
        barrier = self._driver(raw, events)
        try:
            with capture_logs() as logs:
                raw.send(bf.encode(bf.BarrierFrame("02", "E", "P")))
                raw.send(bf.encode(bf.BarrierFrame("01", "E", "K")))
                events.wait_for(lambda e: isinstance(e, BarrierReported))
            reported = [e for e in events.items if isinstance(e, BarrierReported)]
            assert [e.signal for e in reported] == [BarrierSignal.MANUAL_KEY]
            assert self._rejections(logs)[0]["problem"] == "wrong_address"
        finally:
            barrier.stop()


class TestSimulatorControl:
    """The simulator's control routes, as the traffic scenarios use them."""

    def test_routes_over_http(self, sim: BarrierSimulator) -> None:
        server = ControlServer(sim.routes())
        server.start()
        try:
            client = ControlClient(server.url)
            assert client.get("/state")["position"] == "down"
            assert client.post("/arm", {"broken": True})["position"] == "fault"
            assert client.post("/arm", {"broken": False})["position"] == "down"
            with pytest.raises(ControlError, match=r"HTTP 400.*code: expected one of"):
                client.post("/event", {"code": 1})
            with pytest.raises(ControlError, match=r"HTTP 400.*code must be one of .*'Q'"):
                client.post("/event", {"code": "Q"})
            with pytest.raises(ControlError, match=r"HTTP 400.*drop_rate must be between 0 and 1"):
                client.post("/faults", {"drop_rate": 2.0})
            with pytest.raises(ControlError, match=r"HTTP 400.*silent: expected bool"):
                client.post("/faults", {"silent": 1})
            with pytest.raises(ControlError, match=r"HTTP 400.*unknown fault 'slow'"):
                client.post("/faults", {"slow": 1})
        finally:
            server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestController:
    """The simulated controller's arm physics and replies."""

    def _controller(self) -> tuple[BarrierController, Clock]:
        clock = Clock()
        return BarrierController("01", travel_s=2.0, clock=clock), clock

    def _send(self, controller: BarrierController, command: str, data: str = "") -> str:
        reply = controller.handle(bf.BarrierFrame("01", command, data))
        return reply.command + reply.data

    def test_arm_takes_its_travel_time(self) -> None:
        controller, clock = self._controller()
        assert self._send(controller, "S") == "SD"
        assert self._send(controller, "O") == "A"
        clock.now = 1.0
        assert self._send(controller, "S") == "SM"
        assert controller.arm() == 0.5
        clock.now = 2.0
        assert self._send(controller, "S") == "SU"

    def test_obstacle_reverses_a_closing_arm(self) -> None:
        controller, clock = self._controller()
        self._send(controller, "O")
        clock.now = 2.0
        self._send(controller, "C")
        clock.now = 3.0
        assert controller.event("X") == bf.BarrierFrame("01", "E", "X")
        clock.now = 4.0
        assert self._send(controller, "S") == "SU"

    def test_manual_key_moves_the_arm_the_other_way(self) -> None:
        controller, clock = self._controller()
        controller.event("K")
        clock.now = 2.0
        assert self._send(controller, "S") == "SU"
        controller.event("K")
        clock.now = 4.0
        assert self._send(controller, "S") == "SD"

    def test_naks(self) -> None:
        controller, _ = self._controller()
        assert self._send(controller, "Z") == "N1"
        assert self._send(controller, "O", "now") == "N2"
        assert self._send(controller, "L") == "A"
        assert self._send(controller, "C") == "N5"
        controller.event("B")
        assert self._send(controller, "O") == "N3"
        assert self._send(controller, "S") == "SF"
        controller.repair()
        assert self._send(controller, "S") == "SD"

    def test_negative_travel_time_is_refused(self) -> None:
        with pytest.raises(ValueError, match="travel time must not be negative, got -1"):
            BarrierController("01", travel_s=-1)


def start_simulator(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """The simulator, its device path and its control URL, read from its first lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "plumbing.cli", "--log-format", "json", "sim", "barrier", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    path, control = addresses(proc, "barrier controller on serial port", "control")
    return proc, path, control


def reap(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Its exit status and the rest of its output (logs included)."""
    if proc.poll() is None:
        proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return proc.returncode, out


@pytest.mark.slow
class TestCommandLine:
    """`lanewarden sim barrier` as technicians run it."""

    def test_prints_device_first_then_serves_until_killed(self, events: Events) -> None:
        proc, path, _ = start_simulator("--travel-s", "0.05")
        try:
            assert re.fullmatch(r"/dev/pts/\d+", path), path
            barrier = SerialBarrierDriver(barrier_config(path, reply_timeout_ms=SLOW_REPLY_MS))
            barrier.start(events)
            try:
                assert barrier.open().ok
                events.wait_for(moved_to(Position.UP))
                assert barrier.close().ok
                proc.send_signal(signal.SIGKILL)
                fault = events.wait_for(lambda e: isinstance(e, DeviceFault))
                assert f"serial port {path} lost" in fault.reason  # type: ignore[union-attr]
            finally:
                barrier.stop()
        finally:
            reap(proc)

    def test_sigterm_stops_cleanly(self) -> None:
        proc, _, control = start_simulator()
        assert control.startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        code, err = reap(proc)
        assert code == 0, err
        assert '"simulator_stopped"' in err

    def test_bad_address_is_refused(self) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "plumbing.cli", "sim", "barrier", "--address", "1x"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2
        assert "address must be two upper-case hex characters: '1x'" in proc.stderr


class SocatPair:
    """``socat -d -d pty,raw,echo=0 pty,raw,echo=0``: two ptys joined like a null-modem cable."""

    def __init__(self, socat: str) -> None:
        self.proc = subprocess.Popen(
            [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        self.paths: list[str] = []
        while len(self.paths) < 2:
            line = self.proc.stderr.readline()
            assert line, "socat exited before printing its two ptys"
            found = re.search(r"PTY is (\S+)", line)
            if found:
                self.paths.append(found.group(1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def socat() -> Iterator[SocatPair]:
    pair = SocatPair(program("socat"))
    yield pair
    pair.close()


class TestSocatInterop:
    """socat provides the serial pair; the driver and the simulator each open one end."""

    def test_driver_talks_to_simulator_through_socat(
        self, socat: SocatPair, events: Events
    ) -> None:
        link = PortLink(socat.paths[0])
        sim = BarrierSimulator(link, BarrierController("01", travel_s=0.05), Faults())
        sim.start()
        barrier = SerialBarrierDriver(
            barrier_config(socat.paths[1], reply_timeout_ms=SLOW_REPLY_MS)
        )
        barrier.start(events)
        try:
            assert barrier.open().ok
            events.wait_for(moved_to(Position.UP))
            post(sim, "/event", {"code": "P"})
            events.wait_for(lambda e: isinstance(e, BarrierReported))
            assert barrier.close().ok
        finally:
            barrier.stop()
            sim.stop()
            link.close()

    def test_simulator_notices_its_port_vanish(self, socat: SocatPair) -> None:
        link = PortLink(socat.paths[0])
        sim = BarrierSimulator(link, BarrierController("01", travel_s=0.05), Faults())
        sim.start()
        try:
            socat.proc.kill()
            assert sim.loop.finished.wait(WAIT_S), "the simulator did not notice"
            assert sim.loop.lost is not None
            assert sim.loop.lost.startswith(f"{socat.paths[0]}: ")
        finally:
            sim.stop()
            link.close()
