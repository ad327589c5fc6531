"""Rendering pages: the Jinja2 templates with what every page needs (the user, their sections,
the CSRF token, today's date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from engine.web.context import engine_of, user_of
from engine.web.csrf import FIELD, csrf_token
from engine.web.navigation import sections_for
from engine.web.settings import WEB_ROOT

templates = Jinja2Templates(directory=str(WEB_ROOT / "templates"))
templates.env.globals["CSRF_FIELD"] = FIELD


def _long_date(value: dt.date | dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value:%a} {value.day} {value:%b %Y}"


templates.env.filters["long_date"] = _long_date


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page `template` with `context`, plus the user, their sections and the CSRF token."""
    user = user_of(request)
    engine = engine_of(request)
    page: dict[str, Any] = {
        "user": user,
        "sections": [] if user is None else sections_for(user.role, engine.roles),
        "csrf_token": csrf_token(request),
        "today": engine.today(),
        "path": request.url.path,
    }
    page.update(context or {})
    return templates.TemplateResponse(request, template, page, status_code=status_code)
