"""The lane's MQTT connection (paho): clean start, a will, its own topics, and an inbox.

The will (the retained lane state saying offline, which the broker publishes when
the lane vanishes without a word) is built again before every connection attempt,
so its ``at`` is when that connection, the session the will ends, began: when the
lane went online, not when the process started.

paho runs its network loop in its own thread and reconnects by itself with a
growing delay, so a lane started with no broker keeps trying until one appears.
Every session starts clean: the broker is trusted with nothing, and the outbox
decides after each (re)connection what to send again. Callbacks only put
:class:`Inbound` items into a queue and wake the outbox; nothing else runs in
paho's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt.topics import CONFIG_SPEC, SPECS, LaneTopic, lane_topic
from edge.config.sync import SyncConfig
from plumbing import log
from plumbing.broker import configure_client, first_protocol, paho_protocol, refused_mqtt5

logger = log.get(__name__)

SUBSCRIBED = (LaneTopic.ACK, LaneTopic.CMD, LaneTopic.LOOKUP_REPLY, LaneTopic.ENTRIES)
UNANSWERED_FALL_BACK = 2
"""MQTT 5 CONNECTs in a row left without a CONNACK after which ``auto`` tries 3.1.1."""


@dataclass(frozen=True)
class Inbound:
    """What the connection tells the outbox: ``up``, ``down``, ``mqtt5_refused``, a
    ``message`` or ``config``.

    A ``config`` item carries the config topic it came on in ``detail``.
    """

    what: str
    kind: LaneTopic | None = None
    payload: bytes = b""
    detail: str = ""


class Link:
    """One lane's connection to the broker; ``start()`` returns at once, connected or not.

    MQTT 3.1.1 when the broker section asks for it, else MQTT 5 with a clean start.
    With ``auto``, a broker that refuses MQTT 5 is told to the outbox as
    ``mqtt5_refused``, and the outbox calls :meth:`fall_back`: a new MQTT 3.1.1 client,
    for the rest of the run (3.1.1 carries all the lane needs). Refusing is a CONNACK
    "unsupported protocol version", or leaving :data:`UNANSWERED_FALL_BACK` MQTT 5
    CONNECTs in a row without any CONNACK until the keep-alive runs out: an MQTT 3.1.1
    broker that misreads a v5 CONNECT carrying a will, as amqtt does, answers nothing.
    With ``5`` the lane keeps trying MQTT 5.
    A password or TLS file that cannot be used raises
    :class:`~plumbing.broker.BrokerSetupError` naming the key.
    """

    def __init__(
        self,
        config: SyncConfig,
        plaza_id: str,
        lane_id: str,
        *,
        will: Callable[[], bytes],
        inbox: queue.Queue[Inbound],
        wake: threading.Event,
        config_topics: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.plaza_id = plaza_id
        self.lane_id = lane_id
        self.inbox = inbox
        self.wake = wake
        self.topics = {kind: lane_topic(plaza_id, lane_id, kind) for kind in LaneTopic}
        self._by_topic = {topic: kind for kind, topic in self.topics.items()}
        self.config_topics = config_topics
        self._pending_subscribe: int | None = None
        self._will = will
        self._environ = environ
        self.mqtt5 = first_protocol(config.broker) == "5"
        self.client = self._client()
        self._answered = False
        """Whether the broker answered the current connection's CONNECT."""
        self._unanswered = 0
        self._failing = False
        """Whether the broker is known unreachable (said once per outage, not per try)."""

    def _client(self) -> mqtt.Client:
        session: dict[str, Any] = {} if self.mqtt5 else {"clean_session": True}
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"lanewarden-{self.plaza_id}-{self.lane_id}",
            protocol=paho_protocol("5" if self.mqtt5 else "3.1.1"),
            **session,
        )
        client.on_pre_connect = self._set_will
        configure_client(client, self.config.broker, self._environ)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(2 * self.config.window + 8)
        client.max_queued_messages_set(4 * self.config.window + 16)  # bounded: see publish()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        return client

    def start(self) -> None:
        broker = self.config.broker
        fresh: dict[str, Any] = {"clean_start": True} if self.mqtt5 else {}
        self.client.connect_async(broker.host, broker.port, broker.keepalive_s, **fresh)
        self.client.loop_start()

    def fall_back(self, why: str) -> None:
        """From the outbox's thread: the broker refused MQTT 5; connect with 3.1.1 instead."""
        if not self.mqtt5:
            return
        self.client.disconnect()
        self.client.loop_stop()
        self.mqtt5 = False
        self.client = self._client()
        logger.warning(
            "sync_mqtt5_refused",
            host=self.config.broker.host,
            port=self.config.broker.port,
            why=why,
            note="the broker does not speak MQTT 5 (protocol auto): connecting with MQTT 3.1.1",
        )
        self.start()

    def stop(self, last_words: bytes | None, timeout_s: float = 2.0) -> None:
        """Say ``last_words`` on the state topic (when connected), disconnect cleanly, stop."""
        client = self.client
        if last_words is not None and client.is_connected():
            info = client.publish(self.topics[LaneTopic.STATE], last_words, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                logger.warning("sync_last_state_not_sent", error=str(exc))
        client.disconnect()
        client.loop_stop()

    def publish(self, kind: LaneTopic, payload: bytes) -> bool:
        """Hand ``payload`` to paho for ``kind``'s topic; False when not connected."""
        spec = SPECS[kind]
        info = self.client.publish(self.topics[kind], payload, qos=spec.qos, retain=spec.retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    # -- paho's thread --------------------------------------------------------------------

    def _set_will(self, client: mqtt.Client, _u: Any) -> None:
        """Before each connection attempt: the will of the session about to begin."""
        client.will_set(self.topics[LaneTopic.STATE], self._will(), qos=1, retain=True)

    def _put(self, item: Inbound) -> None:
        self.inbox.put(item)
        self.wake.set()

    def _may_fall_back(self) -> bool:
        return self.mqtt5 and self.config.broker.protocol == "auto"

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self._answered = True
        self._unanswered = 0
        if reason.is_failure:
            if self._may_fall_back() and refused_mqtt5(reason):
                self._put(Inbound("mqtt5_refused", detail=str(reason)))
                return
            logger.warning("sync_connect_refused", reason=str(reason))
            return
        self._failing = False
        wanted: list[tuple[str, int]] = [(self.topics[k], SPECS[k].qos) for k in SUBSCRIBED]
        wanted += [(topic, CONFIG_SPEC.qos) for topic in self.config_topics]
        result, mid = client.subscribe(wanted)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.warning("sync_subscribe_failed", result=str(result))
            return
        self._pending_subscribe = mid

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        if not self._failing:
            self._failing = True
            logger.warning(
                "sync_broker_unreachable",
                host=self.config.broker.host,
                port=self.config.broker.port,
                note="trying again; records are kept until central acks them",
            )

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        if mid != self._pending_subscribe:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            logger.error("sync_subscribe_refused", reasons=refused)
            return
        self._put(Inbound("up"))

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if not self._answered and reason.is_failure:  # not our own disconnect()
            self._unanswered += 1
            logger.warning(
                "sync_connect_unanswered",
                mqtt="5" if self.mqtt5 else "3.1.1",
                tries=self._unanswered,
                reason=str(reason),
            )
            if self._may_fall_back() and self._unanswered >= UNANSWERED_FALL_BACK:
                why = f"{self._unanswered} MQTT 5 CONNECTs unanswered ({reason})"
                self._put(Inbound("mqtt5_refused", detail=why))
        self._answered = False
        self._put(Inbound("down", detail=str(reason)))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic in self.config_topics:
            self._put(Inbound("config", payload=bytes(message.payload), detail=message.topic))
            return
        kind = self._by_topic.get(message.topic)
        if kind is None:
            logger.warning("sync_message_on_unknown_topic", topic=message.topic)
            return
        self._put(Inbound("message", kind, bytes(message.payload)))
