"""Running a lane: in the foreground (``lanewarden edge run``) or in a thread (demo, bench).

:func:`run_lane` is the daemon's main: start, serve until SIGTERM/SIGINT or a
failure of the running lane, stop. :class:`LaneRunner` runs the same lane in a
background thread with its own event loop, for programs that start several
lanes in one process: ``runner.start()`` returns once the lane is up (or raises
:class:`~edge.daemon.lane_daemon.StartupError`), ``runner.stop()`` stops it
cleanly.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from edge.config.lane import LaneFiles
from edge.daemon.lane_daemon import LaneDaemon
from plumbing import log
from plumbing.loop_thread import LoopThread

logger = log.get(__name__)


async def serve(daemon: LaneDaemon, stop: asyncio.Event) -> bool:
    """Run a started daemon until ``stop`` is set (True) or the lane fails (False); then stop it."""
    stopped = asyncio.create_task(stop.wait())
    failed = asyncio.create_task(daemon.wait_failed())
    done, _ = await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stopped, failed):
        task.cancel()
    await asyncio.gather(stopped, failed, return_exceptions=True)
    clean = stopped in done
    if not clean:
        logger.error(
            "lane_failed",
            error=repr(failed.result()) if failed.done() and not failed.cancelled() else "",
        )
    await daemon.stop()
    return clean


async def run_lane(daemon: LaneDaemon) -> bool:
    """Start, serve until SIGTERM or SIGINT, stop; False when the lane failed while running."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await daemon.start()
        return await serve(daemon, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


class LaneRunner:
    """A lane daemon in a background thread; ``kwargs`` go to :class:`LaneDaemon`."""

    def __init__(self, files: LaneFiles, **kwargs: Any) -> None:
        self.daemon = LaneDaemon(files, **kwargs)
        self.clean: bool | None = None
        self._service = LoopThread(self._main, name=f"lane-{self.daemon.lane.id}")

    def start(self) -> None:
        self._service.start()

    def stop(self) -> None:
        self._service.stop()

    async def _main(self, stop: asyncio.Event, ready: Callable[[], None]) -> None:
        await self.daemon.start()
        ready()
        self.clean = await serve(self.daemon, stop)
