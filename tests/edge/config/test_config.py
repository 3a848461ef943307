"""Configuration files: validation, error messages and the shipped examples."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import REPO
from pydantic import BaseModel

from contracts.schema import ConfigModel
from edge.config.lane import LaneConfig, load_lane
from edge.config.loading import load_any
from plumbing.cli import main
from plumbing.config import ConfigError, load

CONFIG = REPO / "config"
SHIPPED = sorted(CONFIG.rglob("*.toml"))
OPTIONAL_EXTRAS = {"torch"}


def _all_config_models() -> Iterator[type[BaseModel]]:
    for package in ("edge", "drivers", "models", "simulators", "central"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if ".migrations." in f"{info.name}.":
                continue  # Alembic's scripts run only inside a migration; they hold no models
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:
                # The training modules need the `train` extra (torch); they hold no config models.
                if exc.name not in OPTIONAL_EXTRAS:
                    raise

    def walk(cls: type[BaseModel]) -> Iterator[type[BaseModel]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    yield from walk(ConfigModel)


@pytest.fixture
def lane_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration tree."""
    shutil.copytree(CONFIG, tmp_path / "config")
    return tmp_path / "config"


class TestShippedFiles:
    """Every file under config/ validates, lanes together with the files they name."""

    def test_there_are_examples_of_every_lane_kind(self) -> None:
        kinds = {load(p, LaneConfig).lane_kind.value for p in (CONFIG / "lanes").glob("*.toml")}
        assert kinds == {
            "parking_entry",
            "parking_exit",
            "highway_entry",
            "highway_exit",
            "open_plaza",
        }

    @pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIG)))
    def test_file_passes_check(self, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["config", "check", str(path)]) == 0, capsys.readouterr().err


class TestSchema:
    """Config models forbid unknown keys and document every field."""

    def test_every_field_has_title_and_description(self) -> None:
        models = list(_all_config_models())
        assert LaneConfig in models
        missing = [
            f"{model.__module__}.{model.__name__}.{name}"
            for model in models
            for name, field in model.model_fields.items()
            if not field.title or not field.description
        ]
        assert missing == []

    def test_models_forbid_unknown_keys(self) -> None:
        assert all(m.model_config.get("extra") == "forbid" for m in _all_config_models())


