"""Security headers on every response, the sign-in throttle, and sign-ins on the record."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from freezegun import freeze_time

from engine.audit.access import access_entries
from engine.web.headers import CONTENT_SECURITY_POLICY
from tests.web.conftest import PASSWORD, SignIn, form_token


@pytest.fixture
def web_db(db_url: str) -> str:
    """These run on SQLite and on PostgreSQL (the app's database, from tests/conftest.py)."""
    return db_url


def _try(client: TestClient, name: str, password: str) -> int:
    token = form_token(client.get("/sign-in").text)
    answer = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": token})
    return int(answer.status_code)


def test_every_response_carries_the_security_headers(sign_in: SignIn, web_app: FastAPI) -> None:
    anonymous = TestClient(web_app, follow_redirects=False)
    officer = sign_in("cme_officer")
    for answer in (
        anonymous.get("/sign-in"),
        anonymous.get("/"),  # the redirect to sign in
        officer.get("/"),
        officer.get("/no-such-page"),  # an error page
        anonymous.post("/sign-out"),  # refused: no form token
    ):
        headers = answer.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store", answer.request.url
    static = anonymous.get("/static/start.js")
    assert static.status_code == 200
    assert "cache-control" not in static.headers
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in static.headers  # these tests run over http


def test_pages_have_no_inline_script(sign_in: SignIn) -> None:
    page = sign_in("cme_officer").get("/").text
    assert "<script>" not in page
    assert '<script src="/static/' in page


def test_five_failures_make_the_name_wait(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time("2026-12-03 09:00:00") as frozen:
        sign_in("cme_officer", name="sona.k")
        client = TestClient(web_app, follow_redirects=False)
        for _ in range(5):
            assert _try(client, "sona.k", "wrong guess") == 400
            frozen.tick(dt.timedelta(minutes=1))
        # The sixth try is refused even with the right password, saying how long to wait.
        token = form_token(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in", data={"name": "sona.k", "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 429
        assert "5 failed sign-ins for this user name in 15 minutes" in answer.text
        assert "Wait 10 minutes" in answer.text
        assert _try(client, "another.name", "wrong guess") == 400, "only that name waits"
        frozen.tick(dt.timedelta(minutes=10))
        assert _try(client, "sona.k", PASSWORD) == 303


def test_a_successful_sign_in_clears_the_count(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time("2026-12-03 09:00:00") as frozen:
        sign_in("cme_officer", name="sona.k")
        client = TestClient(web_app, follow_redirects=False)
        for _ in range(4):
            assert _try(client, "sona.k", "wrong guess") == 400
        frozen.tick(dt.timedelta(seconds=1))
        assert _try(client, "sona.k", PASSWORD) == 303
        frozen.tick(dt.timedelta(seconds=1))
        for _ in range(4):
            assert _try(client, "sona.k", "wrong guess") == 400
        assert _try(client, "sona.k", PASSWORD) == 303


def test_sign_ins_and_failures_are_in_the_access_log(sign_in: SignIn, web_app: FastAPI) -> None:
    client = sign_in("cme_officer", name="sona.k")
    token = form_token(client.get("/").text)
    client.post("/sign-out", data={"csrf_token": token})
    _try(TestClient(web_app), "sona.k", "wrong guess")
    _try(TestClient(web_app), "nobody", "wrong guess")
    entries = [
        (e["actor"], e["role"], e["action"], e["case_id"])
        for e in access_entries(web_app.state.engine.store)
    ]
    assert entries == [
        ("sona.k", "cme_officer", "sign-in", None),
        ("sona.k", "cme_officer", "sign-out", None),
        ("sona.k", "cme_officer", "sign-in failed", None),
        ("nobody", "-", "sign-in failed", None),
    ]


def test_a_malformed_address_is_a_page_not_json(sign_in: SignIn) -> None:
    answer = sign_in("policy_owner").get("/processes/untraceable_cme/not-a-number")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "had a missing or wrong value (version)" in answer.text
    assert "not-a-number" not in answer.text, "what was sent is not echoed"


def test_the_routers_own_errors_are_pages(web_app: FastAPI) -> None:
    client = TestClient(web_app, follow_redirects=False)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    wrong = client.put("/sign-in")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]
    assert wrong.headers["content-type"].startswith("text/html")
