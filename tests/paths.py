"""Where the tests find the checkout and their data, wherever in tests/ a test file sits."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The checkout's root: config/, systemd/, pyproject.toml."""

TEST_DATA = REPO / "tests" / "data"
"""Labelled plate photos and other fixtures the tests read."""
