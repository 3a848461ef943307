"""The gateway simulator's faults, changeable while it runs (``POST /_sim/faults``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from simulators.route_fields import check_fields


@dataclass
class GatewayFaults:
    """What the gateway does wrong; changeable while it runs (``POST /_sim/faults``)."""

    latency_ms: int = 0
    decline_rate: float = 0.0
    timeout_rate: float = 0.0
    forge_rate: float = 0.0
    duplicate_callbacks: bool = False
    late_callback_s: float = 0.0
    auto_pay_ms: int | None = None
    timeout_next: int = 0
    """The next this-many API requests that succeed are carried out but not answered."""

    def __post_init__(self) -> None:
        for name in ("decline_rate", "timeout_rate", "forge_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1, got {value}")
        for name in ("latency_ms", "late_callback_s", "timeout_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative, got {getattr(self, name)}")
        if self.auto_pay_ms is not None and self.auto_pay_ms < 0:
            raise ValueError(f"auto_pay_ms: must not be negative, got {self.auto_pay_ms}")

    def changed(self, changes: Mapping[str, Any]) -> GatewayFaults:
        """A copy with ``changes`` applied; ValueError naming an unknown or bad field."""
        check_fields(changes, _FAULT_KINDS, what="fault")
        floats = {k: float(v) for k, v in changes.items() if _FAULT_KINDS[k] == (float,)}
        return GatewayFaults(**(asdict(self) | dict(changes) | floats))


_FAULT_KINDS: dict[str, tuple[type, ...]] = {
    "latency_ms": (int,),
    "decline_rate": (float,),
    "timeout_rate": (float,),
    "forge_rate": (float,),
    "duplicate_callbacks": (bool,),
    "late_callback_s": (float,),
    "auto_pay_ms": (int, type(None)),
    "timeout_next": (int,),
}
