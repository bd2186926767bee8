"""Pages for people (placeholder until the templates land)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

router = APIRouter()


def mount_static(app: FastAPI) -> None:
    return None


def error_page(request: Request, status: int, message: str) -> Response:
    from html import escape

    return HTMLResponse(f"<h1>{status}</h1><p>{escape(message)}</p>", status_code=status)
