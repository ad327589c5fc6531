"""Counts at the command line: `cme case fact` refuses a typed count (exit 1, naming the dates to
record, nothing written), `cme case show --json` gives the engine's count from the recorded dates,
and `cme process show` marks which facts are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_case_cli import example_form, ok, refused, show

SCHOOL = {"CME_ACTOR": "attendance-lead", "CME_ROLE": "school"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cme.db'}"


@pytest.fixture
def removal(tmp_path: Path, db: str) -> str:
    """A 2024 removal under Ground I, proposed by the school on 21 Oct 2024, absent from 7 Oct."""
    form = example_form(tmp_path, ground="Ground I")
    out = ok(
        *("case", "open", "--form", str(form), "--process", "removal_grounds"),
        *("--on", "2024-10-21", "--db", db, "--json"),
        env=SCHOOL,
    )
    case_id: str = json.loads(out)["case_ids"][0]
    ok(
        *("case", "fact", case_id, "first_day_of_absence", "2024-10-07", "--on", "2024-10-21"),
        *("--db", db),
        env=SCHOOL,
    )
    return case_id


def test_typing_a_count_is_refused_and_nothing_is_written(db: str, removal: str) -> None:
    before = show(db, removal, "--on", "2024-11-07")["history"]
    out = refused(
        1,
        *("case", "fact", removal, "continuous_absence_school_days", "32", "--on", "2024-11-07"),
        *("--db", db),
        env=SCHOOL,
    )
    text = " ".join(out.split())
    assert "continuous_absence_school_days is counted by the engine, never typed" in text
    assert "record first_day_of_absence and off_roll_date instead" in text
    assert show(db, removal, "--on", "2024-11-07")["history"] == before


def test_case_show_gives_the_count_from_the_recorded_dates(db: str, removal: str) -> None:
    ok(
        *("case", "fact", removal, "off_roll_date", "2024-11-08", "--on", "2024-11-08"),
        *("--db", db),
        env=SCHOOL,
    )
    counted = show(db, removal, "--on", "2024-11-08")["counted"]
    # 7 October - 7 November 2024 across the half term: 19 school days, not 32.
    assert counted["continuous_absence_school_days"]["value"] == 19


def test_process_show_marks_the_counted_facts() -> None:
    out = " ".join(ok("process", "show", "removal_grounds", env={"COLUMNS": "200"}).split())
    assert "int, counted" in out
    # The table wraps its cells: the words are there, perhaps split across lines.
    assert "Counted by the engine: the" in out
