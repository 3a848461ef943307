"""The LED display: its line protocol, the driver, and the simulator over a pty."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paths import REPO
from structlog.testing import capture_logs

from drivers import serial_display as proto
from drivers.config import SerialDisplay
from drivers.factory import DriverParts, build_display
from drivers.interfaces import DeviceEvent, DeviceFault, DeviceRecovered, Display
from drivers.serial_display import SerialDisplayDriver
from edge.config.lane import load_lane
from simulators.display import DisplaySimulator, render, text_width
from simulators.faults import Faults
from simulators.serial_link import PtyLink
from simulators.testing import addresses

# Any text a lane may show: letters of every script, no control characters.
row_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)


@pytest.fixture(autouse=True)
def no_leaked_fds() -> Iterator[None]:
    """Every pty and port a test opens is closed again."""
    before = set(os.listdir("/proc/self/fd"))
    yield
    after = {fd for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")}
    assert after <= before, f"test leaked file descriptors: {sorted(after - before)}"


class TestProtocol:
    """Messages are UTF-8 lines with an XOR checksum; rows survive any text."""

    def test_show_line(self) -> None:
        wire = proto.encode(proto.Message("SHOW", proto.join_rows(["欢迎光临", "粤B·12345"])))
        assert wire.endswith(b"\n")
        assert wire.decode("utf-8").startswith("SHOW 欢迎光临|粤B·12345*")
        assert proto.LineDecoder().feed(wire) == [proto.Message("SHOW", "欢迎光临|粤B·12345")]

    @given(st.lists(row_text, max_size=6))
    def test_rows_round_trip(self, rows: list[str]) -> None:
        wire = proto.encode(proto.Message("SHOW", proto.join_rows(rows)))
        (message,) = proto.LineDecoder().feed(wire)
        assert isinstance(message, proto.Message)
        assert proto.split_rows(message.payload) == (rows if rows != [""] else [])

    def test_message_split_across_reads(self) -> None:
        wire = proto.encode(proto.Message("SHOW", "请缴费"))
        decoder = proto.LineDecoder()
        assert decoder.feed(wire[:7]) == []  # cut inside a UTF-8 character
        assert decoder.feed(wire[7:]) == [proto.Message("SHOW", "请缴费")]

    def test_crlf_is_accepted(self) -> None:
        wire = proto.encode(proto.Message("PING"))
        assert proto.LineDecoder().feed(wire[:-1] + b"\r\n") == [proto.Message("PING")]

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            (b"SHOW hello", "no '*' before the checksum"),
            (b"SHOW hello*4", "checksum b'4' is not two upper-case hex digits"),
            (b"SHOW hello*00", "checksum mismatch: message says 00, bytes give 41"),
            (b"SHOW \xff*DC", "not UTF-8 at byte 5"),
            (b"SHOW a\tb*29", "control character '\\t' in message"),
            (b"*00", "empty verb"),
        ],
    )
    def test_malformed_line_names_the_fault(self, line: bytes, reason: str) -> None:
        (error,) = proto.LineDecoder().feed(line + b"\n")
        assert isinstance(error, proto.MessageError)
        assert error.reason == reason

    def test_over_long_line_is_refused_once_and_skipped(self) -> None:
        decoder = proto.LineDecoder()
        out = decoder.feed(b"SHOW " + b"x" * proto.MAX_MESSAGE)
        assert [e.reason for e in out if isinstance(e, proto.MessageError)] == [
            "message longer than 1024 bytes"
        ]
        assert decoder.feed(b"xxx\n" + proto.encode(proto.Message("PING"))) == [
            proto.Message("PING")
        ]

    def test_bad_escape(self) -> None:
        with pytest.raises(proto.ProtocolError, match=r"bad escape '\\\\n' in row 2"):
            proto.split_rows("a|b\\n")

    def test_control_character_cannot_be_sent(self) -> None:
        with pytest.raises(proto.ProtocolError, match=r"control character '\\n'"):
            proto.encode(proto.Message("SHOW", "two\nlines"))


class TestRender:
    """The simulator draws rows at their terminal width (CJK characters take two columns)."""

    def test_cjk_width(self) -> None:
        assert text_width("粤B12345") == 8

    def test_box(self) -> None:
        assert render(["欢迎", "OK"], height=3, columns=6).splitlines() == [
            "┌──────┐",
            "│欢迎  │",
            "│OK    │",
            "│      │",
            "└──────┘",
        ]


class Sink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []

    def __call__(self, event: DeviceEvent) -> None:
        self.events.append(event)


@pytest.fixture
def sim() -> Iterator[DisplaySimulator]:
    link = PtyLink()
    simulator = DisplaySimulator(link, rows=3, faults=Faults(), out=io.StringIO())
    simulator.start()
    yield simulator
    simulator.stop()
    link.close()


def display_config(port: str, **overrides: Any) -> SerialDisplay:
    values: dict[str, Any] = {"type": "serial", "port": port, "rows": 3, "reply_timeout_ms": 300}
    values.update(overrides)
    return SerialDisplay.model_validate(values)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def driver(sim: DisplaySimulator, sink: Sink) -> Iterator[SerialDisplayDriver]:
    display = SerialDisplayDriver(display_config(sim.link.path))
    display.start(sink)
    yield display
    display.stop()


class TestDriver:
    """The driver shows text on the simulated display and reports what went wrong."""

    def test_is_a_display(self, driver: SerialDisplayDriver) -> None:
        assert isinstance(driver, Display)

    def test_shows_chinese_text(self, driver: SerialDisplayDriver, sim: DisplaySimulator) -> None:
        assert driver.show(["欢迎光临", "粤B·12345", "请缴费 ¥12.00"]).ok
        assert sim.state()["lines"] == ["欢迎光临", "粤B·12345", "请缴费 ¥12.00"]
        assert driver.show([]).ok
        assert sim.state()["lines"] == []

    def test_separator_and_backslash_in_text(
        self, driver: SerialDisplayDriver, sim: DisplaySimulator
    ) -> None:
        assert driver.show(["A|B", "C:\\"]).ok
        assert sim.state()["lines"] == ["A|B", "C:\\"]

    def test_too_many_lines_refused_before_sending(
        self, driver: SerialDisplayDriver, sim: DisplaySimulator
    ) -> None:
        result = driver.show(["1", "2", "3", "4"])
        assert result.reason == "4 lines, the display has 3 rows"
        assert sim.state()["received"] == 0

    def test_display_refusal_is_a_failure_not_a_fault(
        self, sim: DisplaySimulator, sink: Sink
    ) -> None:
        display = SerialDisplayDriver(display_config(sim.link.path, rows=5))
        display.start(sink)
        try:
            result = display.show(["1", "2", "3", "4"])
            assert result.reason == "display refused: 4 rows, the display has 3"
            assert not [e for e in sink.events if isinstance(e, DeviceFault)]
        finally:
            display.stop()

    def test_control_character_refused(self, driver: SerialDisplayDriver) -> None:
        result = driver.show(["bell\a"])
        assert not result.ok
        assert "control character '\\x07'" in result.reason

    def test_dropped_reply_is_retried(
        self, driver: SerialDisplayDriver, sim: DisplaySimulator
    ) -> None:
        sim.routes()["POST /faults"]({"drop_next": 1})
        assert driver.show(["retry"]).ok
        assert sim.state()["received"] == 2

    def test_silent_display_is_a_fault_then_recovers(
        self, driver: SerialDisplayDriver, sim: DisplaySimulator, sink: Sink
    ) -> None:
        sim.routes()["POST /faults"]({"silent": True})
        result = driver.show(["hello"])
        assert result.reason == "no reply in 300 ms, 2 attempts"
        assert [e.reason for e in sink.events if isinstance(e, DeviceFault)] == [
            "no reply in 300 ms, 2 attempts"
        ]
        sim.routes()["POST /faults"]({"silent": False})
        assert driver.ping().ok
        assert isinstance(sink.events[-1], DeviceRecovered)

    def test_garbled_reply_is_logged(
        self, driver: SerialDisplayDriver, sim: DisplaySimulator
    ) -> None:
        sim.routes()["POST /faults"]({"garble_rate": 1.0, "seed": 5})
        with capture_logs() as logs:
            result = driver.show(["noise"])
        assert not result.ok
        assert driver.rejected_replies > 0
        assert any(e["event"] == "display_reply_rejected" for e in logs)

    def test_display_gone_is_a_fault_and_reopened_later(self, sink: Sink, tmp_path: Path) -> None:
        first = PtyLink()
        sim = DisplaySimulator(first, rows=3, faults=Faults(), out=io.StringIO())
        sim.start()
        alias = tmp_path / "ttyLED"
        alias.symlink_to(first.path)
        display = SerialDisplayDriver(display_config(str(alias)))
        display.start(sink)
        second: PtyLink | None = None
        try:
            assert display.show(["one"]).ok
            sim.stop()
            first.close()
            result = display.show(["two"])
            assert result.reason.startswith(f"serial port {alias} lost")
            assert isinstance(sink.events[-1], DeviceFault)

            second = PtyLink()
            sim = DisplaySimulator(second, rows=3, faults=Faults(), out=io.StringIO())
            sim.start()
            alias.unlink()
            alias.symlink_to(second.path)
            assert display.show(["three"]).ok
            assert isinstance(sink.events[-1], DeviceRecovered)
            assert sim.state()["lines"] == ["three"]
        finally:
            display.stop()
            sim.stop()
            first.close()
            if second is not None:
                second.close()

    def test_show_before_start_fails_with_reason(self, sim: DisplaySimulator) -> None:
        display = SerialDisplayDriver(display_config(sim.link.path))
        assert display.show(["x"]).reason == "display driver not started"

    def test_missing_port(self, sink: Sink) -> None:
        display = SerialDisplayDriver(display_config("/dev/no-such-display"))
        display.start(sink)
        try:
            assert "cannot open serial port /dev/no-such-display" in sink.events[0].reason  # type: ignore[union-attr]
            assert display.show(["x"]).reason == "serial port /dev/no-such-display is not open"
        finally:
            display.stop()


class TestFactory:
    """A lane whose display section says ``type = "serial"`` gets this driver."""

    def test_riverside_exit_has_a_serial_display(self) -> None:
        lane = load_lane(REPO / "config" / "lanes" / "riverside-exit.toml").lane
        display = build_display(DriverParts(lane.device_sections()))
        assert isinstance(display, SerialDisplayDriver)
        assert display.config.port == "/dev/ttyUSB2"


class TestSimulatorRejects:
    """The simulator answers ERR with the reason, and logs it, for every bad line."""

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            (b"SHOW hi*00\n", "checksum mismatch: message says 00, bytes give 22"),
            (proto.encode(proto.Message("BLINK")), "unknown verb 'BLINK'"),
            (proto.encode(proto.Message("SHOW", "a\\x")), "bad escape '\\\\x' in row 1"),
            (proto.encode(proto.Message("SHOW", "1|2|3|4")), "4 rows, the display has 3"),
        ],
    )
    def test_rejected_with_reason(self, sim: DisplaySimulator, line: bytes, reason: str) -> None:
        import serial

        with serial.Serial(sim.link.path, timeout=2) as port, capture_logs() as logs:
            port.write(line)
            reply = proto.LineDecoder().feed(port.read_until(b"\n"))
        assert reply == [proto.Message("ERR", reason)]
        assert any(e["event"] == "message_rejected" and e["reason"] == reason for e in logs)
        assert sim.state()["rejected"] == 1


@pytest.mark.slow
class TestCommandLine:
    """`lanewarden sim display` prints its device first and draws what it is sent."""

    def test_device_first_then_rendering(self, sink: Sink) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plumbing.cli", "sim", "display", "--rows", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            path, control = addresses(proc, "LED display on serial port", "control")
            assert re.fullmatch(r"/dev/pts/\d+", path), path
            assert control.startswith("http://127.0.0.1:")
            display = SerialDisplayDriver(display_config(path, rows=2, reply_timeout_ms=1000))
            display.start(sink)
            try:
                assert display.show(["欢迎光临", "粤B12345"]).ok
            finally:
                display.stop()
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, out
        assert "│欢迎光临        │" in out
        assert "│粤B12345        │" in out
