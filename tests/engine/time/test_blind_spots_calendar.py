"""The calendar's edges on real dates: Day N exactly one school day past the last school day the
calendar knows, and the per-year counts of `year_summary` after the first year.

The shipped london-2024-25 calendar's last school day is Tuesday 22 July 2025, its 195th; the
two-year fixture's is Tuesday 21 July 2026 (193 school days in its made-up 2025-26).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import CalendarError, CMEError
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import load_calendar, load_calendar_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "calendars"
D = dt.date
LONDON = load_calendar("london-2024-25")
TWO_YEARS = load_calendar_file(FIXTURES / "two-years.yaml")
GAP_YEARS = load_calendar_file(FIXTURES / "gap-years.yaml")


def _one_past(call: object, *args: object, **kwargs: object) -> str:
    """The message of the engine error raised by `call(*args)`; fails on any other exception."""
    assert callable(call)
    with pytest.raises(CMEError) as err:
        call(*args, **kwargs)
    assert isinstance(err.value, CalendarError)  # not IndexError, not a bare Exception
    return str(err.value)


# --- Day N one school day past the end ----------------------------------------------------------


def test_the_last_school_day_is_day_195_and_day_196_is_a_clear_error() -> None:
    assert LONDON.school_day_n(D(2024, 9, 2), 195) == D(2025, 7, 22)
    assert LONDON.day_number(D(2024, 9, 2), D(2025, 7, 22)) == 195
    message = _one_past(LONDON.school_day_n, D(2024, 9, 2), 196)
    assert (
        "Day 196 from 2 Sep 2024 runs past the end of school year 2024-25 into 2025-26" in message
    )
    assert "does not cover; it covers 2024-25" in message
    assert "add a `2025-26:` entry under `years:`" in message
    assert "raise `version`" in message


@pytest.mark.parametrize(
    ("start", "last_n"),
    [(D(2025, 7, 22), 1), (D(2025, 7, 21), 2), (D(2025, 7, 14), 7), (D(2025, 7, 19), 2)],
)
def test_day_n_on_the_last_school_day_and_one_after(start: dt.date, last_n: int) -> None:
    assert LONDON.school_day_n(start, last_n) == D(2025, 7, 22)
    _one_past(LONDON.school_day_n, start, last_n + 1)
    _one_past(LONDON.explain, start, last_n + 1)


def test_day_1_from_the_summer_holiday_of_the_last_year_is_a_clear_error() -> None:
    # 23 Jul – 31 Aug 2025 lie in a covered year, but no school day follows them.
    for start in (D(2025, 7, 23), D(2025, 8, 29), D(2025, 8, 31)):
        assert LONDON.covers(start)
        assert "into 2025-26" in _one_past(LONDON.school_day_n, start, 1)


def test_a_pause_that_pushes_day_n_one_past_the_end_is_a_clear_error() -> None:
    start = D(2025, 7, 21)
    assert LONDON.school_day_n(start, 2) == D(2025, 7, 22)
    # 21 Jul paused: Day 1 is 22 Jul and Day 2 would be the first school day of 2025-26.
    skip = [(D(2025, 7, 19), D(2025, 7, 21))]
    assert LONDON.school_day_n(start, 1, skip=skip) == D(2025, 7, 22)
    assert "into 2025-26" in _one_past(LONDON.school_day_n, start, 2, skip=skip)
    # An open pause (runs on to date.max) leaves no school day to count at all.
    open_pause = [(D(2025, 7, 22), dt.date.max)]
    assert "into 2025-26" in _one_past(LONDON.school_day_n, start, 2, skip=open_pause)


def test_counting_to_the_day_after_the_calendar_is_a_clear_error() -> None:
    assert LONDON.count(D(2025, 7, 1), D(2025, 8, 31)) == 16
    message = _one_past(LONDON.count, D(2025, 7, 1), D(2025, 9, 1))
    assert "1 Sep 2025 is in school year 2025-26" in message
    assert "add a `2025-26:` entry" in message
    assert "school year 2025-26" in _one_past(LONDON.day_number, D(2025, 7, 1), D(2025, 9, 1))
    assert "school year 2025-26" in _one_past(LONDON.is_school_day, D(2025, 9, 1))


def test_one_past_the_second_year_names_the_third() -> None:
    total = TWO_YEARS.count(D(2024, 9, 1), D(2026, 8, 31))
    assert total == 195 + 193
    assert TWO_YEARS.school_day_n(D(2024, 9, 1), total) == D(2026, 7, 21)
    message = _one_past(TWO_YEARS.school_day_n, D(2024, 9, 1), total + 1)
    assert "end of school year 2025-26 into 2026-27" in message
    assert "add a `2026-27:` entry" in message


def test_one_past_the_first_year_before_a_gap_is_not_counted_into_the_later_year() -> None:
    # gap-years covers 2024-25 and 2026-27: Day N must not jump the missing 2025-26.
    total = GAP_YEARS.count(D(2024, 9, 1), D(2025, 8, 31))
    assert GAP_YEARS.school_day_n(D(2024, 9, 1), total) == D(2025, 7, 22)
    message = _one_past(GAP_YEARS.school_day_n, D(2024, 9, 1), total + 1)
    assert "end of school year 2024-25 into 2025-26" in message
    assert "it covers 2024-25, 2026-27" in message


# --- year_summary after the first year ----------------------------------------------------------


def _school_days_between(cal: SchoolCalendar, first: dt.date, last: dt.date) -> int:
    """School days counted one date at a time (an oracle independent of the precomputed counts)."""
    return sum(
        cal.is_school_day(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)
    )


@pytest.mark.parametrize(
    ("year", "total", "terms"),
    [
        ("2024-25", 195, [("autumn", 75), ("spring", 60), ("summer", 60)]),
        # 2 INSET days in autumn; the 4 May bank holiday and the 7 May closure in summer.
        ("2025-26", 193, [("autumn", 73), ("spring", 55), ("summer", 65)]),
    ],
)
def test_year_summary_counts_each_year_on_its_own(
    year: str, total: int, terms: list[tuple[str, int]]
) -> None:
    summary = TWO_YEARS.year_summary(year)
    assert summary["school_days"] == total
    assert [(t["name"], t["school_days"]) for t in summary["terms"]] == terms
    assert _school_days_between(TWO_YEARS, summary["first_day"], summary["last_day"]) == total
    for term in summary["terms"]:
        assert term["school_days"] == _school_days_between(
            TWO_YEARS, term["first_day"], term["last_day"]
        )


def test_second_year_summary_has_only_its_own_holidays_and_breaks() -> None:
    summary = TWO_YEARS.year_summary("2025-26")
    assert (summary["first_day"], summary["last_day"]) == (D(2025, 9, 1), D(2026, 8, 31))
    assert summary["bank_holidays_in_term"] == [{"date": D(2026, 5, 4), "name": "May Day"}]
    assert [(b["name"], b["first_day"], b["last_day"]) for b in summary["breaks"]] == [
        ("half term", D(2025, 10, 27), D(2025, 10, 31)),
        ("Christmas holiday", D(2025, 12, 22), D(2026, 1, 2)),
        ("half term", D(2026, 2, 16), D(2026, 2, 20)),
        ("Easter holiday", D(2026, 3, 30), D(2026, 4, 10)),
        ("half term", D(2026, 5, 25), D(2026, 5, 29)),
        ("summer holiday", D(2026, 7, 22), D(2026, 8, 31)),
    ]
    first = TWO_YEARS.year_summary("2024-25")
    # The first year's summer holiday runs to the Friday before the second year's first term.
    assert first["breaks"][-1] == {
        "name": "summer holiday",
        "first_day": D(2025, 7, 23),
        "last_day": D(2025, 8, 29),
    }
    assert first["bank_holidays_in_term"] == [{"date": D(2025, 5, 5), "name": "May Day"}]


def test_the_year_counts_add_up_to_the_whole_calendar() -> None:
    years = TWO_YEARS.school_years()
    assert years == ["2024-25", "2025-26"]
    assert sum(TWO_YEARS.year_summary(y)["school_days"] for y in years) == TWO_YEARS.count(
        D(2024, 9, 1), D(2026, 8, 31)
    )
    gap = {y: GAP_YEARS.year_summary(y)["school_days"] for y in GAP_YEARS.school_years()}
    assert set(gap) == {"2024-25", "2026-27"}
    assert gap["2024-25"] == GAP_YEARS.count(D(2024, 9, 1), D(2025, 8, 31))
    assert gap["2026-27"] == GAP_YEARS.count(D(2026, 9, 1), D(2027, 8, 31))


# --- years after a gap, a year starting after 1 September, and bank holidays at the edges -------

THREE_YEARS = SchoolCalendar.from_yaml(
    (FIXTURES / "gap-years.yaml").read_text(encoding="utf-8")
    + """\
  2027-28:
    terms:
      - {name: autumn, first_day: 2027-09-06, last_day: 2027-12-17}
      - {name: spring, first_day: 2028-01-04, last_day: 2028-03-31}
      - {name: summer, first_day: 2028-04-18, last_day: 2028-07-21}
