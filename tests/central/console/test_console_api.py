"""The console's JSON API on SQLite and PostgreSQL: roles, CSRF, searches, alarms, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any
from urllib.parse import quote

import pytest
from central_db import BACKENDS
from console_site import NOW, PLATES, Site, console_site, csrf
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from central.console import audit
from central.console.access import PERMISSION_ATTR
from central.console.app import create_app
from central.console.roles import ROLES
from central.storage.schema import lanes, transactions

_subjects = count()

# Written from issue 17's roles, not from central.console.access.GRANTS, so that a change
# of the grants has to change this table too.
ALLOWED = {
    "lanes": {"supervisor", "operator", "auditor", "technician"},
    "transactions": {"supervisor", "operator", "auditor"},
    "alarms": {"supervisor", "operator", "auditor", "technician"},
    "acknowledge": {"supervisor", "operator"},
    "session": set(ROLES),
    "audit": {"auditor", "administrator"},
}
HOSTILE = [
    "' OR '1'='1",
    "';DROP TABLE lanes--",
    '" OR ""="',
    "%",
    "_",
    "%' --",
    "\\",
    "ABC' UNION SELECT",
    "<script>alert(1)",
]


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with console_site(request.param, tmp_path_factory.mktemp("console")) as opened:
        yield opened


def call(site: Site, endpoint: str, role: str | None) -> int:
    """The status of ``endpoint`` called as ``role`` (None: not logged in)."""
    if role is None:
        client, token = site.client(), "x" * 64
    else:
        client, token = site.login(role)
    if endpoint == "acknowledge":
        alarm = site.open_alarm(f"api:{next(_subjects)}")
        answer = client.post(
            f"/api/alarms/{alarm}/acknowledge", json={"note": "seen"}, headers=csrf(token)
        )
    elif endpoint == "session":
        answer = client.get("/api/session")
    else:
        answer = client.get(f"/api/{endpoint}")
    return answer.status_code


class TestRoles:
    """Every endpoint: its roles get 200, the others 403, no session 401."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("endpoint", sorted(ALLOWED))
    def test_role(self, site: Site, endpoint: str, role: str) -> None:
        assert call(site, endpoint, role) == (200 if role in ALLOWED[endpoint] else 403)

    @pytest.mark.parametrize("endpoint", sorted(ALLOWED))
    def test_not_logged_in(self, site: Site, endpoint: str) -> None:
        assert call(site, endpoint, None) == 401

    def test_a_forged_cookie_is_not_a_session(self, site: Site) -> None:
        client = site.client()
        client.cookies.set("lanewarden_session", "made-up")
        assert client.get("/api/lanes").status_code == 401

    def test_every_route_but_login_declares_its_permission(self, site: Site) -> None:
        unguarded = [
            route.path
            for route in create_app(site.console).routes
            if isinstance(route, APIRoute)
            and route.path != "/api/login"
            and not any(
                hasattr(dependency.call, PERMISSION_ATTR)
                for dependency in route.dependant.dependencies
            )
        ]
        assert unguarded == []


class TestCsrf:
    """A state-changing request without the session's CSRF token is refused and changes nothing."""

    @pytest.mark.parametrize("headers", [{}, csrf("0" * 64), csrf("")])
    def test_acknowledge_refused(self, site: Site, headers: dict[str, str]) -> None:
        client, _ = site.login("operator")
        alarm = site.open_alarm(f"csrf:{next(_subjects)}")
        answer = client.post(
            f"/api/alarms/{alarm}/acknowledge", json={"note": "seen"}, headers=headers
        )
        assert answer.status_code == 403
        assert "X-CSRF-Token" in answer.json()["detail"]
        assert [a.state for a in site.store.alarms() if a.id == alarm] == ["open"]

    def test_another_sessions_token_is_refused(self, site: Site) -> None:
        client, _ = site.login("operator")
        _, other = site.login("supervisor")
        alarm = site.open_alarm(f"csrf:{next(_subjects)}")
        answer = client.post(
            f"/api/alarms/{alarm}/acknowledge", json={"note": "seen"}, headers=csrf(other)
        )
        assert answer.status_code == 403

    def test_logout_needs_it_too(self, site: Site) -> None:
        client, token = site.login("auditor")
        assert client.post("/api/logout").status_code == 403
        assert client.get("/api/session").status_code == 200
        assert client.post("/api/logout", headers=csrf(token)).status_code == 204
        assert client.get("/api/session").status_code == 401


