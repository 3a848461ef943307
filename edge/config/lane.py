"""One lane's configuration: its kind, policy, devices and the files it refers to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator

from contracts.ids import LaneId
from contracts.network import Network
from contracts.schema import ConfigModel
from contracts.tariff import Tariff
from drivers.config import (
    BarrierConfig,
    CameraConfig,
    DeviceSections,
    DisplayConfig,
    IOModuleConfig,
    LoopsConfig,
)
from edge.config.control import ControlConfig, socket_path
from edge.config.degraded import DegradedPolicy
from edge.config.evidence import EvidenceConfig
from edge.config.plaza import PlazaConfig
from edge.config.sync import SyncConfig
from edge.lane.policy import DegradedReads, LaneKind, LanePolicy
from edge.payments.config import GatewayConfig, Method, PaymentPolicy
from models.config import RecognitionConfig
from plumbing.config import ConfigError, load
from plumbing.metrics import MetricsConfig


class LanePayments(ConfigModel):
    """How vehicles pay at this lane: the payment chain's policy and the QR gateway."""

    policy: PaymentPolicy = Field(
        default_factory=PaymentPolicy,
        title="Payment policy",
        description="Methods tried in order and when post-pay is allowed.",
    )
    gateway: GatewayConfig | None = Field(
        None,
        title="QR gateway",
        description="The payment gateway; required when the methods include qr.",
    )


class LaneConfig(ConfigModel):
    kind: str = Field("lane", pattern="^lane$", title="Kind", description="Always `lane`.")
    id: LaneId = Field(
        title="Lane id",
        description="Unique id, used in MQTT topics and in every record.",
    )
    name: str = Field(title="Name", description="Name shown to supervisors.")
    lane_kind: LaneKind = Field(
        title="Lane kind",
        description="parking_entry, parking_exit, highway_entry, highway_exit or open_plaza.",
    )
    plaza: str = Field(
        title="Plaza file", description="Path of the plaza file, relative to this file."
    )
    tariff: str | None = Field(
        None,
        title="Tariff file",
        description="Path of the tariff file, relative to this file; required where vehicles pay.",
    )
    store: str = Field(
        title="Store path",
        description="SQLite database of this lane (relative paths are relative to the working directory).",
    )
    policy: LanePolicy = Field(
        default_factory=LanePolicy, title="Policy", description="How the lane decides."
    )
    recognition: RecognitionConfig = Field(
        title="Plate recognition", description="Plate reader settings."
    )
    io: IOModuleConfig | None = Field(
        None, title="I/O module", description="The lane's I/O module, when it has one."
    )
    barrier: BarrierConfig = Field(title="Barrier", description="The barrier controller.")
    loops: LoopsConfig = Field(title="Loops", description="The loop detectors.")
    camera: CameraConfig = Field(title="Camera", description="The plate camera.")
    display: DisplayConfig | None = Field(
        None, title="Display", description="The LED message display, when the lane has one."
    )
    payments: LanePayments | None = Field(
        None,
        title="Payments",
        description="How vehicles pay (lanes where vehicles pay); absent: permits and prepaid "
        "accounts only, no QR gateway.",
    )
    degraded: DegradedPolicy = Field(
        default_factory=DegradedPolicy,
        title="Degraded modes",
        description="What the lane does when its camera, plate reader or store is degraded.",
    )
    evidence: EvidenceConfig | None = Field(
        None,
        title="Evidence",
        description="Evidence images of every passage and the retention of images and plate "
        "text; absent: no images are kept and plate text is not pseudonymised.",
    )
    metrics: MetricsConfig | None = Field(
        None,
        title="Metrics",
        description="The Prometheus metrics endpoint; absent: no endpoint (lanes sharing a "
        "computer each need their own port).",
    )
    control: ControlConfig | None = Field(
        None,
        title="Control socket",
        description="The local socket for operator commands (lanewarden edge ctl); absent: "
        "ctl-<lane id>.sock beside the store, group lanewarden.",
    )

    sync: SyncConfig | None = Field(
        None,
        title="Sync",
        description="The MQTT broker through which the lane hands its records to central; "
        "absent: the lane does not sync and keeps every record.",
    )

    @model_validator(mode="after")
    def _degraded_reads_in_degraded(self) -> LaneConfig:
        if "degraded_reads" in self.policy.model_fields_set:
            raise ValueError(
                "policy.degraded_reads: set under [degraded] (camera_dark, recognition_failing)"
            )
        return self

    def machine_policy(self) -> LanePolicy:
        """The policy the lane machine decides with: ``[policy]``, and ``[degraded]``'s outcomes
        for a plate a fault kept from being read."""
        reads = DegradedReads(
            camera_dark=self.degraded.camera_dark,
            recognition_failing=self.degraded.recognition_failing,
        )
        return self.policy.model_copy(update={"degraded_reads": reads})

    def control_socket(self) -> Path:
        """Where this lane's control socket is."""
        return socket_path(self.control, self.id, self.store)

    def device_sections(self) -> DeviceSections:
        """The sections the lane's drivers are built from (drivers never see the rest)."""
        return DeviceSections(
            loops=self.loops,
            barrier=self.barrier,
            camera=self.camera,
            io=self.io,
            display=self.display,
        )

    def payment_settings(self) -> LanePayments:
        """The payments section, or the default for a lane without one (no QR gateway)."""
        if self.payments is not None:
            return self.payments
        return LanePayments(policy=PaymentPolicy(methods=(Method.PERMIT, Method.PREPAID)))


@dataclass(frozen=True)
class LaneFiles:
    """A lane's configuration with the files it refers to, all validated."""

    path: Path
    lane: LaneConfig
    plaza: PlazaConfig
    tariff: Tariff | None
    network: Network | None


def load_lane(path: Path | str) -> LaneFiles:
    """Load a lane file and the plaza, network and tariff files it names; check they agree."""
    path = Path(path)
    lane = load(path, LaneConfig)
    plaza_path = path.parent / lane.plaza
    plaza = load(plaza_path, PlazaConfig)
    network = load(plaza_path.parent / plaza.network, Network) if plaza.network else None
    tariff = load(path.parent / lane.tariff, Tariff) if lane.tariff else None
    problems = []
    if lane.id not in plaza.lanes:
        problems.append(
            f"id: lane {lane.id!r} is not listed in {plaza_path} (lanes = {plaza.lanes})"
        )
    if network is not None and plaza.id not in {p.id for p in network.plazas}:
        problems.append(f"plaza: plaza {plaza.id!r} is not in its network file {plaza.network}")
    if lane.lane_kind.charges and tariff is None:
        problems.append(f"tariff: required for a {lane.lane_kind.value} lane")
    if tariff is not None:
        if tariff.currency != plaza.currency:
            problems.append(
                f"tariff: {lane.tariff} charges in {tariff.currency}, the plaza in {plaza.currency}"
            )
        if tariff.timezone != plaza.timezone:
            problems.append(
                f"tariff: {lane.tariff} is in time zone {tariff.timezone}, the plaza in {plaza.timezone}"
            )
    payments = lane.payments
    if payments is not None and Method.QR in payments.policy.methods and payments.gateway is None:
        problems.append("payments.gateway: required when payments.policy.methods has qr")
    uses_io = lane.barrier.type == "io" or lane.loops.type == "io"
    if uses_io and lane.io is None:
        problems.append("io: required when the barrier or the loops are on the I/O module")
    if problems:
        raise ConfigError(path, problems)
    return LaneFiles(path=path, lane=lane, plaza=plaza, tariff=tariff, network=network)
