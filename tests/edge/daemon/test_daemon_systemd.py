"""The systemd units: the lane daemon's template unit, central's unit and the simulators'."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from needs import program
from paths import REPO

from central.commands import run as central_run
from edge.commands.edge_run import EXIT_CONFIG, EXIT_STORE
from fleet.priority import LANE_CPU_WEIGHT
from plumbing.cli import build_parser

UNITS = REPO / "systemd"
INSTALLED = "/opt/lanewarden/venv/bin/lanewarden"


def settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit file (keys may repeat), comments skipped."""
    found: dict[str, list[str]] = {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def command_of(unit: Path) -> list[str]:
    (exec_start,) = settings(unit)["ExecStart"]
    words = shlex.split(exec_start)
    assert words[0] == INSTALLED
    return words[1:]


class TestLaneUnit:
    """One template unit runs one lane, notify-type, watched, hardened."""

    unit = UNITS / "lanewarden-edge@.service"

    def test_runs_the_instance_lane_file(self) -> None:
        args = build_parser().parse_args(command_of(self.unit))
        assert args.config == "/etc/lanewarden/lanes/%i.toml"
        assert args.func.__module__ == "edge.commands.edge_run"

    def test_notify_watchdog_and_restart(self) -> None:
        s = settings(self.unit)
        assert s["Type"] == ["notify"]
        assert s["WatchdogSec"] == ["10"]
        assert s["Restart"] == ["on-failure"]
        assert s["RestartPreventExitStatus"] == [f"{EXIT_CONFIG} {EXIT_STORE}"]

    def test_hardening(self) -> None:
        s = settings(self.unit)
        expected = {
            "ProtectSystem": ["strict"],
            "NoNewPrivileges": ["yes"],
            "PrivateTmp": ["yes"],
            "User": ["lanewarden"],
            "SupplementaryGroups": ["dialout gpio"],
            "ReadWritePaths": ["/var/lib/lanewarden"],
        }
        assert {key: s.get(key) for key in expected} == expected

    def test_cpu_weight_is_the_one_the_lane_bench_gives(self) -> None:
        assert settings(self.unit)["CPUWeight"] == [str(LANE_CPU_WEIGHT)]

    def test_every_simulator_has_a_unit_that_parses(self) -> None:
        for name in ("io", "camera", "gateway"):
            unit = UNITS / f"lanewarden-sim-{name}.service"
            args = build_parser().parse_args(command_of(unit))
            assert args.sim_command == name
            assert settings(unit)["NoNewPrivileges"] == ["yes"]


class TestCentralUnit:
    """Central's unit runs central run on /etc/lanewarden/central.toml, notify-type, hardened."""

    unit = UNITS / "lanewarden-central.service"

    def test_runs_central(self) -> None:
        args = build_parser().parse_args(command_of(self.unit))
        assert args.config == "/etc/lanewarden/central.toml"
        assert args.func is central_run.run

    def test_notify_watchdog_and_restart(self) -> None:
        s = settings(self.unit)
        assert (s["Type"], s["WatchdogSec"], s["Restart"]) == (["notify"], ["10"], ["on-failure"])
        assert s["RestartPreventExitStatus"] == [str(central_run.EXIT_CONFIG)]
        # The main loop pings every TICK_S: well inside half the watchdog.
        assert central_run.TICK_S < 10 / 2

    def test_hardening_and_state(self) -> None:
        s = settings(self.unit)
        expected = {
            "ProtectSystem": ["strict"],
            "NoNewPrivileges": ["yes"],
            "PrivateDevices": ["yes"],
            "User": ["lanewarden"],
            "StateDirectory": ["lanewarden/central"],
            "WorkingDirectory": ["/var/lib/lanewarden/central"],
            "ReadWritePaths": ["/var/lib/lanewarden/central"],
        }
        assert {key: s.get(key) for key in expected} == expected


def test_systemd_analyze_finds_nothing_but_the_install_path(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on every unit, with the installed command replaced."""
    analyze = program("systemd-analyze", "systemd")
    names = []
    for unit in UNITS.glob("*.service"):
        name = unit.name.replace("@.", "@riverside-exit.")
        (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, "/bin/true"))
        names.append(str(tmp_path / name))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "Failed to" not in line and "not running" not in line.lower()
    ]
    assert problems == [], result.stderr
