"""The ``POST /faults`` control route's body, applied to a simulator's :class:`Faults`.

Shared by the serial simulators; ``drop_next`` (swallow exactly the next N
replies) sits beside :class:`Faults` because tests and scenarios need a
deterministic drop, where ``drop_rate`` is random.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from simulators.faults import Faults

FAULT_FIELDS: dict[str, tuple[type, ...]] = {
    "delay_ms": (int,),
    "drop_rate": (int, float),
    "garble_rate": (int, float),
    "silent": (bool,),
    "seed": (int,),
    "drop_next": (int,),
}


def updated_faults(faults: Faults, drop_next: int, body: dict[str, Any]) -> tuple[Faults, int]:
    """``faults`` and ``drop_next`` changed as ``body`` says; ValueError naming a bad field."""
    for key, value in body.items():
        types = FAULT_FIELDS.get(key)
        if types is None:
            raise ValueError(f"unknown fault {key!r}; known: {sorted(FAULT_FIELDS)}")
        if isinstance(value, bool) is not (types == (bool,)) or not isinstance(value, types):
            raise ValueError(f"{key}: expected {' or '.join(t.__name__ for t in types)}")
    fields = asdict(faults)
    fields.update({k: v for k, v in body.items() if k != "drop_next"})
    new_drop_next = body.get("drop_next", drop_next)
    if new_drop_next < 0:
        raise ValueError(f"drop_next must not be negative, got {new_drop_next}")
    return Faults(**fields), new_drop_next
