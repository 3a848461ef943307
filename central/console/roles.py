"""The console's roles (issue 17 "Users and access"); plain Python, so the CLI can name them."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["administrator", "supervisor", "operator", "auditor", "technician"]
ROLES: tuple[Role, ...] = get_args(Role)
