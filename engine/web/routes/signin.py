"""Signing in with a local account, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.web.accounts import check_password
from engine.web.context import SESSION_SEEN, SESSION_USER, engine_of
from engine.web.csrf import csrf_protect
from engine.web.pages import render

router = APIRouter()


def _safe_next(next_url: str | None) -> str:
    # Only a path on this service: never an open redirect to another site.
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    return next_url


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next: str | None = None, timed_out: bool = False
) -> Response:
    """The sign-in form."""
    return render(request, "sign_in.html", {"next": _safe_next(next), "timed_out": timed_out})


@router.post("/sign-in", dependencies=[Depends(csrf_protect)])
async def sign_in(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the name and password; on success start a fresh session (a new CSRF token too)."""
    errors = {}
    if not name.strip():
        errors["name"] = "Enter your user name"
    if not password:
        errors["password"] = "Enter your password"
    user = None
    if not errors:
        user = check_password(engine_of(request).store, name.strip(), password)
        if user is None:
            errors["password"] = "Enter a correct user name and password"
    if user is None:
        return render(
            request,
            "sign_in.html",
            {"next": _safe_next(next), "errors": errors, "name": name},
            status_code=400,
        )
    request.session.clear()
    request.session[SESSION_USER] = {"name": user.name, "role": user.role, "school": user.school}
    request.session[SESSION_SEEN] = engine_of(request).now().timestamp()
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/sign-out", dependencies=[Depends(csrf_protect)])
async def sign_out(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)
