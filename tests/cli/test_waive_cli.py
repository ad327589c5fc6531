"""`cme case waive CASE CHECK --reason TEXT` (issue 15): only a role in the check's `waived_by`
(the line manager, in untraceable_cme) may waive it; the refusal names the role used and who may;
a waived check is no longer outstanding and satisfies the Day 26 closure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_case_cli import cme, example_form, ok, refused, show


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


def _opened(tmp_path: Path, db: str) -> str:
    form = example_form(tmp_path)
    out: Any = json.loads(
        ok("case", "open", "--form", str(form), "--on", "2024-10-21", "--db", db, "--json")
    )
    first = out["case_ids"][0] if isinstance(out, dict) else out[0]
    return str(first)


def test_the_officer_is_refused_and_the_line_manager_waives_with_a_reason(
    tmp_path: Path, db: str
) -> None:
    case_id = _opened(tmp_path, db)
    before = show(db, case_id, "--on", "2024-10-24")
    owed = {o["id"]: o for o in before["outstanding_checks"]}
    assert owed["contact_attempted_by_email"]["due"] == "2024-10-23"
    args = ("case", "waive", case_id, "contact_attempted_by_email", "--on", "2024-10-24")
    message = refused(1, *args, "--reason", "no email given", "--db", db)
    assert "line_manager" in message
    assert "cme_officer" in message
    assert show(db, case_id, "--on", "2024-10-24")["seq"] == before["seq"]  # nothing written
    # A waiver without a reason is bad input.
    assert cme(*args, "--reason", "  ", "--db", db, "--role", "line_manager").exit_code != 0
    ok(*args, "--reason", "no email address on the form", "--db", db, "--role", "line_manager")
    after = show(db, case_id, "--on", "2024-10-24")
    assert "contact_attempted_by_email" not in {o["id"] for o in after["outstanding_checks"]}
    assert after["checks_waived"]["contact_attempted_by_email"]["role"] == "line_manager"
    (item,) = [c for c in after["checklist"] if c["id"] == "contact_attempted_by_email"]
    assert (item["done"], item["waived"], item["on"]) == (True, True, "2024-10-24")
    assert item["outcome"] == "waived: no email address on the form"


def test_case_list_overdue_keeps_a_case_the_scheduler_moved_on(tmp_path: Path, db: str) -> None:
    case_id = _opened(tmp_path, db)
    # Day 5 (Friday 25 Oct): the Day 1-3 checks were escalated on Day 4, then the scheduler
    # moved the case to the reasonable checks; the checks are still owed, so it is overdue.
    ok("tick", "--until", "2024-10-25", "--db", db)
    assert show(db, case_id, "--on", "2024-10-25")["state"] == "reasonable_checks"
    listed = json.loads(ok("case", "list", "--overdue", "--json", "--db", db))
    assert case_id in [c["id"] for c in listed]
