"""`cme process list` shows the Children's Wellbeing and Schools Act 2026 processes pending
(section 78(5): commenced by regulations, none made), and `cme process commence` gives one its
date, after which it is listed as future, then in force."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from engine.cli import cli

ACT_PROCESSES = ("children_not_in_school", "home_education_consent", "school_attendance_order")


def cme(db: str, *args: str, code: int = 0) -> str:
    result: Result = CliRunner().invoke(
        cli, list(args), env={"CME_DATABASE_URL": db, "CME_ACTOR": "pat"}
    )
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def statuses(db: str, on: str) -> dict[str, tuple[str, str | None]]:
    listed = json.loads(cme(db, "process", "list", "--on", on, "--json"))
    return {
        v["process"]: (v["status"], v["effective_from"])
        for v in listed["versions"]
        if v["process"] in ACT_PROCESSES
    }


def test_the_act_processes_are_listed_pending_with_what_brings_them_into_force(
    sqlite_url: str,
) -> None:
    listed = cme(sqlite_url, "process", "list", "--on", "2026-12-04")
    for process in ACT_PROCESSES:
        line = next(x for x in listed.splitlines() if x.startswith(f"{process} version 1:"))
        assert "pending, no date yet" in line
        assert "section 78(5) of the Children's Wellbeing and Schools Act 2026" in line
    assert statuses(sqlite_url, "2026-12-04") == dict.fromkeys(ACT_PROCESSES, ("pending", None))


@pytest.mark.parametrize("process", ACT_PROCESSES)
def test_a_commenced_act_process_is_future_until_its_date_then_in_force(
    sqlite_url: str, process: str
) -> None:
    given = cme(sqlite_url, "process", "commence", process, "1", "--on", "2027-01-04")
    assert f"{process} version 1 is in force from 2027-01-04" in given
    assert statuses(sqlite_url, "2027-01-03")[process] == ("future", "2027-01-04")
    assert statuses(sqlite_url, "2027-01-04")[process] == ("in force", "2027-01-04")
    # The others stay pending: each section's day is appointed on its own (section 78(6)).
    others = {p for p in ACT_PROCESSES if p != process}
    assert {p: s for p, s in statuses(sqlite_url, "2027-01-04").items() if p in others} == (
        dict.fromkeys(others, ("pending", None))
    )
