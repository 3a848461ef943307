"""The MQTT topic tree (ARCHITECTURE.md "MQTT topics"): names, QoS and retain, once.

Every topic sits under :data:`PREFIX`. A lane's topics are
``{PREFIX}/{plaza}/{lane}/{kind}``; configuration is published retained on
``{PREFIX}/{plaza}/config`` (one plaza) and ``{PREFIX}/config`` (the whole network).
Plaza and lane ids are one topic level each (``contracts.ids.SITE_ID_PATTERN``
admits no ``/``, ``+`` or ``#``), so a topic names its lane unambiguously and a
broker ACL can confine a lane to its own subtree (:func:`lane_subtree`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from contracts.ids import SITE_ID_PATTERN

PREFIX = "lanewarden/v1"
NETWORK_CONFIG_TOPIC = f"{PREFIX}/config"

Direction = Literal["edge_to_central", "central_to_edge"]


class LaneTopic(StrEnum):
    """The last level(s) of a lane's topic."""

    STATE = "state"
    TXN = "txn"
    EVENT = "event"
    TELEMETRY = "telemetry"
    ACK = "ack"
    CMD = "cmd"
    CMD_RESULT = "cmd/result"
    LOOKUP = "lookup"
    LOOKUP_REPLY = "lookup/reply"
    ENTRIES = "entries"


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is published: QoS, retain flag and who publishes it."""

    qos: Literal[0, 1]
    retain: bool
    direction: Direction


SPECS: dict[LaneTopic, TopicSpec] = {
    LaneTopic.STATE: TopicSpec(1, True, "edge_to_central"),
    LaneTopic.TXN: TopicSpec(1, False, "edge_to_central"),
    LaneTopic.EVENT: TopicSpec(1, False, "edge_to_central"),
    LaneTopic.TELEMETRY: TopicSpec(0, False, "edge_to_central"),
    LaneTopic.ACK: TopicSpec(1, False, "central_to_edge"),
    LaneTopic.CMD: TopicSpec(1, False, "central_to_edge"),
    LaneTopic.CMD_RESULT: TopicSpec(1, False, "edge_to_central"),
    # A remote entry lookup and its answer: never retained (an answer is for one request,
    # now); QoS 1 so a lost packet costs no timeout (a repeat is answered again, by id).
    LaneTopic.LOOKUP: TopicSpec(1, False, "edge_to_central"),
    LaneTopic.LOOKUP_REPLY: TopicSpec(1, False, "central_to_edge"),
    # The entries and exits of the site's other lanes, replicated by central: not
    # retained (a lane that was away falls back to the tariff's rule, as offline).
    LaneTopic.ENTRIES: TopicSpec(1, False, "central_to_edge"),
}
CONFIG_SPEC = TopicSpec(1, True, "central_to_edge")
"""Both configuration topics: retained, so a lane that connects gets the version in force."""

_SITE_ID = re.compile(SITE_ID_PATTERN)
_KINDS = "|".join(re.escape(kind.value) for kind in LaneTopic)
_LANE_TOPIC = re.compile(rf"^{re.escape(PREFIX)}/([^/]+)/([^/]+)/({_KINDS})$")


class TopicError(ValueError):
    """A topic that is not one of the tree's, or an id that cannot be a topic level."""


@dataclass(frozen=True)
class LaneAddress:
    """Which lane a topic belongs to, and which of its topics it is."""

    plaza_id: str
    lane_id: str
    kind: LaneTopic


def _site_id(what: str, value: str) -> str:
    if not _SITE_ID.match(value):
        raise TopicError(f"{what}: {value!r} is not a plaza or lane id ({SITE_ID_PATTERN})")
    return value


def lane_topic(plaza_id: str, lane_id: str, kind: LaneTopic) -> str:
    """The topic of ``kind`` for one lane."""
    return f"{PREFIX}/{_site_id('plaza', plaza_id)}/{_site_id('lane', lane_id)}/{kind.value}"


def plaza_config_topic(plaza_id: str) -> str:
    return f"{PREFIX}/{_site_id('plaza', plaza_id)}/config"


def lane_subtree(plaza_id: str, lane_id: str) -> str:
    """The filter of every topic of one lane (for ACLs)."""
    return f"{PREFIX}/{_site_id('plaza', plaza_id)}/{_site_id('lane', lane_id)}/#"


def lane_filter(kind: LaneTopic, plaza_id: str = "+", lane_id: str = "+") -> str:
    """A subscription filter for ``kind``: every lane by default, or one plaza or lane."""
    plaza = plaza_id if plaza_id == "+" else _site_id("plaza", plaza_id)
    lane = lane_id if lane_id == "+" else _site_id("lane", lane_id)
    return f"{PREFIX}/{plaza}/{lane}/{kind.value}"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: the broker hands each message to one group member."""
    return f"$share/{_site_id('group', group)}/{topic_filter}"


def parse_lane_topic(topic: str) -> LaneAddress:
    """The lane and kind a topic names; :class:`TopicError` naming what does not fit."""
    match = _LANE_TOPIC.match(topic)
    if match is None:
        raise TopicError(f"topic {topic!r} is not {PREFIX}/<plaza>/<lane>/<kind>")
    plaza, lane, kind = match.groups()
    return LaneAddress(_site_id("plaza", plaza), _site_id("lane", lane), LaneTopic(kind))
