"""`cme case check` / `cme case fact` / `cme case fire` as a school would type them: a check or
fact reserved to another role is refused with exit code 1, naming the role used and the roles
that may, and nothing is written; a refused removal names every reason at once in words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_case_cli import cme, example_form, ok, refused, show

SCHOOL = {"CME_ACTOR": "attendance-lead", "CME_ROLE": "school"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


@pytest.fixture
def removal(tmp_path: Path, db: str) -> str:
    """A 2024 removal under Ground I, proposed by the school on 21 Oct 2024."""
    form = example_form(tmp_path, ground="Ground I")
    out = ok(
        "case",
        "open",
        "--form",
        str(form),
        "--process",
        "removal_grounds",
        "--on",
        "2024-10-21",
        "--db",
        db,
        "--json",
        env=SCHOOL,
    )
    case_ids: list[str] = json.loads(out)["case_ids"]
    return case_ids[0]


def test_a_school_recording_the_officers_confirmation_is_refused(db: str, removal: str) -> None:
    before = show(db, removal, "--on", "2024-10-28")["history"]
    args = ("case", "check", removal, "cme_officer_confirmed_receipt", "--on", "2024-10-28")
    out = refused(1, *args, "--outcome", "confirmed by phone", "--db", db, env=SCHOOL)
    assert "may be recorded only by School Inclusion and Children Missing Education Officer " in (
        " ".join(out.split())
    )
    assert "(cme_officer); you are acting as School (designated staff) (school)" in " ".join(
        out.split()
    )
    data = json.loads(cme(*args, "--outcome", "confirmed", "--db", db, "--json", env=SCHOOL).output)
    assert (data["error"], data["role"], list(data["allowed"])) == (
        "role_not_permitted",
        "school",
        ["cme_officer"],
    )
    assert show(db, removal, "--on", "2024-10-28")["history"] == before
    # The CME Officer records it.
    ok(*args, "--outcome", "confirmed", "--db", db, env={"CME_ROLE": "cme_officer"})


def test_an_officer_giving_the_schools_off_roll_date_is_refused(db: str, removal: str) -> None:
    out = refused(
        1,
        *("case", "fact", removal, "off_roll_date", "2024-10-28", "--on", "2024-10-28"),
        *("--db", db),
        env={"CME_ROLE": "cme_officer"},
    )
    assert "fact off_roll_date (" in out
    assert "you are acting as" in out
    assert "(cme_officer)" in out


def test_a_refused_removal_names_every_reason_at_once(db: str, removal: str) -> None:
    """Acting as the CME Officer, before any check or date is recorded: the role, the checks,
    and the facts, in one refusal."""
    out = refused(
        1,
        *("case", "fire", removal, "remove_under_ground_i", "--on", "2024-10-28"),
        *("--db", db),
        env={"CME_ROLE": "cme_officer"},
    )
    text = " ".join(out.split())
    assert (
        "may be taken only by School (designated staff) (school); you are acting as School "
        "Inclusion and Children Missing Education Officer (cme_officer)" in text
    )
    assert "needs these checks recorded first: " in text
    assert "cme_officer_confirmed_receipt" in text
    assert "needs these facts recorded first: off_roll_date" in text
    for code in ("True", "False", "None"):
        assert code not in text


def test_opening_a_removal_with_the_schools_ground_as_the_officer_is_refused(
    tmp_path: Path, db: str
) -> None:
    form = example_form(tmp_path, ground="Ground I")
    args = ("case", "open", "--form", str(form), "--process", "removal_grounds")
    out = refused(1, *args, "--on", "2024-10-21", "--db", db, env={"CME_ROLE": "cme_officer"})
    text = " ".join(out.split())
    assert "fact ground (" in text
    assert "may be recorded only by School (designated staff) (school)" in text
    assert json.loads(ok("case", "list", "--all", "--db", db, "--json")) == []
