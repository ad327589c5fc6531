"""Compulsory school age in England (Education Act 1996 s.8): when it starts and when it ends.

Owns: the two dates for a date of birth and the question "is this child of compulsory school age
on this date". Does not own: school years of admission, or whether a child is on a school roll.

Both dates are inclusive: a child becomes of compulsory school age at the start of the prescribed
day and ceases at the end of the school leaving date (s.8(3) and (4), and the Education (Start of
Compulsory School Age) Order 1998).
"""

from __future__ import annotations

import datetime as dt

# The prescribed days (month, day) on which compulsory school age starts, in calendar order.
PRESCRIBED_DAYS: tuple[tuple[int, int], ...] = ((3, 31), (8, 31), (12, 31))


def birthday(dob: dt.date, age: int) -> dt.date:
    """The day a child born on `dob` attains `age`; 29 February counts as 1 March in other years.

    English law has a person attain an age at the start of the anniversary of their birth; where
    that anniversary does not exist (29 February in a non-leap year) we take 1 March, the usual UK
    reading (as for driving licences). For compulsory school age either reading gives the same
    dates, because 28 Feb and 1 Mar share a prescribed day and a school year.
    """
    year = dob.year + age
    try:
        return dob.replace(year=year)
    except ValueError:
        # Only 29 February lands here.
        return dt.date(year, 3, 1)


def last_friday_of_june(year: int) -> dt.date:
    """The last Friday in June of `year`: the school leaving date for that summer."""
    day = dt.date(year, 6, 30)
    return day - dt.timedelta(days=(day.weekday() - 4) % 7)


def compulsory_school_age(dob: dt.date) -> tuple[dt.date, dt.date]:
    """(compulsory_from, compulsory_until) for a child born on `dob`; both dates inclusive.

    From: the first prescribed day (31 Mar, 31 Aug, 31 Dec) on or after the 5th birthday.
    Until: the last Friday of June of the school year (1 Sep – 31 Aug) in which they turn 16.
    """
    fifth = birthday(dob, 5)
    start = next(
        day for month, mday in PRESCRIBED_DAYS if (day := dt.date(fifth.year, month, mday)) >= fifth
    )
    sixteenth = birthday(dob, 16)
    # The school year containing the 16th birthday ends in the summer of this calendar year.
    leaving_year = sixteenth.year + 1 if sixteenth.month >= 9 else sixteenth.year
    return start, last_friday_of_june(leaving_year)


def is_compulsory_school_age(dob: dt.date, on: dt.date) -> bool:
    """Whether a child born on `dob` is of compulsory school age on `on` (both ends inclusive)."""
    start, until = compulsory_school_age(dob)
    return start <= on <= until
