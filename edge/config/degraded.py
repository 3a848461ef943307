"""What a lane does when part of it is degraded: camera dark, recognition failing, store nearly full.

Each degraded mode has a configured outcome; the daemon records every use of one
as a lane event and raises an alarm. A payment gateway that is down is configured
with the payments (``[payments.policy] postpay = "gateway_down"`` lets the vehicle
through to be billed by plate; otherwise the lane's ``fail_open`` decides between
opening and holding the vehicle for an operator).
"""

from __future__ import annotations

from pydantic import Field

from edge.lane.policy import DegradedReads, StoreFullOutcome


class DegradedPolicy(DegradedReads):
    """``[degraded]``: the degraded-read outcomes the lane machine applies, and the shell's settings."""

    read_deadline_s: float = Field(
        2.5,
        gt=0,
        title="Plate read deadline",
        description="Longest wait for the plate reader's answer to one attempt at a vehicle's "
        "frames (s). A read that misses it (a busy computer) gives the vehicle the lane's "
        "unreadable-plate outcome at once instead of holding the lane; its late answer is "
        "logged and dropped, never applied to a later vehicle.",
    )
    unreadable_streak: int = Field(
        5,
        ge=1,
        title="Unreadable streak",
        description="This many unreadable plates in a row raise a recognition_failing alarm "
        "(a dirty or misaligned camera); a read plate ends the streak.",
    )
    store_min_free_mb: int = Field(
        200,
        ge=0,
        title="Store free space",
        description="Below this much free space (MB) on the store's file system the store is "
        "nearly full.",
    )
    store_nearly_full: StoreFullOutcome = Field(
        StoreFullOutcome.KEEP_SERVING,
        title="Store nearly full",
        description="keep_serving (alarm only), close_lane (no new vehicles) or free_passage "
        "(barrier up, vehicles recorded, nobody charged) until space is back.",
    )
    store_max_mb: int | None = Field(
        None,
        ge=1,
        title="Store size limit",
        description="Largest size the store's file may grow to (MB); at the limit the store is "
        "full, as on a full disk. Absent: only the disk limits it. A full store stops the lane "
        "machine (nothing can be recorded, so nothing is decided), leaves the barrier in the "
        "policy's safe position and raises a store_full alarm; the lane resumes once a record "
        "can be written again.",
    )
    store_check_s: float = Field(
        60.0,
        gt=0,
        title="Store check period",
        description="How often the store's free space is checked (s).",
    )
