"""Signing in with a council account (OpenID Connect) against an in-process identity provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.audit.access import access_entries
from engine.cli import wiring
from engine.store.tables import web_account_table
from engine.web.accounts import add_account
from engine.web.app import create_app
from engine.web.settings import OidcSettings, WebSettings
from tests.web.conftest import PASSWORD, form_token
from tests.web.fake_idp import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeIdentityProvider

PERSON = {"sub": "u-9", "preferred_username": "x.y"}


@pytest.fixture
def idp() -> FakeIdentityProvider:
    return FakeIdentityProvider()


@pytest.fixture
def council_app(web_db: str, idp: FakeIdentityProvider) -> Iterator[FastAPI]:
    oidc = OidcSettings(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        school_claim="school",
        transport=idp.transport,
    )
    app = create_app(
        WebSettings(
            db_url=web_db,
            secure_cookies=False,
            session_secret="test",
            oidc=oidc,
            public_url="https://cme.council.test",
        )
    )
    yield app
    app.state.engine.reader.store.dispose()


def sign_in_with(
    app: FastAPI, idp: FakeIdentityProvider, claims: dict[str, Any], *, next_url: str = "/"
) -> tuple[TestClient, Any]:
    """Go to the provider and come back with `claims`; the client and the callback's answer."""
    client = TestClient(app, follow_redirects=False)
    out = client.get("/sign-in/council", params={"next": next_url})
    assert out.status_code == 302
    where = urlsplit(out.headers["location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == f"{ISSUER}/auth"
    asked = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert asked["redirect_uri"] == "https://cme.council.test/sign-in/council/callback"
    assert asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256"
    assert "openid" in asked["scope"].split()
    code = idp.issue_code(claims, nonce=asked["nonce"])
    back = client.get("/sign-in/council/callback", params={"code": code, "state": asked["state"]})
    return client, back


def test_a_council_account_signs_in_with_its_role(
    council_app: FastAPI, idp: FakeIdentityProvider
) -> None:
    claims = {"sub": "u-123", "preferred_username": "sona.k", "cme_role": "cme_officer"}
    client, back = sign_in_with(council_app, idp, claims, next_url="/reports")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/reports"
    page = client.get("/").text
    assert "Signed in as <strong>sona.k</strong> (cme_officer)" in page
    store = council_app.state.engine.store
    with store.read() as conn:
        row = conn.execute(select(web_account_table)).one()
    assert (row.name, row.role, row.password_hash, row.created_by) == (
        "sona.k",
        "cme_officer",
        None,
        "council sign-in",
    )
    assert [(e["actor"], e["action"]) for e in access_entries(store)] == [
        ("sona.k", "sign-in (council account)")
    ]
    # A second sign-in finds the account; no second row.
    _, again = sign_in_with(council_app, idp, claims)
    assert again.status_code == 303


def test_a_schools_user_gets_their_school(council_app: FastAPI, idp: FakeIdentityProvider) -> None:
    claims = {
        "sub": "u-2",
        "preferred_username": "kt.lead",
        "cme_role": "school",
        "school": "Kentish Town",
    }
    client, back = sign_in_with(council_app, idp, claims)
    assert back.status_code == 303
    assert "(school, Kentish Town)" in client.get("/").text


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "u", "preferred_username": "x.y"}, "has no CME role"),
        (
            {"sub": "u", "preferred_username": "x.y", "cme_role": "headteacher"},
            "not a role a person may",
        ),
        (
            {"sub": "u", "preferred_username": "x.y", "cme_role": "scheduler"},
            "not a role a person may",
        ),
        (
            {"sub": "u", "preferred_username": "x.y", "cme_role": "school"},
            "did not say which school",
        ),
    ],
)
def test_a_person_without_a_role_cme_knows_is_refused(
    council_app: FastAPI, idp: FakeIdentityProvider, claims: dict[str, Any], message: str
) -> None:
    client, back = sign_in_with(council_app, idp, claims)
    assert back.status_code == 403
    assert "You cannot sign in to this service" in back.text
    assert message in back.text
    assert client.get("/").status_code == 303, "not signed in"
    store = council_app.state.engine.store
    with store.read() as conn:
        assert conn.execute(select(web_account_table)).first() is None, "no account recorded"
    assert [e["action"] for e in access_entries(store)] == ["sign-in refused (council account)"]


def test_a_forged_or_replayed_callback_is_refused(
    council_app: FastAPI, idp: FakeIdentityProvider
) -> None:
    claims = {"sub": "u", "preferred_username": "sona.k", "cme_role": "cme_officer"}
    client = TestClient(council_app, follow_redirects=False)
    # No sign-in was started by this browser: the state is unknown.
    code = idp.issue_code(claims, nonce="n")
    back = client.get("/sign-in/council/callback", params={"code": code, "state": "made-up"})
    assert back.status_code == 400
    assert "did not complete" in back.text
    # A token signed for the right nonce but by another issuer is refused too.
    out = client.get("/sign-in/council")
    asked = {k: v[0] for k, v in parse_qs(urlsplit(out.headers["location"]).query).items()}
    code = idp.issue_code(claims, nonce=asked["nonce"], issuer="https://evil.test")
    back = client.get("/sign-in/council/callback", params={"code": code, "state": asked["state"]})
    assert back.status_code == 400
    assert "its token was not valid" in back.text
    assert client.get("/").status_code == 303


def test_a_disabled_or_local_account_cannot_be_taken_over(
    council_app: FastAPI, idp: FakeIdentityProvider
) -> None:
    store = council_app.state.engine.store

    add_account(
        store,
        wiring.roles(),
        name="sona.k",
        role="cme_officer",
        password=PASSWORD,
        by="t",
        at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
    )
    claims = {"sub": "u", "preferred_username": "sona.k", "cme_role": "line_manager"}
    _, back = sign_in_with(council_app, idp, claims)
    assert back.status_code == 403
    assert "local account named sona.k" in back.text


def test_without_oidc_settings_there_is_no_council_sign_in(web_app: FastAPI) -> None:
    client = TestClient(web_app, follow_redirects=False)
    assert client.get("/sign-in/council").status_code == 404
    assert "/sign-in/council" not in client.get("/sign-in").text


def test_the_sign_in_page_offers_the_council_account(council_app: FastAPI) -> None:
    page = TestClient(council_app).get("/sign-in").text
    assert 'href="/sign-in/council"' in page
    form_token(page)


def test_an_unreachable_identity_provider_is_said_so(web_db: str) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    oidc = OidcSettings(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        transport=httpx.MockTransport(refuse),
    )
    app = create_app(WebSettings(db_url=web_db, secure_cookies=False, oidc=oidc))
    answer = TestClient(app, follow_redirects=False).get("/sign-in/council")
    assert answer.status_code == 502
    assert "could not be reached" in answer.text
    app.state.engine.reader.store.dispose()


def test_a_role_changed_at_the_provider_ends_older_sessions(
    council_app: FastAPI, idp: FakeIdentityProvider
) -> None:
    claims = {"sub": "u-7", "preferred_username": "sona.k", "cme_role": "line_manager"}
    before, _ = sign_in_with(council_app, idp, claims)
    assert before.get("/").status_code == 200
    after, _ = sign_in_with(council_app, idp, {**claims, "cme_role": "read_only"})
    assert "(read_only)" in after.get("/").text
    assert before.get("/").status_code == 303, "the line manager's session ended"
