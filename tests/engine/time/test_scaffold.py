"""`cme calendar new YEAR`: the scaffold lists England's bank holidays, leaves the term dates to
fill in, and every way of loading it (show, reload, the catalog) refuses until they are filled."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import cli
from engine.errors import CalendarError, DefinitionError
from engine.time.calendar import SchoolCalendar
from engine.time.calendar_file import PLACEHOLDER, parse_calendar
from engine.time.scaffold import add_year, new_calendar_text, year_block

SHIPPED = Path(__file__).resolve().parents[3] / "processes" / "calendars"

# Test data standing in for an LA's published 2027-28 dates (not shipped anywhere).
FILLED = [
    "2027-09-02", "2027-12-17", "2027-10-25", "2027-10-29",
    "2028-01-04", "2028-03-31", "2028-02-14", "2028-02-18",
    "2028-04-18", "2028-07-21", "2028-05-29", "2028-06-02",
]  # fmt: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["calendar", *args])


def fill(text: str) -> str:
    for day in FILLED:
        text = text.replace(PLACEHOLDER, day, 1)
    return text


def test_the_year_block_lists_the_years_bank_holidays_for_the_reader() -> None:
    block = year_block("2027-28")
    for line in (
        "#   2027-12-27 Mon  Christmas Day (observed)",
        "#   2028-01-03 Mon  New Year's Day (observed)",
        "#   2028-04-14 Fri  Good Friday",
        "#   2028-05-01 Mon  May Day",
        "#   2028-08-28 Mon  Late Summer Bank Holiday",
    ):
        assert line in block
    # Only the school year's own: not the August 2027 bank holiday, which is in 2026-27.
    assert "2027-08-30" not in block
    assert block.count(PLACEHOLDER) == 12


def test_an_unfilled_year_is_refused_naming_the_year_and_each_date() -> None:
    with pytest.raises(DefinitionError) as err:
        parse_calendar(new_calendar_text("my-la", "2027-28"), "my-la.yaml")
    (issue,) = err.value.issues
    assert issue.message.startswith(
        "term dates for 2027-28 are not filled in: autumn first_day, autumn last_day, autumn "
        "half_term first_day"
    )
    assert "summer half_term last_day" in issue.message
    assert (
        issue.line
        == new_calendar_text("my-la", "2027-28")
        .splitlines()
        .index(f"        first_day: {PLACEHOLDER}")
        + 1
    )


def test_one_date_left_is_still_refused() -> None:
    text = fill(new_calendar_text("my-la", "2027-28")).replace("2028-07-21", PLACEHOLDER)
    with pytest.raises(DefinitionError, match="not filled in: summer last_day;"):
        parse_calendar(text, "my-la.yaml")


def test_once_filled_it_loads_with_bank_holidays_from_the_package() -> None:
    cal = SchoolCalendar.from_yaml(fill(new_calendar_text("my-la", "2027-28")), "my-la.yaml")
    assert cal.school_years() == ["2027-28"]
    assert not cal.is_school_day(date(2028, 5, 1))  # May Day


def test_add_year_appends_under_years_of_a_shipped_calendar() -> None:
    text = (SHIPPED / "london.yaml").read_text(encoding="utf-8")
    added = add_year(text, "2027-28", "london.yaml")
    assert added.startswith(text.rstrip("\n"))
    cal = SchoolCalendar.from_yaml(fill(added), "london.yaml")
    assert cal.school_years()[-1] == "2027-28"


def test_add_year_refuses_a_year_already_there_a_bad_year_and_years_not_last() -> None:
    text = (SHIPPED / "london.yaml").read_text(encoding="utf-8")
    with pytest.raises(CalendarError, match="already has school year 2026-27"):
        add_year(text, "2026-27", "london.yaml")
    with pytest.raises(CalendarError, match="must be written like 2027-28"):
        add_year(text, "2027-29", "london.yaml")
    moved = "years:\n  {}\nname: x\n"
    with pytest.raises(CalendarError, match="`years:` is not the last key"):
        add_year(moved.replace("  {}", "  2026-27: {}"), "2027-28", "x.yaml")


def test_cli_prints_the_block_without_into() -> None:
    result = run("new", "2027-28")
    assert result.exit_code == 0, result.output
    assert result.stdout == year_block("2027-28")


def test_cli_makes_a_file_that_show_and_reload_refuse_until_filled(tmp_path: Path) -> None:
    path = tmp_path / "my-la.yaml"
    result = run("new", "2027-28", "--into", str(path))
    assert result.exit_code == 0, result.output
    assert "fill in every YYYY-MM-DD" in result.stdout
    assert path.read_text(encoding="utf-8") == new_calendar_text("my-la", "2027-28")
    for args in (
        ("show", "--calendar", str(path), "--year", "2027-28"),
        ("reload", str(path), "--dry-run", "--db", f"sqlite:///{tmp_path / 'none.db'}"),
    ):
        refused = run(*args)
        assert refused.exit_code != 0
        assert "term dates for 2027-28 are not filled in: autumn first_day" in refused.stderr
    assert not (tmp_path / "none.db").exists()
    path.write_text(fill(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert run("show", "--calendar", str(path), "--year", "2027-28").exit_code == 0


def test_cli_appends_to_an_existing_file_and_refuses_a_year_it_has(tmp_path: Path) -> None:
    path = tmp_path / "london.yaml"
    path.write_text((SHIPPED / "london.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert run("new", "2027-28", "--into", str(path)).exit_code == 0
    assert "  2027-28:\n" in path.read_text(encoding="utf-8")
    again = run("new", "2027-28", "--into", str(path))
    assert again.exit_code != 0
    assert "already has school year 2027-28" in again.stderr
