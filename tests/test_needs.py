"""A test's missing program skips it on a user's machine and fails it where everything is required."""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import REQUIRE, program


class TestProgram:
    """A program on PATH is found; a missing one skips, or fails under LANEWARDEN_REQUIRE_SERVICES=1."""

    def test_found_on_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        tool = tmp_path / "sometool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert program("sometool") == str(tool)

    def test_missing_skips_naming_program_and_package(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.delenv(REQUIRE, raising=False)
        with pytest.raises(pytest.skip.Exception, match=r"^nosuch is not installed") as caught:
            program("nosuch", "nosuch-tools")
        assert "apt-get install nosuch-tools" in str(caught.value)

    def test_missing_fails_when_required(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setenv(REQUIRE, "1")
        with pytest.raises(pytest.fail.Exception, match=f"nosuch is not installed.*{REQUIRE}=1"):
            program("nosuch")
