"""How a lane reaches central: the broker (the shared ``[broker]`` model) and the outbox's pace.

A lane file without a ``[sync]`` section does not sync: the lane works on its
own, as a lane always can, and keeps every record for a later sync. With one,
``[sync.broker]`` says where the broker is and how to log in, exactly as
central's ``[broker]`` does (:mod:`plumbing.broker`): the password is never in
the file but in a ``password_file`` or a systemd credential, and a ``password``
key is refused saying so.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from contracts.mqtt.payloads import MAX_BATCH
from contracts.schema import ConfigModel
from plumbing.broker import BrokerConfig


class SyncConfig(ConfigModel):
    """The MQTT broker this lane syncs through, and how the outbox paces its records."""

    broker: BrokerConfig = Field(
        title="Broker",
        description="Where the MQTT broker is and how the lane logs in (as central's [broker]); "
        "protocol auto tries MQTT 5 and falls back to 3.1.1 when the broker refuses it, or leaves "
        "two MQTT 5 CONNECTs unanswered for a keep-alive each (amqtt, with the lane's will): "
        "give 3.1.1 for such a broker to connect at once.",
    )
    batch_size: int = Field(
        500, ge=1, le=MAX_BATCH, title="Batch size", description="Records in one message."
    )
    window: int = Field(
        8, ge=1, le=64, title="Window", description="Batches per stream sent but not yet acked."
    )
    resend_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        title="Resend timeout",
        description="Unacked records are sent again after this; doubled at each try.",
    )
    resend_max_s: float = Field(
        300.0, gt=0, title="Resend ceiling", description="The longest wait between two tries."
    )
    telemetry_s: float = Field(
        5.0, gt=0, le=3600, title="Telemetry period", description="Seconds between two reports."
    )
    poll_s: float = Field(
        0.2,
        gt=0,
        le=10,
        title="Poll period",
        description="How often the outbox looks for new records when not woken sooner.",
    )

    lookup_timeout_s: float = Field(
        1.5,
        gt=0,
        le=10,
        title="Entry lookup timeout",
        description="How long a highway exit with no entry of its own waits for central's "
        "answer before the tariff's rule for a missing entry prices the exit.",
    )

    @model_validator(mode="after")
    def _ceiling(self) -> Self:
        if self.resend_max_s < self.resend_timeout_s:
            raise ValueError("resend_max_s: must not be below resend_timeout_s")
        return self
