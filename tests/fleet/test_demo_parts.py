"""The demo's parts: derived lane files, central's file, the demo tariff, plates, a lane process
that fails, the broker outage and its backlog, the screen and logs."""

from __future__ import annotations

import io
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracts.tariff import Tariff
from fleet.central_process import central_process, write_central
from fleet.lane_files import CONFIG, derive_lane, sync_section, toml_text, toml_value
from fleet.lane_process import LaneProcess, LaneStartError
from fleet.outage import BrokerOutage, OutagePlan, backlog_text, plan_outage
from fleet.plates import demo_plates
from fleet.screen import CLEAR_LINE, Screen
from fleet.site import DemoLogs, no_free_minutes
from plumbing.config import ConfigError, load

DEVICES = {
    "io": {"type": "modbus_tcp", "host": "127.0.0.1", "port": 1502},
    "barrier": {"type": "io"},
    "loops": {"type": "io"},
    "camera": {"type": "opencv", "source": "http://127.0.0.1:1/stream.mjpg"},
}


class TestTomlText:
    """Nested tables come back from tomllib as they went in."""

    def test_round_trip(self) -> None:
        data = {
            "id": "lane-1",
            "ratio": 0.5,
            "on": True,
            "names": ["a", "皖A12345"],
            "quote": 'say "hi"\\n',
            "payments": {"policy": {"methods": ["qr"]}, "gateway": {"callback": {"port": 8}}},
        }
        assert tomllib.loads(toml_text(data)) == data

    def test_unknown_type_is_named(self) -> None:
        with pytest.raises(TypeError, match="no TOML form for NoneType"):
            toml_value(None)


class TestDeriveLane:
    """The shipped lane with simulated devices, validated as any lane file."""

    def test_shipped_policy_kept_devices_replaced(self, tmp_path: Path) -> None:
        files = derive_lane(
            "riverside-exit",
            tmp_path,
            store=tmp_path / "site.db",
            devices=DEVICES,
            changes={"policy": {"payment_timeout_s": 30}},
        )
        lane = files.lane
        assert lane.id == "riverside-exit"
        assert lane.policy.unreadable_plate.value == "deny_and_call"  # as shipped
        assert lane.policy.payment_timeout_s == 30
        assert lane.barrier.type == "io"
        assert lane.display is None  # the shipped serial display was replaced by nothing
        assert lane.store == str(tmp_path / "site.db")

    def test_none_removes_a_shipped_key(self, tmp_path: Path) -> None:
        files = derive_lane(
            "riverside-exit",
            tmp_path,
            store=tmp_path / "site.db",
            devices=DEVICES,
            changes={"payments": {"policy": {"methods": ["prepaid"]}, "gateway": None}},
        )
        payments = files.lane.payment_settings()
        assert payments.gateway is None
        assert [m.value for m in payments.policy.methods] == ["prepaid"]

    @pytest.mark.parametrize(("mqtt5", "protocol"), [(True, "5"), (False, "3.1.1")])
    def test_sync_section_points_at_the_broker(
        self, tmp_path: Path, mqtt5: bool, protocol: str
    ) -> None:
        files = derive_lane(
            "riverside-entry",
            tmp_path,
            store=tmp_path / "site.db",
            devices=DEVICES,
            changes={"sync": sync_section("127.0.0.1", 18830, mqtt5=mqtt5)},
        )
        sync = files.lane.sync
        assert sync is not None
        assert (sync.broker.host, sync.broker.port, sync.broker.protocol) == (
            "127.0.0.1",
            18830,
            protocol,
        )
        assert sync.resend_timeout_s == 2.0

    def test_bad_device_section_names_the_field(self, tmp_path: Path) -> None:
        devices = {**DEVICES, "camera": {"type": "opencv"}}
        with pytest.raises(ConfigError, match=r"camera\.opencv\.source: Field required"):
            derive_lane("riverside-entry", tmp_path, store=tmp_path / "s.db", devices=devices)


class TestDemoTariff:
    """The demo tariff charges from the first minute and is otherwise the shipped one."""

    def test_no_free_minutes(self, tmp_path: Path) -> None:
        text = (CONFIG / "tariffs" / "riverside-parking.toml").read_text(encoding="utf-8")
        path = tmp_path / "t.toml"
        path.write_text(no_free_minutes(text), encoding="utf-8")
        tariff = load(path, Tariff)
        assert [v.parking.free_minutes for v in tariff.versions if v.parking] == [0, 0]
        assert "free_minutes = 120" in path.read_text(encoding="utf-8")  # the coupon stays

    def test_tariff_without_the_line_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no `free_minutes = 15` line"):
            no_free_minutes('kind = "tariff"\n')