""",
    "three-years.yaml",
)
"""2024-25, a gap, then 2026-27 and 2027-28 back to back (made up, as gap-years.yaml is)."""


def _breaks(cal: SchoolCalendar, year: str) -> list[tuple[str, dt.date, dt.date]]:
    return [(b["name"], b["first_day"], b["last_day"]) for b in cal.year_summary(year)["breaks"]]


def test_after_a_gap_two_consecutive_years_count_across_their_summer() -> None:
    assert THREE_YEARS.school_years() == ["2024-25", "2026-27", "2027-28"]
    assert THREE_YEARS.school_day_n(D(2027, 7, 20), 3) == D(2027, 9, 6)
    assert THREE_YEARS.count(D(2027, 7, 20), D(2027, 9, 6)) == 3
    assert "skipping summer holiday 22 Jul – 3 Sep" in THREE_YEARS.explain(D(2027, 7, 20), 3)
    assert "into 2025-26" in _one_past(THREE_YEARS.school_day_n, D(2025, 7, 22), 2)
    assert "into 2028-29" in _one_past(THREE_YEARS.school_day_n, D(2028, 7, 21), 2)
    for year, total in (("2024-25", 209), ("2026-27", 208), ("2027-28", 206)):
        summary = THREE_YEARS.year_summary(year)
        assert summary["school_days"] == total
        assert _school_days_between(THREE_YEARS, summary["first_day"], summary["last_day"]) == total


def test_the_year_after_a_gap_opens_with_its_own_break_and_the_next_continues_the_summer() -> None:
    # After the gap, 1 Sep 2026 (a Tuesday before the first term) is its own break.
    assert _breaks(THREE_YEARS, "2026-27")[0] == (
        "before the autumn term",
        D(2026, 9, 1),
        D(2026, 9, 1),
    )
    assert _breaks(THREE_YEARS, "2026-27")[-1] == ("summer holiday", D(2027, 7, 22), D(2027, 8, 31))
    # Back to back, the summer holiday runs on to the next year's first term.
    assert _breaks(THREE_YEARS, "2027-28")[0] == ("summer holiday", D(2027, 9, 1), D(2027, 9, 3))
    # At the gap, the first year's summer holiday stops at 31 Aug (its last weekday, 29 Aug).
    assert _breaks(THREE_YEARS, "2024-25")[-1] == ("summer holiday", D(2025, 7, 23), D(2025, 8, 29))


def test_a_second_year_starting_after_1_september_continues_the_summer_holiday() -> None:
    text = (FIXTURES / "two-years.yaml").read_text(encoding="utf-8")
    text = text.replace("first_day: 2025-09-01\n", "first_day: 2025-09-03\n").replace(
        "      - {date: 2025-09-01, note: made-up INSET day}\n"
        "      - {date: 2025-09-02, note: made-up INSET day}\n",
        "      - {date: 2025-09-04, note: made-up INSET day}\n",
    )
    late = SchoolCalendar.from_yaml(text, "late-start.yaml")
    breaks = _breaks(late, "2025-26")
    assert breaks[0] == ("summer holiday", D(2025, 9, 1), D(2025, 9, 2))
    assert [b for b in breaks if b[0] == "before the autumn term"] == []
    assert late.school_day_n(D(2025, 7, 21), 3) == D(2025, 9, 3)
    assert late.explain(D(2025, 7, 21), 3) == (
        "Day 3 = 3 Sep 2025: 3rd school day from 21 Jul 2025, skipping summer holiday "
        "23 Jul – 2 Sep, calendar test-two-years version 3"
    )
    assert late.year_summary("2025-26")["school_days"] == 192


def test_bank_holidays_on_the_first_and_last_day_of_the_calendar_are_kept() -> None:
    # 31 Aug 2026, the last day of two-years, is the late summer bank holiday; 26 Aug 2024,
    # before its first day, is not the calendar's.
    assert TWO_YEARS.bank_holidays[D(2026, 8, 31)] == "Late Summer Bank Holiday"
    assert min(TWO_YEARS.bank_holidays) == D(2024, 12, 25)
    assert max(TWO_YEARS.bank_holidays) == D(2026, 8, 31)


def test_repr_names_the_version_and_content() -> None:
    assert repr(TWO_YEARS) == (
        f"<SchoolCalendar test-two-years version 3 {TWO_YEARS.content_hash[:12]}>"
    )


# --- several pauses, overlapping, against counting one day at a time -----------------------------

SPAN = st.dates(min_value=D(2024, 9, 1), max_value=D(2025, 8, 31))
PAUSE = st.tuples(SPAN, st.integers(min_value=0, max_value=30)).map(
    lambda p: (p[0], p[0] + dt.timedelta(days=p[1]))
)


@settings(max_examples=200, deadline=None)
@given(
    start=SPAN,
    n=st.integers(min_value=1, max_value=60),
    pauses=st.lists(PAUSE, min_size=2, max_size=4),
)
def test_several_pauses_skip_exactly_the_paused_school_days(
    start: dt.date, n: int, pauses: list[tuple[dt.date, dt.date]]
) -> None:
    def counted(day: dt.date) -> bool:
        return LONDON.is_school_day(day) and not any(a <= day <= b for a, b in pauses)

    days = [
        d
        for i in range((D(2025, 8, 31) - start).days + 1)
        if counted(d := start + dt.timedelta(days=i))
    ]
    if n <= len(days):
        assert LONDON.school_day_n(start, n, skip=pauses) == days[n - 1]
        assert LONDON.count(start, days[n - 1], skip=pauses) == n
    else:
        _one_past(LONDON.school_day_n, start, n, skip=pauses)
    assert LONDON.count(start, D(2025, 8, 31), skip=pauses) == len(days)


# --- breaks that start or end on the edge of a weekend, and explanations at their edges ---------

EDGES = SchoolCalendar.from_yaml(
    """\
