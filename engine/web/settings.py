"""How the web service runs: its database, session secret, cookie and idle-timeout settings,
the council's identity provider and the sign-in throttle.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

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
    school_claim: str | None = None
    """The claim naming a school's user's school; None: a school's user cannot sign in this way."""
    name_claim: str = "preferred_username"
    """The claim recorded as the person's name on every event (falls back to `email`, `sub`)."""
    transport: httpx.AsyncBaseTransport | None = None
    """How to reach the provider (tests pass an in-process one); None: the network."""


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
    public_url: str | None = None
    """The address people use (e.g. https://cme.example.gov.uk); the identity provider returns
    people to it. None: the address of the request (localhost trials and tests)."""
    sign_in_failures: int = 5
    """Failed sign-ins allowed for one name within `sign_in_window_minutes`; then a wait."""
    sign_in_window_minutes: int = 15
