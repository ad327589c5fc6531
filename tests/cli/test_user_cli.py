"""`cme admin user add | list | disable`: the web service's local accounts, made on the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.audit.access import access_entries
from engine.cli import cli
from engine.store.database import open_store
from engine.web.accounts import check_password
from engine.web.app import create_app
from engine.web.settings import GOVUK_FRONTEND, WebSettings

PASSWORD = "a long enough passphrase"


def run(
    db: str, *args: str, actor: str | None = "jo.admin", given: str | None = None
) -> tuple[int, str, str]:
    acting = (("add",), ("disable",), ("enable",), ("password",))
    extra = ["--actor", actor] if actor and args[:1] in acting else []
    result = CliRunner(env={"COLUMNS": "200", "CME_ACTOR": ""}).invoke(
        cli, ["admin", "user", *args, *extra, "--db", db], input=given
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def password_file(tmp_path: Path) -> str:
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return str(path)


def listed(db: str) -> list[dict[str, object]]:
    code, out, _ = run(db, "list", "--json")
    assert code == 0
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_add_from_a_file_then_list(sqlite_url: str, password_file: str) -> None:
    code, out, err = run(
        sqlite_url, "add", "sona.k", "--role", "cme_officer", "--password-file", password_file
    )
    assert code == 0, err
    assert "added sona.k: cme_officer; they can sign in now" in out
    code, out, _ = run(
        sqlite_url,
        "add",
        "kt.lead",
        "--role",
        "school",
        "--school",
        "Kentish Town Primary School",
        "--password-file",
        password_file,
    )
    assert code == 0
    rows = listed(sqlite_url)
    assert [(r["name"], r["role"], r["school"], r["sign_in"], r["disabled"]) for r in rows] == [
        ("kt.lead", "school", "Kentish Town Primary School", "password", False),
        ("sona.k", "cme_officer", None, "password", False),
    ]
    assert {r["created_by"] for r in rows} == {"jo.admin"}
    code, out, _ = run(sqlite_url, "list")
    assert "Kentish Town Primary School" in out
    assert "jo.admin" in out
    store = open_store(sqlite_url)
    actions = [(e["actor"], e["role"], e["action"]) for e in access_entries(store)]
    store.dispose()
    assert actions == [
        ("jo.admin", "operator", "account added: sona.k as cme_officer"),
        ("jo.admin", "operator", "account added: kt.lead as school (Kentish Town Primary School)"),
    ]


def test_the_password_is_asked_twice_hidden(sqlite_url: str) -> None:
    typed = f"{PASSWORD}\nnot the same one at all\n{PASSWORD}\n{PASSWORD}\n"
    code, out, err = run(sqlite_url, "add", "sona.k", "--role", "line_manager", given=typed)
    assert code == 0, err
    assert "do not match" in err
    assert PASSWORD not in out + err, "never echoed"
    assert listed(sqlite_url)[0]["role"] == "line_manager"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "headteacher"), "there is no role 'headteacher'"),
        (("--role", "scheduler"), "the engine's own role"),
        (("--role", "school"), "a school's account needs --school NAME"),
    ],
)
def test_refusals_write_nothing_and_ask_no_password(
    sqlite_url: str, args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(sqlite_url, "add", "x.y", *args, given="")
    assert code != 0
    assert message in err
    assert "Password" not in err
    assert listed(sqlite_url) == []


def test_a_short_password_a_taken_name_and_no_actor_are_refused(
    sqlite_url: str, password_file: str, tmp_path: Path
) -> None:
    short = tmp_path / "short.txt"
    short.write_text("tooshort\n", encoding="utf-8")
    code, _, err = run(sqlite_url, "add", "x.y", "--role", "auditor", "--password-file", str(short))
    assert code != 0
    assert "the password is 8 characters; use at least 12" in err
    assert listed(sqlite_url) == []
    code, _, err = run(
        sqlite_url, "add", "x.y", "--role", "auditor", "--password-file", password_file, actor=None
    )
    assert code != 0
    assert "who is doing this?" in err
    assert listed(sqlite_url) == []
    assert (
        run(sqlite_url, "add", "x.y", "--role", "auditor", "--password-file", password_file)[0] == 0
    )
    code, _, err = run(sqlite_url, "add", "x.y", "--role", "cme_officer", given="")
    assert code != 0
    assert "there is already an account named 'x.y'" in err
    assert [r["role"] for r in listed(sqlite_url)] == ["auditor"]


@pytest.mark.skipif(
    not (GOVUK_FRONTEND / "govuk-frontend.min.css").is_file(), reason="govuk-frontend not installed"
)
def test_disable_signs_the_person_out_at_once(sqlite_url: str, password_file: str) -> None:
    run(sqlite_url, "add", "sona.k", "--role", "cme_officer", "--password-file", password_file)
    app: FastAPI = create_app(WebSettings(db_url=sqlite_url, secure_cookies=False))
    client = TestClient(app, follow_redirects=False)
    page = client.get("/sign-in").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/sign-in", data={"name": "sona.k", "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 303
    assert client.get("/").status_code == 200
    code, out, _ = run(sqlite_url, "disable", "sona.k")
    assert code == 0
    assert "disabled sona.k" in out
    assert client.get("/").status_code == 303, "the open session ends"
    assert listed(sqlite_url)[0]["disabled"] is True
    code, _, err = run(sqlite_url, "disable", "sona.k")
    assert code != 0
    assert "disabled already" in err
    code, _, err = run(sqlite_url, "disable", "nobody")
    assert code != 0
    assert "there is no account named 'nobody'" in err
    app.state.engine.reader.store.dispose()


def test_enable_again_and_a_new_password(
    sqlite_url: str, password_file: str, tmp_path: Path
) -> None:
    run(sqlite_url, "add", "sona.k", "--role", "cme_officer", "--password-file", password_file)
    assert run(sqlite_url, "disable", "sona.k")[0] == 0
    code, out, _ = run(sqlite_url, "enable", "sona.k")
    assert code == 0
    assert "enabled sona.k" in out
    code, _, err = run(sqlite_url, "enable", "sona.k")
    assert code != 0
    assert "is enabled already" in err
    new = tmp_path / "new.txt"
    new.write_text("another long passphrase\n", encoding="utf-8")
    code, out, err = run(sqlite_url, "password", "sona.k", "--password-file", str(new))
    assert code == 0, err
    store = open_store(sqlite_url)
    try:
        assert check_password(store, "sona.k", "another long passphrase") is not None
        assert check_password(store, "sona.k", PASSWORD) is None
        actions = [e["action"] for e in access_entries(store)]
    finally:
        store.dispose()
    assert actions[-3:] == [
        "account disabled: sona.k",
        "account enabled: sona.k",
        "account password set: sona.k",
    ]
    code, _, err = run(sqlite_url, "password", "nobody", given="")
    assert code != 0
    assert "no enabled account named 'nobody'" in err
    assert "Password" not in err, "refused before the password is asked"
