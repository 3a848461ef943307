"""The fleet: real lane daemons run end to end against the simulators (``lanewarden demo``,
``bench lane``, ``bench crash``).

The fleet is the top layer: it composes the lane (``edge``), the simulators and central, and
nothing imports it, so the simulators stay free of the lane and the lane of the simulators.

- :mod:`fleet.site`: the demo, a parking entry and exit lane sharing one store;
- :mod:`fleet.traffic`: the demo's vehicles, and the lines it prints for each;
- :mod:`fleet.bench`: the lane benchmark (latency, read rate, capacity, memory);
- :mod:`fleet.rig`: one lane's simulators in this process, stamping barrier opens;
- :mod:`fleet.driving`: a vehicle driven through a lane, and the lane's record of it;
- :mod:`fleet.lane_files`: lane files derived from the shipped Riverside lanes;
- :mod:`fleet.lane_process`: a lane daemon as its own process, ready by sd_notify;
- :mod:`fleet.plates`: the demo's plates (rendered), and the shipped plate photos;
- :mod:`fleet.screen`: everything the demo prints for people, and its progress line;
- :mod:`fleet.crash`: the crash bench, a paying exit killed under traffic;
- :mod:`fleet.commands`: the ``lanewarden`` subcommands above.
"""
