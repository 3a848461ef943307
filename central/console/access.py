"""Who may do what: the one dependency every console route but login declares.

:func:`access` names a permission; the dependency it returns finds the caller's
session (401 without a live one), checks the CSRF header on every method that
can change something (403), then the caller's role against :data:`GRANTS` (403).
Roles follow issue 17: operators work lanes and alarms and look up passages,
supervisors all that and more, auditors read, technicians see lane status, and
administrators manage users and settings (they are not a super-role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, HTTPException, Request, status

from central.console.auth import User
from central.console.context import Console
from central.console.roles import Role
from central.console.sessions import COOKIE, CSRF_HEADER

Permission = Literal[
    "session", "lanes.view", "transactions.view", "alarms.view", "alarms.acknowledge", "audit.view"
]
_ALL: frozenset[Role] = frozenset(
    {"administrator", "supervisor", "operator", "auditor", "technician"}
)
GRANTS: dict[Permission, frozenset[Role]] = {
    "session": _ALL,
    "lanes.view": frozenset({"supervisor", "operator", "auditor", "technician"}),
    "transactions.view": frozenset({"supervisor", "operator", "auditor"}),
    "alarms.view": frozenset({"supervisor", "operator", "auditor", "technician"}),
    "alarms.acknowledge": frozenset({"supervisor", "operator"}),
    "audit.view": frozenset({"auditor", "administrator"}),
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PERMISSION_ATTR = "lanewarden_permission"
"""Set on each dependency :func:`access` makes, so a test can see that every route has one."""


@dataclass(frozen=True)
class Caller:
    """The logged-in user of a request, and its session's token."""

    user: User
    token: str


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def access(permission: Permission) -> Any:
    """``Depends`` that lets in only a logged-in caller whose role holds ``permission``."""
    allowed = GRANTS[permission]

    def check(request: Request) -> Caller:
        console = console_of(request)
        token = request.cookies.get(COOKIE)
        session = None
        if token:
            with console.writer.begin() as connection:
                session = console.sessions.find(connection, token, console.clock())
        if session is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        if request.method not in SAFE_METHODS and not console.sessions.csrf_ok(
            session.token, request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER}")
        if session.user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"the {session.user.role} role may not do this"
            )
        return Caller(user=session.user, token=session.token)

    setattr(check, PERMISSION_ATTR, permission)
    return Depends(check)
