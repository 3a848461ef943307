"""The pure lane core imports no device, model, payment or lane-file configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from paths import REPO

#: Top-level packages the core must not load (devices, recognition, simulators).
FOREIGN = ("drivers", "models", "simulators")
#: The shell's configuration and adapters under edge (the lane file, payments, the daemon).
SHELL = ("edge.config.lane", "edge.config.degraded", "edge.payments", "edge.daemon", "edge.store")

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter has loaded after importing ``module``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


class TestCoreImports:
    """Importing the lane machine or the fee engine loads only the core and the record contract."""

    def test_lane_core_loads_no_device_model_or_simulator_package(self) -> None:
        modules = loaded_by("edge.lane")
        assert [m for m in modules if m.split(".")[0] in FOREIGN] == []

    def test_lane_core_loads_no_shell_configuration(self) -> None:
        modules = loaded_by("edge.lane")
        shell = [m for m in modules if m.startswith(SHELL)]
        assert shell == []
        assert "edge.lane.machine" in modules  # the probe did import the core

    def test_every_core_module_stays_pure(self) -> None:
        core = [
            f"edge.lane.{path.stem}"
            for path in sorted((REPO / "edge" / "lane").glob("*.py"))
            if path.stem != "__init__"
        ]
        modules = loaded_by(", ".join(core))
        assert [m for m in modules if m.split(".")[0] in FOREIGN or m.startswith(SHELL)] == []
