"""The broker's side of lane isolation: Mosquitto ACL, password file and credentials.

``lanewarden central broker-config`` writes them for a set of lanes so that a lane
can publish only its own edge→central topics and read only its own central→edge
topics and its configuration (issue 16). The pieces: :mod:`.lanes` reads the lane
ids and plaza ids from lane files, :mod:`.acl` renders the rules from the topic
tree, :mod:`.passwd` hashes passwords as Mosquitto 2 does, and :mod:`.bundle`
writes the files.
"""
