"""The operator command schema: one definition, every bad command refused with a clear reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.commands import (
    ChargePlateCommand,
    CommandError,
    CommandResult,
    OpenCommand,
    ResendCommand,
    SetModeCommand,
    StatusCommand,
    new_command,
    parse_command,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "type": "open",
        "command_id": "c-1",
        "operator_id": "op-1",
        "reason": "driver lost the ticket",
        "issued_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(seconds=60)).isoformat(),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def line(**changes: Any) -> bytes:
    return json.dumps(body(**changes)).encode()


class TestParse:
    """A JSON line becomes the command its ``type`` names."""

    def test_each_type_parses_to_its_model(self) -> None:
        assert isinstance(parse_command(line(), NOW), OpenCommand)
        assert isinstance(parse_command(line(type="status", reason=None), NOW), StatusCommand)
        mode = parse_command(line(type="set_mode", mode="free_passage"), NOW)
        assert isinstance(mode, SetModeCommand)
        assert mode.mode == "free_passage"
        plate = parse_command(line(type="charge_plate", plate="皖A12345"), NOW)
        assert isinstance(plate, ChargePlateCommand)
        resend = parse_command(line(type="resend", stream="event", from_seq=12), NOW)
        assert isinstance(resend, ResendCommand)
        assert (resend.stream, resend.from_seq) == ("event", 12)

    def test_a_new_command_round_trips_through_json(self) -> None:
        command = new_command(
            "set_mode", operator_id="op-2", reason="works", now=NOW, mode="closed"
        )
        again = parse_command(command.model_dump_json(), NOW + timedelta(seconds=1))
        assert again == command
        assert again.expires_at - again.issued_at == timedelta(seconds=60)


class TestRefusals:
    """Bad commands are refused naming what is wrong, with the command id when there is one."""

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (b"open the gate", "not a JSON object"),
            (b"[1, 2]", "not a JSON object"),
            (line(type="launch"), "type: expected one of status, open"),
            (line(type=None), "type: expected one of"),
            (line(reason=None), "reason: Field required"),
            (line(reason=""), "reason: String should have at least 1 character"),
            (line(operator_id=None), "operator_id: Field required"),
            (line(issued_at="yesterday"), "issued_at: Input should be a valid datetime"),
            (line(issued_at="2026-12-03T09:00:00"), "issued_at: Input should have timezone info"),
            (line(extra_field=1), "extra_field: Extra inputs are not permitted"),
            (line(type="set_mode", mode="party"), "mode: Input should be"),
            (line(type="charge_plate"), "plate: Field required"),
            (line(type="resend", stream="txn", from_seq=0), "from_seq: Input should be greater"),
            (line(type="resend", stream="alarms", from_seq=1), "stream: Input should be"),
        ],
    )
    def test_refused_with_a_clear_reason(self, raw: bytes, expected: str) -> None:
        with pytest.raises(CommandError, match=expected.replace("(", r"\(")):
            parse_command(raw, NOW)

    def test_expired_command_is_refused(self) -> None:
        with pytest.raises(CommandError, match="expires_at: the command expired") as caught:
            parse_command(line(), NOW + timedelta(seconds=61))
        assert caught.value.command_id == "c-1"

    def test_expiry_before_issue_is_refused(self) -> None:
        raw = line(expires_at=(NOW - timedelta(seconds=1)).isoformat())
        with pytest.raises(CommandError, match="expires_at: must be after issued_at"):
            parse_command(raw, NOW - timedelta(seconds=5))

    def test_bad_command_keeps_its_id_for_the_result(self) -> None:
        with pytest.raises(CommandError) as caught:
            parse_command(line(reason=""), NOW)
        assert caught.value.command_id == "c-1"


class TestResult:
    """A result is one JSON line that reads back the same."""

    def test_result_line_round_trips(self) -> None:
        result = CommandResult(command_id="c-1", ok=False, error="reason: missing", lane={"a": 1})
        raw = result.to_line()
        assert raw.endswith(b"\n")
        assert raw.count(b"\n") == 1
        assert CommandResult.model_validate_json(raw) == result


class TestLeafPackage:
    """contracts/ imports only the standard library, pydantic and itself: both sides can use it."""

    def test_imports(self) -> None:
        import ast
        import sys
        from pathlib import Path

        import contracts

        allowed = set(sys.stdlib_module_names) | {"pydantic", "contracts"}
        found = set()
        for path in Path(contracts.__file__).parent.glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
        assert "pydantic" in found
        assert found <= allowed, found - allowed
