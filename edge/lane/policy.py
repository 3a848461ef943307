"""The lane's policy as the pure machine reads it: its kind and the rules it applies.

These types belong to the core (``edge.lane`` decides with them); the lane file's
models in :mod:`edge.config` embed them, so the machine needs no device, model or
payment configuration to be imported.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from contracts.schema import ConfigModel


class LaneKind(StrEnum):
    PARKING_ENTRY = "parking_entry"
    PARKING_EXIT = "parking_exit"
    HIGHWAY_ENTRY = "highway_entry"
    HIGHWAY_EXIT = "highway_exit"
    OPEN_PLAZA = "open_plaza"

    @property
    def charges(self) -> bool:
        """Whether a vehicle pays at this lane (entries only record)."""
        return self in (LaneKind.PARKING_EXIT, LaneKind.HIGHWAY_EXIT, LaneKind.OPEN_PLAZA)


class UnreadablePlate(StrEnum):
    DENY_AND_CALL = "deny_and_call"
    ADMIT_FOR_REVIEW = "admit_for_review"
    OFFER_HELP = "offer_help"


class UnreadOutcome(StrEnum):
    """What happens to a vehicle whose plate the lane cannot read because of a fault."""

    DENY_AND_CALL = "deny_and_call"
    ADMIT_FOR_REVIEW = "admit_for_review"


class UnreadCause(StrEnum):
    """The fault that kept a plate from being read (a degraded mode of the lane)."""

    CAMERA_DARK = "camera_dark"  # the camera gives no frames
    RECOGNITION_FAILING = "recognition_failing"  # the plate reader fails on the frames


class DegradedReads(ConfigModel):
    """The outcome for a vehicle whose plate a fault kept from being read, by the fault."""

    camera_dark: UnreadOutcome = Field(
        UnreadOutcome.DENY_AND_CALL,
        title="Camera dark",
        description="A vehicle arriving while the camera gives no frames: deny_and_call keeps "
        "the barrier down and calls an operator; admit_for_review lets it through, flagged.",
    )
    recognition_failing: UnreadOutcome = Field(
        UnreadOutcome.DENY_AND_CALL,
        title="Recognition failing",
        description="A vehicle whose frames the plate reader could not process (reader error): "
        "deny_and_call or admit_for_review.",
    )

    def outcome(self, cause: UnreadCause) -> UnreadOutcome:
        """The outcome for a plate that ``cause`` kept from being read."""
        if cause is UnreadCause.CAMERA_DARK:
            return self.camera_dark
        return self.recognition_failing


class LanePolicy(ConfigModel):
    unreadable_plate: UnreadablePlate = Field(
        UnreadablePlate.DENY_AND_CALL,
        title="Unreadable plate",
        description="deny_and_call: keep the barrier down and call for help; "
        "admit_for_review: let the vehicle through and record it for review; "
        "offer_help: keep the barrier down, tell the driver to scan the QR code and type the "
        "plate (pay by plate) or wait for help, raise an assistance alarm, and wait help_wait_s "
        "for the typed plate or an operator (then deny_and_call).",
    )
    help_wait_s: float = Field(
        300.0,
        gt=0,
        title="Help wait",
        description="With offer_help: how long a vehicle whose plate was not read waits for a "
        "typed plate or an operator before it is denied and help is called again (s).",
    )
    anti_passback: bool = Field(
        True,
        title="Anti-passback",
        description="Refuse a plate that enters again without having exited.",
    )
    fail_open: bool = Field(
        False,
        title="Fail open",
        description="Raise the barrier for every vehicle when the lane cannot decide (recorded).",
    )
    safe_position: str = Field(
        "closed",
        pattern="^(closed|open)$",
        title="Safe barrier position",
        description="Where the barrier is left on shutdown: closed or open.",
    )
    plate_read_timeout_s: float = Field(
        3.0, gt=0, title="Plate read timeout", description="Wait this long for a plate read (s)."
    )
    payment_timeout_s: float = Field(
        90.0, gt=0, title="Payment timeout", description="Wait this long for a payment (s)."
    )
    payment_attempts: int = Field(
        3,
        ge=1,
        le=10,
        title="Payment attempts",
        description="Payment requests for one vehicle (retries after errors and new tries "
        "after declines together) before an operator is called.",
    )
    pass_timeout_s: float = Field(
        30.0,
        gt=0,
        title="Pass-through timeout",
        description="After the barrier opens, the vehicle must reach the safety loop within this (s).",
    )
    loop_stuck_s: float = Field(
        300.0,
        gt=0,
        title="Loop stuck after",
        description="A loop occupied longer than this is reported stuck (s).",
    )
    degraded_reads: SkipJsonSchema[DegradedReads] = Field(
        default_factory=DegradedReads,
        title="Degraded reads",
        description="The outcomes of [degraded] camera_dark and recognition_failing, where the "
        "lane file sets them (edge.config.lane.LaneConfig.machine_policy copies them in); "
        "refused under [policy].",
    )


class StoreFullOutcome(StrEnum):
    KEEP_SERVING = "keep_serving"
    CLOSE_LANE = "close_lane"
    FREE_PASSAGE = "free_passage"
