"""Fault injection shared by every simulator.

Technicians reproduce field problems with these switches: replies delayed,
dropped or garbled, or no response at all. Each simulator adds its own
device-specific faults (stuck inputs, broken arm, dark camera) on top.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass


@dataclass
class Faults:
    """What a simulator does wrong, changeable while it runs (e.g. by a traffic scenario)."""

    delay_ms: int = 0
    drop_rate: float = 0.0
    garble_rate: float = 0.0
    silent: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("drop_rate", "garble_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.delay_ms < 0:
            raise ValueError(f"delay_ms must not be negative, got {self.delay_ms}")
        self._rng = random.Random(self.seed)

    def drops(self) -> bool:
        """Whether to swallow this reply (always, when silent)."""
        return self.silent or self._rng.random() < self.drop_rate

    def delay(self) -> None:
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)

    def garble(self, data: bytes) -> bytes:
        """Flip one bit of one byte, at the garble rate."""
        if not data or self._rng.random() >= self.garble_rate:
            return data
        i = self._rng.randrange(len(data))
        out = bytearray(data)
        out[i] ^= 1 << self._rng.randrange(8)
        return bytes(out)


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fault injection")
    group.add_argument("--delay-ms", type=int, default=0, help="delay every reply by this much")
    group.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of replies dropped (0-1)"
    )
    group.add_argument(
        "--garble-rate", type=float, default=0.0, help="share of replies with a flipped bit (0-1)"
    )
    group.add_argument("--silent", action="store_true", help="never reply")
    group.add_argument("--seed", type=int, default=None, help="seed for repeatable faults")


def faults_from_args(args: argparse.Namespace) -> Faults:
    return Faults(
        delay_ms=args.delay_ms,
        drop_rate=args.drop_rate,
        garble_rate=args.garble_rate,
        silent=args.silent,
        seed=args.seed,
    )
