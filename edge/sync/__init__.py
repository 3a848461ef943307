"""The lane's sync with central over MQTT (issue 16): outbox, state, telemetry, commands.

:class:`~edge.sync.service.SyncService` is the whole of it; the daemon starts one
when the lane file has a ``[sync]`` section (:mod:`edge.config.sync`).
"""

from edge.sync.service import LaneFacts, LaneView, SyncCounters, SyncService

__all__ = ["LaneFacts", "LaneView", "SyncCounters", "SyncService"]