name: test-edges
version: 1
description: Made up for tests.
source: Invented.
years:
  2024-25:
    terms:
      - {name: autumn, first_day: 2024-09-04, last_day: 2024-12-19}
      - {name: spring, first_day: 2025-01-06, last_day: 2025-04-03}
      - {name: summer, first_day: 2025-04-22, last_day: 2025-07-18}
  2025-26:
    terms:
      - {name: autumn, first_day: 2025-09-01, last_day: 2025-12-19}
      - {name: spring, first_day: 2026-01-05, last_day: 2026-03-27}
      - {name: summer, first_day: 2026-04-13, last_day: 2026-08-31}
""",
    "edges.yaml",
)
"""Made up: 1 Sep 2024 is a Sunday before a Wednesday start; terms ending on a Thursday; a
summer term running to Monday 31 Aug 2026, the late summer bank holiday."""


def test_breaks_are_trimmed_to_weekdays_at_both_ends() -> None:
    assert _breaks(EDGES, "2024-25") == [
        ("before the autumn term", D(2024, 9, 2), D(2024, 9, 3)),  # from Sunday 1 Sep
        ("Christmas holiday", D(2024, 12, 20), D(2025, 1, 3)),  # from a Friday
        ("Easter holiday", D(2025, 4, 4), D(2025, 4, 21)),
        ("summer holiday", D(2025, 7, 21), D(2025, 8, 29)),
    ]
    made_up = load_calendar_file(FIXTURES / "made-up-2023-24.yaml")
    # The year ends on Saturday 31 Aug 2024: its last weekday is Friday 30 Aug.
    assert _breaks(made_up, "2023-24")[-1] == ("summer holiday", D(2024, 7, 24), D(2024, 8, 30))
    assert ("Easter holiday", D(2024, 3, 29), D(2024, 4, 12)) in _breaks(made_up, "2023-24")


def test_a_bank_holiday_on_the_last_day_of_a_year_in_term_is_listed() -> None:
    summary = EDGES.year_summary("2025-26")
    assert summary["bank_holidays_in_term"][-1] == {
        "date": D(2026, 8, 31),
        "name": "Late Summer Bank Holiday",
    }
    assert not EDGES.is_school_day(D(2026, 8, 31))
    assert summary["school_days"] == 238


def test_the_first_year_after_a_gap_with_a_one_term_year_before_it_gets_its_lead_in() -> None:
    one = SchoolCalendar.from_yaml(
        """\
