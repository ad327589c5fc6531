"""A school year laid out as months of weeks for the calendar page, each day saying what it is.

Owns only the layout. Whether a day is a school day is the calendar's own answer
(`SchoolCalendar.is_school_day`); what a day off is called comes from its year summary (terms,
half terms, holidays, INSET and closure days) and its bank holidays, as `cme calendar show`
prints them.
"""

from __future__ import annotations

import calendar as monthly
import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.time.calendar import SchoolCalendar

KINDS: dict[str, str] = {
    "school day": "S",
    "weekend": "",
    "half term": "HT",
    "holiday": "H",
    "bank holiday": "BH",
    "INSET day": "I",
    "closure": "C",
    "not a school day": "X",
}
"""Each kind of day and the letters shown in its cell (the key explains them), so no meaning
rests on colour alone."""


@dataclass(frozen=True)
class Day:
    """One day of the year as the page shows it."""

    date: dt.date
    kind: str
    name: str
    """What it is called (the holiday, the bank holiday, the closure's note), or ""."""

    @property
    def mark(self) -> str:
        """The letters shown in its cell."""
        return KINDS[self.kind]

    @property
    def css(self) -> str:
        """The cell's class (colour as well as the letters)."""
        return "cme-day--" + self.kind.replace(" ", "-").lower()


@dataclass(frozen=True)
class Month:
    """A month of the school year: its weeks, Monday first, None outside the month."""

    title: str
    weeks: list[list[Day | None]]
    school_days: int


def _named(summary: dict[str, Any]) -> dict[dt.date, tuple[str, str]]:
    """(kind, name) of each weekday the summary names as not a school day."""
    named: dict[dt.date, tuple[str, str]] = {}
    for item in summary["breaks"]:
        kind = "half term" if item["name"] == "half term" else "holiday"
        day = item["first_day"]
        while day <= item["last_day"]:
            named[day] = (kind, item["name"])
            day += dt.timedelta(days=1)
    for key, kind in (("inset_days", "INSET day"), ("closures", "closure")):
        for item in summary[key]:
            named[item["date"]] = (kind, item["note"] or kind)
    return named


def year_months(cal: SchoolCalendar, year: str) -> tuple[dict[str, Any], list[Month]]:
    """The year's summary (`SchoolCalendar.year_summary`) and its twelve months of days."""
    summary = cal.year_summary(year)
    named = _named(summary)
    first: dt.date = summary["first_day"]
    months: list[Month] = []
    for offset in range(12):
        y, m = divmod(first.month - 1 + offset, 12)
        year_no, month_no = first.year + y, m + 1
        weeks: list[list[Day | None]] = []
        count = 0
        for week in monthly.Calendar(firstweekday=0).monthdatescalendar(year_no, month_no):
            row: list[Day | None] = []
            for day in week:
                if day.month != month_no:
                    row.append(None)
                    continue
                row.append(_day(cal, day, named))
                count += cal.is_school_day(day)
            weeks.append(row)
        months.append(Month(f"{monthly.month_name[month_no]} {year_no}", weeks, count))
    return summary, months


def _day(cal: SchoolCalendar, day: dt.date, named: dict[dt.date, tuple[str, str]]) -> Day:
    if cal.is_school_day(day):
        return Day(day, "school day", "")
    if day in cal.bank_holidays:
        return Day(day, "bank holiday", cal.bank_holidays[day])
    if day.weekday() >= 5:
        return Day(day, "weekend", "")
    kind, name = named.get(day, ("not a school day", ""))
    return Day(day, kind, name)


__all__ = ["KINDS", "Day", "Month", "year_months"]
