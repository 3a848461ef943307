"""The lane's CPU weight as its unit gives it, applied by the benches as an autogroup nice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.priority import (
    DEFAULT_CPU_WEIGHT,
    LANE_CPU_WEIGHT,
    autogroup_nice,
    nice_weight,
    run_as_unit,
)

PID = 4242


def fake_proc(
    tmp_path: Path, *, switch: str = "1", cgroup: str = "0::/\n", autogroup_dir: bool = False
) -> Path:
    """A /proc with the autogroup switch, one process's cgroup file and its autogroup file."""
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "sys/kernel/sched_autogroup_enabled").write_text(f"{switch}\n")
    (proc / str(PID)).mkdir()
    (proc / str(PID) / "cgroup").write_text(cgroup)
    if autogroup_dir:
        (proc / str(PID) / "autogroup").mkdir()
    else:
        (proc / str(PID) / "autogroup").write_text("/autogroup-7 nice 0\n")
    return proc


class TestWeights:
    """A CPU weight maps to the nearest nice step (1.25x each), 100 to nice 0."""

    def test_default_is_nice_zero(self) -> None:
        assert autogroup_nice(DEFAULT_CPU_WEIGHT) == 0
        assert nice_weight(0) == DEFAULT_CPU_WEIGHT

    def test_the_units_weight(self) -> None:
        assert autogroup_nice(300) == -5
        assert nice_weight(-5) == 305  # the kernel's 3121 against 1024

    def test_lighter_than_default(self) -> None:
        assert autogroup_nice(50) == 3
        assert nice_weight(3) == 51

    def test_ends_of_the_scale(self) -> None:
        assert autogroup_nice(1) == 19
        assert autogroup_nice(10_000) == -20

    @pytest.mark.parametrize("weight", [0, -1, 10_001])
    def test_out_of_range_is_refused(self, weight: int) -> None:
        with pytest.raises(ValueError, match=rf"CPU weight is 1 to 10000.*got {weight}"):
            autogroup_nice(weight)


class TestRunAsUnit:
    """The lane's session gets the unit's weight where autogroups share the CPUs; else it
    runs at the default and says why."""

    def test_applied(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path)
        priority = run_as_unit(PID, 300, proc, tmp_path / "cgroup")
        assert priority.weight == 305
        assert "CPUWeight=300" in priority.how
        assert "autogroup nice -5" in priority.how
        assert (proc / str(PID) / "autogroup").read_text() == "-5\n"

    def test_cgroup_v1_cpu_at_the_root(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, cgroup="2:cpuacct:/x\n1:cpu:/\n0::/user.slice\n")
        assert run_as_unit(PID, 300, proc, tmp_path / "cgroup").weight == 305

    def test_autogroup_switched_off(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, switch="0")
        priority = run_as_unit(PID, 300, proc, tmp_path / "cgroup")
        assert priority.weight == DEFAULT_CPU_WEIGHT
        assert "autogroup is switched off" in priority.how
        assert (proc / str(PID) / "autogroup").read_text() == "/autogroup-7 nice 0\n"

    def test_cgroup_v1_cpu_group(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, cgroup="3:cpu,cpuacct:/lanes\n0::/\n")
        priority = run_as_unit(PID, 300, proc, tmp_path / "cgroup")
        assert priority.weight == DEFAULT_CPU_WEIGHT
        assert "CPU cgroup /lanes" in priority.how

    def test_cgroup_v2_group_with_the_cpu_controller(self, tmp_path: Path) -> None:
        cgroups = tmp_path / "cgroup"
        (cgroups / "user.slice/session-1.scope").mkdir(parents=True)
        (cgroups / "user.slice/cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        (cgroups / "user.slice/session-1.scope/cgroup.controllers").write_text("memory pids\n")
        proc = fake_proc(tmp_path, cgroup="0::/user.slice/session-1.scope\n")
        priority = run_as_unit(PID, 300, proc, cgroups)
        assert priority.weight == DEFAULT_CPU_WEIGHT
        assert "CPU cgroup /user.slice," in priority.how

    def test_cgroup_v2_group_without_it(self, tmp_path: Path) -> None:
        cgroups = tmp_path / "cgroup"
        (cgroups / "work").mkdir(parents=True)
        (cgroups / "work/cgroup.controllers").write_text("memory pids\n")
        proc = fake_proc(tmp_path, cgroup="0::/work\n")
        assert run_as_unit(PID, 300, proc, cgroups).weight == 305

    def test_no_such_process(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path)
        priority = run_as_unit(PID + 1, 300, proc, tmp_path / "cgroup")
        assert priority.weight == DEFAULT_CPU_WEIGHT
        assert "not applied" in priority.how

    def test_autogroup_cannot_be_written(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, autogroup_dir=True)
        priority = run_as_unit(PID, 300, proc, tmp_path / "cgroup")
        assert priority.weight == DEFAULT_CPU_WEIGHT
        assert "CPUWeight=300 not applied" in priority.how


@pytest.fixture
def session() -> Iterator[int]:
    """A sleeping process in a session of its own (never this test's session)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroups here")
class TestOnThisKernel:
    """On the real /proc: the weight is given with the privilege to raise it, else refused."""

    def test_a_session_of_its_own(self, session: int) -> None:
        before = Path("/proc/self/autogroup").read_text()
        priority = run_as_unit(session)
        assert Path("/proc/self/autogroup").read_text() == before
        shown = Path(f"/proc/{session}/autogroup").read_text()
        if priority.weight != DEFAULT_CPU_WEIGHT:
            assert shown.endswith(f"nice {autogroup_nice(LANE_CPU_WEIGHT)}\n")
        elif os.geteuid() != 0:
            assert shown.endswith("nice 0\n")
            assert "not applied" in priority.how
