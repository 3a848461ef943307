"""Every driver in the factory's registries runs in the contract suites, or says why not."""

from __future__ import annotations

from drivers import factory
from drivers.config import IOBarrier, IOLoops, type_key
from simulators.testing import (
    BARRIER_BENCHES,
    BARRIER_RIGS,
    IO_BENCHES,
    LIGHT_RIGS,
    LOOPS_RIGS,
    UNRIGGED,
)


class TestRegistryCoverage:
    """A driver added to a registry without a bench fails here, naming it."""

    def test_every_io_module_has_a_bench(self) -> None:
        missing = [type_key(m) for m in factory.IO_MODULES if m not in {*IO_BENCHES, *UNRIGGED}]
        assert missing == []

    def test_every_barrier_has_a_bench(self) -> None:
        covered = {IOBarrier, *BARRIER_BENCHES, *UNRIGGED}
        assert [type_key(m) for m in factory.BARRIERS if m not in covered] == []

    def test_loops_on_the_module_only(self) -> None:
        assert set(factory.LOOPS) == {IOLoops}

    def test_each_bench_gives_the_three_rigs(self) -> None:
        for model in IO_BENCHES:
            assert type_key(model) in LOOPS_RIGS
            assert type_key(model) in BARRIER_RIGS
            assert type_key(model) in LIGHT_RIGS
        assert "gpio_mock" in LOOPS_RIGS

    def test_unrigged_are_registered(self) -> None:
        registered = {*factory.IO_MODULES, *factory.BARRIERS}
        assert [type_key(m) for m in UNRIGGED if m not in registered] == []