class TestTransactions:
    """Search by partial plate, time, lane, with pages; hostile input finds nothing, breaks nothing."""

    def plates(self, site: Site, **params: object) -> list[str]:
        client, _ = site.login("operator")
        answer = client.get("/api/transactions", params=params)
        assert answer.status_code == 200, answer.text
        return [item["plate_text"] for item in answer.json()["items"]]

    def test_partial_plate_any_case(self, site: Site) -> None:
        assert self.plates(site, plate="ab") == ["ABD5555", "ABC1234"]
        assert self.plates(site, plate="z98") == ["XYZ9876"]

    def test_time_range_and_lane(self, site: Site) -> None:
        second = "2026-12-01T11:02:00+00:00"
        assert self.plates(site, since=second) == ["ABD5555", "XYZ9876"]
        assert self.plates(site, until=second) == ["ABC1234"]
        assert self.plates(site, lane="exit-1") == list(reversed(PLATES))
        assert self.plates(site, lane="entry-1") == []

    def test_pages(self, site: Site) -> None:
        client, _ = site.login("auditor")
        first = client.get("/api/transactions", params={"limit": 2}).json()
        assert [i["plate_text"] for i in first["items"]] == ["ABD5555", "XYZ9876"]
        assert first["next_offset"] == 2
        rest = client.get("/api/transactions", params={"limit": 2, "offset": 2}).json()
        assert [i["plate_text"] for i in rest["items"]] == ["ABC1234"]
        assert rest["next_offset"] is None

    @pytest.mark.parametrize("plate", HOSTILE)
    def test_hostile_plate(self, site: Site, plate: str) -> None:
        assert self.plates(site, plate=plate) == []
        with site.store.engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(transactions)).scalar() == 3
            assert connection.execute(select(func.count()).select_from(lanes)).scalar() == 2

    @pytest.mark.parametrize(
        "params",
        [
            {"lane": "exit-1' OR '1'='1"},
            {"since": "2026-12-01T11:00:00"},
            {"since": "yesterday'; --"},
            {"limit": 0},
            {"limit": 10_000},
            {"offset": -1},
            {"plate": "A" * 21},
            {"plate": ""},
            {"plate": "AB\x00"},
            {"plate": "AB\n1"},
            {"colour": "red"},
        ],
    )
    def test_bad_parameters_are_422(self, site: Site, params: dict[str, object]) -> None:
        client, _ = site.login("operator")
        assert client.get("/api/transactions", params=params).status_code == 422


