"""The lane's MQTT connection (paho): clean start, a will, its own topics, and an inbox.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt.topics import CONFIG_SPEC, SPECS, LaneTopic, lane_topic
from edge.config.sync import SyncConfig
from plumbing import log
from plumbing.broker import configure_client, paho_protocol

logger = log.get(__name__)

SUBSCRIBED = (LaneTopic.ACK, LaneTopic.CMD)


@dataclass(frozen=True)
class Inbound:
    """What the connection tells the outbox: ``up``, ``down``, a ``message`` or ``config``.

    A ``config`` item carries the config topic it came on in ``detail``.
    """

    what: str
    kind: LaneTopic | None = None
    payload: bytes = b""
    detail: str = ""


class Link:
    """One lane's connection to the broker; ``start()`` returns at once, connected or not.

    MQTT 5 when the broker section asks for ``5``; otherwise (``3.1.1`` and ``auto``)
    MQTT 3.1.1, which every broker speaks and which carries all the lane needs. A
    password or TLS file that cannot be used raises
    :class:`~plumbing.broker.BrokerSetupError` naming the key.
    """

    def __init__(
        self,
        config: SyncConfig,
        plaza_id: str,
        lane_id: str,
        *,
        will: bytes,
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
        broker = config.broker
        self.mqtt5 = broker.protocol == "5"
        session: dict[str, Any] = {} if self.mqtt5 else {"clean_session": True}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"lanewarden-{plaza_id}-{lane_id}",
            protocol=paho_protocol("5" if self.mqtt5 else "3.1.1"),
            **session,
        )
        client = self.client
        client.will_set(self.topics[LaneTopic.STATE], will, qos=1, retain=True)
        configure_client(client, broker, environ)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(2 * config.window + 8)
        client.max_queued_messages_set(4 * config.window + 16)  # bounded: see publish()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        self._failing = False
        """Whether the broker is known unreachable (said once per outage, not per try)."""

    def start(self) -> None:
        broker = self.config.broker
        fresh: dict[str, Any] = {"clean_start": True} if self.mqtt5 else {}
        self.client.connect_async(broker.host, broker.port, broker.keepalive_s, **fresh)
        self.client.loop_start()

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

    def _put(self, item: Inbound) -> None:
        self.inbox.put(item)
        self.wake.set()

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
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
