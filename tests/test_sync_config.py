"""The [sync] section: a clear password is refused; the password comes from a file or a credential."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from test_daemon_support import lane_files

from edge.config.lane import load_lane
from edge.config.sync import SyncConfig, SyncCredentialError
from plumbing.config import ConfigError


class TestLaneFile:
    """A lane file with or without [sync]."""

    def test_no_section_no_sync(self, tmp_path: Path) -> None:
        assert load_lane(lane_files(tmp_path)).lane.sync is None

    def test_section_is_read(self, tmp_path: Path) -> None:
        extra = '[sync]\nhost = "broker.plaza"\nport = 8883\nbatch_size = 200\n'
        sync = load_lane(lane_files(tmp_path, extra=extra)).lane.sync
        assert sync is not None
        assert (sync.host, sync.port, sync.batch_size) == ("broker.plaza", 8883, 200)

    def test_clear_password_is_refused(self, tmp_path: Path) -> None:
        extra = '[sync]\nhost = "b"\nusername = "lane"\npassword = "hunter2"\n'
        with pytest.raises(ConfigError) as caught:
            load_lane(lane_files(tmp_path, extra=extra))
        message = str(caught.value)
        assert "password in clear in the lane file is refused" in message
        assert "password_file" in message
        assert "hunter2" not in message


class TestPassword:
    """The password is read from its file or from $CREDENTIALS_DIRECTORY."""

    def test_from_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "pw"
        secret.write_text("s3cret\n")
        config = SyncConfig(host="b", username="lane", password_file=secret)
        assert config.read_password({}) == "s3cret"

    def test_from_credential(self, tmp_path: Path) -> None:
        (tmp_path / "mqtt-password").write_text("from-systemd")
        config = SyncConfig(host="b", username="lane", password_credential="mqtt-password")
        environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
        assert config.read_password(environ) == "from-systemd"

    def test_credential_without_directory(self) -> None:
        config = SyncConfig(host="b", username="lane", password_credential="mqtt-password")
        with pytest.raises(SyncCredentialError, match="CREDENTIALS_DIRECTORY is not set"):
            config.read_password({})

    def test_missing_and_empty_files_are_named(self, tmp_path: Path) -> None:
        missing = SyncConfig(host="b", username="lane", password_file=tmp_path / "none")
        with pytest.raises(SyncCredentialError, match=r"sync\.password_file: cannot read"):
            missing.read_password({})
        (tmp_path / "empty").write_text("\n")
        empty = SyncConfig(host="b", username="lane", password_file=tmp_path / "empty")
        with pytest.raises(SyncCredentialError, match="is empty"):
            empty.read_password({})

    def test_no_password_configured(self) -> None:
        assert SyncConfig(host="b").read_password({}) is None

    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"password_file": "a", "password_credential": "b", "username": "u"}, "not both"),
            ({"password_file": "a"}, "username: required"),
            ({"tls": {"ca_file": "ca.pem", "cert_file": "c.pem"}}, "give both or neither"),
            ({"resend_timeout_s": 10, "resend_max_s": 5}, "resend_max_s"),
            ({"batch_size": 1001}, "batch_size"),
        ],
    )
    def test_bad_combinations(self, fields: dict[str, object], error: str) -> None:
        with pytest.raises(ValidationError, match=error):
            SyncConfig(host="b", **fields)  # type: ignore[arg-type]
