"""Structured logging: JSON lines off a terminal, context bound per task."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from edge import log


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
