"""Scaffolding a school year for a calendar file (`cme calendar new 2027-28`).

Owns the text of a new year block: England's bank holidays in that year listed as comments for
the reader, and the term dates left as `PLACEHOLDER`, which the loader refuses until each is
filled in. Does not own the format (`engine/time/calendar_file.py`) nor where a file is written.
"""

from __future__ import annotations

import re

from engine.errors import CalendarError
from engine.language.yamlsafe import load_yaml
from engine.time.calendar import england_bank_holidays
from engine.time.calendar_file import PLACEHOLDER, year_span
from engine.time.words import WEEKDAYS

_TERMS = ("autumn", "spring", "summer")


def _span_or_refuse(year: str) -> tuple[str, str]:
    span = year_span(year)
    if span is None:
        raise CalendarError(
            f"school year {year!r} must be written like 2027-28: the year it starts, a hyphen, "
            f"and the last two digits of the next year"
        )
    return span[0].isoformat(), span[1].isoformat()


def year_block(year: str) -> str:
    """The YAML for school year `year` under `years:`, indented two spaces, dates to fill in."""
    first, last = _span_or_refuse(year)
    span = year_span(year)
    assert span is not None
    holidays = {
        day: name
        for day, name in england_bank_holidays(span[0].year, span[1].year).items()
        if span[0] <= day <= span[1]
    }
    lines = [
        f"  {year}:",
        "    note: >-",
        "      Where these dates were published (the LA's or school's page, with its address).",
        f"    # England's bank holidays from {first} to {last}, listed for the reader only: the",
        "    # engine takes them from the `holidays` package (GB, ENG), so never list them here.",
    ]
    lines += [
        f"    #   {day.isoformat()} {WEEKDAYS[day.weekday()][:3]}  {name}"
        for day, name in holidays.items()
    ]
    lines.append("    # Replace each placeholder date below with the published one; the file is")
    lines.append("    # refused until all are filled in.")
    lines.append("    terms:")
    for term in _TERMS:
        lines += [
            f"      - name: {term}",
            f"        first_day: {PLACEHOLDER}",
            f"        last_day: {PLACEHOLDER}",
            "        half_term:",
            f"          first_day: {PLACEHOLDER}",
            f"          last_day: {PLACEHOLDER}",
        ]
    lines += ["    inset_days: []", "    closures: []"]
    return "\n".join(lines) + "\n"


def new_calendar_text(name: str, year: str) -> str:
    """A whole calendar file called `name` holding only the scaffold of `year`."""
    return (
        "# Format: see processes/calendars/README.md.\n"
        f"name: {name}\n"
        "version: 1\n"
        "description: Which LA or school this calendar is for.\n"
        "source: Where the dates came from (a published page, with its address).\n"
        "years:\n" + year_block(year)
    )


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def add_year(text: str, year: str, path: str) -> str:
    """`text` (a calendar file) with the scaffold of `year` appended under its `years:`.

    Refuses a year the file already has, and a file whose `years:` is not its last top-level
    key (appending there would put the year under another key).
    """
    _span_or_refuse(year)
    doc = load_yaml(text, path)
    years = doc.data.get("years") if isinstance(doc.data, dict) else None
    if not isinstance(years, dict):
        raise CalendarError(f"{path} has no `years:` mapping to add {year} to")
    if year in years:
        raise CalendarError(f"{path} already has school year {year}")
    top = [line.split(":", 1)[0] for line in text.splitlines() if _TOP_KEY.match(line)]
    if not top or top[-1] != "years":
        raise CalendarError(
            f"`years:` is not the last key in {path}, so {year} cannot be appended safely; move "
            f"`years:` to the end of the file, or paste the output of `cme calendar new {year}`"
        )
    return text.rstrip("\n") + "\n" + year_block(year)


__all__ = ["add_year", "new_calendar_text", "year_block"]
