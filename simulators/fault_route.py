"""The ``POST /faults`` control route's body, applied to a simulator's :class:`Faults`.

Shared by the simulators; ``drop_next`` (swallow exactly the next N replies)
sits beside :class:`Faults` for the serial and Modbus simulators because tests
and scenarios need a deterministic drop, where ``drop_rate`` is random.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from simulators.faults import Faults
from simulators.json_http import BadRequestError
from simulators.route_fields import check_fields

FAULT_FIELDS: dict[str, tuple[type, ...]] = {
    "delay_ms": (int,),
    "drop_rate": (float,),
    "garble_rate": (float,),
    "silent": (bool,),
    "seed": (int, type(None)),
}
DROP_NEXT: dict[str, tuple[type, ...]] = {"drop_next": (int,)}


def changed_faults(faults: Faults, body: dict[str, Any]) -> Faults:
    """``faults`` changed as ``body`` says; ValueError naming a bad field."""
    check_fields(body, FAULT_FIELDS, what="fault")
    return Faults(**(asdict(faults) | body))


def updated_faults(faults: Faults, drop_next: int, body: dict[str, Any]) -> tuple[Faults, int]:
    """``faults`` and ``drop_next`` changed as ``body`` says; ValueError naming a bad field."""
    check_fields(body, FAULT_FIELDS | DROP_NEXT, what="fault")
    new_drop_next = body.get("drop_next", drop_next)
    if new_drop_next < 0:
        raise BadRequestError(f"drop_next must not be negative, got {new_drop_next}")
    changes = {k: v for k, v in body.items() if k != "drop_next"}
    return changed_faults(faults, changes), new_drop_next
