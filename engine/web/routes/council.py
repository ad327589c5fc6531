"""Signing in with a council account: to the identity provider and back (OpenID Connect)."""

from __future__ import annotations

import httpx
from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from engine.web import signins
from engine.web.context import engine_of
from engine.web.oidc import (
    CouncilSignInRefused,
    council_client,
    person_of,
    record_account,
    redirect_uri,
)
from engine.web.pages import render
from engine.web.routes.signin import safe_next

router = APIRouter()

SESSION_NEXT = "council_next"


def _configured(request: Request) -> None:
    if engine_of(request).settings.oidc is None:
        raise HTTPException(
            status_code=404,
            detail="Signing in with a council account is not set up for this service; sign in "
            "with your user name and password.",
        )


@router.get("/sign-in/council")
async def council_sign_in(request: Request, next: str | None = None) -> Response:
    """Send the person to the council's identity provider."""
    _configured(request)
    request.session[SESSION_NEXT] = safe_next(next)
    try:
        answer: Response = await council_client(request).authorize_redirect(
            request, redirect_uri(request)
        )
    except httpx.HTTPError:
        return _unreachable(request)
    return answer


@router.get("/sign-in/council/callback", name="council_callback")
async def council_callback(request: Request) -> Response:
    """Back from the identity provider: sign the person in with the role its token gives."""
    _configured(request)
    engine = engine_of(request)
    settings = engine.settings.oidc
    assert settings is not None
    next_url = safe_next(request.session.get(SESSION_NEXT))
    try:
        token = await council_client(request).authorize_access_token(request)
    except OAuthError as exc:
        return _incomplete(request, exc.description or exc.error)
    except JoseError as exc:
        # The ID token failed its checks (signature, issuer, audience, nonce, expiry).
        return _incomplete(request, f"its token was not valid: {exc.description or exc.error}")
    except httpx.HTTPError:
        return _unreachable(request)
    claims = token.get("userinfo") or {}
    at = engine.now()
    try:
        person = person_of(claims, settings, engine.roles)
        # Database work off the event loop (this route awaits the identity provider).
        await run_in_threadpool(record_account, engine.store, engine.roles, person, at=at)
    except CouncilSignInRefused as exc:
        who = claims.get(settings.name_claim) or claims.get("email") or claims.get("sub") or "?"
        role = claims.get(settings.role_claim)
        signins.record(
            engine.store,
            name=str(who),
            role=role if isinstance(role, str) else None,
            action=signins.REFUSED_COUNCIL,
            at=at,
        )
        return _refused(request, exc.message, status_code=403)
    await run_in_threadpool(
        signins.start_session, request, person, action=signins.SIGNED_IN_COUNCIL
    )
    return RedirectResponse(next_url, status_code=303)


def _unreachable(request: Request) -> Response:
    return _refused(
        request,
        "The council's sign-in could not be reached. Try again in a few minutes, or sign in "
        "with your user name and password.",
        status_code=502,
    )


def _incomplete(request: Request, why: str) -> Response:
    return _refused(
        request,
        f"The council's sign-in did not complete ({why}). Go back to the sign-in page and try "
        "again.",
        status_code=400,
    )


def _refused(request: Request, message: str, *, status_code: int) -> Response:
    request.session.pop(SESSION_NEXT, None)
    return render(
        request,
        "error.html",
        {"title": "You cannot sign in to this service", "message": message},
        status_code=status_code,
    )
