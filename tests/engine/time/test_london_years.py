"""The shipped multi-year `london` calendar on real dates: every year loads, each year's school
days, its half terms and bank holidays, and counting across the summer from one year into the
next (a case opened in July runs on into September)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from engine.cli import cli
from engine.errors import CalendarError
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import LONDON_CALENDAR, available_calendars, load_calendar

YEARS = ["2023-24", "2024-25", "2025-26", "2026-27"]


@pytest.fixture(scope="module")
def london() -> SchoolCalendar:
    return load_calendar(LONDON_CALENDAR)


def test_london_is_shipped_beside_the_pinned_2024_25_calendar() -> None:
    assert {"london", "london-2024-25"} <= set(available_calendars())


def test_it_covers_four_consecutive_years(london: SchoolCalendar) -> None:
    assert london.school_years() == YEARS


@pytest.mark.parametrize("year", YEARS)
def test_calendar_show_loads_every_year(year: str) -> None:
    result = CliRunner().invoke(cli, ["calendar", "show", "--calendar", "london", "--year", year])
    assert result.exit_code == 0, result.output
    assert f"Calendar london version 1, school year {year}" in result.stdout


@pytest.mark.parametrize(
    ("year", "days"),
    # 2023-24: Osmani's 190 pupil days and its unfixed Eid day; 2024-25 and 2025-26: the usual
    # 195 of an LA pattern; 2026-27: Ealing's page says "Schools have 198 days total".
    [("2023-24", 191), ("2024-25", 195), ("2025-26", 195), ("2026-27", 198)],
)
def test_school_days_in_each_year(london: SchoolCalendar, year: str, days: int) -> None:
    assert london.year_summary(year)["school_days"] == days


def test_2024_25_agrees_day_for_day_with_the_pinned_calendar(london: SchoolCalendar) -> None:
    pinned = load_calendar("london-2024-25")
    day = date(2024, 9, 1)
    while day <= date(2025, 8, 31):
        assert london.is_school_day(day) == pinned.is_school_day(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # 2023-24 (Tower Hamlets): autumn half term 23–27 Oct 2023.
        (date(2023, 10, 20), 2, date(2023, 10, 30)),
        # Spring half term 12–16 Feb 2024.
        (date(2024, 2, 9), 2, date(2024, 2, 19)),
        # The early May bank holiday, Monday 6 May 2024, is not a school day.
        (date(2024, 5, 3), 2, date(2024, 5, 7)),
        # Summer half term 27–31 May 2024, with the spring bank holiday in it.
        (date(2024, 5, 24), 2, date(2024, 6, 3)),
        # Easter: spring ends Thursday 28 Mar 2024, summer starts Monday 15 Apr 2024.
        (date(2024, 3, 28), 2, date(2024, 4, 15)),
        # 2025-26 (Barnet): autumn half term 27–31 Oct 2025.
        (date(2025, 10, 24), 2, date(2025, 11, 3)),
        # Christmas: 19 Dec 2025 to 5 Jan 2026.
        (date(2025, 12, 19), 2, date(2026, 1, 5)),
        # May Day, Monday 4 May 2026.
        (date(2026, 5, 1), 2, date(2026, 5, 5)),
        # Summer half term 25–29 May 2026.
        (date(2026, 5, 22), 2, date(2026, 6, 1)),
        # 2026-27 (Ealing): a notification on Thursday 3 Dec 2026 and Day 20 after Christmas.
        (date(2026, 12, 3), 20, date(2027, 1, 13)),
        # Autumn half term 26–30 Oct 2026.
        (date(2026, 10, 23), 2, date(2026, 11, 2)),
        # Spring half term 15–19 Feb 2027.
        (date(2027, 2, 12), 2, date(2027, 2, 22)),
        # Easter 2027: spring ends Thursday 25 Mar, Good Friday 26 Mar, summer starts 12 Apr.
        (date(2027, 3, 25), 2, date(2027, 4, 12)),
        # May Day, Monday 3 May 2027, then half term 31 May – 4 Jun with the spring bank holiday.
        (date(2027, 4, 30), 2, date(2027, 5, 4)),
        (date(2027, 5, 28), 2, date(2027, 6, 7)),
    ],
)
def test_day_n_across_half_terms_and_bank_holidays(
    london: SchoolCalendar, start: date, n: int, due: date
) -> None:
    assert london.school_day_n(start, n) == due


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # A case opened Monday 1 Jul 2024 (the 2006 grounds were still in force): Day 15 is the
        # last day of the 2023-24 summer term, Day 16 the first of 2024-25.
        (date(2024, 7, 1), 15, date(2024, 7, 19)),
        (date(2024, 7, 1), 16, date(2024, 9, 2)),
        # Barnet's last day, Monday 20 Jul 2026, then Ealing's first, Wednesday 2 Sep 2026.
        (date(2026, 7, 20), 2, date(2026, 9, 2)),
        # 2024-25 into 2025-26.
        (date(2025, 7, 22), 2, date(2025, 9, 1)),
    ],
)
def test_counting_runs_on_across_the_summer(
    london: SchoolCalendar, start: date, n: int, due: date
) -> None:
    assert london.school_day_n(start, n) == due


def test_counts_over_a_week_with_a_bank_holiday(london: SchoolCalendar) -> None:
    assert london.count(date(2024, 5, 6), date(2024, 5, 10)) == 4
    assert london.count(date(2026, 5, 4), date(2026, 5, 8)) == 4
    assert london.count(date(2027, 5, 3), date(2027, 5, 7)) == 4
    # A whole half-term week counts nothing.
    assert london.count(date(2026, 10, 26), date(2026, 10, 30)) == 0


def test_beyond_the_last_year_names_the_year_and_the_command(london: SchoolCalendar) -> None:
    with pytest.raises(CalendarError) as err:
        london.school_day_n(date(2027, 7, 27), 2)
    message = str(err.value)
    assert "into 2027-28" in message
    assert "run `cme calendar new 2027-28`" in message
    with pytest.raises(CalendarError, match=r"school year 2022-23.*cme calendar new 2022-23"):
        london.is_school_day(date(2023, 8, 31))


def test_the_pinned_calendar_points_to_the_shipped_one_covering_the_year() -> None:
    with pytest.raises(CalendarError) as err:
        load_calendar("london-2024-25").is_school_day(date(2026, 12, 3))
    message = str(err.value)
    assert "Shipped calendar london covers 2026-27: use `--calendar london`" in message
    assert "run `cme calendar new 2026-27`" in message
