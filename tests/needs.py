"""What a test needs from the machine beyond the Python packages `make test` installs.

On a user's machine a missing program skips the test, naming the program and the
Debian package that provides it. CI (``.ci/run``) installs every one of them and
sets ``LANEWARDEN_REQUIRE_SERVICES=1``: there a missing program fails the test
instead, so a broken CI set-up cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE = "LANEWARDEN_REQUIRE_SERVICES"


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it when this run requires everything."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}; {REQUIRE}=1 requires it")
    pytest.skip(reason)


def program(name: str, package: str | None = None) -> str:
    """The path of the program ``name``; skips (or fails, see :func:`unavailable`) without it."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (apt-get install {package or name})")
    return path
