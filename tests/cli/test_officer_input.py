"""What an officer types, made safe (issue 15): the actor always known, long free text from a
file or standard input, control characters refused on input and neutralised on output, repeats
only when deliberate, check amendments keeping both outcomes, and the reasons shown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def cme(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"CME_ACTOR": "sona", **(env or {})}, input=stdin
    )


def ok(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    result = cme(*args, env=env, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    result = cme(*args, env=env, stdin=stdin)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


def form(tmp_path: Path) -> Path:
    data = yaml.safe_load(ok("case", "form", "--example"))
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def opened(tmp_path: Path, db: str) -> str:
    out = ok(
        "case", "open", "--form", str(form(tmp_path)), "--on", "2024-10-21", "--db", db, "--json"
    )
    case_ids: list[str] = json.loads(out)["case_ids"]
    return case_ids[0]


def show(db: str, case_id: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok("case", "show", case_id, "--json", "--db", db, *extra))
    return data


# -- the actor is always known ------------------------------------------------------------------


def test_a_command_without_an_actor_is_refused_saying_how_to_set_one(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_ACTOR", raising=False)
    monkeypatch.setenv("USER", "svc-cme")  # a login name is no officer's name
    args = ["case", "open", "--form", str(form(tmp_path)), "--on", "2024-10-21", "--db", db]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert "--actor" in result.output
    assert "CME_ACTOR" in result.output
    # Nothing was written: the same command with an actor opens CME-000001, not CME-000003.
    out = ok(*args, "--json", env={"CME_ACTOR": "sona.k"})
    assert json.loads(out)["case_ids"][0] == "CME-000001"
    shown = show(db, "CME-000001")
    assert shown["assigned_officer"] == "sona.k"
    assert {e["actor"] for e in shown["history"]} == {"sona.k"}


def test_reads_without_an_actor_are_refused_too(
    opened: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_ACTOR", raising=False)
    for args in (["case", "show", opened], ["case", "list"], ["due", "--on", "2024-10-22"]):
        result = CliRunner().invoke(cli, [*args, "--db", db])
        assert result.exit_code != 0, result.output
        assert "CME_ACTOR" in result.output
        assert "unknown" not in result.output


def test_an_actor_name_with_an_escape_sequence_is_refused(opened: str, db: str) -> None:
    out = refused("case", "show", opened, "--db", db, "--actor", "sona\x1b[2J")
    assert "ESC (U+001B)" in out


def test_the_readme_short_session_names_its_actor_before_any_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    session = readme.split("A short session:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line for line in session.splitlines() if line.strip()]
    assert lines[0].startswith("export CME_ACTOR=")
    for line in lines[1:]:
        if "CME_ROLE=" in line:  # another person: named too
            assert re.search(r"CME_ACTOR=\S+ CME_ROLE=", line), line
