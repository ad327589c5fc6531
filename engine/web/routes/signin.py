"""Signing in with a local account (throttled, and on the record), and signing out.

Plain (not async) routes: checking an argon2 hash takes tens of milliseconds, so it runs in the
threadpool rather than holding up everyone else's requests on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.web import signins
from engine.web.accounts import check_password, find_account
from engine.web.context import engine_of, user_of
from engine.web.csrf import csrf_protect
from engine.web.pages import render

router = APIRouter()


def safe_next(next_url: str | None) -> str:
    """Only a path on this service: never an open redirect to another site."""
    if not next_url or not next_url.startswith("/") or next_url.startswith(("//", "/\\")):
        return "/"
    return next_url


def _page(request: Request, next_url: str | None, **context: object) -> dict[str, object]:
    return {
        "next": safe_next(next_url),
        "oidc": engine_of(request).settings.oidc is not None,
        **context,
    }


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None, timed_out: bool = False) -> Response:
    """The sign-in form."""
    return render(request, "sign_in.html", _page(request, next, timed_out=timed_out))


@router.post("/sign-in", dependencies=[Depends(csrf_protect)])
def sign_in(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the name and password; on success start a fresh session (a new CSRF token too).

    After too many failures for a name it must wait (no password is checked meanwhile).
    """
    engine = engine_of(request)
    name = name.strip()
    errors = {}
    if not name:
        errors["name"] = "Enter your user name"
    if not password:
        errors["password"] = "Enter your password"
    user, throttled = None, False
    if not errors:
        at, throttle = engine.now(), signins.throttle_of(request)
        until = signins.wait_until(engine.store, name, at=at, throttle=throttle)
        known = find_account(engine.store, name)
        role = None if known is None else known.role
        if until is not None:
            throttled = True
            signins.record(engine.store, name=name, role=role, action=signins.REFUSED_WAIT, at=at)
            errors["name"] = signins.wait_message(until, at=at, throttle=throttle)
        else:
            user = check_password(engine.store, name, password)
            if user is None:
                signins.record(engine.store, name=name, role=role, action=signins.FAILED, at=at)
                errors["password"] = "Enter a correct user name and password"
    if user is None:
        return render(
            request,
            "sign_in.html",
            _page(request, next, errors=errors, name=name),
            status_code=429 if throttled else 400,
        )
    signins.start_session(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-out", dependencies=[Depends(csrf_protect)])
def sign_out(request: Request) -> Response:
    """End the session."""
    user = user_of(request)
    request.session.clear()
    if user is not None:
        engine = engine_of(request)
        signins.record(
            engine.store, name=user.name, role=user.role, action=signins.SIGNED_OUT, at=engine.now()
        )
    return RedirectResponse("/sign-in", status_code=303)
