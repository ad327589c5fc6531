"""School calendars: loading, validation with file:line:col, and school-day arithmetic."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.errors import CalendarError, DefinitionError, InputError
from engine.time.calendar import SchoolCalendar
from engine.time.calendar_file import school_year_of
from engine.time.calendars import (
    DEFAULT_CALENDAR,
    available_calendars,
    load_calendar,
    load_calendar_file,
    load_calendar_or_file,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "calendars"
INVALID = FIXTURES / "invalid"
SHIPPED = Path(__file__).resolve().parents[3] / "processes" / "calendars"


@pytest.fixture(scope="module")
def london() -> SchoolCalendar:
    return load_calendar("london-2024-25")


@pytest.fixture(scope="module")
def two_years() -> SchoolCalendar:
    return load_calendar_file(FIXTURES / "two-years.yaml")


# --- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", available_calendars())
def test_every_shipped_calendar_loads_and_is_named_after_its_file(name: str) -> None:
    calendar = load_calendar(name)
    assert calendar.name == name
    assert (SHIPPED / f"{name}.yaml").read_text(encoding="utf-8") == calendar.source_text


def test_default_calendar_is_shipped() -> None:
    assert DEFAULT_CALENDAR in available_calendars()


def test_identity_fields(london: SchoolCalendar) -> None:
    assert london.name == "london-2024-25"
    assert london.version == 1
    assert london.content_hash == hashlib.sha256(london.source_text.encode()).hexdigest()
    assert london.school_years() == ["2024-25"]
    assert "thehelix.harrow.sch.uk" in london.definition.source


def test_load_calendar_is_cached(london: SchoolCalendar) -> None:
    assert load_calendar("london-2024-25") is london


def test_unknown_calendar_suggests_the_close_name() -> None:
    with pytest.raises(CalendarError) as err:
        load_calendar("london-2024-26")
    assert "Did you mean 'london-2024-25'?" in str(err.value)
    assert "Known calendars: london, london-2024-25" in str(err.value)


def test_unknown_calendar_with_nothing_close_lists_known_names() -> None:
    with pytest.raises(CalendarError, match="Known calendars: .*london-2024-25"):
        load_calendar("../../etc/passwd")


def test_missing_calendar_file() -> None:
    with pytest.raises(CalendarError, match="cannot read calendar file .*nowhere.yaml"):
        load_calendar_file(FIXTURES / "nowhere.yaml")


def test_load_calendar_or_file_takes_names_and_paths(two_years: SchoolCalendar) -> None:
    assert load_calendar_or_file(DEFAULT_CALENDAR).name == DEFAULT_CALENDAR
    assert load_calendar_or_file(str(FIXTURES / "two-years.yaml")).name == "test-two-years"


def test_fixture_version_and_years(two_years: SchoolCalendar) -> None:
    assert two_years.version == 3
    assert two_years.school_years() == ["2024-25", "2025-26"]


# --- validation ------------------------------------------------------------------------------

# (fixture, line, column, fragment of the message) for every issue each invalid file must give.
INVALID_CASES = [
    (
        "overlapping-terms.yaml",
        [(13, 20, "term 'spring' (16 Dec 2024 – 4 Apr 2025) overlaps term 'autumn'")],
    ),
    (
        "end-before-start.yaml",
        [
            (11, 19, "term 'autumn' ends (2 Sep 2024) before it starts (20 Dec 2024)"),
            (17, 21, "the half term of term 'spring' ends (17 Feb 2025) before it starts"),
        ],
    ),
    (
        "half-term-outside.yaml",
        [(13, 11, "half term 16–27 Dec 2024 is not inside term 'autumn'")],
    ),
    (
        "unknown-key.yaml",
        [(13, 11, "unknown key 'half_terms'"), (16, 7, "unknown key 'bank_holidays'")],
    ),
    ("duplicate-key.yaml", [(11, 9, "duplicate key 'first_day'")]),
    (
        "bad-closures.yaml",
        [
            (14, 16, "7 Sep 2024 is a Saturday"),
            (15, 16, "2 Jan 2025 is not inside any term of 2024-25"),
            (17, 16, "30 Oct 2024 falls in the half term of term 'autumn'"),
            (19, 16, "3 Sep 2024 is already listed in closures"),
        ],
    ),
    (
        "bad-values.yaml",
        [
            (3, 1, "missing required key 'source'"),
            (4, 10, "version: Input should be a valid integer"),
            (8, 5, "school year '2024-2025' must be written like 2024-25"),
            (10, 20, "write the date as YYYY-MM-DD (e.g. 2024-09-02), not '2024-9-2'"),
            (15, 20, "is not inside school year 2025-26 (1 Sep 2025 – 31 Aug 2026)"),
        ],
    ),
    (
        "many-issues.yaml",
        [
            (2, 7, "calendar name 'Many Issues' must be lower-case"),
            (3, 10, "greater than or equal to 1"),
            (12, 54, "the half term of term 'autumn' ends (28 Oct 2024) before it starts"),
            (13, 17, "unknown key 'colour'"),
            (15, 20, "term 'spring' (2 Dec 2024 – 4 Apr 2025) overlaps term 'autumn'"),
            (19, 19, "term 'summer' ends (22 Apr 2025) before it starts (22 Jul 2025)"),
            (21, 16, "1 Sep 2024 is a Sunday"),
            (23, 12, "school year 2025-26 needs at least one term"),
        ],
    ),
]


@pytest.mark.parametrize(("fixture", "expected"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES])
def test_invalid_calendar_reports_every_issue_with_its_place(
    fixture: str, expected: list[tuple[int, int, str]]
) -> None:
    path = INVALID / fixture
    with pytest.raises(DefinitionError) as err:
        load_calendar_file(path)
    issues = err.value.issues
    assert [(i.line, i.column) for i in issues] == [(line, col) for line, col, _ in expected]
    for issue, (_, _, fragment) in zip(issues, expected, strict=True):
        assert issue.path == str(path)
        assert fragment in issue.message
    count = len(expected)
    assert f"invalid for {count} reason{'s' if count != 1 else ''}:" in str(err.value)
    assert f"{path}:{expected[0][0]}:{expected[0][1]}: " in str(err.value)


def test_every_invalid_fixture_has_a_case() -> None:
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(c[0] for c in INVALID_CASES)


def test_from_yaml_uses_the_given_path_in_issues() -> None:
    with pytest.raises(DefinitionError) as err:
        SchoolCalendar.from_yaml("name: x\nversion: 1\n", "inline.yaml")
    assert all(str(i).startswith("inline.yaml:") for i in err.value.issues)
    assert {i.message for i in err.value.issues} == {
        "missing required key 'description'",
        "missing required key 'source'",
        "missing required key 'years'",
    }


def test_yaml_that_is_not_a_mapping() -> None:
    with pytest.raises(DefinitionError, match=r"inline.yaml:1:1: a calendar file is a mapping"):
        SchoolCalendar.from_yaml("- 1\n- 2\n", "inline.yaml")


def test_yaml_syntax_error_has_a_place() -> None:
    with pytest.raises(DefinitionError, match=r"inline.yaml:\d+:\d+: YAML syntax error"):
        SchoolCalendar.from_yaml("name: x\nversion: [1\n", "inline.yaml")


def test_shipped_name_must_match_the_file(tmp_path: Path) -> None:
    from engine.time.calendar_file import parse_calendar

    text = (SHIPPED / "london-2024-25.yaml").read_text(encoding="utf-8")
    with pytest.raises(DefinitionError, match="does not match the file name"):
        parse_calendar(text, "x.yaml", expected_name="other-name")


# --- is_school_day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 9, 1), False),  # Sunday before the first day of term
        (date(2024, 9, 2), True),  # first day of the autumn term
        (date(2024, 10, 25), True),  # Friday before half term
        (date(2024, 10, 28), False),  # half term
        (date(2024, 11, 1), False),  # half term
        (date(2024, 11, 4), True),  # back after half term
        (date(2024, 11, 9), False),  # Saturday in term
        (date(2024, 12, 20), True),  # last day of the autumn term
        (date(2024, 12, 25), False),  # Christmas holiday
        (date(2025, 1, 6), True),  # first day of the spring term
        (date(2025, 2, 17), False),  # spring half term
        (date(2025, 4, 4), True),  # last day of the spring term
        (date(2025, 4, 18), False),  # Good Friday, in the Easter holiday
        (date(2025, 4, 21), False),  # Easter Monday
        (date(2025, 4, 22), True),  # first day of the summer term
        (date(2025, 5, 5), False),  # early May bank holiday, inside term (from `holidays`)
        (date(2025, 5, 6), True),
        (date(2025, 5, 26), False),  # spring bank holiday, in half term
        (date(2025, 7, 22), True),  # last day of the summer term
        (date(2025, 7, 23), False),  # summer holiday
        (date(2025, 8, 15), False),  # summer holiday, still inside school year 2024-25
        (date(2025, 8, 31), False),  # last day of school year 2024-25
    ],
)
def test_is_school_day(london: SchoolCalendar, day: date, expected: bool) -> None:
    assert london.is_school_day(day) is expected


@pytest.mark.parametrize(
    ("day", "year"), [(date(2025, 9, 1), "2025-26"), (date(2024, 8, 31), "2023-24")]
)
def test_date_outside_the_calendar_names_the_missing_year(
    london: SchoolCalendar, day: date, year: str
) -> None:
    with pytest.raises(CalendarError) as err:
        london.is_school_day(day)
    message = str(err.value)
    assert f"school year {year}" in message
    assert f"add a `{year}:` entry under `years:` in processes/calendars/london-2024-25.yaml" in (
        message
    )
    assert not london.covers(day)


def test_extra_closure_and_inset_days(two_years: SchoolCalendar) -> None:
    assert not two_years.is_school_day(date(2025, 9, 1))  # INSET
    assert not two_years.is_school_day(date(2025, 9, 2))  # INSET
    assert two_years.is_school_day(date(2025, 9, 3))
    assert not two_years.is_school_day(date(2026, 5, 7))  # closure
    assert not two_years.is_school_day(date(2026, 5, 4))  # early May bank holiday 2026


def test_bank_holidays_can_be_given_instead_of_looked_up() -> None:
    text = (FIXTURES / "two-years.yaml").read_text(encoding="utf-8")
    extra = {date(2024, 9, 3): "Test Day"}
    calendar = SchoolCalendar.from_yaml(text, "two-years.yaml", bank_holidays=extra)
    assert not calendar.is_school_day(date(2024, 9, 3))
    assert calendar.is_school_day(date(2025, 5, 5))  # the mapping replaces `holidays` entirely


# --- school_day_n ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2024, 10, 21), 1, date(2024, 10, 21)),  # a school day is its own Day 1
        (date(2024, 10, 21), 5, date(2024, 10, 25)),
        (date(2024, 10, 21), 6, date(2024, 11, 4)),  # across half term
        (date(2024, 10, 21), 26, date(2024, 12, 2)),  # the worked example
        (date(2024, 12, 16), 5, date(2024, 12, 20)),
        (date(2024, 12, 16), 6, date(2025, 1, 6)),  # across the Christmas holiday
        (date(2025, 3, 31), 5, date(2025, 4, 4)),
        (date(2025, 3, 31), 6, date(2025, 4, 22)),  # across the Easter holiday and Easter Monday
        (date(2025, 4, 28), 5, date(2025, 5, 2)),
        (date(2025, 4, 28), 6, date(2025, 5, 6)),  # across the early May bank holiday in term
        (date(2024, 9, 2), 195, date(2025, 7, 22)),  # the last school day of the year
    ],
)
def test_school_day_n(london: SchoolCalendar, start: date, n: int, expected: date) -> None:
    assert london.school_day_n(start, n) == expected


@pytest.mark.parametrize(
    ("start", "day1"),
    [
        (date(2024, 10, 19), date(2024, 10, 21)),  # Saturday: Day 1 is Monday
        (date(2024, 10, 20), date(2024, 10, 21)),  # Sunday
        (date(2024, 10, 26), date(2024, 11, 4)),  # weekend before half term
        (date(2024, 10, 30), date(2024, 11, 4)),  # in half term
        (date(2024, 12, 25), date(2025, 1, 6)),  # Christmas Day
        (date(2025, 5, 5), date(2025, 5, 6)),  # bank holiday in term
        (date(2024, 9, 1), date(2024, 9, 2)),  # before the first day of term
    ],
)
def test_day_1_is_the_first_school_day_on_or_after_start(
    london: SchoolCalendar, start: date, day1: date
) -> None:
    assert london.school_day_n(start, 1) == day1
    assert london.school_day_n(start, 2) == london.school_day_n(day1, 2)
    assert london.day_number(start, day1) == 1


def test_day_n_across_the_summer_holiday(two_years: SchoolCalendar) -> None:
    start = date(2025, 7, 14)
    assert two_years.school_day_n(start, 7) == date(2025, 7, 22)
    # 1 and 2 Sep 2025 are (made-up) INSET days, so Day 8 is Wednesday 3 Sep.
    assert two_years.school_day_n(start, 8) == date(2025, 9, 3)
    assert two_years.count(start, date(2025, 9, 3)) == 8


def test_day_n_from_inside_the_summer_holiday(two_years: SchoolCalendar) -> None:
    assert two_years.school_day_n(date(2025, 8, 15), 1) == date(2025, 9, 3)


def test_day_n_past_the_last_school_year(london: SchoolCalendar) -> None:
    with pytest.raises(CalendarError) as err:
        london.school_day_n(date(2025, 7, 1), 30)
    assert "runs past the end of school year 2024-25 into 2025-26" in str(err.value)
    assert "add a `2025-26:` entry" in str(err.value)


def test_day_n_from_a_date_outside_the_calendar(london: SchoolCalendar) -> None:
    with pytest.raises(CalendarError, match="school year 2025-26"):
        london.school_day_n(date(2025, 10, 1), 1)


def test_day_0_does_not_exist(london: SchoolCalendar) -> None:
    with pytest.raises(InputError, match="Day 0 does not exist"):
        london.school_day_n(date(2024, 10, 21), 0)


def test_gap_in_school_years_is_never_counted_across() -> None:
    calendar = load_calendar_file(FIXTURES / "gap-years.yaml")
    with pytest.raises(CalendarError, match="school year 2025-26"):
        calendar.is_school_day(date(2025, 10, 1))
    with pytest.raises(CalendarError, match="into 2025-26"):
        calendar.school_day_n(date(2025, 7, 21), 5)
    with pytest.raises(CalendarError, match="into 2025-26"):
        calendar.count(date(2025, 7, 1), date(2026, 9, 10))
    assert calendar.school_day_n(date(2026, 9, 1), 1) == date(2026, 9, 2)


# --- pauses (skip) ---------------------------------------------------------------------------


def test_paused_school_days_do_not_count(london: SchoolCalendar) -> None:
    start = date(2024, 10, 21)
    pause = [(date(2024, 11, 4), date(2024, 11, 5))]
    assert london.school_day_n(start, 26, skip=pause) == date(2024, 12, 4)
    assert london.count(start, date(2024, 12, 4), skip=pause) == 26
    assert london.day_number(start, date(2024, 11, 5), skip=pause) == 5


def test_pause_covering_start_moves_day_1(london: SchoolCalendar) -> None:
    pause = [(date(2024, 10, 20), date(2024, 10, 22))]
    assert london.school_day_n(date(2024, 10, 21), 1, skip=pause) == date(2024, 10, 23)


def test_overlapping_and_outside_pauses(london: SchoolCalendar) -> None:
    start = date(2024, 10, 21)
    pauses = [
        (date(2024, 11, 6), date(2024, 11, 8)),
        (date(2024, 11, 4), date(2024, 11, 6)),  # overlaps the first
        (date(2024, 9, 2), date(2024, 9, 30)),  # before start: no effect
        (date(2025, 6, 2), date(2025, 6, 6)),  # after the answer: no effect
    ]
    assert london.school_day_n(start, 6, skip=pauses) == date(2024, 11, 11)
    assert london.count(start, date(2024, 11, 11), skip=pauses) == 6


def test_pause_ending_before_it_starts(london: SchoolCalendar) -> None:
    with pytest.raises(InputError, match="cannot end"):
        london.school_day_n(date(2024, 10, 21), 3, skip=[(date(2024, 11, 8), date(2024, 11, 4))])


# --- count and day_number --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2024, 9, 2), date(2024, 12, 20), 75),  # autumn term
        (date(2025, 1, 6), date(2025, 4, 4), 60),  # spring term
        (date(2025, 4, 22), date(2025, 7, 22), 60),  # summer term, less 5 May
        (date(2024, 9, 1), date(2025, 8, 31), 195),  # the whole school year
        (date(2024, 10, 21), date(2024, 10, 21), 1),  # one school day, inclusive
        (date(2024, 10, 26), date(2024, 11, 3), 0),  # weekend and half term
        (date(2024, 10, 22), date(2024, 10, 21), 0),  # end before start
    ],
)
def test_count(london: SchoolCalendar, start: date, end: date, expected: int) -> None:
    assert london.count(start, end) == expected


def test_count_to_a_date_outside_the_calendar(london: SchoolCalendar) -> None:
    with pytest.raises(CalendarError, match="2025-26"):
        london.count(date(2025, 7, 1), date(2025, 9, 10))


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2024, 10, 18), 0),  # before start
        (date(2024, 10, 21), 1),
        (date(2024, 10, 25), 5),
        (date(2024, 10, 26), 5),  # Saturday: the last school day passed
        (date(2024, 10, 30), 5),  # half term
        (date(2024, 11, 4), 6),
        (date(2024, 12, 2), 26),
    ],
)
def test_day_number(london: SchoolCalendar, on: date, expected: int) -> None:
    assert london.day_number(date(2024, 10, 21), on) == expected


# --- explain ---------------------------------------------------------------------------------


def test_explain_the_worked_example(london: SchoolCalendar) -> None:
    assert london.explain(date(2024, 10, 21), 26) == (
        "Day 26 = 2 Dec 2024: 26th school day from 21 Oct 2024, skipping half term "
        "28 Oct – 1 Nov, calendar london-2024-25 version 1"
    )


def test_explain_with_nothing_skipped(london: SchoolCalendar) -> None:
    assert london.explain(date(2024, 10, 21), 3) == (
        "Day 3 = 23 Oct 2024: 3rd school day from 21 Oct 2024, calendar london-2024-25 version 1"
    )


def test_explain_names_the_christmas_holiday_with_years(london: SchoolCalendar) -> None:
    text = london.explain(date(2024, 12, 16), 6)
    assert text.startswith("Day 6 = 6 Jan 2025: 6th school day from 16 Dec 2024, skipping ")
    assert "Christmas holiday 23 Dec 2024 – 3 Jan 2025" in text


def test_explain_names_easter_and_the_bank_holiday(london: SchoolCalendar) -> None:
    assert "skipping Easter holiday 7–21 Apr," in london.explain(date(2025, 3, 31), 6)
    assert "skipping bank holiday 5 May (May Day)," in london.explain(date(2025, 4, 28), 6)


def test_explain_start_not_a_school_day(london: SchoolCalendar) -> None:
    assert london.explain(date(2024, 10, 26), 1) == (
        "Day 1 = 4 Nov 2024: 1st school day from 26 Oct 2024 (not a school day, so Day 1 is "
        "4 Nov 2024), skipping half term 28 Oct – 1 Nov, calendar london-2024-25 version 1"
    )


def test_explain_names_pauses(london: SchoolCalendar) -> None:
    text = london.explain(date(2024, 10, 21), 26, skip=[(date(2024, 11, 4), date(2024, 11, 5))])
    assert text == (
        "Day 26 = 4 Dec 2024: 26th school day from 21 Oct 2024, skipping half term "
        "28 Oct – 1 Nov, pause 4–5 Nov (2 school days not counted), "
        "calendar london-2024-25 version 1"
    )


def test_explain_names_inset_days_and_summer_holiday(two_years: SchoolCalendar) -> None:
    text = two_years.explain(date(2025, 7, 14), 8)
    assert text.startswith("Day 8 = 3 Sep 2025: 8th school day from 14 Jul 2025, skipping ")
    # Start and answer are in the same calendar year, so the skipped dates leave the year out.
    assert "summer holiday 23 Jul – 29 Aug, INSET day 1 Sep (made-up INSET day), " in text
    assert "INSET day 2 Sep (made-up INSET day)" in text
    assert text.endswith("calendar test-two-years version 3")


@pytest.mark.parametrize(
    ("n", "suffix"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (101, "101st"),
    ],
)
def test_explain_ordinals(london: SchoolCalendar, n: int, suffix: str) -> None:
    assert f": {suffix} school day" in london.explain(date(2024, 9, 2), n)


# --- school years and summaries --------------------------------------------------------------


def test_school_year_of() -> None:
    assert school_year_of(date(2024, 9, 1)) == "2024-25"
    assert school_year_of(date(2025, 8, 31)) == "2024-25"
    assert school_year_of(date(1999, 9, 1)) == "1999-00"


def test_year_summary(london: SchoolCalendar) -> None:
    summary = london.year_summary("2024-25")
    assert summary["calendar"] == "london-2024-25"
    assert summary["school_days"] == 195
    assert [(t["name"], t["first_day"], t["last_day"]) for t in summary["terms"]] == [
        ("autumn", date(2024, 9, 2), date(2024, 12, 20)),
        ("spring", date(2025, 1, 6), date(2025, 4, 4)),
        ("summer", date(2025, 4, 22), date(2025, 7, 22)),
    ]
    assert summary["bank_holidays_in_term"] == [{"date": date(2025, 5, 5), "name": "May Day"}]
    assert [b["name"] for b in summary["breaks"]] == [
        "half term",
        "Christmas holiday",
        "half term",
        "Easter holiday",
        "half term",
        "summer holiday",
    ]
    assert summary["inset_days"] == []


def test_year_summary_of_the_second_year(two_years: SchoolCalendar) -> None:
    summary = two_years.year_summary("2025-26")
    assert summary["first_day"] == date(2025, 9, 1)
    assert [d["date"] for d in summary["inset_days"]] == [date(2025, 9, 1), date(2025, 9, 2)]
    assert summary["closures"] == [
        {"date": date(2026, 5, 7), "note": "made-up polling-day closure"}
    ]
    assert summary["breaks"][-1] == {
        "name": "summer holiday",
        "first_day": date(2026, 7, 22),
        "last_day": date(2026, 8, 31),
    }


def test_year_summary_unknown_year(london: SchoolCalendar) -> None:
    with pytest.raises(CalendarError, match="no school year '2024-26'. Did you mean 2024-25?"):
        london.year_summary("2024-26")


# --- properties ------------------------------------------------------------------------------

COVERED = st.dates(min_value=date(2024, 9, 1), max_value=date(2026, 8, 31))
CALENDAR = load_calendar_file(FIXTURES / "two-years.yaml")


SCHOOL_DAYS = [
    day
    for offset in range((date(2026, 8, 31) - date(2024, 9, 1)).days + 1)
    if CALENDAR.is_school_day(day := date(2024, 9, 1) + timedelta(days=offset))
]


def test_property_setup_counts_every_school_day() -> None:
    assert len(SCHOOL_DAYS) == CALENDAR.count(date(2024, 9, 1), date(2026, 8, 31))


@settings(max_examples=300, deadline=None)
@given(d=st.sampled_from(SCHOOL_DAYS), back=st.integers(min_value=0, max_value=700))
def test_school_day_n_inverts_count(d: date, back: int) -> None:
    start = max(d - timedelta(days=back), date(2024, 9, 1))
    n = CALENDAR.count(start, d)
    assert n >= 1
    assert CALENDAR.school_day_n(start, n) == d
    assert CALENDAR.day_number(start, d) == n


@settings(max_examples=300, deadline=None)
@given(start=COVERED, a=COVERED, b=COVERED)
def test_count_is_monotonic(start: date, a: date, b: date) -> None:
    a, b = min(a, b), max(a, b)
    assert CALENDAR.count(start, a) <= CALENDAR.count(start, b)
    # Adding one day adds at most one school day.
    if b < date(2026, 8, 31):
        step = CALENDAR.count(start, b + timedelta(days=1)) - CALENDAR.count(start, b)
        assert step in (0, 1)


@settings(max_examples=300, deadline=None)
@given(
    d=st.sampled_from(SCHOOL_DAYS),
    back=st.integers(min_value=0, max_value=700),
    pause_offset=st.integers(min_value=-60, max_value=60),
    pause_days=st.integers(min_value=0, max_value=40),
)
def test_school_day_n_inverts_count_with_a_pause(
    d: date, back: int, pause_offset: int, pause_days: int
) -> None:
    start = max(d - timedelta(days=back), date(2024, 9, 1))
    first = d + timedelta(days=pause_offset)
    pause = [(first, first + timedelta(days=pause_days))]
    assume(not first <= d <= pause[0][1])
    n = CALENDAR.count(start, d, skip=pause)
    assert n == CALENDAR.count(start, d) - CALENDAR.count(max(start, first), min(d, pause[0][1]))
    if n >= 1:
        assert CALENDAR.school_day_n(start, n, skip=pause) == d
        assert CALENDAR.day_number(start, d, skip=pause) == n
