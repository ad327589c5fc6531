"""`cme admin …` and role checks at the CLI: exit codes, messages, nothing written on refusal."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import cli
from engine.store.database import open_store
from engine.store.tables import access_log_table, event_table

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def run(db: str, *args: str, role: str = "cme_officer") -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db, "--role", role, "--actor", "tester"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def events(db: str) -> int:
    store = open_store(db)
    with store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(event_table)).scalar_one()
    store.dispose()
    return int(n)


@pytest.fixture
def closed_case(sqlite_url: str) -> str:
    """CME-000001 closed (left the country) on 23 October 2024."""
    assert run(sqlite_url, "case", "open", "--form", FORM, "--on", "2024-10-21")[0] == 0
    assert (
        run(
            sqlite_url,
            "case",
            "fact",
            "CME-000001",
            "left_the_country_evidence",
            "Aunt confirms the move",
            "--on",
            "2024-10-23",
        )[0]
        == 0
    )
    assert (
        run(
            sqlite_url, "case", "fire", "CME-000001", "child_left_the_country", "--on", "2024-10-23"
        )[0]
        == 0
    )
    return sqlite_url


@pytest.fixture
def one_year_rules(tmp_path: Path) -> str:
    path = tmp_path / "retention.yaml"
    path.write_text(
        "kind: retention\nversion: 1\nrules:\n"
        "  - {id: one_year, title: Short, closed_more_than_years: 1, says: kept a year,"
        " source: test}\n"
    )
    return str(path)


def test_roles_lists_each_role_and_its_permissions() -> None:
    result = CliRunner().invoke(cli, ["admin", "roles", "--json"])
    assert result.exit_code == 0
    roles = json.loads(result.stdout)
    assert roles["auditor"]["permissions"] == ["read_case", "read_audit"]
    assert roles["scheduler"]["internal"] is True


def test_retention_list_apply_hold_and_release(closed_case: str, one_year_rules: str) -> None:
    db = closed_case
    code, out, _ = run(
        db, "admin", "retention", "list", "--rules", one_year_rules, role="records_manager"
    )
    assert code == 0
    assert "CME-000001" in out
    assert "kept until 2025-10-23" in out
    assert "CME-000002" not in out, "the open sibling is not due"
    code, out, _ = run(
        db, "admin", "hold", "CME-000001", "--reason", "inquiry", role="records_manager"
    )
    assert code == 0
    assert "CME-000001: on legal hold" in out
    before = events(db)
    code, out, _ = run(
        db, "admin", "retention", "apply", "--rules", one_year_rules, role="records_manager"
    )
    assert code == 0
    assert "kept CME-000001: on legal hold" in out
    assert "0 purged" in out
    assert events(db) == before
    assert (
        run(db, "admin", "release", "CME-000001", "--reason", "closed", role="records_manager")[0]
        == 0
    )
    code, out, _ = run(
        db,
        "admin",
        "retention",
        "apply",
        "--dry-run",
        "--rules",
        one_year_rules,
        role="records_manager",
    )
    assert code == 0
    assert "would purge CME-000001" in out
    assert "dry run" in out
    code, out, _ = run(
        db,
        "admin",
        "retention",
        "apply",
        "--rules",
        one_year_rules,
        "--json",
        role="records_manager",
    )
    assert code == 0
    assert [c["case_id"] for c in json.loads(out)["purged"]] == ["CME-000001"]
    code, out, _ = run(db, "case", "show", "CME-000001", "--json")
    assert code == 0
    assert json.loads(out)["child"]["full_name"] == "[purged]"


def test_an_officer_may_not_purge_and_nothing_is_written(
    closed_case: str, one_year_rules: str
) -> None:
    before = events(closed_case)
    code, _, err = run(closed_case, "admin", "retention", "apply", "--rules", one_year_rules)
    assert code == 5
    assert "may not apply retention or legal holds" in err
    assert events(closed_case) == before


def test_a_rules_file_naming_an_unknown_process_is_refused(
    closed_case: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "kind: retention\nversion: 1\nrules:\n  - {id: a, title: A, processes: "
        "[untraceable], closed_more_than_years: 1, says: s, source: x}\n"
    )
    code, _, err = run(
        closed_case, "admin", "retention", "apply", "--rules", str(path), role="records_manager"
    )
    assert code == 1
    assert "no process 'untraceable'" in err


def test_no_person_may_act_as_the_scheduler(closed_case: str) -> None:
    before = events(closed_case)
    code, _, err = run(
        closed_case, "case", "note", "CME-000002", "hello", "--on", "2024-10-22", role="scheduler"
    )
    assert code == 5
    assert "engine's own role" in err
    assert events(closed_case) == before


@pytest.mark.parametrize(
    ("role", "code", "message"),
    [
        ("read_only", 0, ""),
        ("auditor", 0, ""),
        ("policy_owner", 5, "may not read case records"),
        ("records_manager", 5, "may not read"),
    ],
)
def test_who_may_read_a_case_and_every_read_is_logged(
    closed_case: str, role: str, code: int, message: str
) -> None:
    got, out, err = run(closed_case, "case", "show", "CME-000002", "--json", role=role)
    assert got == code
    assert message in err
    store = open_store(closed_case)
    with store.engine.connect() as conn:
        logged = conn.execute(
            select(access_log_table.c.role, access_log_table.c.case_id).where(
                access_log_table.c.role == role
            )
        ).all()
    store.dispose()
    if code == 0:
        assert json.loads(out)["child"]["full_name"] == "Tiago Silva"
        assert logged == [(role, "CME-000002")]
    else:
        assert logged == [], "a refused read reads nothing and logs nothing"


def test_a_read_only_user_may_not_change_a_case(closed_case: str) -> None:
    before = events(closed_case)
    code, _, err = run(
        closed_case, "case", "note", "CME-000002", "x", "--on", "2024-10-22", role="read_only"
    )
    assert code == 5
    assert "may not change case records" in err
    assert events(closed_case) == before
