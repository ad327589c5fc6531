"""A case is refused at opening when the calendar cannot place its deadlines: those of its first
stage, and the furthest Day N counted from the opening in any stage (fixed at opening)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.errors import CalendarError
from engine.language.definition import ProcessDefinition
from engine.language.loader import load_process_file
from engine.time.calendars import load_calendar
from engine.time.deadlines import refuse_unplaceable_case

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
LONDON = load_calendar("london")


def process(name: str) -> ProcessDefinition:
    return load_process_file(PROCESSES / f"{name}.yaml").definition


def test_a_case_whose_whole_timeline_fits_opens() -> None:
    # Appendix 7's furthest case day is Day 27; from Thursday 3 Dec 2026 it is in January 2027.
    refuse_unplaceable_case(
        process("untraceable_cme"), opened_on=date(2026, 12, 3), calendar=LONDON
    )


def test_a_later_stage_past_the_calendar_refuses_the_opening() -> None:
    # Opened Tuesday 13 Jul 2027: Days 2–5 fall before 27 Jul, Day 27 would be in 2027-28.
    with pytest.raises(CalendarError) as err:
        refuse_unplaceable_case(
            process("untraceable_cme"), opened_on=date(2027, 7, 13), calendar=LONDON
        )
    message = str(err.value)
    assert "Day 27 of the case" in message
    assert "into 2027-28" in message
    assert "cme calendar new 2027-28" in message


def test_the_first_stage_is_checked_first() -> None:
    with pytest.raises(CalendarError, match=r"\(in establishing_contact\) cannot be placed"):
        refuse_unplaceable_case(
            process("untraceable_cme"), opened_on=date(2027, 7, 27), calendar=LONDON
        )


def test_calendar_day_processes_are_not_counted_in_school_days() -> None:
    # Roll returns count calendar days: nothing to place on the school calendar.
    refuse_unplaceable_case(process("roll_returns"), opened_on=date(2027, 7, 27), calendar=LONDON)
