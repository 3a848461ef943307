"""The lane daemon: one lane running on its own, end to end.

- :mod:`edge.daemon.lane_daemon`: the start-up sequence, the running lane, the shutdown;
- :mod:`edge.daemon.runner`: ``lanewarden edge run`` and :class:`LaneRunner` (a lane in a
  thread, for the demo and the bench);
- :mod:`edge.daemon.executor`: the shell that steps the lane machine and carries out its actions;
- :mod:`edge.daemon.recording`: machine records into the store;
- :mod:`edge.daemon.lookup`: lists, entries (local now, remote with sync) and fees;
- :mod:`edge.daemon.plates`: the plate reader in its worker thread;
- :mod:`edge.daemon.settling`: the payment chain's outcomes as the lane machine's answers;
- :mod:`edge.daemon.recovery`: passages left open by a crash or a shutdown;
- :mod:`edge.daemon.devices`, :mod:`edge.daemon.timings`, :mod:`edge.daemon.display_text`.
"""