class TestErrors:
    """An error names the file, the key path and what was expected; exit status 1."""

    def test_misspelt_key(self, lane_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = lane_dir / "lanes" / "riverside-entry.toml"
        path.write_text(path.read_text().replace("anti_passback", "anti_passbak"))
        assert main(["config", "check", str(path)]) == 1
        err = capsys.readouterr().err
        assert f"{path}: policy.anti_passbak: unknown key" in err

    def test_missing_field(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "riverside-exit.toml"
        path.write_text(path.read_text().replace('port = "/dev/ttyUSB1"\n', ""))
        with pytest.raises(ConfigError) as info:
            load_lane(path)
        assert info.value.problems == [f"{path}: barrier.serial.port: Field required"]

    def test_wrong_type(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "bridge-1.toml"
        path.write_text(path.read_text().replace("threshold = 0.85", 'threshold = "high"'))
        with pytest.raises(ConfigError, match=r"recognition\.threshold: Input should be a valid"):
            load_lane(path)

    def test_unknown_device_type(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "bridge-1.toml"
        path.write_text(
            path.read_text().replace('type = "io"\n\n[loops]', 'type = "can"\n\n[loops]')
        )
        with pytest.raises(ConfigError, match=r"barrier: Input tag 'can' found using 'type'"):
            load_lane(path)

    def test_not_toml(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.toml"
        path.write_text('kind = "lane"\nid = \n')
        with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
            load_any(path)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.toml"
        path.write_bytes(b'kind = "plaza"\nname = "Caf\xe9"\n')
        with pytest.raises(ConfigError, match=r"latin1\.toml: cannot read file"):
            load_any(path)

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["config", "check", str(tmp_path / "nope.toml")]) == 1
        assert "nope.toml: file not found" in capsys.readouterr().err

    def test_unknown_kind(self, tmp_path: Path) -> None:
        path = tmp_path / "x.toml"
        path.write_text('kind = "lanes"\n')
        with pytest.raises(ConfigError, match=r"kind: expected one of .*lane.*, got 'lanes'"):
            load_any(path)

    def test_unknown_time_zone(self, lane_dir: Path) -> None:
        path = lane_dir / "plazas" / "riverside.toml"
        path.write_text(path.read_text().replace("Asia/Shanghai", "Asia/Hefei"))
        with pytest.raises(ConfigError, match=r"timezone: Value error, unknown time zone"):
            load_any(path)

    def test_lane_not_listed_in_its_plaza(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "riverside-entry.toml"
        path.write_text(path.read_text().replace('id = "riverside-entry"', 'id = "riverside-9"'))
        with pytest.raises(ConfigError, match=r"lane 'riverside-9' is not listed in"):
            load_lane(path)

    def test_paying_lane_needs_a_tariff(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "bridge-1.toml"
        path.write_text(path.read_text().replace('tariff = "../tariffs/bridge-flat.toml"\n', ""))
        with pytest.raises(ConfigError, match=r"tariff: required for a open_plaza lane"):
            load_lane(path)

    def test_io_devices_need_an_io_module(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "north-entry.toml"
        text = path.read_text().replace('[io]\ntype = "modbus_tcp"\nhost = "192.0.2.20"\n', "")
        path.write_text(text)
        with pytest.raises(ConfigError, match=r"io: required when the barrier or the loops"):
            load_lane(path)

    def test_every_error_of_a_file_is_reported(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "bridge-1.toml"
        text = path.read_text().replace('name = "Bridge lane 1"', 'nmae = "Bridge lane 1"')
        path.write_text(text.replace("threshold = 0.85", "threshold = 1.5"))
        with pytest.raises(ConfigError) as info:
            load_lane(path)
        assert len(info.value.problems) == 3  # name missing, nmae unknown, threshold too high


class TestDegradedReads:
    """The outcomes for a plate a fault kept from being read are set under [degraded] only."""

    def test_the_machine_policy_carries_the_degraded_outcomes(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "riverside-entry.toml"
        path.write_text(path.read_text() + '\n[degraded]\ncamera_dark = "admit_for_review"\n')
        policy = load_lane(path).lane.machine_policy()
        assert policy.degraded_reads.camera_dark.value == "admit_for_review"
        assert policy.degraded_reads.recognition_failing.value == "deny_and_call"
        assert policy.anti_passback is True

    def test_policy_may_not_set_them(self, lane_dir: Path) -> None:
        path = lane_dir / "lanes" / "riverside-entry.toml"
        text = path.read_text().replace(
            "anti_passback = true", "anti_passback = true\ndegraded_reads = {}"
        )
        path.write_text(text)
        with pytest.raises(ConfigError, match=r"set under \[degraded\]"):
            load_lane(path)


class TestLaneAgreesWithItsFiles:
    """A lane's tariff and network files must fit its plaza."""

    def test_tariff_in_another_currency(self, lane_dir: Path) -> None:
        plaza = lane_dir / "plazas" / "bridge.toml"
        plaza.write_text(plaza.read_text().replace('currency = "CNY"', 'currency = "EUR"'))
        with pytest.raises(
            ConfigError, match=r"tariff: .*bridge-flat.toml charges in CNY, the plaza in EUR"
        ):
            load_lane(lane_dir / "lanes" / "bridge-1.toml")

    def test_tariff_in_another_time_zone(self, lane_dir: Path) -> None:
        plaza = lane_dir / "plazas" / "bridge.toml"
        plaza.write_text(plaza.read_text().replace("Asia/Shanghai", "Asia/Urumqi"))
        with pytest.raises(
            ConfigError, match=r"is in time zone Asia/Shanghai, the plaza in Asia/Urumqi"
        ):
            load_lane(lane_dir / "lanes" / "bridge-1.toml")

    def test_plaza_missing_from_its_network(self, lane_dir: Path) -> None:
        plaza = lane_dir / "plazas" / "south.toml"
        plaza.write_text(plaza.read_text().replace('id = "south"', 'id = "southwest"'))
        lane = lane_dir / "lanes" / "south-exit.toml"
        with pytest.raises(ConfigError, match=r"plaza 'southwest' is not in its network file"):
            load_lane(lane)

    def test_highway_exit_loads_its_network(self) -> None:
        files = load_lane(CONFIG / "lanes" / "south-exit.toml")
        assert files.network is not None
        assert files.tariff is not None
