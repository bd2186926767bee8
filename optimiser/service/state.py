"""What every request needs: the database engine, the warm matcher, the throttle, settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from .matching import MatcherCache
from .security import Throttle, TokenCache


@dataclass
class Service:
    engine: Engine
    matchers: MatcherCache
    throttle: Throttle
    token_ttl: float = 3600.0  # API tokens: one hour
    session_ttl: float = 8 * 3600.0  # page sessions: a working day
    tokens: TokenCache = field(default_factory=TokenCache)  # API tokens found lately


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc
