"""Console users, logins with lockout, sessions and their cookies, and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
from central_db import BACKENDS
from console_site import NOW, PASSWORD, Site, console_site, csrf
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from central.config import ConsoleConfig
from central.console import audit
from central.console.auth import UserError, add_user
from central.console.roles import ROLES, Role
from central.console.sessions import COOKIE, SecretError, Sessions, read_secret
from central.storage.engine import writer
from central.storage.schema import audit_log, console_sessions, users

LOCKOUT = {"lockout_count": 3, "lockout_period_s": 60.0, "lockout_s": 300.0}


@pytest.fixture(params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    with console_site(request.param, tmp_path, idle_timeout_s=600.0, **LOCKOUT) as opened:
        yield opened


def attempt(site: Site, name: str, password: str) -> int:
    return site.client().post("/api/login", json={"name": name, "password": password}).status_code


def actions(site: Site, target: str) -> list[str]:
    with site.store.engine.connect() as connection:
        return [entry.action for entry in reversed(audit.entries(connection, target=target))]


class TestLockout:
    """lockout_count failures within lockout_period_s lock the user for lockout_s."""

    def test_locked_after_failures_even_with_the_right_password(self, site: Site) -> None:
        for _ in range(3):
            assert attempt(site, "operator", "wrong password!!") == 401
        assert attempt(site, "operator", PASSWORD) == 401
        site.clock.advance(299)
        assert attempt(site, "operator", PASSWORD) == 401
        site.clock.advance(2)
        assert attempt(site, "operator", PASSWORD) == 200
        assert actions(site, "user:operator") == [
            "user.add",
            "login.refused",
            "login.refused",
            "login.refused",
            "user.lock",
            "login.refused",
            "login.refused",
            "login",
        ]

    def test_failures_spread_beyond_the_period_do_not_lock(self, site: Site) -> None:
        for _ in range(4):
            assert attempt(site, "auditor", "wrong password!!") == 401
            site.clock.advance(31)
        assert attempt(site, "auditor", PASSWORD) == 200

    def test_a_success_clears_the_count(self, site: Site) -> None:
        for _ in range(2):
            assert attempt(site, "technician", "wrong password!!") == 401
        assert attempt(site, "technician", PASSWORD) == 200
        for _ in range(2):
            assert attempt(site, "technician", "wrong password!!") == 401
        assert attempt(site, "technician", PASSWORD) == 200

    def test_one_answer_for_every_refusal(self, site: Site) -> None:
        site.client().post("/api/login", json={"name": "nobody", "password": "x"})
        answers = {
            site.client().post("/api/login", json=body).text
            for body in (
                {"name": "nobody", "password": PASSWORD},
                {"name": "supervisor", "password": "wrong password!!"},
            )
        }
        assert len(answers) == 1
        assert actions(site, "user:nobody") == ["login.refused", "login.refused"]

    def test_a_disabled_user_cannot_log_in_and_loses_its_sessions(self, site: Site) -> None:
        client, _ = site.login("supervisor")
        with writer(site.store.engine).begin() as connection:
            connection.execute(
                update(users).where(users.c.name == "supervisor").values(disabled=True)
            )
        assert client.get("/api/lanes").status_code == 401
        assert attempt(site, "supervisor", PASSWORD) == 401

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": "operator"},
            {"name": "", "password": "x"},
            {"name": "x" * 65, "password": "x"},
            {"name": "a\x00", "password": "x"},
        ],
    )
    def test_malformed_login_is_422(self, site: Site, body: dict[str, str]) -> None:
        assert site.client().post("/api/login", json=body).status_code == 422


class TestSessions:
    """Cookies HttpOnly, SameSite=Strict, Secure when configured; idle sessions end."""

    def test_cookie_attributes(self, site: Site) -> None:
        answer = site.client().post("/api/login", json={"name": "operator", "password": PASSWORD})
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith(f"{COOKIE}=")
        assert {"httponly", "samesite=strict", "secure", "path=/"} <= {
            part.strip() for part in cookie.split(";")
        }

    def test_not_secure_when_configured_off(self, tmp_path: Path) -> None:
        with console_site("sqlite", tmp_path, secure_cookies=False) as plain:
            answer = plain.client().post(
                "/api/login", json={"name": "operator", "password": PASSWORD}
            )
        assert "secure" not in {p.strip() for p in answer.headers["set-cookie"].lower().split(";")}

    def test_idle_timeout(self, site: Site) -> None:
        client, _ = site.login("operator")
        site.clock.advance(590)
        assert client.get("/api/lanes").status_code == 200
        site.clock.advance(590)
        assert client.get("/api/lanes").status_code == 200
        site.clock.advance(601)
        assert client.get("/api/lanes").status_code == 401
        site.clock.advance(-601)
        assert client.get("/api/lanes").status_code == 401, "an ended session stays ended"

    def test_the_database_holds_no_usable_token(self, site: Site) -> None:
        client, _ = site.login("operator")
        token = client.cookies[COOKIE]
        with site.store.engine.connect() as connection:
            stored = connection.execute(select(console_sessions.c.token_hash)).scalars().all()
        assert stored
        assert token not in stored
        other = site.client()
        for value in stored:
            other.cookies.set(COOKIE, value)
            assert other.get("/api/session").status_code == 401

    def test_logout_is_audited(self, site: Site) -> None:
        client, token = site.login("auditor")
        assert client.post("/api/logout", headers=csrf(token)).status_code == 204
        assert actions(site, "user:auditor")[-2:] == ["login", "logout"]


class TestAuditLog:
    """Rows are only ever added: the database refuses UPDATE and DELETE."""

    @pytest.mark.parametrize(
        "statement",
        [update(audit_log).values(reason="rewritten"), delete(audit_log)],
        ids=["update", "delete"],
    )
    def test_the_database_refuses_changes(self, site: Site, statement: object) -> None:
        with site.store.engine.connect() as connection:
            before = audit.entries(connection)
        with (
            pytest.raises(DBAPIError, match="append-only"),
            writer(site.store.engine).begin() as connection,
        ):
            connection.execute(statement)  # type: ignore[call-overload]
        with site.store.engine.connect() as connection:
            assert audit.entries(connection) == before

    def test_an_entry_needs_who_what_and_on_what(self, site: Site) -> None:
        with (
            pytest.raises(ValueError, match="actor, action and target"),
            writer(site.store.engine).begin() as connection,
        ):
            audit.append(connection, at=NOW, actor="", action="x", target="y")


class TestUsers:
    """Adding users: names, roles and passwords checked; Argon2id stored; audited."""

    @pytest.mark.parametrize(
        ("name", "role", "password", "says"),
        [
            ("bad name", "operator", PASSWORD, "name: 'bad name'"),
            ("-dash", "operator", PASSWORD, "name: '-dash'"),
            ("x" * 65, "operator", PASSWORD, "name:"),
            ("ok", "root", PASSWORD, "role: 'root' is not one of administrator"),
            ("ok", "operator", "short", "at least 12 characters"),
            ("ok", "operator", "x" * 1025, "at most 1024"),
            ("operator", "operator", PASSWORD, "exists already"),
        ],
    )
    def test_refused(self, site: Site, name: str, role: str, password: str, says: str) -> None:
        with pytest.raises(UserError, match=says), writer(site.store.engine).begin() as c:
            add_user(
                c,
                name=name,
                role=role,
                password=password,
                passwords=site.console.passwords,
                at=NOW,
                actor="test",
            )

    def test_stored_as_argon2id_and_audited(self, site: Site) -> None:
        site.add_user("night-shift", "operator")
        with site.store.engine.connect() as connection:
            stored = connection.execute(
                select(users.c.password_hash).where(users.c.name == "night-shift")
            ).scalar_one()
            [entry] = audit.entries(connection, target="user:night-shift")
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
        assert (entry.action, entry.actor, entry.after) == (
            "user.add",
            "test",
            {"name": "night-shift", "role": "operator", "disabled": False},
        )

    def test_the_role_type_and_the_roles_agree(self) -> None:
        assert (
            get_args(Role)
            == ROLES
            == (
                "administrator",
                "supervisor",
                "operator",
                "auditor",
                "technician",
            )
        )


class TestSecret:
    """The session secret comes from a file of at least 32 bytes."""

    def test_short_or_missing(self, tmp_path: Path) -> None:
        short = tmp_path / "short"
        short.write_bytes(b"x" * 31)
        with pytest.raises(SecretError, match="31 bytes, at least 32"):
            read_secret(short)
        with pytest.raises(SecretError, match="cannot read it"):
            read_secret(tmp_path / "absent")
        with pytest.raises(SecretError):
            Sessions(b"x" * 8, timedelta(minutes=5))

    def test_console_section_is_validated(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="session_secret_file"):
            ConsoleConfig()  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="idle_timeout_s"):
            ConsoleConfig(session_secret_file=tmp_path / "s", idle_timeout_s=5)
