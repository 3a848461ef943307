"""``lanewarden demo`` and ``lanewarden bench lane``: lanes run end to end against the simulators.

- :mod:`edge.demo.site`: the demo, a parking entry and exit lane sharing one store;
- :mod:`edge.demo.traffic`: the demo's vehicles, and the lines it prints for each;
- :mod:`edge.demo.bench`: the lane benchmark (latency, read rate, capacity, memory);
- :mod:`edge.demo.rig`: one lane's simulators in this process, stamping barrier opens;
- :mod:`edge.demo.driving`: a vehicle driven through a lane, and the lane's record of it;
- :mod:`edge.demo.lane_files`: lane files derived from the shipped Riverside lanes;
- :mod:`edge.demo.lane_process`: a lane daemon as its own process, ready by sd_notify;
- :mod:`edge.demo.plates`: the demo's plates (rendered), and the shipped plate photos;
- :mod:`edge.demo.screen`: everything the demo prints for people, and its progress line.
"""
