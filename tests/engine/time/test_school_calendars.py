"""School overlays on real dates: a school's INSET day moves the deadlines of the processes the
school runs by one school day and leaves the LA's processes on the LA's calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli
from engine.errors import CalendarError, DefinitionError
from engine.language.definition import ProcessDefinition
from engine.language.loader import load_process_file
from engine.time.calendar import SchoolCalendar, bank_holidays_json
from engine.time.calendars import load_calendar
from engine.time.deadlines import due_date, refuse_unplaceable
from engine.time.school_calendars import (
    available_school_calendars,
    case_calendar,
    find_school_calendar,
    load_school_calendar,
    overlay_calendar,
    runs_at_school,
)

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
LIVINGSTONE = "Livingstone Primary and Nursery School"
KEY = "livingstone-primary-and-nursery-school"


@pytest.fixture(scope="module")
def london() -> SchoolCalendar:
    return load_calendar("london")


def process(name: str) -> ProcessDefinition:
    return load_process_file(PROCESSES / f"{name}.yaml").definition


def timer_due(
    definition: ProcessDefinition, timer_id: str, start: date, cal: SchoolCalendar
) -> date:
    timer = next(t for s in definition.states.values() for t in s.timers if t.id == timer_id)
    return due_date(timer, unit=definition.clock.unit, start=start, calendar=cal, skip=[])[0]


def test_the_shipped_overlay_is_found_by_name_and_key() -> None:
    assert KEY in available_school_calendars()
    assert find_school_calendar(LIVINGSTONE) == KEY
    assert find_school_calendar(KEY) == KEY
    assert find_school_calendar("Nowhere School") is None


def test_the_overlay_closes_the_schools_inset_days(london: SchoolCalendar) -> None:
    school = load_school_calendar(LIVINGSTONE, london)
    assert school.name == f"london.{KEY}"
    assert school.version == 1001
    for day in (date(2025, 9, 1), date(2025, 10, 3), date(2025, 11, 24), date(2026, 7, 20)):
        assert london.is_school_day(day)
        assert not school.is_school_day(day)
    assert school.year_summary("2025-26")["school_days"] == 195 - 4
    # Other years are the LA's.
    assert school.year_summary("2026-27")["school_days"] == 198


def test_a_school_with_no_overlay_keeps_the_la_calendar(london: SchoolCalendar) -> None:
    assert load_school_calendar("Nowhere School", london) is london
    assert load_school_calendar(None, london) is london


def test_an_inset_day_moves_a_school_process_deadline_by_one_school_day(
    london: SchoolCalendar,
) -> None:
    checks = process("school_checks")
    assert runs_at_school(checks)
    cal = case_calendar(checks, london, LIVINGSTONE)
    assert cal.name == f"london.{KEY}"
    # First day of absence Monday 22 Sep 2025; Day 21 (refer to the CME Officer) counts over
    # the school's INSET day on Friday 3 Oct 2025.
    assert timer_due(checks, "day_21_referral_due", date(2025, 9, 22), london) == date(2025, 10, 20)
    assert timer_due(checks, "day_21_referral_due", date(2025, 9, 22), cal) == date(2025, 10, 21)
    assert "skipping INSET day 3 Oct" in cal.explain(date(2025, 9, 22), 21)


def test_an_inset_day_does_not_move_an_la_process_deadline(london: SchoolCalendar) -> None:
    appendix7 = process("untraceable_cme")
    assert not runs_at_school(appendix7)
    cal = case_calendar(appendix7, london, LIVINGSTONE)
    assert cal is london
    # The first letter's escalation, Day 16 from Monday 22 Sep 2025, is Monday 13 Oct whatever
    # the school.
    assert timer_due(
        appendix7, "first_formal_letter_sent_outstanding", date(2025, 9, 22), cal
    ) == date(2025, 10, 13)


def test_removal_grounds_run_at_the_school() -> None:
    assert runs_at_school(process("removal_grounds"))
    assert runs_at_school(process("removal_grounds_2024"))


def test_the_overlaid_calendar_rebuilds_from_its_stored_text(london: SchoolCalendar) -> None:
    school = load_school_calendar(LIVINGSTONE, london)
    stored = SchoolCalendar.from_stored(
        school.source_text, school.path, bank_holidays=school.bank_holidays
    )
    assert stored.name == school.name
    assert stored.version == school.version
    assert bank_holidays_json(stored) == bank_holidays_json(school)
    assert not stored.is_school_day(date(2025, 10, 3))


OVERLAY = """school: Test School
base: london
version: 1
source: test data
years:
  {year}:
    inset_days:
      - {{date: {day}}}
