"""Versions that do what they say (issue 13): a version published from a file outside
processes/ is the one new cases take from its date, and can be shown, drawn and compared; a
pending version (no effective_from yet) is listed as pending and applies to no case until a
policy owner gives its date."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli
from engine.language.loader import load_process_file

SHIPPED = Path(__file__).parents[2] / "processes" / "untraceable_cme.yaml"
NEW = 50
_CHILDREN = itertools.cycle(range(5))
"""The version number of the edited copy: above any the shipped file will reach this session."""


def cme(db: str, *args: str, code: int = 0) -> str:
    result: Result = CliRunner().invoke(
        cli, list(args), env={"CME_DATABASE_URL": db, "CME_ACTOR": "pat"}
    )
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def shipped_version() -> int:
    """The shipped version new cases opened in 2024 take: the one kept for cases opened before
    the newest's date (untraceable_cme_v2.yaml), not the newest (from 4 December 2026)."""
    return load_process_file(SHIPPED.with_name("untraceable_cme_v2.yaml")).version


def edited_copy(folder: Path, *, effective: str | None) -> Path:
    """untraceable_cme.yaml outside processes/, its version raised, Day 26 of the Day 26
    decision unchanged; `effective` None makes it pending."""
    text = SHIPPED.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^version: \d+$", f"version: {NEW}", text, count=1)
    if effective is None:
        text = re.sub(
            r"(?m)^effective_from: .*$",
            "commencement: the date the Director of Education sets once the consultation closes",
            text,
            count=1,
        )
    else:
        text = re.sub(r"(?m)^effective_from: .*$", f"effective_from: {effective}", text, count=1)
    folder.mkdir(exist_ok=True)
    path = folder / "untraceable_cme_next.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def open_case(db: str, tmp_path: Path, on: str) -> dict[str, Any]:
    form = tmp_path / "form.yaml"
    data = yaml.safe_load(cme(db, "case", "form", "--example"))
    data["date"] = on
    # A different child each time: one child has one case.
    child = data["children"][0]
    child.pop("upn", None)
    n = next(_CHILDREN)
    child["full_name"] = ["Ana Silva", "Ben Okoro", "Cai Jones", "Dee Patel", "Eli Novak"][n]
    child["date_of_birth"] = f"2015-0{n + 1}-1{n}"
    data["children"] = [child]
    form.write_text(yaml.safe_dump(data))
    opened = json.loads(cme(db, "case", "open", "--form", str(form), "--on", on, "--json"))
    (case_id,) = opened["case_ids"]
    shown: dict[str, Any] = json.loads(cme(db, "case", "show", case_id, "--json"))
    return shown


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def test_a_version_published_from_a_file_elsewhere_is_the_one_new_cases_take_from_its_date(
    db: str, tmp_path: Path
) -> None:
    path = edited_copy(tmp_path / "drafts", effective="2024-11-01")
    out = cme(db, "process", "publish", "untraceable_cme", "--file", str(path))
    assert out.startswith(f"stored untraceable_cme version {NEW}")
    assert "in force for new cases opened from 2024-11-01" in out
    path.unlink()  # the database alone holds it now
    before = open_case(db, tmp_path, "2024-10-31")
    assert before["process"]["version"] == shipped_version()
    after = open_case(db, tmp_path, "2024-11-04")
    assert after["process"]["version"] == NEW
    listed = json.loads(
        cme(db, "process", "list", "untraceable_cme", "--on", "2024-11-04", "--json")
    )
    statuses = {v["version"]: v["status"] for v in listed["versions"]}
    assert statuses == {
        shipped_version(): "superseded",
        load_process_file(SHIPPED).version: "future",
        NEW: "in force",
    }


def test_show_diagram_diff_and_impact_read_a_version_only_the_database_holds(
    db: str, tmp_path: Path
) -> None:
    path = edited_copy(tmp_path / "drafts", effective="2024-11-01")
    cme(db, "process", "publish", "untraceable_cme", "--file", str(path))
    path.unlink()
    shown = json.loads(
        cme(db, "process", "show", "untraceable_cme", "--version", str(NEW), "--json")
    )
    assert (shown["definition"]["version"], shown["path"]) == (
        NEW,
        f"stored:untraceable_cme@{NEW}",
    )
    text = cme(db, "process", "show", "untraceable_cme", "--version", str(NEW))
    assert f"version {NEW}" in text
    drawn = cme(db, "process", "diagram", "untraceable_cme", "--version", str(NEW))
    assert drawn.startswith("flowchart") or "stateDiagram" in drawn
    compared = cme(
        db, "process", "diff", "untraceable_cme", str(shipped_version()), str(NEW), "--json"
    )
    changes = json.loads(compared)["changes"]
    assert any(c["area"] == "applies" for c in changes)
    impact = json.loads(
        cme(db, "process", "impact", "untraceable_cme", str(NEW), "--on", "2024-11-04", "--json")
    )
    assert impact["version"] == NEW
    missing = cme(db, "process", "show", "untraceable_cme", "--version", "49", code=1)
    assert "known versions:" in missing
    assert f"stored: {NEW}" in missing


