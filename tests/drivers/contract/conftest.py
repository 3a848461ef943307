"""Fixtures of the contract suites: one per interface, parametrised over its rigs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.testing import BARRIER_RIGS, LIGHT_RIGS, LOOPS_RIGS, BarrierRig, LightRig, LoopsRig


@pytest.fixture(params=sorted(LOOPS_RIGS))
def loops_rig(request: pytest.FixtureRequest) -> Iterator[LoopsRig]:
    with LOOPS_RIGS[request.param]() as rig:
        try:
            yield rig
        finally:
            rig.loops.stop()


@pytest.fixture(params=sorted(BARRIER_RIGS))
def barrier_rig(request: pytest.FixtureRequest) -> Iterator[BarrierRig]:
    with BARRIER_RIGS[request.param]() as rig:
        try:
            yield rig
        finally:
            rig.barrier.stop()


@pytest.fixture(params=sorted(LIGHT_RIGS))
def light_rig(request: pytest.FixtureRequest) -> Iterator[LightRig]:
    with LIGHT_RIGS[request.param]() as rig:
        try:
            yield rig
        finally:
            rig.light.stop()
