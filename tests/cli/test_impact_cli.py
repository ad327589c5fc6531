"""`cme process impact` names each running case and what changes for it, in text and JSON; a
policy owner sees case ids only, a role that may read cases sees the children's names (each read
logged, as `case list` logs it)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from engine.cases.service import CaseService
from engine.cli import cli
from engine.language.loader import load_process_file
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import OFFICER, PRIMARY_DOB, notification

VERSIONS = Path(__file__).parents[1] / "fixtures" / "versions"
V1, V2 = VERSIONS / "tracing_v1.yaml", VERSIONS / "tracing_v2.yaml"
FILES = ("--file", str(V1), "--file", str(V2))
MONDAY = dt.date(2024, 10, 21)


def cme(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"CME_DATABASE_URL": f"sqlite:///{db}"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def tracing_cases(db: Path) -> list[str]:
    """Three tracing cases on version 1 opened Monday 21 October 2024: in contact, in checks,
    on hold."""
    store = open_store(f"sqlite:///{db}")
    svc = CaseService(store, ProcessRegistry([load_process_file(V1)]))
    ids = [
        svc.open_case(
            notification(MONDAY, dob=PRIMARY_DOB - dt.timedelta(days=i)),
            on=MONDAY,
            at=RECORDED_AT,
            actor=OFFICER,
            process="tracing",
        )[0]
        for i in range(3)
    ]
    tuesday = dt.date(2024, 10, 22)
    svc.fire(ids[1], "start_checks", on=tuesday, at=RECORDED_AT, actor=OFFICER)
    svc.fire(ids[2], "hold", on=tuesday, at=RECORDED_AT, actor=OFFICER)
    store.dispose()
    return ids


def reads(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT case_id, actor, action FROM access_log WHERE action = 'process impact' "
            "ORDER BY case_id"
        ).fetchall()


def test_impact_names_each_case_and_its_new_dates(tmp_path: Path) -> None:
    db = tmp_path / "cme.db"
    a, b, c = tracing_cases(db)
    code, out, err = cme(db, "process", "impact", "tracing", "2", *FILES, "--on", "2024-11-13")
    assert code == 0, err
    assert "1 deadline would already have passed on 2024-11-13 and fall due at once." in out
    # A's Day 2 chase and its start (25 Oct under version 1) were past anyway: not caused.
    assert (
        "2 deadlines had already passed on 2024-11-13 under their own version too, so the "
        "change does not cause them." in out
    )
    assert (
        f"  {a} (version 1, in contact)\n"
        "    timer start_checks: 25 Oct 2024 → 4 Nov 2024 (1 school day later)\n"
        "    check visit (checks): added, Day 5–15, 25 Oct – 15 Nov 2024\n"
    ) in out
    assert (
        f"  {b} (version 1, in checks)\n"
        "    timer letter_outstanding: 15 Nov 2024 → 12 Nov 2024 (3 school days earlier)\n"
        "    check visit (checks): added, Day 5–15, 25 Oct – 15 Nov 2024\n"
        "    falls due at once: letter_outstanding (due 12 Nov 2024)\n"
    ) in out
    assert f"  {c} (version 1, in on_hold): stage on_hold is removed in version 2" in out
    assert "Ana Silva" not in out, "a policy owner reads no personal data"
    assert reads(db) == []


def test_impact_json_lists_each_case(tmp_path: Path) -> None:
    db = tmp_path / "cme.db"
    a, b, c = tracing_cases(db)
    code, out, _ = cme(
        db, "process", "impact", "tracing", "2", *FILES, "--on", "2024-11-13", "--json"
    )
    assert code == 0
    report = json.loads(out)
    cases = {item["case_id"]: item for item in report["cases"]}
    assert list(cases) == [a, b, c]
    assert cases[b]["deadlines"] == [
        {"timer": "letter_outstanding", "old": "2024-11-15", "new": "2024-11-12", "school_days": -3}
    ]
    assert cases[b]["check_windows"] == [
        {
            "check": "visit",
            "stage": "checks",
            "old": None,
            "new": "Day 5–15",
            "old_dates": None,
            "new_dates": ["2024-10-25", "2024-11-15"],
        }
    ]
    assert cases[b]["checks_added"] == ["visit"]
    assert cases[b]["calendar"].startswith("london")
    assert cases[b]["due_at_once"] == [{"timer": "letter_outstanding", "due": "2024-11-12"}]
    assert {"timer": "start_checks", "due": "2024-11-04"} in cases[a]["already_past"]
    assert cases[c]["to_state"] is None
    assert report["due_at_once"] == 1
    assert all(item["child"] is None for item in report["cases"])


def test_a_role_that_reads_cases_sees_the_children_and_the_reads_are_logged(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cme.db"
    a, b, c = tracing_cases(db)
    code, out, err = cme(
        db,
        "process",
        "impact",
        "tracing",
        "2",
        *FILES,
        "--on",
        "2024-11-13",
        "--role",
        "cme_officer",
        "--actor",
        "sona",
    )
    assert code == 0, err
    assert f"  {a} (Ana Silva; version 1, in contact)" in out
    assert reads(db) == [
        (a, "sona", "process impact"),
        (b, "sona", "process impact"),
        (c, "sona", "process impact"),
    ]
