"""central.toml: the shipped example, the defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO

from central.config import load_central
from plumbing.config import ConfigError

EXAMPLE = REPO / "config" / "central.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "central.toml"
    path.write_text('kind = "central"\n' + text)
    return path


class TestCentralFile:
    """The example loads; a minimal file gets SQLite in the state directory."""

    def test_example_loads(self) -> None:
        config = load_central(EXAMPLE)
        assert (config.ingest.workers, config.ingest.group) == (2, "central")
        assert config.metrics.port == 9490

    def test_minimal_file_defaults(self, tmp_path: Path) -> None:
        config = load_central(write(tmp_path, '[storage]\nstate_dir = "/var/lib/x"\n'))
        assert config.storage.database_url == "sqlite:////var/lib/x/central.sqlite3"
        assert config.broker.protocol == "auto"
        assert config.ingest.gap_timeout_s == 10.0

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            (
                "[ingest]\nworkers = 0\n",
                "ingest.workers: Input should be greater than or equal to 1",
            ),
            ('[ingest]\ngroup = "a/b"\n', "ingest.group: String should match pattern"),
            ("[ingest]\ngap_timeout_s = -1\n", "ingest.gap_timeout_s: Input should be greater"),
            ('[storage]\nurl = "mysql://x"\n', "storage.url: Value error, must start with one of"),
            (
                '[broker]\nusername = "c"\npassword = "x"\n',
                "broker: Value error, password: a password is never written in the config file",
            ),
            ("[metrics]\nport = 99999\n", "metrics.port: Input should be less than"),
            ("[ingest]\nwokers = 2\n", "ingest.wokers: unknown key"),
        ],
    )
    def test_bad_key_is_named(self, tmp_path: Path, text: str, problem: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_central(path)
        assert any(line.startswith(f"{path}: {problem}") for line in caught.value.problems), (
            caught.value.problems
        )

    def test_wrong_kind(self, tmp_path: Path) -> None:
        path = tmp_path / "c.toml"
        path.write_text('kind = "lane"\n')
        with pytest.raises(ConfigError, match="kind: Input should be 'central'"):
            load_central(path)
