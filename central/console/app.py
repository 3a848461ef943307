"""The console's FastAPI application: the API routers and nothing fetched from elsewhere.

FastAPI's /docs and /redoc pages load their scripts from a CDN, so they are off;
the OpenAPI description is served at /api/openapi.json.
"""

from __future__ import annotations

from fastapi import FastAPI

from central.console.api import alarms, audit_log, lanes, session, transactions
from central.console.context import Console

OPENAPI = "/api/openapi.json"


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="lanewarden console",
        version="1",
        description="The supervisor console's JSON API. Log in with POST /api/login; send the "
        "returned csrf_token as X-CSRF-Token on every state-changing request.",
        openapi_url=OPENAPI,
        docs_url=None,
        redoc_url=None,
    )
    app.state.console = console
    routers = (session, lanes, transactions, alarms, audit_log)
    for router in (module.router for module in routers):
        app.include_router(router)
    return app
