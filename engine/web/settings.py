"""How the web service runs: its database, session secret, cookie and idle-timeout settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

WEB_ROOT = Path(__file__).parent
GOVUK_FRONTEND = WEB_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
"""govuk-frontend's built CSS, JavaScript and assets, installed by scripts/setup (npm ci)."""


@dataclass(frozen=True)
class OidcSettings:
    """The council's identity provider (OpenID Connect): where it is and how we are known to it."""

    issuer: str
    client_id: str
    client_secret: str
    role_claim: str = "cme_role"
    """The claim carrying the person's CME role (a role id of processes/roles.yaml)."""


@dataclass(frozen=True)
class WebSettings:
    """What `cme serve` (or a test) gives the app."""

    db_url: str | None = None
    """The database (SQLite by default, PostgreSQL by URL), as `cme --db` takes it."""
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Signs the session cookie; a new one each start unless the deployment names a file."""
    secure_cookies: bool = True
    """Cookies only over HTTPS (behind the reverse proxy); off only for localhost and tests."""
    idle_minutes: int = 30
    """Signed out after this long without a request."""
    oidc: OidcSettings | None = None
    assets: Path = GOVUK_FRONTEND