"""


@pytest.mark.parametrize(
    ("year", "day", "why"),
    [
        ("2025-26", "2025-10-04", "is a Saturday"),
        ("2025-26", "2025-10-28", "falls in the autumn half term"),
        ("2025-26", "2025-12-23", "is not in any term of 2025-26"),
        ("2025-26", "2026-05-04", "is a bank holiday (May Day)"),
        ("2027-28", "2027-10-04", "school year 2027-28 is not in calendar london"),
    ],
)
def test_a_day_the_overlay_cannot_close_is_refused_with_its_place(
    london: SchoolCalendar, year: str, day: str, why: str
) -> None:
    with pytest.raises(DefinitionError) as err:
        overlay_calendar(london, OVERLAY.format(year=year, day=day), "schools/test.yaml")
    (issue,) = err.value.issues
    assert why in issue.message
    assert issue.path == "schools/test.yaml"
    assert issue.line >= 6


def test_a_missing_year_names_the_command(london: SchoolCalendar) -> None:
    with pytest.raises(DefinitionError, match="cme calendar new 2027-28"):
        overlay_calendar(london, OVERLAY.format(year="2027-28", day="2027-10-04"), "t.yaml")


def test_an_overlay_on_another_base_is_refused(london: SchoolCalendar) -> None:
    pinned = load_calendar("london-2024-25")
    with pytest.raises(CalendarError, match="follows calendar 'london'"):
        load_school_calendar(LIVINGSTONE, pinned)


def test_refuse_unplaceable_names_the_step_the_year_and_the_command(
    london: SchoolCalendar,
) -> None:
    checks = process("school_checks")
    refuse_unplaceable(checks, checks.initial, start=date(2026, 12, 3), calendar=london)
    with pytest.raises(CalendarError) as err:
        refuse_unplaceable(checks, checks.initial, start=date(2027, 7, 20), calendar=london)
    message = str(err.value)
    assert message.startswith("school_checks: step ")
    assert "into 2027-28" in message
    assert "cme calendar new 2027-28" in message


def test_cli_school_option() -> None:
    result = CliRunner().invoke(
        cli, ["calendar", "school-day", "--from", "2025-10-02", "--day", "2", "--school", KEY]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2025-10-06\n")


def test_refuse_unplaceable_counts_case_timers_from_the_opening(london: SchoolCalendar) -> None:
    appendix7 = process("untraceable_cme")
    # Entering further_checks on Thursday 22 Jul 2027 for a case opened Monday 7 Jun 2027: its
    # Day 25/26 timers count from the opening, and fall by 16 Jul, inside 2026-27.
    refuse_unplaceable(
        appendix7,
        "further_checks",
        start=date(2027, 7, 22),
        opened_on=date(2027, 6, 7),
        calendar=london,
    )
    # Opened on Monday 5 Jul 2027 they would run past 27 Jul into 2027-28.
    with pytest.raises(CalendarError, match=r"step '.*' \(in further_checks\).*2027-28"):
        refuse_unplaceable(
            appendix7,
            "further_checks",
            start=date(2027, 7, 22),
            opened_on=date(2027, 7, 5),
            calendar=london,
        )


def test_cli_list_names_the_overlays_with_their_base() -> None:
    result = CliRunner().invoke(cli, ["calendar", "list"])
    assert result.exit_code == 0, result.output
    years = "2023-24, 2024-25, 2025-26, 2026-27"
    line = f"london.{KEY}  version 1001  {years}  ({LIVINGSTONE} over london)"
    assert line in result.stdout.splitlines()


def test_an_overlaid_calendar_is_loaded_by_its_name(london: SchoolCalendar) -> None:
    # So a case pinned to it reads and reloads it as a shipped calendar (`cme calendar reload
    # london.<key>` after the overlay or its base changes).
    cal = load_calendar(f"london.{KEY}")
    assert cal is load_calendar(f"london.{KEY}")
    assert cal.content_hash == load_school_calendar(LIVINGSTONE, london).content_hash
    with pytest.raises(CalendarError, match="no calendar named 'london-2024-25.nowhere'"):
        load_calendar("london-2024-25.nowhere")
    # The overlay's base is london, so it is not found under another calendar's name.
    with pytest.raises(CalendarError, match="no calendar named"):
        load_calendar(f"london-2024-25.{KEY}")
