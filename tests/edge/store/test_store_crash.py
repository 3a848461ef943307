"""A writer killed with SIGKILL mid-stream leaves a store that opens, verifies and keeps
every record it reported committed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.store import Store
from edge.store.verify import verify

# The child appends records for two lanes sharing one database and prints each one
# after append_transaction returns (that is, after the durable commit).
WRITER = """
import sys
from datetime import UTC, datetime
from edge.commands.bench_store import sample_transactions
from edge.store import Store

store = Store.open(sys.argv[1])
for n, txn in enumerate(sample_transactions(100_000, datetime.now(UTC))):
    lane = "crash-a" if n % 2 else "crash-b"
    record = store.append_transaction(txn.model_copy(update={"lane_id": lane}))
    print(record.lane_id, record.lane_seq, record.id, flush=True)
"""


def committed_lines(stdout: bytes) -> list[tuple[str, int, str]]:
    """The complete lines the child printed (a line cut by the kill is not a report)."""
    lines = stdout.decode().split("\n")[:-1]
    return [(lane, int(seq), rid) for lane, seq, rid in (line.split() for line in lines)]


@pytest.mark.slow
class TestKilledWriter:
    """SIGKILL in the middle of a stream of writes loses nothing that was committed."""

    @pytest.mark.parametrize("kill_after", [1, 40])
    def test_store_survives_sigkill(self, tmp_path: Path, kill_after: int) -> None:
        path = tmp_path / "site.db"
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as child:
            try:
                assert child.stdout is not None
                seen = b""
                while seen.count(b"\n") < kill_after:
                    line = child.stdout.readline()
                    assert line, (
                        f"writer ended early: {child.stderr.read() if child.stderr else ''}"
                    )
                    seen += line
                child.send_signal(signal.SIGKILL)
                rest, _ = child.communicate()
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            assert child.returncode == -signal.SIGKILL
        reported = committed_lines(seen + rest)
        assert len(reported) >= kill_after

        report = verify(path)
        assert report.ok, [str(b) for b in report.breaks]
        with Store.open(path) as store:
            stored = {
                (r.lane_id, r.lane_seq): str(r.id)
                for lane in ("crash-a", "crash-b")
                for r in store.transactions(lane, limit=1_000_000)
            }
        for lane, seq, record_id in reported:
            assert stored.get((lane, seq)) == record_id
