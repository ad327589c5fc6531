"""Compulsory school age: every boundary of the start and end rules, and 29 February."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.time.school_age import (
    birthday,
    compulsory_school_age,
    is_compulsory_school_age,
    last_friday_of_june,
)


def test_published_example_start() -> None:
    # IPSEA: 5th birthday 10 Feb 2024 -> compulsory school age from 31 Mar 2024.
    assert compulsory_school_age(date(2019, 2, 10))[0] == date(2024, 3, 31)


def test_published_example_end() -> None:
    # IPSEA: born 23 Sep 2007 -> compulsory school age until 28 Jun 2024.
    assert compulsory_school_age(date(2007, 9, 23))[1] == date(2024, 6, 28)


@pytest.mark.parametrize(
    ("dob", "compulsory_from"),
    [
        (date(2018, 12, 31), date(2023, 12, 31)),  # 5 on a prescribed day: that day
        (date(2019, 1, 1), date(2024, 3, 31)),  # 5 the day after: the next prescribed day
        (date(2019, 3, 30), date(2024, 3, 31)),
        (date(2019, 3, 31), date(2024, 3, 31)),
        (date(2019, 4, 1), date(2024, 8, 31)),
        (date(2019, 8, 31), date(2024, 8, 31)),
        (date(2019, 9, 1), date(2024, 12, 31)),
        (date(2019, 12, 30), date(2024, 12, 31)),
        (date(2020, 2, 29), date(2025, 3, 31)),  # 5th birthday taken as 1 Mar 2025
        (date(2016, 2, 29), date(2021, 3, 31)),
    ],
)
def test_compulsory_from(dob: date, compulsory_from: date) -> None:
    assert compulsory_school_age(dob)[0] == compulsory_from


@pytest.mark.parametrize(
    ("dob", "compulsory_until"),
    [
        # 16 on 31 Aug 2024: school year 2023-24, so the last Friday of June 2024.
        (date(2008, 8, 31), date(2024, 6, 28)),
        # 16 on 1 Sep 2024: school year 2024-25, so the last Friday of June 2025.
        (date(2008, 9, 1), date(2025, 6, 27)),
        (date(2008, 12, 31), date(2025, 6, 27)),
        (date(2009, 1, 1), date(2025, 6, 27)),
        (date(2009, 3, 31), date(2025, 6, 27)),
        (date(2009, 4, 1), date(2025, 6, 27)),
        # Turning 16 in July or August: compulsory school age ended on the Friday before.
        (date(2009, 7, 15), date(2025, 6, 27)),
        (date(2009, 6, 28), date(2025, 6, 27)),
        (date(2008, 6, 30), date(2024, 6, 28)),
        # 29 Feb 2008: 16 on 29 Feb 2024 (a leap year), school year 2023-24.
        (date(2008, 2, 29), date(2024, 6, 28)),
        # 29 Feb 2084: 2100 is not a leap year, so 16 on 1 Mar 2100, school year 2099-00.
        (date(2084, 2, 29), date(2100, 6, 25)),
    ],
)
def test_compulsory_until(dob: date, compulsory_until: date) -> None:
    assert compulsory_school_age(dob)[1] == compulsory_until


@pytest.mark.parametrize(
    ("leaving_year", "last_friday"),
    [
        (2021, date(2021, 6, 25)),
        (2022, date(2022, 6, 24)),  # the earliest possible
        (2023, date(2023, 6, 30)),  # the latest possible
        (2024, date(2024, 6, 28)),
        (2025, date(2025, 6, 27)),
        (2026, date(2026, 6, 26)),
        (2029, date(2029, 6, 29)),
    ],
)
def test_end_date_follows_the_last_friday_of_june(leaving_year: int, last_friday: date) -> None:
    assert last_friday_of_june(leaving_year) == last_friday
    # Born 1 Jan: 16 on 1 Jan of the leaving year, in the school year that ends that summer.
    assert compulsory_school_age(date(leaving_year - 16, 1, 1))[1] == last_friday


def test_29_february_birthday_is_1_march_in_other_years() -> None:
    assert birthday(date(2020, 2, 29), 5) == date(2025, 3, 1)
    assert birthday(date(2020, 2, 29), 4) == date(2024, 2, 29)
    assert birthday(date(2084, 2, 29), 16) == date(2100, 3, 1)
    assert birthday(date(2019, 2, 28), 5) == date(2024, 2, 28)


def test_29_february_gives_the_same_answer_as_28_february_and_1_march() -> None:
    # Why the choice of rule cannot change a result: both neighbours share the dates.
    leap = compulsory_school_age(date(2020, 2, 29))
    assert (
        leap == compulsory_school_age(date(2020, 2, 28)) == compulsory_school_age(date(2020, 3, 1))
    )


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2024, 3, 30), False),  # the day before compulsory_from
        (date(2024, 3, 31), True),  # compulsory_from is included
        (date(2035, 6, 29), True),  # compulsory_until is included
        (date(2035, 6, 30), False),  # the day after
    ],
)
def test_is_compulsory_school_age_at_the_edges(on: date, expected: bool) -> None:
    dob = date(2019, 2, 10)  # from 31 Mar 2024; 16 on 10 Feb 2035, until 29 Jun 2035
    assert compulsory_school_age(dob) == (date(2024, 3, 31), date(2035, 6, 29))
    assert is_compulsory_school_age(dob, on) is expected


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_rule_properties(dob: date) -> None:
    start, until = compulsory_school_age(dob)
    fifth, sixteenth = birthday(dob, 5), birthday(dob, 16)
    assert (start.month, start.day) in {(3, 31), (8, 31), (12, 31)}
    assert fifth <= start < fifth + timedelta(days=153)
    assert (until.month, until.weekday()) == (6, 4)
    assert until.day >= 24
    # The leaving date is within the school year (1 Sep - 31 Aug) of the 16th birthday.
    year_start = date(until.year - 1, 9, 1)
    assert year_start <= sixteenth <= date(until.year, 8, 31)
