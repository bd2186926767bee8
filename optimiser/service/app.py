"""The FastAPI application: API and pages, JSON errors, security headers."""

from __future__ import annotations

import gc
import logging
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import make_engine, upgrade
from .matching import MatcherCache
from .security import Throttle
from .state import Service

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """The security headers on every answer, and a NUL in the address refused (400).

    Plain ASGI, not `@app.middleware("http")`: that runs each request through extra
    streams and tasks, a cost every API call paid."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"  # behind TLS (or a proxy saying so)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw:  # no id or parameter holds a NUL character
            refused = JSONResponse({"detail": "invalid character in the address"},
                                   status_code=400)
            await refused(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def validation_message(exc: RequestValidationError) -> str:
    """Where and what, never the value sent (it may be a password)."""
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def create_app(url: str | None = None, *, engine: Engine | None = None,
               token_ttl: float = 3600.0, session_ttl: float = 8 * 3600.0) -> FastAPI:
    """The service over the database at `url` (migrated to the newest schema first)."""
    from . import api, pages

    engine = engine or make_engine(url or "sqlite:///placement.db")
    upgrade(engine)
    # no interactive docs page: it loads its script from a CDN; the schema is served
    app = FastAPI(title="Placement service", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.service = Service(engine, MatcherCache(engine), Throttle(engine),
                                token_ttl=token_ttl, session_ttl=session_ttl)
    app.include_router(api.router)
    app.include_router(pages.router)
    pages.install(app)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            return pages.error_page(request, 422, validation_message(exc))
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            return pages.error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        # the request's values are not logged: they may hold a password or a token
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


def serving(app: FastAPI) -> FastAPI:
    """The app of a server process: what is loaded by now lives as long as the process,
    so it is left out of every garbage collection (a match makes thousands of
    short-lived objects, and each collection would walk the modules again)."""
    gc.freeze()
    return app


DB_ENV = "PLACEMENT_DB_URL"


def create_app_from_env() -> FastAPI:
    """The app over the database named by $PLACEMENT_DB_URL (each worker process of
    `placement serve --workers N` builds its own)."""
    return serving(create_app(os.environ.get(DB_ENV) or "sqlite:///placement.db"))
