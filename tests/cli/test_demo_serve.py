"""`cme demo --serve`: after the term, the demo's people get web accounts (the password printed)
and the demo's database is served; every page they can reach answers on today's date, though
the demo's cases are from autumn 2024."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.cli import cli
from engine.cli.demo_serve import DEMO_ACCOUNTS
from engine.protection.access import Permission
from engine.store.tables import case_table, web_account_table
from engine.web.settings import GOVUK_FRONTEND

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, str]:
    """The app `cme demo --serve` would serve (uvicorn not started), and what the demo printed."""
    if not (GOVUK_FRONTEND / "govuk-frontend.min.css").is_file():
        pytest.skip("govuk-frontend is not installed: run `bash scripts/setup` (npm ci)")
    import uvicorn

    started: dict[str, Any] = {}
    db = tmp_path_factory.mktemp("demo-serve") / "demo.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
        result = CliRunner().invoke(cli, ["demo", "--fresh", "--db", str(db), "--serve"])
    assert result.exit_code == 0, result.output
    assert started["host"] == "127.0.0.1"
    assert started["port"] == 8000
    app: FastAPI = started["app"]
    assert app.state.settings.secure_cookies is False, "plain http on localhost needs this"
    return app, result.output


def _password(output: str) -> str:
    found = re.search(r"sign in as one of these, password (\S+)", output)
    assert found, output
    return found.group(1)


def _sign_in(app: FastAPI, name: str, password: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/sign-in", data={"name": name, "password": password, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text
    return client


def test_the_demo_prints_the_address_and_each_sign_in(served: tuple[FastAPI, str]) -> None:
    app, output = served
    assert "Open http://127.0.0.1:8000/ and sign in as one of these" in output
    assert len(_password(output)) >= 12
    with app.state.engine.store.read() as conn:
        rows = conn.execute(select(web_account_table.c.name, web_account_table.c.role)).all()
    accounts = {row.name: row.role for row in rows}
    assert accounts == {name: role for name, role, _ in DEMO_ACCOUNTS}
    for name, _, _ in DEMO_ACCOUNTS:
        assert name in output


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every route of the app, through the routers it includes (each without a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


@pytest.mark.parametrize(("name", "role"), [(n, r) for n, r, _ in DEMO_ACCOUNTS])
def test_every_page_answers_on_today_for_each_demo_person(
    served: tuple[FastAPI, str], name: str, role: str
) -> None:
    app, output = served
    client = _sign_in(app, name, _password(output))
    with app.state.engine.store.read() as conn:
        case_ids = list(conn.execute(select(case_table.c.id).order_by(case_table.c.id)).scalars())
    assert len(case_ids) >= 40
    visited = {}
    for route in _api_routes(app.routes):
        if "GET" not in (route.methods or set()):
            continue
        if route.path.startswith("/sign-in/council"):
            continue  # the council's sign-in leaves for its identity provider
        params = set(re.findall(r"{(\w+)}", route.path))
        if params - {"case_id"}:
            continue
        # Every fifth case: each way a demo case ends is among them.
        sample = [route.path.format(case_id=c) for c in case_ids[::5]]
        targets = [route.path] if not params else sample
        for path in targets:
            answer = client.get(path)
            assert answer.status_code < 500, f"{role} {path}: {answer.status_code}"
            visited[path] = answer.status_code
    assert visited.get("/") == 200
    # The demo's 2024 cases are shown on today's date (long overdue, as they are).
    if app.state.engine.roles.allows(role, Permission.read_case):
        shown = [p for p, code in visited.items() if p.startswith("/cases/CME-") and code == 200]
        assert shown, visited
