"""The web application: session cookies, the GOV.UK Frontend assets, every route module under
engine/web/routes, and the pages shown when sign-in is needed, a role may not, or a command
refuses.
"""

from __future__ import annotations

import importlib
import pkgutil
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from engine.errors import AccessDenied, CMEError
from engine.web import routes
from engine.web.context import Engine, NotAllowed, SignInNeeded
from engine.web.headers import SecurityHeaders
from engine.web.pages import render
from engine.web.settings import WEB_ROOT, WebSettings

SESSION_COOKIE = "cme_session"


class AssetsMissing(RuntimeError):
    """govuk-frontend is not installed beside the app (scripts/setup installs it)."""


def create_app(settings: WebSettings) -> FastAPI:
    """The CME web service over the database `settings` name."""
    if not (settings.assets / "govuk-frontend.min.css").is_file():
        raise AssetsMissing(
            f"the GOV.UK Frontend files are missing from {settings.assets}; run `bash "
            "scripts/setup` (it installs them with npm ci from engine/web/package-lock.json)"
        )
    app = FastAPI(
        title="Children Missing Education", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.engine = Engine(settings)
    app.state.settings = settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        https_only=settings.secure_cookies,
        max_age=None,  # a browser-session cookie; the idle timeout is enforced server-side
    )
    # Added last, so it wraps the session middleware and every error page too.
    app.add_middleware(SecurityHeaders, https_only=settings.secure_cookies)
    app.mount("/assets", StaticFiles(directory=settings.assets / "assets"), name="assets")
    app.mount("/govuk-frontend", StaticFiles(directory=settings.assets), name="govuk-frontend")
    app.mount("/static", StaticFiles(directory=WEB_ROOT / "static"), name="static")
    for module in pkgutil.iter_modules(routes.__path__):
        found = importlib.import_module(f"{routes.__name__}.{module.name}")
        app.include_router(found.router)
    _add_error_pages(app)
    return app


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in(_request: Request, exc: SignInNeeded) -> Response:
        where = f"/sign-in?next={quote(exc.next_url)}"
        if exc.timed_out:
            where += "&timed_out=1"
        return RedirectResponse(where, status_code=303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return render(
            request,
            "error.html",
            {"title": "You cannot do this", "message": exc.message},
            status_code=403,
        )

    @app.exception_handler(AccessDenied)
    async def access_denied(request: Request, exc: AccessDenied) -> Response:
        return render(
            request,
            "error.html",
            {"title": "You cannot do this", "message": str(exc)},
            status_code=403,
        )

    @app.exception_handler(CMEError)
    async def refused(request: Request, exc: CMEError) -> Response:
        # A command's refusal reached no form that shows it beside a field: say it whole.
        return render(
            request,
            "error.html",
            {"title": "This was not done", "message": str(exc)},
            status_code=getattr(exc, "http_status", 400),
        )

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        # A page, not FastAPI's JSON (which echoes what was sent, a child's details included).
        where = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return render(
            request,
            "error.html",
            {
                "title": "This was not done",
                "message": "The address or form had a missing or wrong value"
                + (f" ({', '.join(where)})" if where else "")
                + ". Go back and try again; nothing was changed.",
            },
            status_code=400,
        )

    # Starlette's, so the router's own 404 and 405 get the page too (FastAPI's is a subclass).
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {403: "You cannot do this", 404: "Page not found", 405: "Not allowed"}
        page = render(
            request,
            "error.html",
            {"title": titles.get(exc.status_code, "Something went wrong"), "message": exc.detail},
            status_code=exc.status_code,
        )
        page.headers.update(exc.headers or {})  # e.g. a 405's Allow
        return page
