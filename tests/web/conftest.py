"""Fixtures for the web service: an app over a fresh SQLite database, and signed-in clients."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.cli import wiring
from engine.web.accounts import add_account
from engine.web.app import create_app
from engine.web.settings import GOVUK_FRONTEND, WebSettings

PASSWORD = "correct horse battery staple"

if not (GOVUK_FRONTEND / "govuk-frontend.min.css").is_file():
    pytest.skip(
        "govuk-frontend is not installed in engine/web/node_modules: run `bash scripts/setup` "
        "(npm ci) to test the web service",
        allow_module_level=True,
    )


@pytest.fixture
def web_db(tmp_path: Path) -> str:
    """A fresh SQLite database URL for one test."""
    return f"sqlite:///{tmp_path / 'cme.db'}"


@pytest.fixture
def web_app(web_db: str) -> Iterator[FastAPI]:
    """The app over `web_db`, cookies allowed over http (the test client's scheme)."""
    app = create_app(WebSettings(db_url=web_db, secure_cookies=False, session_secret="test"))
    yield app
    app.state.engine.reader.store.dispose()


def form_token(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


SignIn = Callable[..., TestClient]


@pytest.fixture
def sign_in(web_app: FastAPI) -> SignIn:
    """A client signed in as a new account in `role` (a school's with `school`)."""

    def make(role: str, name: str | None = None, school: str | None = None) -> TestClient:
        name = name or f"{role}.user"
        add_account(
            web_app.state.engine.store,
            wiring.roles(),
            name=name,
            role=role,
            password=PASSWORD,
            by="test",
            at=dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC),
            school=school,
        )
        client = TestClient(web_app, follow_redirects=False)
        token = form_token(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in", data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": token}
        )
        assert answer.status_code == 303, answer.text
        return client

    return make
