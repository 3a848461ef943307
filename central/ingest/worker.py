"""One ingest worker: one paho client in the shared subscription group.

The worker connects with a clean start and its own client id, subscribes to the
lanes' topics (``$share/GROUP/lanewarden/v1/+/+/txn`` and the others; plain filters
when shared subscriptions are off), hands each message to
:class:`~central.ingest.handler.Ingest` and publishes what it returns. paho runs it
on a thread of its own and reconnects with back-off; every connect subscribes
again, since a clean start leaves no session on the broker. Nothing relies on the
broker keeping messages for us: a lane resends whatever it was not acked for.

A broker that refuses MQTT 5 (an MQTT 3.1.1 broker such as the embedded amqtt), or
says it has no shared subscriptions (CONNACK property or SUBACK reason 0x9E), is
reported through ``on_no_shared`` so the service can fall back to one plain worker.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.ingest.handler import Ingest
from contracts.mqtt.topics import SPECS, LaneTopic, lane_filter, shared
from plumbing import log
from plumbing.broker import BrokerConfig, configure_client, paho_protocol, refused_mqtt5

logger = log.get(__name__)

INGESTED: tuple[LaneTopic, ...] = (
    LaneTopic.TXN,
    LaneTopic.EVENT,
    LaneTopic.STATE,
    LaneTopic.TELEMETRY,
    LaneTopic.CMD_RESULT,
    LaneTopic.LOOKUP,
)
"""The lanes' topics central takes (edge to central)."""

SHARED_NOT_SUPPORTED = 0x9E  # SUBACK: shared subscriptions not supported

NoShared = Callable[[str, bool], None]
"""Called with why, and whether it was MQTT 5 itself the broker refused."""


def subscription_filters(group: str | None) -> list[tuple[str, int]]:
    """The filters and QoS a worker subscribes to; plain filters when ``group`` is None."""
    filters: list[tuple[str, int]] = []
    for kind in INGESTED:
        topic_filter = lane_filter(kind)
        filters.append(
            (topic_filter if group is None else shared(group, topic_filter), SPECS[kind].qos)
        )
    return filters


def client_id(prefix: str, index: int) -> str:
    """Unique per worker across machines and restarts: prefix, host, pid, index."""
    host = socket.gethostname().split(".")[0][:20] or "host"
    return f"{prefix}-{host}-{os.getpid()}-{index}"


class Worker:
    """One MQTT client taking messages for ``ingest``."""

    def __init__(
        self,
        index: int,
        broker: BrokerConfig,
        ingest: Ingest,
        *,
        prefix: str,
        group: str | None,
        protocol: str,
        on_no_shared: NoShared | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.index = index
        self.group = group
        self.protocol = protocol
        self._broker = broker
        self._ingest = ingest
        self._on_no_shared = on_no_shared
        self.client_id = client_id(prefix, index)
        self.subscribed = threading.Event()
        self.taken = 0
        """Messages this worker has handled (read by tests and the status line)."""
        self._counted = False
        self._lock = threading.Lock()
        version = paho_protocol("5" if protocol == "5" else "3.1.1")
        kwargs: dict[str, Any] = {} if version == mqtt.MQTTv5 else {"clean_session": True}
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=version, **kwargs
        )
        configure_client(self._client, broker, environ)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._connected
        self._client.on_subscribe = self._subscribed
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message
        self._log = logger.bind(worker=index, client_id=self.client_id)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        extra: dict[str, Any] = {"clean_start": True} if self.protocol == "5" else {}
        self._client.connect_async(
            self._broker.host, self._broker.port, self._broker.keepalive_s, **extra
        )
        self._client.loop_start()
        self._log.info(
            "worker_started",
            host=self._broker.host,
            port=self._broker.port,
            mqtt=self.protocol,
            group=self.group,
        )

    def stop(self) -> None:
        """Disconnect and join paho's thread; stopping twice does nothing."""
        self._client.disconnect()
        self._client.loop_stop()
        self._uncount()
        self.subscribed.clear()

    def publish(self, topic: str, payload: bytes, qos: int) -> bool:
        """Publish through this worker's connection; False when it is not connected."""
        if not self._client.is_connected():
            return False
        info = self._client.publish(topic, payload, qos=qos)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    @property
    def connected(self) -> bool:
        return self._client.is_connected() and self.subscribed.is_set()

    # -- paho callbacks (paho's thread) ----------------------------------------------------

    def _connected(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._log.warning("broker_refused", reason=str(reason), code=reason.value)
            if refused_mqtt5(reason) and self.group is not None:
                self._no_shared(f"the broker refused MQTT 5 ({reason})", mqtt5_refused=True)
            return
        available = getattr(properties, "SharedSubscriptionAvailable", 1)
        if self.group is not None and available == 0:
            self._no_shared("the broker says it has no shared subscriptions (CONNACK)")
            return
        self._log.info("broker_connected")
        client.subscribe(subscription_filters(self.group))

    def _subscribed(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if any(r.value == SHARED_NOT_SUPPORTED for r in failed) and self.group is not None:
            self._no_shared("the broker refused the shared subscription (SUBACK 0x9E)")
            return
        if failed:
            self._log.error("subscription_refused", reasons=[str(r) for r in failed])
            return
        self.subscribed.set()
        with self._lock:
            if not self._counted:
                self._counted = True
                self._ingest.metrics.workers_connected.inc()
        self._log.info("subscribed", filters=len(reasons))

    def _disconnected(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.subscribed.clear()
        self._uncount()
        self._log.info("broker_disconnected", reason=str(reason))

    def _message(self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.taken += 1
        try:
            answers = self._ingest.handle(message.topic, bytes(message.payload))
        except Exception:
            # The database failed (or a bug): this message is not acked, so its lane sends
            # it again; the worker stays up for the next one.
            self._ingest.metrics.store_failures.inc()
            self._log.exception("message_failed", topic=message.topic[:200])
            return
        for answer in answers:
            client.publish(answer.topic, answer.payload, qos=answer.qos)

    def _no_shared(self, why: str, *, mqtt5_refused: bool = False) -> None:
        if self._on_no_shared is not None:
            self._on_no_shared(why, mqtt5_refused)

    def _uncount(self) -> None:
        with self._lock:
            if self._counted:
                self._counted = False
                self._ingest.metrics.workers_connected.dec()
