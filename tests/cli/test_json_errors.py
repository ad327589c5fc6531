"""Errors for scripts: with `--json` a refusal prints on stderr as JSON with a stable `error` code
and the facts of the refusal, and exits with the same code as the text form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def cme(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CME_ACTOR": "sona"})


def json_error(code: int, *args: str) -> dict[str, Any]:
    result = cme(*args, "--json")
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    data: dict[str, Any] = json.loads(result.stderr)
    return data


@pytest.fixture
def opened(tmp_path: Path, db: str) -> str:
    form = tmp_path / "form.yaml"
    form.write_text(yaml.safe_dump(yaml.safe_load(cme("case", "form", "--example").stdout)))
    out = cme("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db, "--json")
    assert out.exit_code == 0, out.output
    case_ids: list[str] = json.loads(out.stdout)["case_ids"]
    return case_ids[0]


def test_an_unknown_case_is_json_with_a_stable_code(db: str) -> None:
    data = json_error(1, "case", "show", "NOPE", "--db", db)
    assert data["error"] == "unknown_case"
    assert data["case_id"] == "NOPE"
    assert data["message"].startswith("no case with id 'NOPE'")


def test_without_json_the_error_is_text(db: str) -> None:
    result = cme("case", "show", "NOPE", "--db", db)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no case with id 'NOPE'")


def test_an_unknown_step_names_its_suggestions(db: str, opened: str) -> None:
    data = json_error(
        1, "case", "fire", opened, "contact_establised", "--on", "2024-10-22", "--db", db
    )
    assert data["error"] == "unknown_name"
    assert (data["kind"], data["name"]) == ("step", "contact_establised")
    assert data["suggestions"][0] == "contact_established"
    assert "contact_established" in data["known"]


def test_a_step_from_the_wrong_stage_lists_the_steps_allowed(db: str, opened: str) -> None:
    data = json_error(
        1,
        "case",
        "fire",
        opened,
        "close_untraceable",
        "--on",
        "2024-10-22",
        "--role",
        "line_manager",
        "--db",
        db,
    )
    # Refused for several reasons: each is listed with its own code and facts.
    assert data["error"] == "refused"
    reasons = {r["error"]: r for r in data["reasons"]}
    assert set(reasons) == {"step_not_allowed", "missing_checks", "guard_failed"}
    stage = reasons["step_not_allowed"]
    assert (stage["case_id"], stage["step"], stage["stage"]) == (
        opened,
        "close_untraceable",
        "establishing_contact",
    )
    assert "contact_established" in stage["allowed"]
    assert "giap_check" in reasons["missing_checks"]["missing"]


def test_a_role_not_permitted_names_the_roles_that_are(db: str, opened: str) -> None:
    data = json_error(
        1,
        "case",
        "fire",
        opened,
        "contact_established",
        "--on",
        "2024-10-22",
        "--role",
        "line_manager",
        "--db",
        db,
    )
    assert data["error"] == "role_not_permitted"
    assert (data["role"], data["step"]) == ("line_manager", "contact_established")
    assert list(data["allowed"]) == ["cme_officer"]


def test_a_backdated_command_carries_both_dates(db: str, opened: str) -> None:
    data = json_error(1, "case", "note", opened, "late", "--on", "2024-10-20", "--db", db)
    assert data["error"] == "backdated"
    assert (data["requested"], data["latest"]) == ("2024-10-20", "2024-10-21")


def test_a_guard_names_the_facts_it_read(db: str, opened: str) -> None:
    data = json_error(
        1, "case", "fire", opened, "moved_to_another_la", "--on", "2024-10-22", "--db", db
    )
    assert data["error"] == "guard_failed"
    assert data["unset"] == ["destination_la"]


def test_a_stale_expected_sequence_is_a_conflict(db: str, opened: str) -> None:
    data = json_error(
        3, "case", "note", opened, "x", "--on", "2024-10-22", "--expect-seq", "7", "--db", db
    )
    assert data["error"] == "conflict"
    assert (data["expected_seq"], data["found_seq"]) == (7, 1)


def test_access_denied_names_the_role_and_the_permission(db: str, opened: str) -> None:
    data = json_error(
        5, "case", "note", opened, "x", "--on", "2024-10-22", "--role", "janitor", "--db", db
    )
    assert data["error"] == "access_denied"
    assert (data["role"], data["permission"]) == ("janitor", "change_case")