name: test-one-term
version: 1
description: Made up for tests.
source: Invented.
years:
  2024-25:
    terms:
      - {name: autumn, first_day: 2024-09-02, last_day: 2024-12-20}
  2026-27:
    terms:
      - {name: autumn, first_day: 2026-09-03, last_day: 2026-12-18}
      - {name: spring, first_day: 2027-01-04, last_day: 2027-03-26}
""",
        "one-term.yaml",
    )
    assert _breaks(one, "2026-27")[0] == ("before the autumn term", D(2026, 9, 1), D(2026, 9, 2))


def test_explain_names_the_break_a_start_date_falls_in_and_a_one_day_pause() -> None:
    assert LONDON.explain(D(2024, 11, 1), 1) == (
        "Day 1 = 4 Nov 2024: 1st school day from 1 Nov 2024 (not a school day, so Day 1 is "
        "4 Nov 2024), skipping half term 28 Oct – 1 Nov, calendar london-2024-25 version 1"
    )
    one_day = [(D(2024, 10, 23), D(2024, 10, 23))]
    assert LONDON.explain(D(2024, 10, 21), 5, skip=one_day) == (
        "Day 5 = 4 Nov 2024: 5th school day from 21 Oct 2024, skipping half term 28 Oct – 1 Nov, "
        "pause 23 Oct (1 school day not counted), calendar london-2024-25 version 1"
    )


def test_a_last_year_ending_on_a_saturday_ends_its_summer_holiday_on_the_friday() -> None:
    only = SchoolCalendar.from_yaml(
        """\