class TestDemoPlates:
    """Plates are dealt out to every kind of vehicle, without repeats."""

    def test_distinct_plates_for_each_kind(self) -> None:
        plates = demo_plates({"qr": 5, "prepaid": 2, "whitelist": 1}, seed=4)
        assert [len(p) for p in plates.values()] == [5, 2, 1]
        every = [p for kind in plates.values() for p in kind]
        assert len(set(every)) == len(every)
        assert all(p.startswith("皖") for p in every)

    def test_same_seed_same_plates(self) -> None:
        counts = {"qr": 3, "prepaid": 2}
        assert demo_plates(counts, seed=7) == demo_plates(counts, seed=7)
        assert demo_plates(counts, seed=7) != demo_plates(counts, seed=8)


class TestLaneProcess:
    """A lane that cannot start fails with its exit status and its own message."""

    def test_invalid_lane_file(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.toml"
        path.write_text('kind = "lane"\nid = "x"\n')
        lane = LaneProcess(path, tmp_path / "lane.log")
        with pytest.raises(LaneStartError, match="exited with status 78") as caught:
            lane.start(timeout_s=60)
        assert "invalid configuration" in str(caught.value)
        assert lane.stop() == 78

    def test_echo_gets_the_log_and_the_file_keeps_it(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.toml"
        path.write_text('kind = "lane"\nid = "x"\n')
        echo = io.StringIO()
        lane = LaneProcess(path, tmp_path / "lane.log", echo=echo)
        with pytest.raises(LaneStartError, match="exited with status 78") as caught:
            lane.start(timeout_s=60)
        assert "invalid configuration" in str(caught.value)  # the tail, from the file
        assert "invalid configuration" in echo.getvalue()
        assert echo.getvalue() == (tmp_path / "lane.log").read_text()
        assert lane.stop() == 78


@dataclass
class FakeBroker:
    """Where a broker listens, and what was done to it, for the outage."""

    mqtt5: bool = True
    host: str = "127.0.0.1"
    port: int = 18830
    name: str = "fake"
    running: bool = True
    calls: list[str] = field(default_factory=list)
    refuse_start: bool = False

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False

    def start(self) -> None:
        self.calls.append("start")
        if self.refuse_start:
            raise RuntimeError("port taken")
        self.running = True

    def close(self) -> None:
        self.stop()


class TestCentralFile:
    """Central's file follows the broker: two shared workers on MQTT 5, one on 3.1.1."""

    def test_mqtt5_two_workers(self, tmp_path: Path) -> None:
        site = write_central(tmp_path, FakeBroker(), {"riverside": "Asia/Shanghai"})
        config = site.config
        assert site.path == tmp_path / "central.toml"
        assert (config.broker.port, config.broker.protocol, config.ingest.workers) == (
            18830,
            "5",
            2,
        )
        assert site.database == tmp_path / "central" / "central.sqlite3"
        assert config.plazas["riverside"].timezone == "Asia/Shanghai"
        assert config.metrics.port == 0  # the kernel picks one: demos side by side
        assert "2 ingest workers" in site.workers_line
        assert "$share/central/" in site.workers_line

    def test_mqtt311_one_worker_says_why(self, tmp_path: Path) -> None:
        site = write_central(tmp_path, FakeBroker(mqtt5=False), {})
        assert (site.config.broker.protocol, site.config.ingest.workers) == ("3.1.1", 1)
        assert "1 ingest worker: the embedded broker speaks MQTT 3.1.1" in site.workers_line

    def test_central_that_cannot_start_fails_with_its_log(self, tmp_path: Path) -> None:
        site = write_central(tmp_path, FakeBroker(), {})
        site.path.write_text(site.path.read_text() + "[nonsense]\nx = 1\n")
        central = central_process(site, tmp_path / "central.log")
        with pytest.raises(LaneStartError, match=r"central run process .* status 78"):
            central.start(timeout_s=60)
        assert central.stop() == 78


class TestOutagePlan:
    """20 s in the middle of a minute or more; a third of a shorter run; none under 9 s."""

    @pytest.mark.parametrize(
        ("duration", "plan"),
        [
            (60.0, OutagePlan(20.0, 20.0)),
            (120.0, OutagePlan(50.0, 20.0)),
            (15.0, OutagePlan(5.0, 5.0)),
            (9.0, OutagePlan(3.0, 3.0)),
            (None, OutagePlan(20.0, 20.0)),
        ],
    )
    def test_planned(self, duration: float | None, plan: OutagePlan) -> None:
        assert plan_outage(duration) == plan

    def test_too_short_says_why(self) -> None:
        reason = plan_outage(6.0)
        assert isinstance(reason, str)
        assert reason.startswith("no broker outage: 6 s of traffic is too short for one")


class TestBrokerOutage:
    """The broker stops, the backlog is shown growing, it comes back, the backlog drains."""

    def test_down_back_drained(self) -> None:
        broker = FakeBroker()
        out = io.StringIO()
        backlogs = iter([{"a": (1, 0)}, {"a": (2, 1)}, {"a": (2, 1)}, {"a": (1, 0)}])

        def backlog() -> dict[str, tuple[int, int]]:
            return next(backlogs, {"a": (0, 0)})

        outage = BrokerOutage(
            broker, OutagePlan(0.05, 0.4), backlog, Screen(out, live=False), show_every_s=0.15
        )
        outage.start()
        deadline = time.monotonic() + 10
        while outage.drained_after_s is None and time.monotonic() < deadline:
            time.sleep(0.05)
        outage.finish()
        lines = out.getvalue().splitlines()
        assert broker.calls == ["stop", "start"]
        assert lines[0].startswith("broker: stopped (fake, port 18830) for 0.4 s")
        assert any(
            line.startswith("  broker down ") and "a 1 (1 txn, 0 event)" in line for line in lines
        )
        assert any(line.startswith("broker: back on port 18830") for line in lines)
        assert lines[-1].startswith("  backlog drained ")
        assert outage.error is None

    def test_finish_while_down_starts_the_broker_at_once(self) -> None:
        broker = FakeBroker()
        out = io.StringIO()
        outage = BrokerOutage(broker, OutagePlan(0.0, 60.0), dict, Screen(out, live=False))
        outage.start()
        deadline = time.monotonic() + 5
        while not broker.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        outage.finish()
        assert time.monotonic() - started < 5
        assert broker.calls == ["stop", "start"]
        assert broker.running

    def test_a_broker_that_does_not_come_back_is_an_error(self) -> None:
        broker = FakeBroker(refuse_start=True)
        outage = BrokerOutage(broker, OutagePlan(0.0, 0.1), dict, Screen(io.StringIO()))
        outage.start()
        outage.finish()
        assert outage.error == "the broker did not start again on port 18830: port taken"

    def test_backlog_text(self) -> None:
        text = backlog_text({"entry": (2, 1), "exit": (0, 0)})
        assert text == "entry 3 (2 txn, 1 event), exit 0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestScreen:
    """Lines are printed whole; progress is redrawn in place on a terminal, and thinned elsewhere."""

    def test_progress_off_a_terminal_every_few_seconds(self) -> None:
        out, clock = io.StringIO(), FakeClock()
        screen = Screen(out, live=False, every_s=10, clock=clock)
        screen.say("starting the lane daemons ...")
        for step in range(25):  # 24 s of progress, a call a second
            clock.now = 100.0 + step
            screen.progress(f"starting ({step} s)")
        screen.done()
        screen.say("lanes ready")
        assert out.getvalue().splitlines() == [
            "starting the lane daemons ...",
            "  ... starting (10 s)",
            "  ... starting (20 s)",
            "lanes ready",
        ]

    def test_progress_on_a_terminal_is_one_line_cleared_before_the_next(self) -> None:
        out = io.StringIO()
        screen = Screen(out, live=True)
        screen.progress("starting (1 s)")
        screen.progress("starting (2 s)")
        screen.say("  riverside-exit ready after 2.1 s")
        screen.progress("starting (3 s)")
        screen.done()
        screen.say("lanes ready")
        assert out.getvalue() == (
            f"{CLEAR_LINE}/ starting (1 s){CLEAR_LINE}- starting (2 s){CLEAR_LINE}"
            f"  riverside-exit ready after 2.1 s\n{CLEAR_LINE}\\ starting (3 s){CLEAR_LINE}"
            "lanes ready\n"
        )


class TestDemoLogs:
    """The demo names its log files at the start and, whole paths, at the end."""

    def test_files_named(self, tmp_path: Path) -> None:
        logs = DemoLogs(tmp_path, verbose=False)
        assert "demo.log (simulators, gateway)" in logs.at_start()
        assert (
            "riverside-entry.log, riverside-exit.log and central.log (lane daemons, central)"
            in logs.at_start()
        )
        end = logs.at_end()
        assert end.startswith(
            f"logs: {tmp_path / 'demo.log'}, {tmp_path / 'riverside-entry.log'}, "
            f"{tmp_path / 'riverside-exit.log'}, {tmp_path / 'central.log'}; "
        )
        assert f"the work folder {tmp_path} stays" in end

    def test_verbose_has_no_demo_log(self, tmp_path: Path) -> None:
        logs = DemoLogs(tmp_path, verbose=True)
        assert logs.at_start().startswith("logs: here on stderr (--verbose)")
        assert "demo.log" not in logs.at_end()