def test_a_pending_version_applies_to_no_case_until_a_policy_owner_gives_its_date(
    db: str, tmp_path: Path
) -> None:
    path = edited_copy(tmp_path / "drafts", effective=None)
    cme(db, "process", "validate", str(path))
    cme(db, "process", "lint", str(path))
    assert "Pending" in cme(db, "process", "show", str(path))
    out = cme(db, "process", "publish", "untraceable_cme", "--file", str(path))
    assert "pending (the date the Director of Education sets" in out
    listed = cme(db, "process", "list", "untraceable_cme", "--on", "2024-11-04")
    assert f"untraceable_cme version {NEW}: pending, no date yet" in listed
    assert open_case(db, tmp_path, "2024-11-04")["process"]["version"] == shipped_version()
    # Migrating onto it is refused too, until it has its date.
    refused = cme(
        db,
        "process",
        "migrate",
        "untraceable_cme",
        "--from",
        str(shipped_version()),
        "--to",
        str(NEW),
        "--on",
        "2024-11-04",
        code=1,
    )
    assert "is pending" in refused
    given = cme(db, "process", "commence", "untraceable_cme", str(NEW), "--on", "2024-11-05")
    assert f"untraceable_cme version {NEW} is in force from 2024-11-05" in given
    listed = json.loads(cme(db, "process", "list", "--on", "2024-11-05", "--json"))
    mine = next(
        v for v in listed["versions"] if (v["process"], v["version"]) == ("untraceable_cme", NEW)
    )
    assert (mine["status"], mine["effective_from"], mine["commenced_by"]) == (
        "in force",
        "2024-11-05",
        "pat",
    )
    assert mine["commenced_at"]
    shown = json.loads(
        cme(db, "process", "show", "untraceable_cme", "--version", str(NEW), "--json")
    )
    assert shown["in_force_from"] == "2024-11-05"
    assert "In force from 2024-11-05" in cme(
        db, "process", "show", "untraceable_cme", "--version", str(NEW)
    )
    future = cme(db, "process", "list", "untraceable_cme", "--on", "2024-11-04")
    assert f"untraceable_cme version {NEW}: future, from 2024-11-05" in future
    assert "date given by pat (policy_owner)" in future
    assert open_case(db, tmp_path, "2024-11-04")["process"]["version"] == shipped_version()
    assert open_case(db, tmp_path, "2024-11-05")["process"]["version"] == NEW
    again = cme(
        db, "process", "commence", "untraceable_cme", str(NEW), "--on", "2024-12-01", code=1
    )
    assert "already given its date" in again
    dated = cme(
        db,
        "process",
        "commence",
        "untraceable_cme",
        str(shipped_version()),
        "--on",
        "2024-12-01",
        code=1,
    )
    assert "is not pending" in dated


def test_giving_a_date_needs_a_role_that_may_load_processes(db: str, tmp_path: Path) -> None:
    path = edited_copy(tmp_path / "drafts", effective=None)
    out = cme(
        db,
        "process",
        "commence",
        "untraceable_cme",
        str(NEW),
        "--on",
        "2024-11-05",
        "--file",
        str(path),
        "--role",
        "cme_officer",
        code=5,
    )
    assert "commence a version" in out
    listed = json.loads(cme(db, "process", "list", "untraceable_cme", "--json"))
    assert all(v["version"] != NEW for v in listed["versions"])


VERSIONS = Path(__file__).parents[1] / "fixtures" / "versions"


def test_the_daily_run_migrates_onto_a_version_that_says_so_and_the_journal_says_how(
    db: str, tmp_path: Path
) -> None:
    # A process that is not in processes/ at all: published from files, cases open under it.
    cme(db, "process", "publish", "tracing", "--file", str(VERSIONS / "tracing_v1.yaml"))
    form = tmp_path / "form.yaml"
    data = yaml.safe_load(cme(db, "case", "form", "--example"))
    data["date"] = "2024-10-21"
    data["children"] = data["children"][:1]
    form.write_text(yaml.safe_dump(data))
    opened = json.loads(
        cme(
            db,
            "case",
            "open",
            "--form",
            str(form),
            "--process",
            "tracing",
            "--on",
            "2024-10-21",
            "--json",
        )
    )
    (case_id,) = opened["case_ids"]
    out = cme(db, "process", "publish", "tracing", "--file", str(VERSIONS / "tracing_v2.yaml"))
    assert "in force for new cases opened from 2024-11-01" in out
    quiet = json.loads(cme(db, "tick", "--until", "2024-10-31", "--json"))
    assert "migrations" not in quiet
    ticked = json.loads(cme(db, "tick", "--until", "2024-11-04", "--json"))
    (migration,) = ticked["migrations"]
    assert (migration["from_version"], migration["to_version"], migration["on"]) == (
        1,
        2,
        "2024-11-01",
    )
    assert migration["migrated"] == [case_id]
    shown = json.loads(cme(db, "case", "show", case_id, "--json"))
    assert shown["process"]["version"] == 2
    (row,) = [h for h in shown["history"] if h["kind"] == "migration"]
    assert row["summary"].startswith("migrated from version 1 to 2, stage map ")
    assert (row["actor"], row["effective_date"]) == ("scheduler", "2024-11-01")