name: test-2023-24
version: 1
description: Made up for tests.
source: Invented.
years:
  2023-24:
    terms:
      - {name: autumn, first_day: 2023-09-04, last_day: 2023-12-20}
      - {name: spring, first_day: 2024-01-04, last_day: 2024-03-28}
      - {name: summer, first_day: 2024-04-15, last_day: 2024-07-23}
""",
        "2023-24.yaml",
    )
    # 31 Aug 2024, the end of the calendar, is a Saturday.
    assert _breaks(only, "2023-24")[-1] == ("summer holiday", D(2024, 7, 24), D(2024, 8, 30))
    assert "into 2024-25" in _one_past(only.school_day_n, D(2024, 7, 23), 2)


def test_a_pause_inside_another_and_a_third_overlapping_the_second() -> None:
    inside = [(D(2024, 9, 30), D(2024, 10, 31)), (D(2024, 10, 7), D(2024, 10, 10))]
    assert LONDON.count(D(2024, 9, 30), D(2024, 11, 8), skip=inside) == 5  # 4–8 Nov
    assert LONDON.school_day_n(D(2024, 9, 30), 1, skip=inside) == D(2024, 11, 4)
    three = [
        (D(2024, 9, 2), D(2024, 9, 6)),
        (D(2024, 9, 16), D(2024, 9, 20)),
        (D(2024, 9, 18), D(2024, 9, 27)),
    ]
    assert LONDON.count(D(2024, 9, 2), D(2024, 10, 4), skip=three) == 10  # 9–13 Sep, 30 Sep–4 Oct
    assert LONDON.school_day_n(D(2024, 9, 2), 6, skip=three) == D(2024, 9, 30)
    assert LONDON.school_day_n(D(2024, 9, 2), 11, skip=three) == D(2024, 10, 7)
    within = [
        (D(2024, 9, 2), D(2024, 9, 6)),
        (D(2024, 9, 16), D(2024, 9, 27)),
        (D(2024, 9, 18), D(2024, 9, 20)),
    ]  # the third inside the second
    assert LONDON.count(D(2024, 9, 2), D(2024, 10, 4), skip=within) == 10
