"""Signing in through the council's identity provider (OpenID Connect, with authlib): the client,
and who the ID token says the person is.

The role comes from the token's role claim and must be a role of processes/roles.yaml that a
person may hold; a school's user also needs the school claim. The person gets an account row with
no password (so `cme admin user list` shows them and `cme admin user disable` stops them).
Does not own the session (`signins.py`) nor the routes (`routes/council.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import select, update

from engine.protection.access import RoleTable
from engine.store.database import Store
from engine.store.tables import web_account_table
from engine.web.accounts import WebUser, add_account
from engine.web.context import engine_of
from engine.web.settings import OidcSettings

if TYPE_CHECKING:
    from authlib.integrations.starlette_client import StarletteOAuth2App

CLIENT_NAME = "council"
CALLBACK = "/sign-in/council/callback"
NAME_CLAIMS = ("email", "sub")
"""Claims tried, in order, after the configured name claim."""


class CouncilSignInRefused(Exception):
    """The identity provider signed the person in, but CME may not: the page says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def council_client(request: Request) -> StarletteOAuth2App:
    """The app's OpenID Connect client (made on first use; discovery is read when needed)."""
    app = request.app
    client: StarletteOAuth2App | None = getattr(app.state, "oidc_client", None)
    if client is None:
        settings = engine_of(request).settings.oidc
        assert settings is not None, "only called when [web.oidc] is configured"
        client = _register(settings)
        app.state.oidc_client = client
    return client


def _register(settings: OidcSettings) -> StarletteOAuth2App:
    # Imported only where a provider is configured: authlib's httpx client warns on import.
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

    client_kwargs: dict[str, Any] = {
        "scope": "openid profile email",
        "code_challenge_method": "S256",
        "timeout": 10.0,
    }
    if settings.transport is not None:
        client_kwargs["transport"] = settings.transport
    oauth = OAuth()
    client = oauth.register(
        CLIENT_NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    assert isinstance(client, StarletteOAuth2App)
    return client


def redirect_uri(request: Request) -> str:
    """Where the provider sends the person back: the public address if configured."""
    public = engine_of(request).settings.public_url
    if public:
        return public.rstrip("/") + CALLBACK
    return str(request.url_for("council_callback"))


def person_of(claims: Mapping[str, Any], settings: OidcSettings, roles: RoleTable) -> WebUser:
    """Who the verified ID token's claims say signed in; refused if CME has no role for them."""
    name = next(
        (
            str(claims[c]).strip()
            for c in (settings.name_claim, *NAME_CLAIMS)
            if isinstance(claims.get(c), str) and str(claims[c]).strip()
        ),
        None,
    )
    if name is None:
        raise CouncilSignInRefused(
            "The council's sign-in did not say who you are (no user name, email or subject). "
            "Ask IT to check the identity provider's settings for this service."
        )
    role = claims.get(settings.role_claim)
    if isinstance(role, list):
        # A group-style claim: the one value that is a CME role a person may hold.
        known = [r for r in role if isinstance(r, str) and _person_role(r, roles)]
        role = known[0] if len(known) == 1 else None
    people = ", ".join(sorted(r for r, d in roles.roles.items() if not d.internal))
    if not isinstance(role, str) or not role:
        raise CouncilSignInRefused(
            f"Your council account ({name}) has no CME role: the identity provider sent no "
            f"'{settings.role_claim}' claim naming one of {people}. Ask the CME team's manager "
            "to have a role given to your account."
        )
    if not _person_role(role, roles):
        raise CouncilSignInRefused(
            f"Your council account ({name}) names the role {role!r}, which is not a role a "
            f"person may hold in this service. Roles are: {people}. Ask the CME team's manager "
            "to correct it."
        )
    school = None
    if role == "school":
        value = claims.get(settings.school_claim) if settings.school_claim else None
        if not isinstance(value, str) or not value.strip():
            raise CouncilSignInRefused(
                f"Your council account ({name}) is a school's, but the identity provider did not "
                "say which school, so CME cannot show you your school's cases. Ask IT to send "
                "the school claim, or ask the CME team for a local account."
            )
        school = value.strip()
    return WebUser(name=name, role=role, school=school)


def _person_role(role: str, roles: RoleTable) -> bool:
    entry = roles.roles.get(role)
    return entry is not None and not entry.internal


def record_account(store: Store, roles: RoleTable, person: WebUser, *, at: dt.datetime) -> None:
    """Keep an account row (no password) for a person signed in by the provider; the provider's
    role and school win over the row's. Refused if the account is disabled or a local one.
    """
    with store.read() as conn:
        row = conn.execute(
            select(web_account_table).where(web_account_table.c.name == person.name)
        ).first()
    if row is None:
        add_account(
            store,
            roles,
            name=person.name,
            role=person.role,
            password=None,
            by="council sign-in",
            at=at,
            school=person.school,
        )
        return
    if row.disabled:
        raise CouncilSignInRefused(
            f"The account {person.name} has been disabled in this service. Ask the CME team's "
            "manager if you should still have access."
        )
    if row.password_hash is not None:
        # A local account of the same name is someone's own password: never take it over.
        raise CouncilSignInRefused(
            f"There is a local account named {person.name} in this service, so it cannot be "
            "used by a council sign-in. Sign in with its password, or ask IT to remove it."
        )
    if (row.role, row.school) != (person.role, person.school):
        with store.engine.begin() as conn:
            conn.execute(
                update(web_account_table)
                .where(web_account_table.c.name == person.name)
                .values(role=person.role, school=person.school)
            )
