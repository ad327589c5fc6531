"""Security headers on every response: a Content-Security-Policy with no inline script, no
framing, no sniffing, no referrer, and no caching of anything but the static files (pages hold
children's personal data). A plain ASGI middleware, so it costs no extra task per request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""Everything from this service only; no inline script or style (JavaScript lives in static/)."""

STATIC_PREFIXES = ("/assets/", "/govuk-frontend/", "/static/")
"""Addresses of files that hold no personal data and may be cached."""

_ALWAYS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
_NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)


class SecurityHeaders:
    """Adds the headers to every HTTP response of `app`; HSTS too when served over HTTPS only."""

    def __init__(self, app: ASGIApp, *, https_only: bool) -> None:
        self.app = app
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PREFIXES)
        extra = _ALWAYS + (() if static else _NO_STORE) + (_HSTS if self.https_only else ())
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + list(extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
