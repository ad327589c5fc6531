"""Signing in and out, CSRF on the sign-in form, the idle timeout and role sections."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from fastapi.testclient import TestClient
from freezegun import freeze_time

from tests.web.conftest import PASSWORD, SignIn, form_token


def test_pages_need_sign_in(web_app: FastAPI) -> None:
    client = TestClient(web_app, follow_redirects=False)
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/"


def test_wrong_password_is_refused_without_saying_which_part(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    sign_in("cme_officer", name="sona.k")
    client = TestClient(web_app, follow_redirects=False)
    token = form_token(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in", data={"name": "sona.k", "password": "wrong", "csrf_token": token}
    )
    assert answer.status_code == 400
    assert "Enter a correct user name and password" in answer.text
    assert client.get("/").status_code == 303


def test_sign_in_without_the_form_token_is_refused(sign_in: SignIn, web_app: FastAPI) -> None:
    sign_in("cme_officer", name="sona.k")
    client = TestClient(web_app, follow_redirects=False)
    answer = client.post("/sign-in", data={"name": "sona.k", "password": PASSWORD})
    assert answer.status_code == 403
    assert "did not come from this service" in answer.text


def test_an_officer_sees_their_sections_and_not_the_policy_owners(sign_in: SignIn) -> None:
    page = sign_in("cme_officer").get("/").text
    assert 'href="/cases"' in page
    assert 'href="/processes"' not in page


def test_idle_session_is_signed_out(sign_in: SignIn) -> None:
    with freeze_time("2026-12-03 09:00:00") as frozen:
        client = sign_in("line_manager")
        assert client.get("/").status_code == 200
        frozen.tick(dt.timedelta(minutes=31))
        answer = client.get("/")
        assert answer.status_code == 303
        assert "timed_out=1" in answer.headers["location"]


def test_sign_out_ends_the_session(sign_in: SignIn) -> None:
    client = sign_in("auditor")
    token = form_token(client.get("/").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_today_is_the_las_day_not_utcs(web_app: FastAPI) -> None:
    # 23:30 UTC on 14 July 2026 is 00:30 on 15 July in London (British Summer Time).
    with freeze_time("2026-07-14 23:30:00"):
        assert web_app.state.engine.today() == dt.date(2026, 7, 15)
    with freeze_time("2026-12-03 23:30:00"):
        assert web_app.state.engine.today() == dt.date(2026, 12, 3)
