"""The [sync] section of a lane file: absent no sync; its broker is the shared [broker] model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config.lane import load_lane
from edge.config.sync import SyncConfig
from edge.daemon.testing import lane_files
from plumbing.broker import BrokerConfig
from plumbing.config import ConfigError


class TestLaneFile:
    """A lane file with or without [sync]."""

    def test_no_section_no_sync(self, tmp_path: Path) -> None:
        assert load_lane(lane_files(tmp_path)).lane.sync is None

    def test_section_is_read(self, tmp_path: Path) -> None:
        extra = (
            "[sync]\nbatch_size = 200\n\n"
            '[sync.broker]\nhost = "broker.plaza"\nport = 8883\nusername = "riverside-exit"\n'
            'password_credential = "mqtt-password"\n'
        )
        sync = load_lane(lane_files(tmp_path, extra=extra)).lane.sync
        assert sync is not None
        assert (sync.broker.host, sync.broker.port, sync.batch_size) == ("broker.plaza", 8883, 200)
        assert sync.broker.password_credential == "mqtt-password"

    def test_clear_password_is_refused(self, tmp_path: Path) -> None:
        extra = '[sync.broker]\nhost = "b"\nusername = "lane"\npassword = "hunter2"\n'
        with pytest.raises(ConfigError) as caught:
            load_lane(lane_files(tmp_path, extra=extra))
        message = str(caught.value)
        assert "sync.broker" in message
        assert "password is never written in the config file" in message
        assert "hunter2" not in message

    def test_a_broker_is_required(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"sync\.broker: Field required"):
            load_lane(lane_files(tmp_path, extra="[sync]\nbatch_size = 10\n"))


class TestPacing:
    """The outbox's knobs are bounded."""

    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"resend_timeout_s": 10, "resend_max_s": 5}, "resend_max_s"),
            ({"batch_size": 1001}, "batch_size"),
            ({"window": 0}, "window"),
        ],
    )
    def test_bad_values(self, fields: dict[str, object], error: str) -> None:
        with pytest.raises(ValidationError, match=error):
            SyncConfig(broker=BrokerConfig(), **fields)  # type: ignore[arg-type]