class TestLanesAndAlarms:
    """The lane registry as central keeps it; acknowledging needs a note and is audited."""

    def test_lanes(self, site: Site) -> None:
        client, _ = site.login("technician")
        lanes = client.get("/api/lanes").json()
        assert [(lane["lane_id"], lane["online"], lane["mode"]) for lane in lanes] == [
            ("entry-1", True, "normal"),
            ("exit-1", True, "normal"),
        ]

    def test_acknowledge_with_a_note_is_audited(self, site: Site) -> None:
        client, token = site.login("operator")
        alarm = site.open_alarm(f"ack:{next(_subjects)}")
        answer = client.post(
            f"/api/alarms/{alarm}/acknowledge",
            json={"note": "  barrier reset by hand  "},
            headers=csrf(token),
        )
        assert answer.status_code == 200
        assert (answer.json()["state"], answer.json()["changed_by"]) == ("acknowledged", "operator")
        with site.store.engine.connect() as connection:
            [entry] = audit.entries(connection, target=f"alarm:{alarm}")
        assert (entry.actor, entry.action, entry.reason) == (
            "operator",
            "alarm.acknowledge",
            "barrier reset by hand",
        )
        assert (entry.before, entry.after, entry.at) == (
            {"state": "open"},
            {"state": "acknowledged"},
            NOW,
        )
        auditor, _ = site.login("auditor")
        [logged] = auditor.get("/api/audit", params={"target": f"alarm:{alarm}"}).json()
        assert (logged["action"], logged["reason"]) == (
            "alarm.acknowledge",
            "barrier reset by hand",
        )
        mine = auditor.get("/api/audit", params={"actor": "operator", "limit": 500}).json()
        assert {entry["actor"] for entry in mine} == {"operator"}
        assert f"alarm:{alarm}" in {entry["target"] for entry in mine}
        listed = client.get("/api/alarms", params={"state": "acknowledged"}).json()
        assert alarm in [a["id"] for a in listed]
        again = client.post(
            f"/api/alarms/{alarm}/acknowledge", json={"note": "twice"}, headers=csrf(token)
        )
        assert again.status_code == 409

    @pytest.mark.parametrize(
        "body",
        [{}, {"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {"note": "reset\x00"}],
    )
    def test_a_note_is_required(self, site: Site, body: dict[str, str]) -> None:
        client, token = site.login("supervisor")
        alarm = site.open_alarm(f"note:{next(_subjects)}")
        answer = client.post(f"/api/alarms/{alarm}/acknowledge", json=body, headers=csrf(token))
        assert answer.status_code == 422
        with site.store.engine.connect() as connection:
            assert audit.entries(connection, target=f"alarm:{alarm}") == []

    @pytest.mark.parametrize(
        ("alarm", "expected"), [("999999", 404), ("0", 422), ("1 OR 1=1", 422)]
    )
    def test_unknown_or_malformed_alarm(self, site: Site, alarm: str, expected: int) -> None:
        client, token = site.login("operator")
        answer = client.post(
            f"/api/alarms/{alarm}/acknowledge", json={"note": "x"}, headers=csrf(token)
        )
        assert answer.status_code == expected


class TestOpenApi:
    """The API is described by OpenAPI, and no page loads anything from a CDN."""

    def test_description(self, site: Site) -> None:
        paths = site.client().get("/api/openapi.json").json()["paths"]
        assert set(paths) >= {
            "/api/login",
            "/api/logout",
            "/api/session",
            "/api/lanes",
            "/api/transactions",
            "/api/alarms",
            "/api/alarms/{alarm_id}/acknowledge",
            "/api/audit",
        }
        names = {p["name"] for p in paths["/api/transactions"]["get"]["parameters"]}
        assert names == {"plate", "since", "until", "lane", "limit", "offset"}

    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    def test_no_cdn_pages(self, site: Site, page: str) -> None:
        assert site.client().get(page).status_code == 404


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_VALUES = st.one_of(
    _TEXT, st.integers().map(str), st.sampled_from(["", "-1", "1e9", "null", "a\x00b", "\x1b[2J"])
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


GETS = ["/api/alarms", "/api/audit", "/api/lanes", "/api/session", "/api/transactions"]


@pytest.fixture(scope="module")
def logged_in(site: Site) -> dict[str, tuple[TestClient, str]]:
    """One session per role, kept for the module's many generated requests."""
    return {role: site.login(role) for role in ("supervisor", "auditor", "operator")}


def get_parameters(site: Site, path: str) -> list[dict[str, Any]]:
    """The query parameters OpenAPI lists for GET ``path``."""
    paths = site.client().get("/api/openapi.json").json()["paths"]
    parameters: list[dict[str, Any]] = paths[path]["get"].get("parameters", [])
    return parameters


class TestNoServerErrors:
    """Any value for any parameter the OpenAPI description lists, and then some: never a 500."""

    def test_the_gets_are_these(self, site: Site) -> None:
        paths = site.client().get("/api/openapi.json").json()["paths"]
        assert sorted(path for path, ops in paths.items() if "get" in ops) == sorted(GETS)

    @pytest.mark.parametrize("path", GETS)
    def test_control_characters_in_any_text_parameter_are_422(self, site: Site, path: str) -> None:
        auditor, _ = site.login("auditor")
        supervisor, _ = site.login("supervisor")
        texts = [
            p["name"]
            for p in get_parameters(site, path)
            if "string" in json.dumps(p["schema"]) and "date-time" not in json.dumps(p["schema"])
        ]
        for name in texts:
            for client in (auditor, supervisor):
                status = client.get(path, params={name: "a\x00b"}).status_code
                assert status in {403, 422}, (path, name, status)

    @pytest.mark.parametrize("path", GETS)
    def test_every_get(
        self, site: Site, logged_in: dict[str, tuple[TestClient, str]], path: str
    ) -> None:
        names = [p["name"] for p in get_parameters(site, path)]
        clients = [logged_in["supervisor"][0], logged_in["auditor"][0]]

        @_FUZZ
        @given(st.dictionaries(st.sampled_from([*names, "junk"]), _VALUES, max_size=4))
        def never_a_500(params: dict[str, str]) -> None:
            for client in clients:
                assert client.get(path, params=params).status_code in {200, 403, 422}

        never_a_500()

    @_FUZZ
    @given(alarm=st.one_of(st.integers(), _TEXT), body=_JSON)
    def test_acknowledge(
        self, logged_in: dict[str, tuple[TestClient, str]], alarm: object, body: object
    ) -> None:
        client, token = logged_in["operator"]
        path = f"/api/alarms/{quote(str(alarm), safe='')}/acknowledge"
        answer = client.post(path, json=body, headers=csrf(token))
        assert answer.status_code < 500, answer.text

    @_FUZZ
    @given(body=_JSON)
    def test_login(self, site: Site, body: object) -> None:
        assert site.client().post("/api/login", json=body).status_code in {401, 422}
