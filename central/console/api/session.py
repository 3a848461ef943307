"""``/api/login``, ``/api/logout`` and ``/api/session``: starting and ending a session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from central.console import audit
from central.console.access import Caller, access, console_of
from central.console.auth import MAX_PASSWORD, log_in
from central.console.roles import Role
from central.console.sessions import COOKIE
from central.console.text import ONE_LINE
from central.storage.schema import USER_NAME

router = APIRouter(prefix="/api", tags=["session"])


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=USER_NAME, pattern=ONE_LINE)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class SessionOut(BaseModel):
    name: str
    role: Role
    csrf_token: str = Field(
        description="Send it as the X-CSRF-Token header of every POST, PUT, PATCH and DELETE."
    )


@router.post(
    "/login",
    responses={401: {"description": "Wrong name or password, or the user is locked"}},
)
def login(credentials: Credentials, request: Request, response: Response) -> SessionOut:
    """Log in; the session cookie is set and the CSRF token returned."""
    console = console_of(request)
    now = console.clock()
    with console.writer.begin() as connection:
        user = log_in(
            connection,
            name=credentials.name,
            password=credentials.password,
            passwords=console.passwords,
            rule=console.rule,
            at=now,
        )
        token = None if user is None else console.sessions.start(connection, user, now)
    if user is None or token is None:
        # One answer for every refusal: which names exist or are locked is not told.
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong name or password, or locked")
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies,
        path="/",
    )
    return SessionOut(name=user.name, role=user.role, csrf_token=console.sessions.csrf(token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(caller: Annotated[Caller, access("session")], request: Request) -> Response:
    """End the session."""
    console = console_of(request)
    with console.writer.begin() as connection:
        console.sessions.end(connection, caller.token)
        audit.append(
            connection,
            at=console.clock(),
            actor=caller.user.name,
            action="logout",
            target=f"user:{caller.user.name}",
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        COOKIE, httponly=True, samesite="strict", secure=console.secure_cookies, path="/"
    )
    return response


@router.get("/session")
def session(caller: Annotated[Caller, access("session")], request: Request) -> SessionOut:
    """Who is logged in, and the session's CSRF token (for a reloaded page)."""
    return SessionOut(
        name=caller.user.name,
        role=caller.user.role,
        csrf_token=console_of(request).sessions.csrf(caller.token),
    )
