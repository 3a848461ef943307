"""Structured logging: JSON lines off a terminal, context bound per task."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from plumbing import log


@pytest.fixture(autouse=True)
def clean_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


class TestLogging:
    """Log lines are facts with their context."""

    def test_json_lines_carry_bound_lane_and_txn(self, capsys: pytest.CaptureFixture[str]) -> None:
        log.configure(level="info", fmt="json")
        log.bind(lane_id="riverside-exit", txn_id="0190-abc")
        log.get("test").info("barrier_opened", position="up")
        line = json.loads(capsys.readouterr().err.strip())
        assert line["event"] == "barrier_opened"
        assert line["lane_id"] == "riverside-exit"
        assert line["txn_id"] == "0190-abc"
        assert line["level"] == "info"
        assert line["timestamp"].endswith("Z")

    def test_auto_is_json_when_not_on_a_terminal(self, capsys: pytest.CaptureFixture[str]) -> None:
        log.configure(level="info", fmt="auto")  # pytest's captured stderr is no terminal
        log.get().warning("loop_stuck", loop="arming")
        assert json.loads(capsys.readouterr().err)["loop"] == "arming"

    def test_level_filters(self, capsys: pytest.CaptureFixture[str]) -> None:
        log.configure(level="warning", fmt="json")
        log.get().info("quiet")
        log.get().error("loud")
        lines = capsys.readouterr().err.strip().splitlines()
        assert [json.loads(x)["event"] for x in lines] == ["loud"]

    def test_unbind_drops_context(self, capsys: pytest.CaptureFixture[str]) -> None:
        log.configure(level="info", fmt="console")
        log.bind(txn_id="t1")
        log.unbind("txn_id")
        log.get().info("vehicle_gone")
        out = capsys.readouterr().err
        assert "vehicle_gone" in out
        assert "t1" not in out


class TestToFile:
    """Inside ``to_file`` every log line goes to the file as JSON, stdlib ones too; after it, stderr again."""

    def test_lines_go_to_the_file_then_back_to_stderr(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "demo.log"
        with log.to_file(path, level="info", fmt="json"):
            log.get().info("camera_sim_started", stream="http://127.0.0.1:1/stream.mjpg")
            logging.getLogger("pymodbus").warning("library says")
        log.get().info("after")
        lines = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["stream"] == "http://127.0.0.1:1/stream.mjpg"
        assert "library says" in lines[1]
        assert len(lines) == 2
        err = capsys.readouterr().err
        assert json.loads(err)["event"] == "after"
        assert "camera_sim_started" not in err
