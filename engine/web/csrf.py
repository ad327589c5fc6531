"""Cross-site request forgery protection: every form carries the session's token, and every
POST without it is refused before any command runs.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The session's token, made on first use."""
    token = request.session.get(FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[FIELD] = token
    return token


async def csrf_protect(request: Request) -> None:
    """Refuse (403) a state-changing request whose form or X-CSRF-Token header lacks the token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get(FIELD)
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get(FIELD)
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or given is None or not hmac.compare_digest(expected, given):
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this service. Go back, reload "
            "the page and try again; nothing was changed.",
        )
