"""The Mosquitto ACL of a set of lanes and central's users, derived from the topic tree.

Each lane's broker user is its lane id (lane ids are unique across the network:
central stores on ``(lane_id, lane_seq)``), so a lane's password file and its MQTT
username need nothing more than the lane file. A lane may write only its own
edge→central topics and read only its own central→edge topics and the two
configuration topics it applies (its plaza's and the network's). Which topic goes
which way comes from :data:`contracts.mqtt.topics.SPECS`, so a topic added there
is confined here without a change.

Central's users (ingest workers, the console) read every lane's edge→central
topics through ``+`` filters and write every lane's central→edge topics and the
configuration topics, so a lane added later needs no change to central's rules.

How Mosquitto 2.0 applies these (checked against mosquitto 2.0.11 in
tests/central/test_central_broker_config.py): a publish without write access is dropped
(MQTT 5: PUBACK "not authorized"); read access is checked per message at delivery
against the message's topic, so a shared subscription ``$share/central/<filter>``
needs no rule of its own (the ``$share/group/`` prefix never reaches the check),
and a subscription to another lane's topics is granted by the default ACL check
but delivers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from central.broker_config.lanes import LaneRef
from contracts.mqtt.topics import (
    NETWORK_CONFIG_TOPIC,
    PREFIX,
    SPECS,
    Direction,
    LaneTopic,
    lane_filter,
    lane_topic,
    plaza_config_topic,
)

Access = Literal["read", "write"]

ALL_PLAZA_CONFIG_TOPICS = f"{PREFIX}/+/config"
"""Every plaza's configuration topic (:func:`plaza_config_topic` with ``+`` for the plaza)."""


@dataclass(frozen=True)
class Rule:
    access: Access
    topic: str


def _kinds(direction: Direction) -> list[LaneTopic]:
    return [kind for kind, spec in SPECS.items() if spec.direction == direction]


def lane_rules(lane: LaneRef) -> list[Rule]:
    """What one lane's user may do: its own topics, one way each, and its configuration."""
    plaza, lane_id = lane.plaza_id, lane.lane_id
    rules = [Rule("write", lane_topic(plaza, lane_id, k)) for k in _kinds("edge_to_central")]
    rules += [Rule("read", lane_topic(plaza, lane_id, k)) for k in _kinds("central_to_edge")]
    rules.append(Rule("read", plaza_config_topic(lane.plaza_id)))
    rules.append(Rule("read", NETWORK_CONFIG_TOPIC))
    return rules


def central_rules() -> list[Rule]:
    """What central's users may do: read every lane's reports, write every lane's orders."""
    rules = [Rule("read", lane_filter(kind)) for kind in _kinds("edge_to_central")]
    rules += [Rule("write", lane_filter(kind)) for kind in _kinds("central_to_edge")]
    rules.append(Rule("write", ALL_PLAZA_CONFIG_TOPICS))
    rules.append(Rule("write", NETWORK_CONFIG_TOPIC))
    return rules


def render_acl(lanes: Sequence[LaneRef], central_users: Iterable[str]) -> str:
    """The ``acl_file`` text: one ``user`` block per central user, then one per lane."""
    out = [
        "# Written by `lanewarden central broker-config`; regenerate it rather than edit it.",
        "# No rule before the first `user` line: anonymous clients get nothing.",
    ]
    blocks = [(user, "central", central_rules()) for user in central_users]
    blocks += [
        (lane.lane_id, f"lane {lane.lane_id} of plaza {lane.plaza_id}", lane_rules(lane))
        for lane in lanes
    ]
    for user, what, rules in blocks:
        out += ["", f"# {what}", f"user {user}"]
        out += [f"topic {rule.access} {rule.topic}" for rule in rules]
    return "\n".join(out) + "\n"
