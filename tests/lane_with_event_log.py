"""``lanewarden edge run`` that keeps the lane machine's event log, for the replay test.

``python tests/lane_with_event_log.py LANE_FILE LOG_FILE``: the same daemon
(:func:`edge.daemon.runner.run_lane`, JSON logs, exit 0 when it stopped cleanly),
with a :class:`event_log.PickledStepLog` appending to ``LOG_FILE``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from event_log import PickledStepLog

from edge.config.lane import load_lane
from edge.daemon.lane_daemon import LaneDaemon
from edge.daemon.runner import run_lane
from plumbing import log


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: lane_with_event_log.py LANE_FILE LOG_FILE", file=sys.stderr)
        return 2
    lane_file, log_file = argv
    log.configure(level="info", fmt="json")
    files = load_lane(lane_file)
    with PickledStepLog(Path(log_file)) as steps:
        clean = asyncio.run(run_lane(LaneDaemon(files, step_log=steps)))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
