"""An in-process identity provider (OpenID Connect) for tests: discovery, JWKS and a token
endpoint issuing RS256-signed ID tokens. Reached through an httpx ASGI transport: no network.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = "https://idp.council.test/realms/staff"
CLIENT_ID = "cme"
CLIENT_SECRET = "client-secret-for-tests"


class FakeIdentityProvider:
    """Issues a code for whatever claims a test gives, and an ID token for that code."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.app = Starlette(
            routes=[
                Route("/realms/staff/.well-known/openid-configuration", self.discovery),
                Route("/realms/staff/jwks", self.jwks),
                Route("/realms/staff/token", self.token, methods=["POST"]),
            ]
        )
        self.transport = httpx.ASGITransport(app=self.app)

    def issue_code(self, claims: dict[str, Any], *, nonce: str, issuer: str = ISSUER) -> str:
        """A one-time code that the token endpoint exchanges for a token with `claims`."""
        code = f"code-{len(self.codes) + 1}"
        self.codes[code] = {"claims": claims, "nonce": nonce, "issuer": issuer}
        return code

    async def discovery(self, _request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, _request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def token(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or not form.get("code_verifier"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": grant["issuer"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["claims"],
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return JSONResponse(
            {
                "access_token": "access",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )
