"""Derived facts counted on a case's calendar (engine/cases/derived.py), on the shipped `london`
calendar's real dates: which days count, whether the end points do, across half terms, bank
holidays and Christmas; calendar months; age on a date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.cases.derived import (
    age_on,
    count,
    months_between,
    school_days_after,
    school_days_between,
    with_counts,
)
from engine.errors import CalendarError
from engine.language.definition import DerivedDefinition, ProcessDefinition
from engine.language.registry import ProcessRegistry
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import load_calendar

D = dt.date


@pytest.fixture(scope="module")
def london() -> SchoolCalendar:
    return load_calendar("london")


def test_school_days_between_counts_from_and_not_to_across_half_term(london) -> None:
    # 7 October - 7 November 2024: 32 calendar days, the half term (28 Oct - 1 Nov) between.
    assert school_days_between(london, D(2024, 10, 7), D(2024, 11, 8)) == 19
    assert school_days_between(london, D(2024, 10, 7), D(2024, 11, 11)) == 20
    # `to` counts only when it is the last day of a period.
    assert school_days_between(london, D(2024, 10, 7), D(2024, 11, 7), end_included=True) == 19
    # A weekend `from` adds nothing; the same day, or `to` before `from`, is 0.
    assert school_days_between(london, D(2024, 10, 5), D(2024, 11, 8)) == 19
    assert school_days_between(london, D(2024, 10, 7), D(2024, 10, 7)) == 0
    assert school_days_between(london, D(2024, 11, 8), D(2024, 10, 7)) == 0


def test_school_days_between_leaves_out_bank_holidays(london) -> None:
    # Monday 6 May 2024 is the early May bank holiday; 27-31 May is the half term.
    assert school_days_between(london, D(2024, 4, 29), D(2024, 6, 3)) == 19
    assert school_days_between(london, D(2024, 5, 1), D(2024, 5, 17), end_included=True) == 12


def test_the_nth_school_day_after_never_counts_the_day_itself(london) -> None:
    # Decision given Monday 2 December 2024: the 15th school day after it is after Christmas.
    assert school_days_after(london, D(2024, 12, 2), 15) == D(2025, 1, 6)
    # Leave ended Friday 18 October 2024: ten school days after it, across the half term.
    assert school_days_after(london, D(2024, 10, 18), 10) == D(2024, 11, 8)
    assert school_days_after(london, D(2024, 10, 18), 1) == D(2024, 10, 21)
    # From a Saturday: the Monday is the first.
    assert school_days_after(london, D(2024, 10, 19), 1) == D(2024, 10, 21)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (D(2025, 1, 10), D(2025, 5, 10), 4),
        (D(2025, 1, 10), D(2025, 5, 9), 3),
        (D(2025, 1, 31), D(2025, 2, 28), 1),  # February has no 31st: its last day completes it
        (D(2024, 1, 31), D(2024, 2, 28), 0),  # 2024 is a leap year: 29 February completes it
        (D(2024, 1, 31), D(2024, 2, 29), 1),
        (D(2024, 8, 31), D(2025, 8, 30), 11),
        (D(2024, 8, 31), D(2025, 8, 31), 12),
        (D(2025, 5, 10), D(2025, 1, 10), 0),
    ],
)
def test_months_between(start, end, months) -> None:
    assert months_between(start, end) == months


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (D(2008, 9, 23), D(2024, 9, 22), 15),
        (D(2008, 9, 23), D(2024, 9, 23), 16),  # attained at the start of the birthday
        (D(2008, 2, 29), D(2023, 2, 28), 14),  # 29 February counts as 1 March
        (D(2008, 2, 29), D(2023, 3, 1), 15),
        (D(2008, 2, 29), D(2024, 2, 29), 16),
        (D(2015, 3, 14), D(2015, 3, 1), 0),
    ],
)
def test_age_on(born, on, age) -> None:
    assert age_on(born, on) == age


def _counts(**derived: dict[str, Any]) -> ProcessDefinition:
    """A minimal process declaring `derived` facts over three dates."""
    facts: dict[str, dict[str, Any]] = {
        "first": {"type": "date", "description": "a date"},
        "second": {"type": "date", "description": "a date"},
    }
    for name, spec in derived.items():
        kind = "date" if spec["count"] == "school_days_after" else "int"
        facts[name] = {"type": kind, "description": "counted", "derived": spec}
    return ProcessDefinition.model_validate(
        {
            "id": "counting",
            "title": "Counting",
            "version": 1,
            "effective_from": "2024-09-01",
            "source": {"document": "test", "section": "s"},
            "clock": {"day_one": "the day"},
            "initial": "open",
            "roles": {"officer": {"title": "Officer"}},
            "facts": facts,
            "states": {"open": {"title": "Open", "description": "d", "ref": "s"}},
            "triggers": [],
        }
    )


def test_with_counts_counts_from_recorded_dates_and_the_day_judged(london) -> None:
    definition = _counts(
        absent={"count": "school_days_between", "from": "first", "to": "effective_date"},
        deadline={"count": "school_days_after", "from": "first", "days": 15},
        age={"count": "age_on", "from": "second", "to": "opened_on"},
        unset={"count": "months_between", "from": "first", "to": "second"},
    )
    facts = {"first": "2024-12-02"}
    got = with_counts(definition, facts, london, on=D(2024, 12, 9), opened_on=D(2024, 12, 2))
    # Dates are given as stored facts are: ISO text.
    assert got == {
        "first": "2024-12-02",
        "absent": 5,
        "deadline": "2025-01-06",
        "age": None,
        "unset": None,
    }
    only = with_counts(
        definition, facts, london, on=D(2024, 12, 9), opened_on=D(2024, 12, 2), names={"absent"}
    )
    assert only == {"first": "2024-12-02", "absent": 5}


@pytest.mark.parametrize(
    ("born", "leaves"),
    [
        # IPSEA's example: born 23 September 2007, 16 in the 2023-24 school year.
        (D(2007, 9, 23), D(2024, 6, 28)),
        # 16 on 31 August 2024, still the 2023-24 school year: leaves before turning 16.
        (D(2008, 8, 31), D(2024, 6, 28)),
        # 16 on 1 September 2024: the 2024-25 school year, so the June after.
        (D(2008, 9, 1), D(2025, 6, 27)),
    ],
)
def test_school_leaving_date_is_the_last_friday_of_june_of_the_year_they_turn_16(
    london, born: dt.date, leaves: dt.date
) -> None:
    derived = DerivedDefinition.model_validate({"count": "school_leaving_date", "from": "born"})
    assert derived.result_type.value == "date"
    assert count("leaves", derived, {"born": born}, london) == leaves


def test_school_leaving_date_takes_no_to() -> None:
    with pytest.raises(ValueError, match="date of birth alone"):
        DerivedDefinition.model_validate(
            {"count": "school_leaving_date", "from": "born", "to": "effective_date"}
        )


def test_a_date_the_calendar_does_not_cover_names_the_count(london) -> None:
    derived = DerivedDefinition.model_validate(
        {"count": "school_days_between", "from": "first", "to": "second"}
    )
    dates = {"first": D(2019, 10, 7), "second": D(2019, 11, 8)}
    with pytest.raises(CalendarError, match=r"^absent cannot be counted: .*2019-20"):
        count("absent", derived, dates, london)


def test_the_shipped_grounds_type_no_statutory_count(registry: ProcessRegistry) -> None:
    """Every count the grounds of the version in force rest on is derived, never typed."""
    for version in (5, 6):
        facts = registry.get("removal_grounds", version).definition.facts
        counted = {n for n, f in facts.items() if f.derived is not None}
        assert {
            "continuous_absence_school_days",
            "tenth_school_day_after_leave_expired",
            "custodial_sentence_months",
            "irp_application_deadline",
        } <= counted
        assert "school_days_absent_after_leave_expired" not in facts
        typed_counts = {n for n, f in facts.items() if f.type.value == "int" and n not in counted}
        assert typed_counts == set()
