"""The CPU burners the load bench and the tests under load run beside a lane."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleet.burners import cpu_burners


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (not gone, not a zombie)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
class TestCpuBurners:
    """N processes burn while the block runs, each in its own session; all stop after it."""

    def test_burn_while_the_block_runs(self) -> None:
        with cpu_burners(2) as pids:
            assert len(set(pids)) == 2
            assert all(alive(pid) for pid in pids)
            assert all(os.getsid(pid) == pid for pid in pids)  # a session of its own
        assert not any(alive(pid) for pid in pids)

    def test_stop_when_the_block_fails(self) -> None:
        with pytest.raises(RuntimeError, match="scenario failed"), cpu_burners(1) as pids:
            raise RuntimeError("scenario failed")
        assert not alive(pids[0])

    def test_none_is_nothing(self) -> None:
        with cpu_burners(0) as pids:
            assert pids == []

    def test_a_negative_count_is_refused(self) -> None:
        refused = pytest.raises(ValueError, match="burner count must be 0 or more, got -1")
        with refused, cpu_burners(-1):
            raise AssertionError("the block ran")
