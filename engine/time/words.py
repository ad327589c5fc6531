"""Dates in words, as officers write them: one formatter for the whole engine.

`day_words(date(2024, 12, 2))` is `2 Dec 2024`; `range_words` writes a stretch of days as
compactly as people do (`17–21 Feb 2025`, `28 Oct – 1 Nov`, `23 Dec 2024 – 3 Jan 2025`).
English month names whatever the locale, so messages and golden histories never vary by machine.
"""

from __future__ import annotations

import datetime as dt

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def day_words(day: dt.date, *, year: bool = True) -> str:
    """A date as officers write it: `2 Dec 2024` (or `2 Dec` without the year)."""
    text = f"{day.day} {MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def range_words(first: dt.date, last: dt.date, *, year: bool = True) -> str:
    """A date range: `17–21 Feb 2025`, `28 Oct – 1 Nov`, `23 Dec 2024 – 3 Jan 2025`."""
    if first == last:
        return day_words(first, year=year)
    if first.year != last.year:
        return f"{day_words(first)} – {day_words(last)}"
    tail = day_words(last, year=year)
    if first.month == last.month:
        return f"{first.day}–{tail}"
    return f"{day_words(first, year=False)} – {tail}"


def ordinal(n: int) -> str:
    """`1st`, `2nd`, `3rd`, `11th`, `22nd`: a count in words for Day N explanations."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


__all__ = ["MONTHS", "WEEKDAYS", "day_words", "ordinal", "range_words"]
